/**
 * The SQL cookbook (clickhouse/queries/*.sql), each query run with its parameters through the
 * QueryRunner the CLI uses (exact decimals come back as strings), on the fixture (fixture.ts).
 * The figures are the fixture's schedule worked out by hand: acme's normal day costs 0.135
 * (10 gpt-4o × 0.009, 4 claude × 0.0102, a failed claude call 0.0042), globex 0.0624, initech 0.036.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { findPackageRoot } from '../../clickhouse/migrate.js';
import { clientRunner, type QueryRunner } from '../../clickhouse/query-runner.js';
import { oracle, select } from './fixture.js';
import { cookbook, openFixtureStore, type FixtureStore } from './support.js';

let fx: FixtureStore;
let runner: QueryRunner;
beforeAll(async () => {
  fx = await openFixtureStore();
  runner = clientRunner(fx.client);
});
afterAll(async () => fx?.store.close());

type Row = Record<string, unknown>;
const run = (name: string, params: Record<string, unknown>) => runner.query<Row>(cookbook(name), params);
const week = { from: '2026-11-01', to: '2026-11-08' };

describe('cookbook files', () => {
  const dir = join(findPackageRoot(), 'clickhouse', 'queries');
  const files = readdirSync(dir).filter((f) => f.endsWith('.sql'));
  test('the cookbook', () => {
    expect(files.sort()).toEqual([
      'billed_invoice.sql', 'cache_savings.sql', 'monthly_invoice.sql', 'org_total.sql', 'spend_forecast.sql', 'top_conversations.sql',
      'usage_by_conversation.sql', 'usage_by_date_range.sql', 'usage_by_model.sql', 'user_total.sql',
    ]);
  });
  test.each(files)('%s: documented header (what, parameters, an example), typed parameters, exact reads', (file) => {
    const text = readFileSync(join(dir, file), 'utf8');
    const header = text.split('\n').filter((l) => l.startsWith('--')).join('\n');
    expect(text.startsWith(`-- ${file.replace('.sql', '')}: `)).toBe(true);
    expect(header).toMatch(/-- Answers: /);
    expect(header).toMatch(/-- Parameters:/);
    expect(header).toContain(`genai-ledger query --file clickhouse/queries/${file}`);
    const params = new Set([...text.matchAll(/\{(\w+):(\w+)\}/g)].map((m) => m[1]));
    expect(params.size).toBeGreaterThan(0);
    for (const p of params) {
      expect(header, `parameter ${p} undocumented`).toMatch(new RegExp(`--\\s+${p}\\s+\\w+`));
      expect(header, `parameter ${p} missing from the example`).toContain(`--param ${p}=`);
    }
    const body = text.split('\n').filter((l) => !l.startsWith('--')).join('\n');
    for (const m of body.matchAll(/\b(?:FROM|JOIN)\s+([A-Za-z_][\w.]*)\b(?!\s*\()/g)) {
      expect(['ai_usage_exact', 'ai_usage_hourly_exact', 'ai_usage_daily_exact', 'model_prices_exact', 'billed_daily_exact'], file).toContain(m[1]);
    }
  });
});

describe('usage_by_date_range', () => {
  test('acme, day by day', async () => {
    const rows = await run('usage_by_date_range', { ...week, org: 'acme' });
    expect(rows.map((r) => [r.day, r.calls, r.failed_calls, r.unpriced_calls, r.cost_usd])).toEqual([
      ['2026-11-01', 15, 1, 0, '0.135'],
      ['2026-11-02', 16, 1, 1, '0.135'],
      ['2026-11-03', 15, 1, 0, '0.135'],
      ['2026-11-04', 16, 1, 1, '0.135'],
      ['2026-11-05', 20, 1, 0, '0.18'],
      ['2026-11-06', 16, 1, 1, '0.135'],
      ['2026-11-07', 15, 1, 0, '0.135'],
    ]);
    expect(rows[0]).toMatchObject({ org_id: 'acme', input_tokens: 45000, cache_read_tokens: 28000, output_tokens: 6600 });
  });

  test('every org (empty org parameter)', async () => {
    const rows = await run('usage_by_date_range', { ...week, org: '' });
    expect(rows.length).toBe(21);
    expect(rows.filter((r) => r.day === '2026-11-06').map((r) => [r.org_id, r.cost_usd])).toEqual([
      ['acme', '0.135'],
      ['globex', '0.6744'],
      ['initech', '0.036'],
    ]);
    // initech's Nov 3 call was first stored at 0.02 and corrected by its re-delivery
    expect(rows.find((r) => r.day === '2026-11-03' && r.org_id === 'initech')?.cost_usd).toBe('0.036');
  });
});

test('usage_by_conversation: every call with its running cost', async () => {
  const rows = await run('usage_by_conversation', { org: 'acme', conversation: 'acme-c-1105' });
  expect(rows.length).toBe(15);
  expect(rows[0]).toMatchObject({ ts: '2026-11-05 09:15:00.000000', user_id: 'acme-u1', request_model: 'gpt-4o', cost_usd: '0.009', running_cost_usd: '0.009' });
  expect(rows.at(-1)).toMatchObject({ ts: '2026-11-05 19:04:00.000000', running_cost_usd: '0.135' });
  const withUnpriced = await run('usage_by_conversation', { org: 'acme', conversation: 'acme-c-1102' });
  expect(withUnpriced.length).toBe(11);
  expect(withUnpriced.find((r) => r.cost_usd === null)).toMatchObject({ request_model: 'ft:gpt-4o-mini:acme::x1', user_id: 'acme-u2' });
  expect(withUnpriced.at(-1)?.running_cost_usd).toBe('0.09');
  expect(await run('usage_by_conversation', { org: 'globex', conversation: 'acme-c-1105' })).toEqual([]);
});

test('usage_by_model: per model, every org', async () => {
  const rows = await run('usage_by_model', { ...week, org: '' });
  expect(rows.map((r) => [r.request_model, r.calls, r.failed_calls, r.unpriced_calls, r.cost_usd, r.cost_per_call_usd, r.error_rate, r.p50_ms, r.p95_ms])).toEqual([
    ['claude-sonnet-4', 109, 7, 0, '1.0698', '0.009814678899082568', 0.0642, 2400, 30000],
    ['gpt-4o', 103, 0, 0, '0.927', '0.009', 0, 1000, 5000],
    ['gpt-4o-mini', 140, 0, 0, '0.294', '0.0021', 0, 800, 800],
    ['ft:gpt-4o-mini:acme::x1', 3, 0, 3, '0', null, 0, 900, 900],
  ]);
  expect(rows[1]).toMatchObject({ provider: 'openai', priced_as: 'openai/gpt-4o', input_tokens: 206000, cache_read_tokens: 82400, output_tokens: 51500 });
  const acme = await run('usage_by_model', { ...week, org: 'acme' });
  expect(acme.map((r) => [r.request_model, r.calls, r.cost_usd])).toEqual([
    ['gpt-4o', 75, '0.675'],
    ['claude-sonnet-4', 35, '0.315'],
    ['ft:gpt-4o-mini:acme::x1', 3, '0'],
  ]);
});

test('top_conversations: acme, top 3', async () => {
  const rows = await run('top_conversations', { ...week, org: 'acme', limit: 3 });
  expect(rows.map((r) => [r.conversation_id, r.cost_usd, r.calls, r.unpriced_calls, r.users])).toEqual([
    ['acme-c-1105', '0.135', 15, 0, 'acme-u1, acme-u2, acme-u3'],
    ['acme-c-1101', '0.09', 10, 0, 'acme-u1, acme-u2, acme-u3'],
    ['acme-c-1102', '0.09', 11, 1, 'acme-u1, acme-u2, acme-u3'],
  ]);
});

test("user_total and org_total: a user's and an org's total for the week", async () => {
  const [user] = await run('user_total', { ...week, org: 'acme', user: 'acme-u2' });
  // 21 gpt-4o calls at 10, 13, 16 h + the 5 extra on Nov 5, and the 3 unpriced calls
  expect(user).toMatchObject({ org_id: 'acme', user_id: 'acme-u2', calls: 29, failed_calls: 0, unpriced_calls: 3, conversations: 7, cost_usd: '0.234' });
  const [nobody] = await run('user_total', { ...week, org: 'acme', user: 'nobody' });
  expect(nobody).toMatchObject({ calls: 0, cost_usd: '0' });
  const [org] = await run('org_total', { ...week, org: 'acme' });
  expect(org).toMatchObject({ org_id: 'acme', calls: 113, failed_calls: 7, unpriced_calls: 3, users: 3, conversations: 14, cost_usd: '0.99', by_feature: { chat: '0.675', search: '0.315' } });
  expect(org?.cost_usd).toBe(oracle.spend(select(fx.truth, { org: ['acme'], from: '2026-11-01 00:00:00', to: '2026-11-07 23:59:59' })));
});

describe('monthly_invoice', () => {
  test('acme, October: one line per model, then the total', async () => {
    const rows = await run('monthly_invoice', { org: 'acme', month: '2026-10-17' });
    expect(rows.map((r) => [r.line, r.model, r.calls, r.unpriced_calls, r.amount_usd])).toEqual([
      ['line', 'gpt-4o', 310, 0, '2.79'],
      ['line', 'claude-sonnet-4', 155, 0, '1.395'], // 124 × 0.0102 + 31 failed × 0.0042
      ['line', 'ft:gpt-4o-mini:acme::x1', 15, 15, '0'],
      ['total', '', 480, 15, '4.185'], // 31 × 0.135
    ]);
    expect(rows[0]).toMatchObject({ month: '2026-10-01', org_id: 'acme', provider: 'openai', cost_breakdown: { input_tokens: '0.93', cache_read_tokens: '0.31', output_tokens: '1.55' } });
    // uncached input 310 × 0.003 + 155 × 0.003; cache reads 310 × 0.001 + 155 × 0.0012; output 310 × 0.005 + 124 × 0.006
    expect(rows[3]?.cost_breakdown).toEqual({ input_tokens: '1.395', cache_read_tokens: '0.496', output_tokens: '2.294' });
  });

  test('globex, November: the spike is billed', async () => {
    const rows = await run('monthly_invoice', { org: 'globex', month: '2026-11-01' });
    // Nov 1-14: 280 gpt-4o-mini × 0.0021; 28 + 60 claude × 0.0102
    expect(rows.map((r) => [r.line, r.model, r.calls, r.amount_usd])).toEqual([
      ['line', 'claude-sonnet-4', 88, '0.8976'],
      ['line', 'gpt-4o-mini', 280, '0.588'],
      ['total', '', 368, '1.4856'],
    ]);
  });
});

test('cache_savings: hit ratio and savings at list prices, per model and in total', async () => {
  const rows = await run('cache_savings', { ...week, org: '' });
  expect(rows.map((r) => [r.line, r.model, r.cache_hit_ratio, r.cache_reads_paid_usd, r.cache_reads_uncached_usd, r.saved_usd, r.cached_calls_not_valued])).toEqual([
    ['model', 'claude-sonnet-4', 0.8, '0.1308', '1.308', '1.1772', 0], // 109 × 4000 × (3 − 0.3)/1M
    ['model', 'gpt-4o', 0.4, '0.103', '0.206', '0.103', 0], // 103 × 800 × (2.5 − 1.25)/1M, not gpt-4o's older 5/M
    ['model', 'ft:gpt-4o-mini:acme::x1', 0, '0', '0', '0', 0],
    ['model', 'gpt-4o-mini', 0, '0', '0', '0', 0],
    ['total', '', 0.2407, '0.2338', '1.514', '1.2802', 0], // 518400 cached of 2154000 input tokens
  ]);
  // the same figure as the overview dashboard's "Prompt caching saved" (computed there from the rollups)
  expect(rows.at(-1)?.saved_usd).toBe(oracle.cacheSaved(select(fx.truth, { from: '2026-11-01 00:00:00', to: '2026-11-07 23:59:59' })));
  const initech = await run('cache_savings', { ...week, org: 'initech' });
  expect(initech.at(-1)).toMatchObject({ line: 'total', calls: 28, saved_usd: '0.028' });
});

describe('spend_forecast', () => {
  test('acme as of Nov 8 00:00: a week in, both forecasts 30/7 of the month so far', async () => {
    const [row] = await run('spend_forecast', { org: 'acme', as_of: '2026-11-08 00:00:00' });
    expect(row).toMatchObject({
      as_of: '2026-11-08 00:00:00',
      month_start: '2026-11-01 00:00:00',
      month_to_date: '0.99',
      last_month: '4.185',
      last_month_same_point: '0.945',
      forecast_linear: '4.242857142857142857',
      forecast_run_rate: '4.242857142857142857',
    });
  });

  test('everyone as of Nov 8, and as of Nov 15 (the data ends Nov 14)', async () => {
    const [week1] = await run('spend_forecast', { org: '', as_of: '2026-11-08' });
    expect(week1).toMatchObject({ month_to_date: '2.2908', last_month: '7.2354' }); // October: 31 × 0.2334
    const [week2] = await run('spend_forecast', { org: '', as_of: '2026-11-15' });
    // Nov 1-14: 14 × 0.2334 + 0.045 + 0.612; run rate from Nov 8-14 only (7 × 0.2334)
    expect(week2?.month_to_date).toBe('3.9246');
    expect(Number(week2?.forecast_run_rate)).toBeCloseTo(3.9246 + 7 * 0.2334 * (16 / 7), 12);
    expect(Number(week2?.forecast_linear)).toBeCloseTo((3.9246 * 30) / 14, 12);
  });
});
