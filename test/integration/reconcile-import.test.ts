/**
 * The bill importers against a local fake of the providers' Admin APIs (documented parameters and
 * answers): every page read, a 429 honoured by its Retry-After, a 401 reported in one line without
 * the key; and the file importers on hand-written exports (JSON pages, CSV).
 */
import { readFileSync } from 'node:fs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadPriceBook, type PriceBook } from '../../pricing/index.js';
import { AdminApiError, retryAfterMs } from '../../reconcile/admin-api.js';
import { fetchBill, readBillFiles } from '../../reconcile/import-bill.js';
import { startFakeAdminApi, type FakeAdminApi } from '../support/fake-admin-api.js';

const FIXTURES = new URL('../fixtures/bills/', import.meta.url);
const fixture = (name: string): string => new URL(name, FIXTURES).pathname;
const OPENAI_KEY = 'sk-admin-test-0123456789abcdef';
const ANTHROPIC_KEY = 'sk-ant-admin01-test-0123456789abcdef';
const PERIOD = { fromDay: '2025-11-01', toDay: '2025-11-04' };

/** A saved report's buckets as the fake serves them: results by day. */
function resultsByDay(file: string): Record<string, unknown[]> {
  const page = JSON.parse(readFileSync(fixture(file), 'utf8')) as { data: Array<{ start_time?: number; starting_at?: string; results: unknown[] }> };
  return Object.fromEntries(page.data.map((b) => [
    (b.start_time !== undefined ? new Date(b.start_time * 1000) : new Date(b.starting_at!)).toISOString().slice(0, 10), b.results,
  ]));
}

const OPENAI_REPORTS = {
  '/v1/organization/costs': resultsByDay('openai-costs.json'),
  '/v1/organization/usage/completions': resultsByDay('openai-usage-completions.json'),
  '/v1/organization/usage/embeddings': resultsByDay('openai-usage-embeddings.json'),
  '/v1/organization/usage/audio_speeches': {},
  '/v1/organization/usage/audio_transcriptions': {},
};
const ANTHROPIC_REPORTS = {
  '/v1/organizations/cost_report': resultsByDay('anthropic-cost-report.json'),
  '/v1/organizations/usage_report/messages': resultsByDay('anthropic-usage-messages.json'),
};

let prices: PriceBook;
let fake: FakeAdminApi | undefined;
const noWait = { sleep: async () => undefined };

beforeAll(async () => {
  prices = await loadPriceBook();
});

afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

// Hand-worked from the fixtures: gpt-4o-mini 0.15 + 0.12 on the 1st, 0.165 + 0.132 on the 2nd;
// o3 1 and web search 0.25 on the 3rd. Anthropic cents 18 + 1.2 + 15 + 1 → $0.18, 0.012, 0.15, 0.01.
const OPENAI_COSTS = [
  ['2025-11-01', 'gpt-4o-mini-2024-07-18', 'openai/gpt-4o-mini', 'input', '0.15'],
  ['2025-11-01', 'gpt-4o-mini-2024-07-18', 'openai/gpt-4o-mini', 'output', '0.12'],
  ['2025-11-02', 'gpt-4o-mini-2024-07-18', 'openai/gpt-4o-mini', 'input', '0.165'],
  ['2025-11-02', 'gpt-4o-mini-2024-07-18', 'openai/gpt-4o-mini', 'output', '0.132'],
  ['2025-11-03', 'o3-2025-04-16', 'openai/o3', 'input', '1'],
  ['2025-11-03', '', '', 'other', '0.25'],
];
const ANTHROPIC_COSTS = [
  ['2025-11-01', 'claude-sonnet-4-5-20250929', 'anthropic/claude-sonnet-4-5', 'input', '0.18'],
  ['2025-11-01', 'claude-sonnet-4-5-20250929', 'anthropic/claude-sonnet-4-5', 'cache_read', '0.012'],
  ['2025-11-01', 'claude-sonnet-4-5-20250929', 'anthropic/claude-sonnet-4-5', 'output', '0.15'],
  ['2025-11-01', '', '', 'other', '0.01'],
];
const costRows = (lines: Array<{ day: string; model: string; priced_model: string; token_type: string; amount_usd: string }>) =>
  lines.map((l) => [l.day, l.model, l.priced_model, l.token_type, l.amount_usd]).sort();

