/**
 * miscounts(), the exactly-once check of the durability tests and bench/soak.ts: it passes while
 * the raw table holds duplicates, and names every relation that does not count each span once.
 */
import { describe, expect, test } from 'vitest';
import { miscounts, type DeliveryCounts } from '../support/delivery-counts.js';

/** 10 distinct spans stored 13 times, 2 of them unpriced, $1.5 in total, counted once everywhere. */
function counts(change: (c: DeliveryCounts) => void = () => undefined): DeliveryCounts {
  const c: DeliveryCounts = {
    raw: 13, distinct: 10, duplicates: 3, parts: 4, exact: 10, exactDistinct: 10, cost: '1.5', unpriced: 2,
    rollups: [
      { view: 'ai_usage_hourly_exact', calls: 10, cost: '1.5' },
      { view: 'ai_usage_latency_hourly_exact', calls: 10 },
      { view: 'ai_usage_unpriced_exact', calls: 2 },
      { view: 'ai_usage_daily_exact', calls: 10, cost: '1.5' },
    ],
  };
  change(c);
  return c;
}

describe('miscounts', () => {
  test.each([
    ['duplicates in the raw table, each span once everywhere else', () => undefined, []],
    ['the exact view doubles a span', (c: DeliveryCounts) => { c.exact = 11; }, ['ai_usage_exact: 11 rows, 10 distinct spans; the raw table holds 10']],
    ['the exact view lost one span and doubled another', (c: DeliveryCounts) => { c.exactDistinct = 9; }, ['ai_usage_exact: 10 rows, 9 distinct spans; the raw table holds 10']],
    ['a rollup counts a duplicate', (c: DeliveryCounts) => { c.rollups[0]!.calls = 13; }, ['ai_usage_hourly_exact: 13 calls, expected 10']],
    ['a rollup sums another cost', (c: DeliveryCounts) => { c.rollups[3]!.cost = '1.75'; }, ['ai_usage_daily_exact: cost 1.75, ai_usage_exact 1.5']],
    ['the unpriced list is held to the unpriced calls', (c: DeliveryCounts) => { c.rollups[2]!.calls = 10; }, ['ai_usage_unpriced_exact: 10 calls, expected 2']],
  ])('%s', (_, change, expected) => {
    expect(miscounts(counts(change))).toEqual(expected);
  });
});
