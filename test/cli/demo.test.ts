/**
 * `demo`: real SDK calls through the real instrumentation into the store, spread over the days
 * asked for, across the orgs asked for, deterministic per seed, and a report that adds up.
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliSession, errorLines, runCli, sql, tempDir, type CliSession, type ProcessResult } from './support/cli.js';

interface ReportRow { org_id?: string; request_model?: string; calls: number; unpriced: number; cost_usd: string }
interface DemoJson { calls: number; failed: number; rows: ReportRow[]; total: ReportRow }

const DAY = 86_400_000;
let dirA: string;
let dirB: string;
let startedAt: number;
let finishedAt: number;
let first: ProcessResult;
let again: ProcessResult;
let demo: DemoJson;
let storeA: CliSession;

/** Exact decimal text → integer of 1e-18 units. */
function scaled(text: string): bigint {
  const [int, frac = ''] = text.split('.');
  return BigInt(int!) * 10n ** 18n + BigInt(frac.padEnd(18, '0'));
}

beforeAll(async () => {
  dirA = tempDir('demo-a');
  dirB = tempDir('demo-b');
  startedAt = Date.now();
  // The same demo again (into dirB, as a table) at the same time: each is a process of its own.
  [first, again] = await Promise.all([
    runCli(['demo', '--calls', '200', '--days', '2', '--orgs', '4', '--seed', '7', '--format', 'json', '--store', dirA]).finally(() => (finishedAt = Date.now())),
    runCli(['demo', '--calls', '200', '--days', '2', '--orgs', '4', '--seed', '7', '--store', dirB]),
  ]);
  expect(first.code, first.stderr).toBe(0);
  demo = JSON.parse(first.stdout) as DemoJson;
  storeA = cliSession(dirA);
}, 180_000);

afterAll(async () => {
  await storeA?.close();
  for (const dir of [dirA, dirB]) rmSync(dir, { recursive: true, force: true });
});

