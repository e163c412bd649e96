/**
 * Bills in the store: an import replaces its period (a repeat writes nothing, not even raw rows; a
 * changed report replaces lines and tombstones the ones it no longer has), and the reconciliation
 * of ledger rows against a bill: a day that agrees, a day the bill is 10 % higher with tokens short,
 * models on one side only.
 */
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientRunner } from '../../clickhouse/query-runner.js';
import { readBillGroups, readLedgerGroups, storeBillImport } from '../../clickhouse/provider-bills.js';
import { reconcile } from '../../pricing/bill-reconciliation.js';
import { loadPriceBook, type PriceBook } from '../../pricing/index.js';
import { readBillFiles } from '../../reconcile/import-bill.js';
import { openTestStore, queryOne, usageRow, type TestStore } from '../support/store.js';

const fixture = (name: string): string => new URL(`../fixtures/bills/${name}`, import.meta.url).pathname;
const OPENAI_FILES = ['openai-costs.json', 'openai-usage-completions.json', 'openai-usage-embeddings.json'].map(fixture);

let store: TestStore;
let prices: PriceBook;
let scratch: string;

beforeAll(async () => {
  store = await openTestStore({ migrate: true });
  prices = await loadPriceBook();
  scratch = mkdtempSync(join(tmpdir(), 'genai-ledger-bills-'));
}, 120_000);

afterAll(async () => {
  await store.close();
  rmSync(scratch, { recursive: true, force: true });
});

const count = async (table: string): Promise<number> => Number((await queryOne<{ n: number }>(store.client, `SELECT count() AS n FROM genai_ledger.${table}`)).n);
const billed = async (): Promise<string> =>
  (await queryOne<{ usd: string }>(store.client, 'SELECT toString(sum(amount_usd)) AS usd FROM genai_ledger.provider_costs_exact')).usd;

describe('importing a period again replaces it', () => {
  it('the same report twice: the second import writes nothing', async () => {
    const first = await storeBillImport(store.client, store.database, readBillFiles('openai', OPENAI_FILES, prices));
    expect(first).toEqual({ costs: { written: 6, tombstoned: 0, unchanged: 0 }, usage: { written: 4, tombstoned: 0, unchanged: 0 } });
    const again = await storeBillImport(store.client, store.database, readBillFiles('openai', OPENAI_FILES, prices));
    expect(again).toEqual({ costs: { written: 0, tombstoned: 0, unchanged: 6 }, usage: { written: 0, tombstoned: 0, unchanged: 4 } });
    expect([await count('provider_costs'), await count('provider_usage')]).toEqual([6, 4]);
    // 0.15 + 0.12 + 0.165 + 0.132 + 1 + 0.25
    expect(await billed()).toBe('1.817');
  });

  it('a changed report: changed lines replace, lines it no longer has are gone, nothing doubles', async () => {
    const page = JSON.parse(readFileSync(fixture('openai-costs.json'), 'utf8')) as { data: Array<{ results: Array<{ amount: { value: number } }> }> };
    page.data[1]!.results[0]!.amount.value = 0.17; // 2nd: input 0.165 → 0.17
    page.data[2]!.results = page.data[2]!.results.slice(1); // 3rd: the o3 line withdrawn
    // Same file name: the source of a line is part of it (an API import over a file's rewrites it).
    const file = join(scratch, 'openai-costs.json');
    writeFileSync(file, JSON.stringify(page));
    const result = await storeBillImport(store.client, store.database, readBillFiles('openai', [file], prices));
    expect(result).toEqual({ costs: { written: 1, tombstoned: 1, unchanged: 4 } });
    // 0.15 + 0.12 + 0.17 + 0.132 + 0.25
    expect(await billed()).toBe('0.822');
    expect(await count('provider_costs_exact')).toBe(5);
    expect(await count('provider_usage_exact')).toBe(4); // a costs-only import leaves the usage alone
  });
});

