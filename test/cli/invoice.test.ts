/**
 * Chargeback through the CLI on an embedded store: `invoice` and `credits` bill each call once
 * (a span delivered twice is in the raw table twice) by the card in force at its time (a card
 * changing mid-month, the default card, an org without a card of its own), list unpriced calls,
 * print the same bytes on a rerun; `reprice --billing` loads the cards and recomputes billed_daily
 * idempotently, and follows a card change. Every expected figure is worked by hand below.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UsageRow } from '../../usage/usage-row.js';
import { usageRow } from '../support/store.js';
import { cliSession, errorLines, tempDir, type CliSession } from './support/cli.js';

let dir: string;
let session: CliSession;
let rates: string;
let ratesChanged: string;
let badRates: string;

const CARDS = [
  'rate_cards:',
  '  - org_id: "*"',
  '    effective_from: 2026-01-01',
  '    markup: "0.20"',
  '  - org_id: acme',
  '    effective_from: 2026-11-15',
  '    markup: "0.25"',
  '    models:',
  '      - model: gpt-4o-mini',
  '        input_mtok: "0.30"',
  '        output_mtok: "1.20"',
  '    credits_per_usd: 100',
  '    credit_rounding: call_floor',
  '',
].join('\n');

const plain = { cache_read_tokens: 0, cache_write_tokens: 0, reasoning_tokens: 0 } satisfies Partial<UsageRow>;
const gpt4o = { request_model: 'gpt-4o', response_model: 'gpt-4o-2024-08-06', priced_model: 'openai/gpt-4o' };
const mini = { request_model: 'gpt-4o-mini', response_model: 'gpt-4o-mini-2024-07-18', priced_model: 'openai/gpt-4o-mini' };
const rows: UsageRow[] = [
  // Before acme's card (Nov 15): the default card, 0.01 × 1.20 = 0.012, no credits.
  usageRow(1, { ...gpt4o, ...plain, ts: '2026-11-10 09:00:00.000000', org_id: 'acme', user_id: 'u1', input_tokens: 1000, output_tokens: 200, cost_usd: '0.01' }),
  // acme's card: 0.01035 × 1.25 = 0.0129375 = 1.29375 credits, floored: 1.
  usageRow(2, { ...gpt4o, ...plain, ts: '2026-11-20 09:00:00.000000', org_id: 'acme', user_id: 'u1', input_tokens: 1000, output_tokens: 200, cost_usd: '0.01035' }),
  // acme's sell price: 100 000 × 0.30/M + 50 000 × 1.20/M = 0.03 + 0.06 = 0.09 = 9 credits.
  usageRow(3, { ...mini, ...plain, ts: '2026-11-20 10:00:00.000000', org_id: 'acme', user_id: 'u2', feature: 'chat', input_tokens: 100_000, output_tokens: 50_000, cost_usd: '0.045' }),
  // Unpriced: billed nothing, counted.
  usageRow(4, { ...mini, ...plain, ts: '2026-11-21 10:00:00.000000', org_id: 'acme', user_id: 'u2', feature: 'chat', input_tokens: 500, output_tokens: 100, cost_usd: null, cost_breakdown: {} }),
  // Outside November.
  usageRow(5, { ...gpt4o, ...plain, ts: '2026-10-31 23:59:59.999999', org_id: 'acme', cost_usd: '1' }),
  usageRow(6, { ...gpt4o, ...plain, ts: '2026-12-01 00:00:00.000000', org_id: 'acme', cost_usd: '1' }),
  // zeta has no card of its own: the default card, 0.0123 × 1.2 = 0.01476.
  usageRow(7, { ...gpt4o, ...plain, ts: '2026-11-05 12:00:00.000000', org_id: 'zeta', user_id: 'z1', input_tokens: 300, output_tokens: 30, cost_usd: '0.0123' }),
];
// Call 2 delivered again (another block: an attribute differs), stored twice in ai_usage.
const duplicate = { ...rows[1]!, attributes: { 'gen_ai.response.id': 'resp-2-again' } };

const NOV = ['--org', 'acme', '--month', '2026-11'];

beforeAll(async () => {
  dir = tempDir('invoice');
  rates = join(dir, '..', `rates-${process.pid}.yaml`);
  ratesChanged = join(dir, '..', `rates-changed-${process.pid}.yaml`);
  badRates = join(dir, '..', `rates-bad-${process.pid}.yaml`);
  writeFileSync(rates, CARDS);
  // acme's markup from 0.25 to 0.5 (the sell price and credits stay).
  writeFileSync(ratesChanged, CARDS.replace('markup: "0.25"', 'markup: "0.5"'));
  writeFileSync(badRates, CARDS.replace('credit_rounding: call_floor', 'credit_rounding: nearest'));
  const first = join(dir, '..', `seed-a-${process.pid}.json`);
  const second = join(dir, '..', `seed-b-${process.pid}.json`);
  writeFileSync(first, JSON.stringify(rows));
  writeFileSync(second, JSON.stringify([duplicate]));
  try {
    session = cliSession(dir);
    const out = await session.storeTool([
      'hold-merges', // no background merge: both deliveries stay in ai_usage
      `seed=${first}`, `seed=${second}`,
      'SELECT (SELECT count() FROM genai_ledger.ai_usage) AS raw, (SELECT count() FROM genai_ledger.ai_usage_exact) AS exact',
    ]);
    expect(out.trim().split('\n').at(-1)).toBe(JSON.stringify([{ raw: 8, exact: 7 }]));
  } finally {
    rmSync(first, { force: true });
    rmSync(second, { force: true });
  }
}, 120_000);

afterAll(async () => {
  await session?.close();
  for (const path of [dir, rates, ratesChanged, badRates]) rmSync(path, { recursive: true, force: true });
});

async function cli(args: string[]): Promise<string> {
  const result = await session.run([...args, '--store', dir]);
  expect(result.code, result.stderr).toBe(0);
  return result.stdout;
}

const tokens = (input: number, output: number) => ({ input_tokens: input, output_tokens: output, cache_read_tokens: 0, cache_write_tokens: 0, reasoning_tokens: 0 });

describe('invoice', () => {
  it('lines by model and totals: each call once, by the card in force at its time', async () => {
    const invoice = JSON.parse(await cli(['invoice', ...NOV, '--rates', rates, '--format', 'json']));
    expect(invoice).toEqual({
      org_id: 'acme', month: '2026-11', by: 'model', cards_used: ['*@2026-01-01', 'acme@2026-11-15'],
      lines: [
        // 0.01 + 0.01035 = 0.02035; 0.012 + 0.0129375 = 0.0249375; margin 0.0045875; credits 0 + 1.
        { model: 'gpt-4o', calls: 2, ...tokens(2000, 400), cost_usd: '0.02035', billed_usd: '0.0249375', margin_usd: '0.0045875', credits: '1', unpriced_calls: 0, calls_without_card: 0 },
        { model: 'gpt-4o-mini', calls: 2, ...tokens(100_500, 50_100), cost_usd: '0.045', billed_usd: '0.09', margin_usd: '0.045', credits: '9', unpriced_calls: 1, calls_without_card: 0 },
      ],
      totals: {
        calls: 4, ...tokens(102_500, 50_500), total_cost_usd: '0.06535', total_billed_usd: '0.1149375', margin_usd: '0.0495875',
        total_credits: '10', unpriced_calls: 1, calls_without_card: 0,
      },
    });
  }, 60_000);

  it('by feature and user; an org without a card of its own gets the default card', async () => {
    const byFeature = JSON.parse(await cli(['invoice', ...NOV, '--by', 'feature', '--rates', rates, '--format', 'json']));
    expect(byFeature.lines.map((l: Record<string, unknown>) => [l.feature, l.calls, l.billed_usd, l.credits])).toEqual([
      ['chat', 2, '0.09', '9'], ['summarize', 2, '0.0249375', '1'],
    ]);
    const zeta = JSON.parse(await cli(['invoice', '--org', 'zeta', '--month', '2026-11', '--by', 'user_id', '--rates', rates, '--format', 'json']));
    expect(zeta.lines).toEqual([
      { user_id: 'z1', calls: 1, ...tokens(300, 30), cost_usd: '0.0123', billed_usd: '0.01476', margin_usd: '0.00246', unpriced_calls: 0, calls_without_card: 0 },
    ]);
    expect(zeta.totals).not.toHaveProperty('total_credits');
  }, 60_000);

  it('csv: the lines, then a TOTAL row in the same columns; the same bytes when run again', async () => {
    const args = ['invoice', ...NOV, '--rates', rates, '--format', 'csv'];
    const csv = await cli(args);
    expect(csv).toBe([
      'model,calls,input_tokens,output_tokens,cache_read_tokens,cache_write_tokens,reasoning_tokens,cost_usd,billed_usd,margin_usd,credits,unpriced_calls,calls_without_card',
      'gpt-4o,2,2000,400,0,0,0,0.02035,0.0249375,0.0045875,1,0,0',
      'gpt-4o-mini,2,100500,50100,0,0,0,0.045,0.09,0.045,9,1,0',
      'TOTAL,4,102500,50500,0,0,0,0.06535,0.1149375,0.0495875,10,1,0',
      '',
    ].join('\n'));
    expect(await cli(args)).toBe(csv);
    const table = await cli(['invoice', ...NOV, '--rates', rates]);
    expect(table).toContain('TOTAL');
    expect(await cli(['invoice', ...NOV, '--rates', rates])).toBe(table);
  }, 90_000);

  it('a bad rate card is one line naming the card and the field', async () => {
    const result = await session.run(['invoice', ...NOV, '--rates', badRates, '--store', dir]);
    expect(result.code).toBe(1);
    expect(errorLines(result)).toEqual([
      `genai-ledger: ${badRates}: rate_cards[1] (org "acme"): credit_rounding: one of call_floor, call_ceil, invoice_half_even, got "nearest"`,
    ]);
  }, 60_000);
});

describe('credits', () => {
  it('per user over a period, and for one user', async () => {
    const all = JSON.parse(await cli(['credits', '--org', 'acme', '--from', '2026-11-01', '--to', '2026-12-01', '--rates', rates, '--format', 'json']));
    expect(all.lines).toEqual([
      { user_id: 'u1', calls: 2, billed_usd: '0.0249375', credits: '1', unpriced_calls: 0 },
      { user_id: 'u2', calls: 2, billed_usd: '0.09', credits: '9', unpriced_calls: 1 },
    ]);
    expect(all.totals).toEqual({ calls: 4, total_billed_usd: '0.1149375', total_credits: '10', unpriced_calls: 1 });
    const one = JSON.parse(await cli(['credits', '--org', 'acme', '--user', 'u2', '--from', '2026-11-01', '--to', '2026-12-01', '--rates', rates, '--format', 'json']));
    expect(one.lines.map((l: Record<string, unknown>) => l.user_id)).toEqual(['u2']);
    expect(one.totals.total_credits).toBe('9');
  }, 60_000);
});

describe('reprice --billing', () => {
  const billed = () => session.sql<Record<string, unknown>>(`SELECT org_id, toString(day) AS day, model, rate_card, calls, unpriced_calls,
    toString(cost_usd) AS cost, toString(billed_usd) AS billed, toString(credits) AS credits
    FROM genai_ledger.billed_daily_exact WHERE day >= '2026-11-01' AND day < '2026-12-01' ORDER BY org_id, day, model`);
  const PERIOD = ['--from', '2026-11-01', '--to', '2026-12-01'];

  it('loads the cards and bills each (org, day, feature, model) once; a rerun writes nothing', async () => {
    expect(JSON.parse(await cli(['reprice', '--billing', '--rates', rates, ...PERIOD, '--format', 'json']))).toEqual({
      calls: 5, groups: 5, written: 5, deleted: 0, rateCards: { upserted: 2, deleted: 0, unchanged: 0 },
    });
    expect(await billed()).toEqual([
      { org_id: 'acme', day: '2026-11-10', model: 'gpt-4o', rate_card: '*@2026-01-01', calls: 1, unpriced_calls: 0, cost: '0.01', billed: '0.012', credits: '0' },
      { org_id: 'acme', day: '2026-11-20', model: 'gpt-4o', rate_card: 'acme@2026-11-15', calls: 1, unpriced_calls: 0, cost: '0.01035', billed: '0.0129375', credits: '1' },
      { org_id: 'acme', day: '2026-11-20', model: 'gpt-4o-mini', rate_card: 'acme@2026-11-15', calls: 1, unpriced_calls: 0, cost: '0.045', billed: '0.09', credits: '9' },
      { org_id: 'acme', day: '2026-11-21', model: 'gpt-4o-mini', rate_card: 'acme@2026-11-15', calls: 1, unpriced_calls: 1, cost: '0', billed: '0', credits: '0' },
      { org_id: 'zeta', day: '2026-11-05', model: 'gpt-4o', rate_card: '*@2026-01-01', calls: 1, unpriced_calls: 0, cost: '0.0123', billed: '0.01476', credits: '0' },
    ]);
    expect(JSON.parse(await cli(['reprice', '--billing', '--rates', rates, ...PERIOD, '--format', 'json']))).toEqual({
      calls: 5, groups: 5, written: 0, deleted: 0, rateCards: { upserted: 0, deleted: 0, unchanged: 2 },
    });
  }, 90_000);

  it('after a card change, only the days it bills are rewritten; invoices read the stored cards', async () => {
    // acme's markup 0.25 → 0.5: only the Nov 20 gpt-4o day changes (0.01035 × 1.5 = 0.015525 = 1.5525 credits → 1);
    // the sell-priced and unpriced days and the default card's days stay.
    expect(JSON.parse(await cli(['reprice', '--billing', '--rates', ratesChanged, ...PERIOD, '--format', 'json']))).toEqual({
      calls: 5, groups: 5, written: 1, deleted: 0, rateCards: { upserted: 1, deleted: 0, unchanged: 1 },
    });
    expect((await billed())[1]).toMatchObject({ day: '2026-11-20', model: 'gpt-4o', billed: '0.015525', credits: '1' });
    // No --rates: the cards in the store, now the changed ones.
    const fromStore = JSON.parse(await cli(['invoice', ...NOV, '--format', 'json']));
    expect(fromStore.totals.total_billed_usd).toBe('0.117525'); // 0.012 + 0.015525 + 0.09
    expect(await cli(['invoice', ...NOV, '--format', 'json'])).toBe(await cli(['invoice', ...NOV, '--rates', ratesChanged, '--format', 'json']));
  }, 120_000);

  it('the cookbook\'s billed_invoice.sql reads billed_daily: lines per model, then the total and margin', async () => {
    const out = await cli(['query', '--file', 'clickhouse/queries/billed_invoice.sql', '--param', 'org=acme', '--param', 'month=2026-11-01', '--format', 'json']);
    const lines = (JSON.parse(out) as Array<Record<string, unknown>>).map((r) => [r.line, r.model, r.calls, r.unpriced_calls, r.cost_usd, r.billed_usd, r.margin_usd, r.credits]);
    // After the card change: gpt-4o 0.012 + 0.015525 = 0.027525 billed, 0.02035 cost; gpt-4o-mini 0.09 and 0.045.
    expect(lines.map((l) => l.map((v) => (typeof v === 'string' && v.includes('.') ? v.replace(/0+$/, '').replace(/\.$/, '') : v)))).toEqual([
      ['line', 'gpt-4o-mini', 2, 1, '0.045', '0.09', '0.045', '9'],
      ['line', 'gpt-4o', 2, 0, '0.02035', '0.027525', '0.007175', '1'],
      ['total', '', 4, 1, '0.06535', '0.117525', '0.052175', '10'],
    ]);
  }, 60_000);
});