describe('demo', () => {
  it('makes the calls and says so in one line on stderr (no progress bar when not a terminal)', () => {
    expect(demo.calls).toBe(200);
    expect(errorLines(first)).toEqual([expect.stringMatching(new RegExp(`^demo: 200 calls \\(${demo.failed} failed\\) in \\S+, 200 rows written to ${dirA}$`))]);
  });

  it('writes one row per call, spread over the last 2 days, across 4 orgs, features and models', async () => {
    const [shape] = await storeA.sql<Record<'rows' | 'first' | 'last' | 'hours' | 'orgs' | 'users' | 'features' | 'models' | 'input_sizes' | 'errors' | 'unpriced', number>>(`
      SELECT count() AS rows, toUnixTimestamp64Milli(min(ts)) AS first, toUnixTimestamp64Milli(max(ts)) AS last,
             uniqExact(toStartOfHour(ts)) AS hours, uniqExact(org_id) AS orgs, uniqExact(user_id) AS users,
             uniqExact(feature) AS features, uniqExact(request_model) AS models, uniqExact(input_tokens) AS input_sizes,
             countIf(error_type != '') AS errors, countIf(cost_usd IS NULL) AS unpriced
      FROM genai_ledger.ai_usage_exact`);
    expect(shape!.rows).toBe(200);
    expect(shape!.first).toBeGreaterThanOrEqual(startedAt - 2 * DAY);
    expect(shape!.last).toBeLessThan(finishedAt);
    expect(shape!.last - shape!.first).toBeGreaterThan(DAY);
    expect(shape!.hours).toBeGreaterThan(30);
    expect(shape!.orgs).toBe(4);
    expect(shape!.users).toBeGreaterThan(10);
    expect(shape!.features).toBeGreaterThanOrEqual(6);
    expect(shape!.models).toBeGreaterThanOrEqual(7);
    expect(shape!.input_sizes).toBeGreaterThan(60);
    expect(shape!.errors).toBe(demo.failed);

    const sources = await storeA.sql<{ instrumentation: string; operation: string; provider: string; n: number }>(`
      SELECT instrumentation, operation, provider, count() AS n FROM genai_ledger.ai_usage_exact
      GROUP BY ALL ORDER BY instrumentation, operation, provider`);
    const kinds = sources.map((s) => `${s.instrumentation} ${s.operation} ${s.provider}`);
    // The real OpenAI instrumentation (chat, responses, embeddings) and recordUsage (scraping credits, transcription).
    expect(kinds).toEqual(expect.arrayContaining([
      '@opentelemetry/instrumentation-openai chat openai',
      '@opentelemetry/instrumentation-openai embeddings openai',
      'genai-ledger scrape firecrawl',
      'genai-ledger transcription openai',
    ]));
    const orgs = await storeA.sql<{ org_id: string }>('SELECT DISTINCT org_id FROM genai_ledger.ai_usage_exact ORDER BY org_id');
    expect(orgs.map((o) => o.org_id)).toEqual(['acme', 'globex', 'initech', 'umbrella']);
  }, 60_000);

  it('prices calls exactly, per model and unit', async () => {
    const scrape = await storeA.sql<{ credits: number; cost: string; source: string }>(`
      SELECT usage_details['credits'] AS credits, toString(cost_usd) AS cost, price_source AS source
      FROM genai_ledger.ai_usage_exact WHERE provider = 'firecrawl' ORDER BY span_id LIMIT 5`);
    expect(scrape.length).toBeGreaterThan(0);
    for (const s of scrape) {
      expect(s.source).toBe('override:inline');
      expect(scaled(s.cost)).toBe(BigInt(s.credits) * scaled('0.00083'));
    }
    const chats = await storeA.sql<{ input: number; output: number; cost: string }>(`
      SELECT input_tokens AS input, output_tokens AS output, toString(cost_usd) AS cost
      FROM genai_ledger.ai_usage_exact WHERE response_model = 'gpt-4o-mini-2024-07-18' AND error_type = '' LIMIT 5`);
    expect(chats.length).toBeGreaterThan(0);
    // $0.15 / $0.6 per Mtok (the OpenAI instrumentation reports no cached tokens).
    for (const c of chats) expect(scaled(c.cost)).toBe(BigInt(c.input) * scaled('0.00000015') + BigInt(c.output) * scaled('0.0000006'));
  }, 60_000);

  it('reports spend by org and model whose total is the store\'s SUM(cost_usd)', async () => {
    const [store] = await storeA.sql<{ cost: string; calls: number; unpriced: number }>(
      'SELECT toString(sum(cost_usd)) AS cost, count() AS calls, countIf(cost_usd IS NULL) AS unpriced FROM genai_ledger.ai_usage_exact');
    expect(demo.total).toMatchObject({ calls: 200, cost_usd: store!.cost, unpriced: store!.unpriced });
    expect(demo.rows.reduce((sum, r) => sum + scaled(r.cost_usd), 0n)).toBe(scaled(store!.cost));
    expect(demo.rows.reduce((sum, r) => sum + r.calls, 0)).toBe(200);
    expect(new Set(demo.rows.map((r) => r.org_id))).toEqual(new Set(['acme', 'globex', 'initech', 'umbrella']));
    expect(scaled(store!.cost)).toBeGreaterThan(0n);
  }, 60_000);

  it('is deterministic per seed, and prints a table', async () => {
    expect(again.code, again.stderr).toBe(0);
    const lines = again.stdout.split('\n');
    expect(lines).toContain(`total: 200 calls, ${demo.total.cost_usd} USD${demo.total.unpriced > 0 ? ` (+ ${demo.total.unpriced} unpriced calls)` : ''}`);
    const header = lines.find((l) => l.startsWith('org_id'));
    expect(header?.split(/\s+/)).toEqual(['org_id', 'request_model', 'calls', 'errors', 'unpriced', 'input_tokens', 'output_tokens', 'cost_usd']);
    const perOrg = `
      SELECT org_id, feature, request_model, count() AS calls, sum(input_tokens) AS input, toString(sum(cost_usd)) AS cost
      FROM genai_ledger.ai_usage_exact GROUP BY ALL ORDER BY ALL`;
    expect(await sql(dirB, perOrg)).toEqual(await storeA.sql(perOrg));
  }, 180_000);
});
