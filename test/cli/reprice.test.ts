/**
 * `reprice`: unpriced rows (a model nobody had priced) get exact costs from a new overrides file,
 * rewritten in place (same trace and span ids, ReplacingMergeTree supersedes); a second run changes
 * nothing; rollups follow; repeated price changes (B → A → B) all land.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { priceCall } from '../../usage/mapper.js';
import { loadPriceBook } from '../../pricing/index.js';
import type { UsageRow } from '../../usage/usage-row.js';
import { usageRow } from '../support/store.js';
import { cliSession, errorLines, runCli, startStoreTool, tempDir, type CliSession } from './support/cli.js';

let dir: string;
let session: CliSession;
let distillPrices: string;
let discountPrices: string;
const PERIOD = ['--from', '2026-03-01', '--to', '2026-04-01'];

/** 1e-7 USD units → exact decimal text. */
function usd(tenMillionths: bigint): string {
  const text = tenMillionths.toString().padStart(8, '0');
  return `${text.slice(0, -7)}.${text.slice(-7)}`.replace(/0+$/, '').replace(/\.$/, '').replace(/^$/, '0');
}

const base = { cache_read_tokens: 0, reasoning_tokens: 0, attributes: {} } satisfies Partial<UsageRow>;
// Ten calls of a self-hosted model nobody prices: unpriced when they arrived.
const distill = Array.from({ length: 10 }, (_, i) => usageRow(i, {
  ...base, request_model: 'acme-distill-7b', response_model: 'acme-distill-7b', priced_model: '',
  input_tokens: 1000 + 37 * i, output_tokens: 150 + 11 * i, cost_usd: null, cost_breakdown: {}, price_source: '',
}));
// One unpriced call that reported no usage at all (a stream without usage): must stay unpriced.
const noUsage = usageRow(10, {
  ...base, request_model: 'acme-distill-7b', response_model: '', priced_model: '', input_tokens: 0, output_tokens: 0,
  cost_usd: null, cost_breakdown: {}, price_source: '',
});
let gpt4o: UsageRow[] = [];

// acme-distill-7b at $0.2 / $0.8 per Mtok: cost in 1e-7 USD = 2 × input + 8 × output.
const distillCost = (r: UsageRow) => usd(2n * BigInt(r.input_tokens) + 8n * BigInt(r.output_tokens));

beforeAll(async () => {
  dir = tempDir('reprice');
  distillPrices = join(dir, '..', `distill-prices-${process.pid}.yaml`);
  discountPrices = join(dir, '..', `discount-${process.pid}.yaml`);
  writeFileSync(distillPrices, [
    'models:',
    '  - provider: openai',
    '    model: acme-distill-7b',
    '    prices: { input_mtok: 0.2, output_mtok: 0.8 }',
    '',
  ].join('\n'));
  writeFileSync(discountPrices, [
    'models:',
    // The response model: the mapper (and reprice) price what answered first.
    '  - provider: openai',
    '    model: gpt-4o-2024-08-06',
    '    prices: { input_mtok: "2", output_mtok: "8" }',
    '',
  ].join('\n'));
  // Ten gpt-4o calls priced exactly as the catalog prices them (so a re-price leaves them alone).
  const book = await loadPriceBook();
  gpt4o = Array.from({ length: 10 }, (_, k) => {
    const row = usageRow(20 + k, {
      ...base, request_model: 'gpt-4o', response_model: 'gpt-4o-2024-08-06', input_tokens: 2000 + k, output_tokens: 300 + k,
    });
    const priced = priceCall(book, {
      provider: row.provider, responseModel: row.response_model, requestModel: row.request_model,
      atUnixMicros: Date.parse(`${row.ts.replace(' ', 'T')}Z`) * 1000,
      tokens: { input: row.input_tokens, output: row.output_tokens, cacheRead: 0, cacheWrite: 0, reasoning: 0, inputAudio: 0, outputAudio: 0 },
      details: {},
    })!;
    return { ...row, cost_usd: priced.costUsd, cost_breakdown: priced.breakdown, priced_model: priced.pricedModel, price_source: priced.source };
  });
  session = cliSession(dir);
  await session.seedRows([...distill, noUsage, ...gpt4o]);
}, 120_000);

afterAll(async () => {
  await session?.close();
  for (const path of [dir, distillPrices, discountPrices]) rmSync(path, { recursive: true, force: true });
});

async function reprice(...args: string[]): Promise<Record<string, unknown>> {
  const result = await session.run(['reprice', ...PERIOD, '--format', 'json', '--store', dir, ...args]);
  expect(result.code, result.stderr).toBe(0);
  // Not a terminal: the progress bar stays silent apart from its final line.
  expect(errorLines(result)).toEqual([expect.stringMatching(/^(repricing|checking): \d+\/\d+ rows in /)]);
  return JSON.parse(result.stdout) as Record<string, unknown>;
}

interface Stored { span_id: string; cost: string | null; breakdown: Record<string, string>; price_source: string; priced_model: string }
const stored = () => session.sql<Stored>(`
  SELECT span_id, toString(cost_usd) AS cost, mapApply((k, v) -> (k, toString(v)), cost_breakdown) AS breakdown, price_source, priced_model
  FROM genai_ledger.ai_usage_exact ORDER BY span_id`);