describe('reconciliation against the ledger', () => {
  beforeAll(async () => {
    await storeBillImport(store.client, store.database, readBillFiles('openai', OPENAI_FILES, prices));
    // gpt-4o-mini at $0.15 / $0.60 per Mtok: 100k input + 20k output = 0.015 + 0.012 = 0.027 a call.
    const mini = { provider: 'openai', request_model: 'gpt-4o-mini', response_model: 'gpt-4o-mini-2024-07-18', priced_model: 'openai/gpt-4o-mini',
      input_tokens: 100_000, output_tokens: 20_000, cache_read_tokens: 0, cost_usd: '0.027', cost_breakdown: { input_tokens: '0.015', output_tokens: '0.012' } };
    const rows = [
      // The 1st and the 2nd: 10 calls each (0.27, 1M input, 200k output). The bill of the 2nd says 11.
      ...Array.from({ length: 20 }, (_, i) => usageRow(i, { ...mini, ts: `2025-11-0${1 + Math.floor(i / 10)} 10:00:${String(i).padStart(2, '0')}.000000` })),
      // A model the bill never names: gpt-4.1 at $2 / $8 per Mtok, 10k + 1k = 0.02 + 0.008.
      usageRow(100, { provider: 'openai', request_model: 'gpt-4.1', response_model: 'gpt-4.1-2025-04-14', priced_model: 'openai/gpt-4.1',
        input_tokens: 10_000, output_tokens: 1_000, cache_read_tokens: 0, cost_usd: '0.028', ts: '2025-11-01 12:00:00.000000' }),
      // Another provider's call: not on an OpenAI bill, left out.
      usageRow(101, { provider: 'anthropic', priced_model: 'anthropic/claude-sonnet-4-5', cost_usd: '1', ts: '2025-11-01 12:00:00.000000' }),
    ];
    await store.client.insert({ table: 'genai_ledger.ai_usage', values: rows, format: 'JSONEachRow' });
  });

  async function report(): Promise<Array<Record<string, unknown>>> {
    const runner = clientRunner(store.client);
    const q = { database: store.database, fromDay: '2025-11-01', toDay: '2025-11-04', providers: ['openai'] };
    return reconcile(await readLedgerGroups(runner, q), await readBillGroups(runner, q), { by: ['day', 'provider', 'model'], tolerance: '0.05' })
      .map((r) => ({ day: r.day, model: r.model, status: r.status, cause: r.cause, ledger: r.ledger_cost_usd, billed: r.billed_cost_usd, pct: r.variance_pct }));
  }

  it('per day and model: agree, 10 % more billed with tokens short, models on one side only', async () => {
    expect(await report()).toEqual([
      { day: '2025-11-01', model: 'openai/gpt-4.1', status: 'missing_in_bill', cause: 'not_in_bill', ledger: '0.028', billed: '0', pct: null },
      { day: '2025-11-01', model: 'openai/gpt-4o-mini', status: 'ok', cause: null, ledger: '0.27', billed: '0.27', pct: '0' },
      // embeddings billed in tokens, their cost not in this costs report
      { day: '2025-11-01', model: 'openai/text-embedding-3-small', status: 'missing_in_ledger', cause: 'not_in_ledger', ledger: '0', billed: '0', pct: null },
      // 0.27 against 0.165 + 0.132 = 0.297: −0.027 / 0.297 = −9.09 %
      { day: '2025-11-02', model: 'openai/gpt-4o-mini', status: 'ledger_low', cause: 'uninstrumented_or_dropped', ledger: '0.27', billed: '0.297', pct: '-9.09' },
      { day: '2025-11-03', model: 'openai/(not a model)', status: 'missing_in_ledger', cause: 'not_in_ledger', ledger: '0', billed: '0.25', pct: '-100' },
      { day: '2025-11-03', model: 'openai/o3', status: 'missing_in_ledger', cause: 'not_in_ledger', ledger: '0', billed: '1', pct: '-100' },
    ]);
  });

  it('repeated imports change nothing', async () => {
    const before = await report();
    const raw = [await count('provider_costs'), await count('provider_usage')];
    for (let i = 0; i < 2; i++) await storeBillImport(store.client, store.database, readBillFiles('openai', OPENAI_FILES, prices));
    expect(await report()).toEqual(before);
    expect([await count('provider_costs'), await count('provider_usage')]).toEqual(raw);
  });
});