describe('OpenAI Admin API', () => {
  it('reads every page of the costs and usage reports, one bucket a page', async () => {
    fake = await startFakeAdminApi({ key: OPENAI_KEY, reports: OPENAI_REPORTS, pageSize: 1 });
    const bill = await fetchBill('openai', PERIOD, { key: OPENAI_KEY, apiBase: fake.url, prices, ...noWait });

    expect(costRows(bill.costs!)).toEqual(OPENAI_COSTS.sort());
    expect(bill.usage!.map((u) => [u.day, u.model, u.priced_model, u.line_item, u.input_tokens, u.output_tokens, u.requests]).sort()).toEqual([
      ['2025-11-01', 'gpt-4o-mini-2024-07-18', 'openai/gpt-4o-mini', 'completions batch=false', 1_000_000, 200_000, 10],
      ['2025-11-01', 'text-embedding-3-small', 'openai/text-embedding-3-small', 'embeddings', 5000, 0, 2],
      ['2025-11-02', 'gpt-4o-mini-2024-07-18', 'openai/gpt-4o-mini', 'completions batch=false', 1_100_000, 220_000, 11],
      ['2025-11-03', 'o3-2025-04-16', 'openai/o3', 'completions batch=false', 500_000, 0, 3],
    ]);
    // 3 days, 1 bucket a page: 3 pages for each of the 5 reports, each page after the first asked by its token.
    const costs = fake.requests.filter((r) => r.path === '/v1/organization/costs');
    expect(costs).toHaveLength(3);
    expect(costs.map((r) => r.query.has('page'))).toEqual([false, true, true]);
    expect(fake.requests).toHaveLength(15);
    expect(costs[0]!.query.getAll('group_by')).toEqual(['line_item', 'project_id']);
    expect(Object.fromEntries([...costs[0]!.query].filter(([k]) => k !== 'group_by'))).toEqual({
      start_time: '1761955200', end_time: '1762214400', bucket_width: '1d', limit: '180',
    });
    expect(fake.requests.find((r) => r.path.endsWith('/completions'))!.query.get('limit')).toBe('31');
  });

  it('waits out a 429 for its Retry-After, then goes on', async () => {
    fake = await startFakeAdminApi({ key: OPENAI_KEY, reports: OPENAI_REPORTS, rateLimit: { requests: 1, retryAfter: '2' } });
    const waits: number[] = [];
    const bill = await fetchBill('openai', PERIOD, { key: OPENAI_KEY, apiBase: fake.url, prices, sleep: async (ms) => void waits.push(ms) });
    expect(waits).toEqual([2000]);
    expect(fake.requests.map((r) => r.status).slice(0, 2)).toEqual([429, 200]);
    expect(costRows(bill.costs!)).toEqual(OPENAI_COSTS.sort());
  });

  it('gives up on a 401 at once, in one line naming the variable, never the key', async () => {
    fake = await startFakeAdminApi({ key: OPENAI_KEY, reports: OPENAI_REPORTS });
    const wrong = 'sk-admin-wrong-key-9876543210';
    const error = await fetchBill('openai', PERIOD, { key: wrong, apiBase: fake.url, prices, ...noWait }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AdminApiError);
    const message = (error as Error).message;
    expect(message).toMatch(/^openai admin API: GET \/v1\/organization\/costs answered 401: Incorrect API key provided: \[redacted\] \(is OPENAI_ADMIN_KEY/);
    expect(message).not.toContain(wrong);
    expect(message).not.toContain('\n');
    expect(fake.requests).toHaveLength(1);
  });

  it('a 429 that never ends fails after the attempts, with the provider\'s message', async () => {
    fake = await startFakeAdminApi({ key: OPENAI_KEY, reports: OPENAI_REPORTS, rateLimit: { requests: 100, retryAfter: '1' } });
    const error = await fetchBill('openai', PERIOD, { key: OPENAI_KEY, apiBase: fake.url, prices, ...noWait }).catch((e: unknown) => e);
    expect((error as Error).message).toBe('openai admin API: GET /v1/organization/costs answered 429 after 5 attempts: Rate limit exceeded');
    expect(fake.requests).toHaveLength(5);
  });
});

describe('Anthropic Admin API', () => {
  it('reads the cost and messages usage reports across pages, cents to dollars, cache tokens into input', async () => {
    fake = await startFakeAdminApi({ key: ANTHROPIC_KEY, reports: ANTHROPIC_REPORTS, pageSize: 1 });
    const bill = await fetchBill('anthropic', PERIOD, { key: ANTHROPIC_KEY, apiBase: fake.url, prices, ...noWait });
    expect(costRows(bill.costs!)).toEqual(ANTHROPIC_COSTS.sort());
    expect(bill.usage).toEqual([expect.objectContaining({
      day: '2025-11-01', model: 'claude-sonnet-4-5-20250929', priced_model: 'anthropic/claude-sonnet-4-5', project_id: 'wrkspc_support',
      line_item: 'messages service_tier=standard context_window=0-200k',
      // 60 000 uncached + 40 000 read from the cache
      input_tokens: 100_000, cache_read_tokens: 40_000, cache_write_tokens: 0, output_tokens: 10_000, requests: null,
      units: { web_search_requests: 1 },
    })]);
    const cost = fake.requests.filter((r) => r.path === '/v1/organizations/cost_report');
    expect(cost).toHaveLength(3);
    expect(cost[0]!.headers['anthropic-version']).toBe('2023-06-01');
    expect(cost[0]!.query.getAll('group_by[]')).toEqual(['workspace_id', 'description']);
    expect(cost[0]!.query.get('starting_at')).toBe('2025-11-01T00:00:00Z');
    expect(cost[0]!.query.get('limit')).toBe('31');
  });

  it('a 401 names ANTHROPIC_ADMIN_KEY and not the key', async () => {
    fake = await startFakeAdminApi({ key: ANTHROPIC_KEY, reports: ANTHROPIC_REPORTS });
    const wrong = 'sk-ant-admin01-wrong-5555';
    const message = (await fetchBill('anthropic', PERIOD, { key: wrong, apiBase: fake.url, prices, ...noWait }).catch((e: Error) => e) as Error).message;
    expect(message).toContain('answered 401');
    expect(message).toContain('ANTHROPIC_ADMIN_KEY');
    expect(message).not.toContain(wrong);
  });
});

describe('files', () => {
  it.each([
    ['OpenAI costs, JSON page', 'openai', ['openai-costs.json'], OPENAI_COSTS],
    ['OpenAI costs, CSV', 'openai', ['openai-costs.csv'], OPENAI_COSTS],
    ['Anthropic cost report, JSON page', 'anthropic', ['anthropic-cost-report.json'], ANTHROPIC_COSTS],
    ['Anthropic cost report, CSV in dollars', 'anthropic', ['anthropic-cost-report.csv'], ANTHROPIC_COSTS],
  ] as const)('%s', (_, provider, files, expected) => {
    const bill = readBillFiles(provider, files.map(fixture), prices);
    expect(costRows(bill.costs!)).toEqual([...expected].sort());
    expect(bill.usage).toBeUndefined();
    expect(bill.costs![0]!.source).toBe(`file:${files[0]}`);
  });

  it('costs and usage files together cover the days of their buckets', () => {
    const bill = readBillFiles('openai', ['openai-costs.json', 'openai-usage-completions.json', 'openai-usage-embeddings.json'].map(fixture), prices);
    expect([bill.fromDay, bill.toDay]).toEqual(['2025-11-01', '2025-11-04']);
    expect(bill.usage!.map((u) => u.line_item).sort()).toEqual(['completions batch=false', 'completions batch=false', 'completions batch=false', 'embeddings']);
  });

  it.each([
    ['a usage report of the other provider', 'anthropic', 'openai-usage-completions.json', /not a anthropic cost or usage report/],
    ['a CSV without dates', 'openai', 'anthropic-cost-report.json', /not a openai cost or usage report/],
  ] as const)('refuses %s in one line', (_, provider, file, pattern) => {
    expect(() => readBillFiles(provider, [fixture(file)], prices)).toThrow(pattern);
  });
});

describe('Retry-After', () => {
  it.each([
    ['2', 2000],
    ['0', 0],
    ['1.5', 1500],
    ['3600', 60_000],
    ['Thu, 01 Jan 2026 00:00:10 GMT', 10_000],
    ['soon', undefined],
    [null, undefined],
  ])('%s → %s ms', (header, ms) => {
    expect(retryAfterMs(header, Date.parse('2026-01-01T00:00:00Z'))).toBe(ms);
  });
});
