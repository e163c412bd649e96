/**
 * The chargeback panels of the overview and tenant dashboards ('genai-ledger-overview',
 * 'genai-ledger-tenant'), run on a store billed through the real `genai-ledger reprice --billing`
 * (the CLI, as a child process) with the rate cards below. Every figure is worked by hand:
 *
 *   default card ("*"): markup 0.20, billed = cost × 1.2 (acme has no card of its own)
 *   beta: markup 0, gpt-4o-mini sold at $0.10 in / $0.40 out per 1M tokens, below its cost
 *         ($0.15 / $0.60): a negative margin.
 *
 *   acme  Nov 2  chat    gpt-4o       cost 0.50  billed 0.60
 *   acme  Nov 3  search  gpt-4o       cost 0.25  billed 0.30
 *   acme  Nov 4  chat    gpt-4o-mini  cost 0.10  billed 0.12
 *   acme  Nov 4  chat    gpt-4o-mini  unpriced: billed nothing, counted
 *   beta  Nov 5  chat    gpt-4o-mini  1M in + 0.5M out: cost 0.15 + 0.30 = 0.45, billed 0.10 + 0.20 = 0.30
 *   acme  Oct 31 chat    gpt-4o       cost 1 (billed 1.2): outside the range Nov 1-7
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createStoreClient } from '../../clickhouse/store.js';
import type { UsageRow } from '../../usage/usage-row.js';
import { runCli, seedRows, tempDir } from '../cli/support/cli.js';
import { usageRow } from '../support/store.js';
import { ALL_FILTERS, DashboardRunner, pick, RANGE, usd, type Row } from './support.js';

const CARDS = [
  'rate_cards:',
  '  - org_id: "*"',
  '    effective_from: 2026-01-01',
  '    markup: "0.20"',
  '  - org_id: beta',
  '    effective_from: 2026-01-01',
  '    markup: "0"',
  '    models:',
  '      - model: gpt-4o-mini',
  '        input_mtok: "0.10"',
  '        output_mtok: "0.40"',
  '',
].join('\n');

const plain = { cache_read_tokens: 0, cache_write_tokens: 0, reasoning_tokens: 0, cost_breakdown: {} } satisfies Partial<UsageRow>;
const gpt4o = { ...plain, request_model: 'gpt-4o', response_model: 'gpt-4o-2024-08-06', priced_model: 'openai/gpt-4o' };
const mini = { ...plain, request_model: 'gpt-4o-mini', response_model: 'gpt-4o-mini-2024-07-18', priced_model: 'openai/gpt-4o-mini' };
const ROWS: UsageRow[] = [
  usageRow(1, { ...gpt4o, ts: '2026-11-02 09:00:00.000000', org_id: 'acme', feature: 'chat', cost_usd: '0.50' }),
  usageRow(2, { ...gpt4o, ts: '2026-11-03 09:00:00.000000', org_id: 'acme', feature: 'search', cost_usd: '0.25' }),
  usageRow(3, { ...mini, ts: '2026-11-04 09:00:00.000000', org_id: 'acme', feature: 'chat', cost_usd: '0.10' }),
  usageRow(4, { ...mini, ts: '2026-11-04 10:00:00.000000', org_id: 'acme', feature: 'chat', cost_usd: null }),
  usageRow(5, { ...mini, ts: '2026-11-05 09:00:00.000000', org_id: 'beta', feature: 'chat', input_tokens: 1_000_000, output_tokens: 500_000, cost_usd: '0.45' }),
  usageRow(6, { ...gpt4o, ts: '2026-10-31 09:00:00.000000', org_id: 'acme', feature: 'chat', cost_usd: '1' }),
];

let dir: string;
let rates: string;
let client: Awaited<ReturnType<typeof createStoreClient>> | undefined;
let overview: DashboardRunner;
let tenant: DashboardRunner;

beforeAll(async () => {
  dir = tempDir('margin');
  rates = join(dir, '..', `margin-rates-${process.pid}.yaml`);
  writeFileSync(rates, CARDS);
  await seedRows(dir, ROWS);
  const billed = await runCli(['reprice', '--billing', '--rates', rates, '--from', '2026-10-01', '--to', '2026-12-01', '--store', dir, '--format', 'json']);
  expect(billed.code, billed.stderr).toBe(0);
  // (acme, Oct 31), (acme, Nov 2, chat, gpt-4o), (acme, Nov 3), (acme, Nov 4, chat, mini), (beta, Nov 5)
  expect(JSON.parse(billed.stdout)).toMatchObject({ calls: 6, groups: 5, written: 5 });
  client = await createStoreClient({ kind: 'embedded', path: dir }, { database: 'genai_ledger' });
  overview = new DashboardRunner(client, 'genai-ledger-overview');
  tenant = new DashboardRunner(client, 'genai-ledger-tenant');
}, 180_000);

afterAll(async () => {
  await client?.close().catch(() => undefined);
  for (const path of [dir, rates]) if (path) rmSync(path, { recursive: true, force: true });
});

/** A row's figures as read off the panel: money to 4 places, margin % to 4. */
const figures = (r: Row) => [usd(r.cost, 4), usd(r.billed, 4), usd(r.margin_usd, 4), r.margin === null ? null : usd(r.margin, 4), r.calls, r.unpriced_calls];

