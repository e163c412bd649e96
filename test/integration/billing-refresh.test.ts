/**
 * refreshBilling() (clickhouse/billing-refresh.ts), the step the collector's billing refresh runs:
 * it re-bills only the days of the calls that arrived since the last refresh (so its cost follows
 * what arrived, not the history), every day a changed card covers, and two refreshes at once
 * write the same rows. On one embedded store; calls inserted as rows with hand-set costs.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { compileRateCards } from '../../billing/rate-cards.js';
import { syncRateCards } from '../../clickhouse/billing.js';
import { mergeRanges, refreshBilling } from '../../clickhouse/billing-refresh.js';
import { createStoreClient } from '../../clickhouse/store.js';
import { BillingRefresher } from '../../delivery/billing-refresher.js';
import type { UsageRow } from '../../usage/usage-row.js';
import { waitFor } from '../collector/support/collector-process.js';
import { openTestStore, queryRows, usageRow, type TestStore } from '../support/store.js';

let store: TestStore;
beforeAll(async () => {
  store = await openTestStore({ migrate: true });
});
afterAll(async () => store?.close());

const cards = (markup: string) => compileRateCards({ rate_cards: [{ org_id: '*', effective_from: '2026-01-01', markup }] }, 'test cards');
// The overlap for inserts still committing is 0 here: every row of this file is inserted within
// seconds, and the default (300 s) would look at all of them again each time.
const options = { database: 'genai_ledger', lagSeconds: 0, nowMs: Date.parse('2026-10-31T12:00:00Z') };

let next = 0;
/** One call of $0.001 on `day` for acme. */
const call = (day: string): UsageRow => usageRow(next++, { ts: `${day} 10:00:00.000000`, org_id: 'acme', request_model: 'gpt-4o', feature: 'chat', cost_usd: '0.001' });

async function insert(rows: UsageRow[]): Promise<void> {
  await store.client.insert({ table: 'genai_ledger.ai_usage', values: rows, format: 'JSONEachRow' });
}

async function billedByDay(): Promise<Record<string, [number, string]>> {
  const rows = await queryRows<{ day: string; calls: number; billed: string }>(store.client,
    'SELECT toString(day) AS day, calls, toString(billed_usd) AS billed FROM genai_ledger.billed_daily_exact ORDER BY day');
  return Object.fromEntries(rows.map((r) => [r.day, [Number(r.calls), r.billed.replace(/0+$/, '')]]));
}

const october = Array.from({ length: 30 }, (_, i) => `2026-10-${String(i + 1).padStart(2, '0')}`);

test('the first refresh bills the history; later ones only the days that received calls', async () => {
  await syncRateCards(store.client, 'genai_ledger', cards('0.20'));
  await insert(october.map(call));
  const first = await refreshBilling(store.client, options);
  // The cards are new: every day from their effective_from to today, 2026-01-01 to 2026-10-31.
  expect(first).toMatchObject({ cardsChanged: true, days: 304, calls: 30, written: 30, deleted: 0 });
  // 0.001 × 1.20
  expect(Object.values(await billedByDay())).toEqual(october.map(() => [1, '0.0012']));

  expect(await refreshBilling(store.client, options)).toEqual({ days: 0, calls: 0, written: 0, deleted: 0, cardsChanged: false });

  // A late arrival for Oct 5 and a call for Oct 30: two days re-billed out of thirty.
  await insert([call('2026-10-05'), call('2026-10-30')]);
  expect(await refreshBilling(store.client, options)).toEqual({ days: 2, calls: 4, written: 2, deleted: 0, cardsChanged: false });
  const billed = await billedByDay();
  expect(billed['2026-10-05']).toEqual([2, '0.0024']);
  expect(billed['2026-10-30']).toEqual([2, '0.0024']);
  expect(billed['2026-10-06']).toEqual([1, '0.0012']);
});

