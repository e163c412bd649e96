/**
 * "Ledger vs bill" on a store with an OpenAI bill (test/fixtures/bills, Nov 1-3 2025) and ledger
 * rows: gpt-4o-mini 10 calls a day on the 1st and the 2nd at 0.027 (100k input × $0.15/M + 20k
 * output × $0.60/M), billed 0.27 on the 1st and 0.297 on the 2nd; on the 3rd o3 1 and web search
 * 0.25 billed, nothing in the ledger; one gpt-4.1 call (0.028) on the 1st that is on no bill; an
 * Anthropic call, left out (no Anthropic bill).
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { storeBillImport } from '../../clickhouse/provider-bills.js';
import { loadPriceBook } from '../../pricing/index.js';
import { readBillFiles } from '../../reconcile/import-bill.js';
import { openTestStore, usageRow, type TestStore } from '../support/store.js';
import { DashboardRunner, pick } from './support.js';

const fixture = (name: string): string => new URL(`../fixtures/bills/${name}`, import.meta.url).pathname;

let store: TestStore;
let board: DashboardRunner;
beforeAll(async () => {
  store = await openTestStore({ migrate: true });
  await storeBillImport(store.client, store.database, readBillFiles('openai', [fixture('openai-costs.json')], await loadPriceBook()));
  const mini = { provider: 'openai', request_model: 'gpt-4o-mini', response_model: 'gpt-4o-mini-2024-07-18', priced_model: 'openai/gpt-4o-mini', cost_usd: '0.027' };
  await store.client.insert({
    table: 'genai_ledger.ai_usage',
    format: 'JSONEachRow',
    values: [
      ...Array.from({ length: 20 }, (_, i) => usageRow(i, { ...mini, ts: `2025-11-0${1 + Math.floor(i / 10)} 10:00:${String(i).padStart(2, '0')}.000000` })),
      usageRow(100, { provider: 'openai', priced_model: 'openai/gpt-4.1', cost_usd: '0.028', ts: '2025-11-01 12:00:00.000000' }),
      usageRow(101, { provider: 'anthropic', priced_model: 'anthropic/claude-sonnet-4-5', cost_usd: '1', ts: '2025-11-01 12:00:00.000000' }),
    ],
  });
  board = new DashboardRunner(store.client, 'genai-ledger-reconcile');
}, 120_000);
afterAll(async () => store?.close());

const NOVEMBER = { from: new Date('2025-11-01T00:00:00Z'), to: new Date('2025-11-03T23:59:59.999Z'), variables: { tolerance: pick('0.05') } };
const round = (v: unknown) => (v === null ? null : Number(Number(v).toFixed(4)));

describe('ledger vs bill, Nov 1-3 2025', () => {
  test('billed and ledger per day', async () => {
    const rows = await board.run('Billed and ledger per day', NOVEMBER);
    expect(rows.map((r) => [r.time, r.provider, round(r.billed), round(r.ledger)])).toEqual([
      // 0.15 + 0.12 billed; 0.27 + 0.028 in the ledger
      ['2025-11-01 00:00:00', 'openai', 0.27, 0.298],
      ['2025-11-02 00:00:00', 'openai', 0.297, 0.27],
      ['2025-11-03 00:00:00', 'openai', 1.25, 0],
    ]);
  });

  test('variance per day', async () => {
    const rows = await board.run('Variance per day', NOVEMBER);
    // 0.028 / 0.27; −0.027 / 0.297; −1.25 / 1.25
    expect(rows.map((r) => [r.time, round(r.variance)])).toEqual([
      ['2025-11-01 00:00:00', 0.1037], ['2025-11-02 00:00:00', -0.0909], ['2025-11-03 00:00:00', -1],
    ]);
  });

  test('groups out of tolerance', async () => {
    const rows = await board.run('Groups out of tolerance', NOVEMBER);
    expect(rows.map((r) => [r.day, r.model, round(r.ledger), round(r.billed), r.status])).toEqual([
      ['2025-11-01', 'openai/gpt-4.1', 0.028, 0, 'missing_in_bill'],
      ['2025-11-02', 'openai/gpt-4o-mini', 0.27, 0.297, 'ledger_low'],
      ['2025-11-03', 'openai/(not a model)', 0, 0.25, 'missing_in_ledger'],
      ['2025-11-03', 'openai/o3', 0, 1, 'missing_in_ledger'],
    ]);
    // at 10 % the 2nd (−9.09 %) is within
    const loose = await board.run('Groups out of tolerance', { ...NOVEMBER, variables: { tolerance: pick('0.1') } });
    expect(loose.map((r) => r.model)).not.toContain('openai/gpt-4o-mini');
  });
});