const all = { ...RANGE, variables: ALL_FILTERS };
const acme = { ...RANGE, variables: { ...ALL_FILTERS, org: { value: 'acme' } } };

describe('overview: billed against cost, Nov 1-7 2026', () => {
  test('billed, cost and margin: every org, the Oct 31 call left out', async () => {
    // cost 0.85 + 0.45 = 1.30; billed 1.02 + 0.30 = 1.32; margin 0.02 ÷ 1.32 = 0.01515
    expect(figures(await overview.one('Billed, cost and margin', all))).toEqual(['1.3000', '1.3200', '0.0200', '0.0152', 5, 1]);
  });

  test('billed against cost per org', async () => {
    const rows = await overview.run('Billed against cost per org', all);
    expect(rows.map((r) => [r.org, ...figures(r)])).toEqual([
      // acme: 0.50 + 0.25 + 0.10 = 0.85 × 1.2 = 1.02; margin 0.17 ÷ 1.02 = 0.16667 (markup 0.20 ÷ 1.20)
      ['acme', '0.8500', '1.0200', '0.1700', '0.1667', 4, 1],
      // beta: 0.30 − 0.45 = −0.15; ÷ 0.30 = −0.5
      ['beta', '0.4500', '0.3000', '-0.1500', '-0.5000', 1, 0],
    ]);
    // feature search: acme's one search call only
    const search = await overview.run('Billed against cost per org', { ...RANGE, variables: { ...ALL_FILTERS, feature: pick('search') } });
    expect(search.map((r) => [r.org, ...figures(r)])).toEqual([['acme', '0.2500', '0.3000', '0.0500', '0.1667', 1, 0]]);
  });

  test('orgs with a negative margin: beta only; none once beta is filtered out', async () => {
    const rows = await overview.run('Orgs with a negative margin', all);
    expect(rows.map((r) => [r.org, ...figures(r)])).toEqual([['beta', '0.4500', '0.3000', '-0.1500', '-0.5000', 1, 0]]);
    expect(await overview.run('Orgs with a negative margin', { ...RANGE, variables: { ...ALL_FILTERS, model: pick('gpt-4o') } })).toEqual([]);
  });
});

describe('tenant: acme billed against cost, Nov 1-7 2026', () => {
  test('billed, cost and margin for the org', async () => {
    expect(figures(await tenant.one('Billed, cost and margin', acme))).toEqual(['0.8500', '1.0200', '0.1700', '0.1667', 4, 1]);
  });

  test('billed against cost per feature', async () => {
    const rows = await tenant.run('Billed against cost per feature', acme);
    expect(rows.map((r) => [r.feature, ...figures(r)])).toEqual([
      // chat: 0.50 + 0.10 = 0.60 × 1.2 = 0.72; the unpriced call counted, billed nothing
      ['chat', '0.6000', '0.7200', '0.1200', '0.1667', 3, 1],
      ['search', '0.2500', '0.3000', '0.0500', '0.1667', 1, 0],
    ]);
    // model gpt-4o-mini: the 0.10 call (0.12 billed) and the unpriced one
    const minis = await tenant.run('Billed against cost per feature', { ...acme, variables: { ...acme.variables, model: pick('gpt-4o-mini') } });
    expect(minis.map((r) => [r.feature, ...figures(r)])).toEqual([['chat', '0.1000', '0.1200', '0.0200', '0.1667', 2, 1]]);
  });
});