test('a duplicate delivery re-bills its day and changes nothing', async () => {
  const [row] = await queryRows<UsageRow>(store.client, "SELECT * EXCEPT (inserted_at) FROM genai_ledger.ai_usage_exact WHERE toDate(ts) = '2026-10-07'");
  await insert([row!]);
  expect(await refreshBilling(store.client, options)).toEqual({ days: 1, calls: 1, written: 0, deleted: 0, cardsChanged: false });
  expect((await billedByDay())['2026-10-07']).toEqual([1, '0.0012']);
});

test('two refreshes at once after a card change write the same rows', async () => {
  await syncRateCards(store.client, 'genai_ledger', cards('0.50'));
  const other = await createStoreClient({ kind: 'embedded', path: store.dir }, { database: 'genai_ledger' });
  try {
    const results = await Promise.all([refreshBilling(store.client, options), refreshBilling(other, options)]);
    expect(results.map((r) => r.cardsChanged)).toEqual([true, true]);
  } finally {
    await other.close();
  }
  // 0.001 × 1.50 a call.
  const billed = await billedByDay();
  expect(billed['2026-10-05']).toEqual([2, '0.003']);
  expect(billed['2026-10-06']).toEqual([1, '0.0015']);
  // Every row written at 50 %, by either refresh, carries the same figures and version: whichever
  // lands last, the day reads the same.
  const written = await queryRows<{ day: string; versions: number; figures: number }>(store.client, `
SELECT toString(day) AS day, uniqExact(version) AS versions, uniqExact(billed_usd, calls) AS figures
FROM genai_ledger.billed_daily WHERE billed_usd = cost_usd * 1.5 AND cost_usd > 0 GROUP BY day ORDER BY day`);
  expect(written).toHaveLength(30);
  expect(written.every((w) => Number(w.versions) === 1 && Number(w.figures) === 1)).toBe(true);
});

test('the background refresher never throws: with the store down it counts failures, and catches up once it answers', async () => {
  let down = true;
  const refused = async (): Promise<never> => {
    throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8123'), { code: 'ECONNREFUSED' });
  };
  // The store's client, refusing every read while `down` (the card sync and the refresh both read first).
  const flaky = new Proxy(store.client, {
    get(target, prop) {
      if (prop === 'query' && down) return refused;
      const value = Reflect.get(target, prop, target) as unknown;
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  await insert([call('2026-10-08')]);
  let written = 1;
  const refresher = BillingRefresher.start({ client: flaky, database: 'genai_ledger', cards: cards('0.50'), intervalMs: 20, writtenRows: () => written });
  try {
    await waitFor(() => (refresher.stats.failures >= 2 ? true : undefined), 30_000, 'two failed refreshes');
    expect(refresher.stats).toMatchObject({ refreshes: 0, lastSuccessMs: 0 });
    down = false;
    await waitFor(() => (refresher.stats.refreshes >= 1 ? true : undefined), 30_000, 'a refresh once the store answers');
    expect(refresher.stats.lastSuccessMs).toBeGreaterThan(0);
    // The call of Oct 8 that arrived while it was down: billed at 50 %.
    expect((await billedByDay())['2026-10-08']).toEqual([2, '0.003']);
    // No rows written since the last refresh: the ticks after it do nothing.
    const { refreshes } = refresher.stats;
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(refresher.stats.refreshes).toBe(refreshes);
    written++;
    await waitFor(() => (refresher.stats.refreshes > refreshes ? true : undefined), 30_000, 'a refresh after new rows');
  } finally {
    await refresher.close();
  }
});

test.each([
  { ranges: [], merged: [] },
  { ranges: [[3, 4], [1, 2], [2, 3]], merged: [[1, 4]] },
  { ranges: [[1, 2], [5, 6], [0, 10]], merged: [[0, 10]] },
  { ranges: [[1, 2], [3, 4], [4, 4]], merged: [[1, 2], [3, 4]] },
] as Array<{ ranges: Array<[number, number]>; merged: Array<[number, number]> }>)('mergeRanges($ranges) = $merged', ({ ranges, merged }) => {
  expect(mergeRanges(ranges)).toEqual(merged);
});