describe('reprice', () => {
  it('prices the unpriced rows exactly from a new overrides file', async () => {
    const result = await reprice('--unpriced-only', '--prices', distillPrices);
    const delta = distill.reduce((sum, r) => sum + 2n * BigInt(r.input_tokens) + 8n * BigInt(r.output_tokens), 0n);
    expect(result).toEqual({
      examined: 11, changed: 10, newlyPriced: 10, unchanged: 0, stillUnpriced: 0, keptWithoutPrice: 0, noUsage: 1,
      costDeltaUsd: usd(delta), dryRun: false,
    });
    const bySpan = new Map((await stored()).map((r) => [r.span_id, r]));
    for (const r of distill) {
      expect(bySpan.get(r.span_id)).toEqual({
        span_id: r.span_id, cost: distillCost(r),
        breakdown: { input_tokens: usd(2n * BigInt(r.input_tokens)), output_tokens: usd(8n * BigInt(r.output_tokens)) },
        price_source: `override:distill-prices-${process.pid}.yaml`, priced_model: 'openai/acme-distill-7b',
      });
    }
    expect(bySpan.get(noUsage.span_id)).toMatchObject({ cost: null, price_source: '' });
    for (const r of gpt4o) expect(bySpan.get(r.span_id)!.cost).toBe(r.cost_usd);
    // Same identities, new versions: the raw table holds both until a merge; the exact view one.
    expect(await session.sql(`SELECT (SELECT count() FROM genai_ledger.ai_usage_exact) AS exact,
      (SELECT uniqExact(trace_id, span_id) FROM genai_ledger.ai_usage) AS ids`)).toEqual([{ exact: 21, ids: 21 }]);
  }, 60_000);

  it('a second run changes nothing', async () => {
    expect(await reprice('--unpriced-only', '--prices', distillPrices)).toMatchObject({ examined: 1, changed: 0, noUsage: 1 });
    expect(await reprice('--prices', distillPrices)).toMatchObject({ examined: 21, changed: 0, unchanged: 20, noUsage: 1, costDeltaUsd: '0' });
  }, 60_000);

  it('the rollups reflect the new costs after a refresh', async () => {
    await session.storeTool(['refresh']);
    const [exact] = await session.sql<{ cost: string; unpriced: number }>(
      'SELECT toString(sum(cost_usd)) AS cost, countIf(cost_usd IS NULL) AS unpriced FROM genai_ledger.ai_usage_exact');
    const [hourly] = await session.sql<{ cost: string; unpriced: number; calls: number }>(
      'SELECT toString(sum(cost_usd)) AS cost, sum(unpriced_calls) AS unpriced, sum(calls) AS calls FROM genai_ledger.ai_usage_hourly_exact');
    const [daily] = await session.sql<{ cost: string; unpriced: number }>(
      'SELECT toString(sum(cost_usd)) AS cost, sum(unpriced_calls) AS unpriced FROM genai_ledger.ai_usage_daily_exact');
    const expectedTotal = [...distill.map(distillCost), ...gpt4o.map((r) => r.cost_usd!)]
      .reduce((sum, c) => sum + BigInt(Math.round(Number(c) * 1e7)), 0n);
    expect(exact).toEqual({ cost: usd(expectedTotal), unpriced: 1 });
    expect(hourly).toEqual({ cost: usd(expectedTotal), unpriced: 1, calls: 21 });
    expect(daily).toEqual({ cost: usd(expectedTotal), unpriced: 1 });
  }, 60_000);

  it('follows price changes back and forth (B → A → B), keeping rows it cannot price', async () => {
    // gpt-4o at a negotiated $2 / $8 per Mtok.
    expect(await reprice('--prices', discountPrices)).toMatchObject({ changed: 10, keptWithoutPrice: 10, unchanged: 0 });
    // Back to the catalog: gpt-4o rows change back; the distill rows keep their override price.
    expect(await reprice()).toMatchObject({ changed: 10, keptWithoutPrice: 10 });
    // The same blocks as two runs ago: not dropped as duplicate inserts.
    expect(await reprice('--prices', discountPrices)).toMatchObject({ changed: 10, keptWithoutPrice: 10 });
    const bySpan = new Map((await stored()).map((r) => [r.span_id, r]));
    for (const r of gpt4o) {
      expect(bySpan.get(r.span_id)).toMatchObject({
        cost: usd(20n * BigInt(r.input_tokens) + 80n * BigInt(r.output_tokens)),
        price_source: `override:discount-${process.pid}.yaml`, priced_model: 'openai/gpt-4o-2024-08-06',
      });
    }
    for (const r of distill) expect(bySpan.get(r.span_id)!.cost).toBe(distillCost(r));
  }, 90_000);

  it('--dry-run counts without writing', async () => {
    expect(await reprice('--dry-run')).toMatchObject({ changed: 10, dryRun: true });
    expect(await reprice('--prices', discountPrices)).toMatchObject({ changed: 0 });
  }, 60_000);

  it('says clearly that it needs the store free when another process holds it', async () => {
    await session.close(); // the store free for the holder: each command here is a process of its own
    const holder = await startStoreTool(dir, ['hold=60000']);
    try {
      const result = await runCli(['reprice', ...PERIOD, '--store', dir]);
      expect(result.code).toBe(1);
      expect(errorLines(result)).toEqual([
        expect.stringMatching(new RegExp(`^genai-ledger: the embedded store ${dir} is held by pid \\d+ \\(a running collector\\?\\): reprice writes, so stop it first, or run reprice against the ClickHouse server URL$`)),
      ]);
    } finally {
      await holder.stop();
    }
  }, 60_000);
});
