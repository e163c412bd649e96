/**
 * `genai-ledger reconcile`: import a bill from files and from a (fake) Admin API, report per day
 * and model with the exit code a scheduled job reads, and the price override a bill implies.
 */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { usageRow } from '../support/store.js';
import { startFakeAdminApi, type FakeAdminApi } from '../support/fake-admin-api.js';
import { cliSession, errorLines, tempDir, type CliSession } from './support/cli.js';

const fixture = (name: string): string => new URL(`../fixtures/bills/${name}`, import.meta.url).pathname;
const ANTHROPIC_KEY = 'sk-ant-admin01-cli-test-key-000111';
const NOVEMBER = ['--from', '2025-11-01', '--to', '2025-11-04'];

let dir: string;
let session: CliSession;
let fake: FakeAdminApi;

beforeAll(async () => {
  dir = tempDir('reconcile');
  // gpt-4o-mini at $0.15 / $0.60 per Mtok: 100k input + 20k output = 0.027 a call, 10 calls a day.
  const mini = {
    provider: 'openai', request_model: 'gpt-4o-mini', response_model: 'gpt-4o-mini-2024-07-18', priced_model: 'openai/gpt-4o-mini',
    input_tokens: 100_000, output_tokens: 20_000, cache_read_tokens: 0, cost_usd: '0.027',
  };
  // claude-sonnet-4-5: the bill's tokens (100k input of which 40k read from the cache, 10k output),
  // priced by the ledger at 0.3 where the bill says 0.18 + 0.012 + 0.15 = 0.342.
  const claude = {
    provider: 'anthropic', request_model: 'claude-sonnet-4-5', response_model: 'claude-sonnet-4-5-20250929', priced_model: 'anthropic/claude-sonnet-4-5',
    input_tokens: 50_000, output_tokens: 5_000, cache_read_tokens: 20_000, cost_usd: '0.15',
  };
  session = cliSession(dir);
  await session.seedRows([
    ...Array.from({ length: 20 }, (_, i) => usageRow(i, { ...mini, ts: `2025-11-0${1 + Math.floor(i / 10)} 10:00:${String(i).padStart(2, '0')}.000000` })),
    ...[0, 1].map((i) => usageRow(50 + i, { ...claude, ts: `2025-11-01 11:00:0${i}.000000` })),
  ]);
  const resultsByDay = (file: string) => Object.fromEntries((JSON.parse(readFileSync(fixture(file), 'utf8')) as { data: Array<{ starting_at: string; results: unknown[] }> })
    .data.map((b) => [b.starting_at.slice(0, 10), b.results]));
  fake = await startFakeAdminApi({
    key: ANTHROPIC_KEY,
    pageSize: 2,
    reports: {
      '/v1/organizations/cost_report': resultsByDay('anthropic-cost-report.json'),
      '/v1/organizations/usage_report/messages': resultsByDay('anthropic-usage-messages.json'),
    },
  });
}, 120_000);

afterAll(async () => {
  await session?.close();
  await fake?.close();
  rmSync(dir, { recursive: true, force: true });
});

const importFiles = () => session.run(['reconcile', 'import', '--provider', 'openai', '--store', dir,
  '--file', fixture('openai-costs.json'), '--file', fixture('openai-usage-completions.json')]);

describe('reconcile import', () => {
  it('from files: stores them; the same files again write nothing', async () => {
    const first = await importFiles();
    expect(errorLines(first)).toEqual([]);
    expect(first.stdout.trim()).toBe('openai bill 2025-11-01 to 2025-11-03: costs: 6 lines written, 0 withdrawn, 0 unchanged; usage: 3 lines written, 0 withdrawn, 0 unchanged');
    expect(first.code).toBe(0);
    const again = await importFiles();
    expect(again.stdout).toContain('costs: 0 lines written, 0 withdrawn, 6 unchanged; usage: 0 lines written, 0 withdrawn, 3 unchanged');
  }, 120_000);

  it('from the Admin API, the key from the environment', async () => {
    const result = await session.run(['reconcile', 'import', '--provider', 'anthropic', ...NOVEMBER, '--api-base', fake.url, '--store', dir, '--format', 'json'],
      { env: { ANTHROPIC_ADMIN_KEY: ANTHROPIC_KEY } });
    expect(errorLines(result)).toEqual([]);
    expect(JSON.parse(result.stdout)).toEqual({
      provider: 'anthropic', fromDay: '2025-11-01', toDay: '2025-11-04',
      costs: { written: 4, tombstoned: 0, unchanged: 0 }, usage: { written: 1, tombstoned: 0, unchanged: 0 },
    });
    // 3 days, 2 buckets a page: 2 pages per report
    expect(fake.requests.filter((r) => r.status === 200)).toHaveLength(4);
  }, 120_000);

  it.each([
    ['no key', {}, /^genai-ledger: set ANTHROPIC_ADMIN_KEY to an admin key of the organization, or import saved reports with --file$/],
    ['a refused key', { ANTHROPIC_ADMIN_KEY: 'sk-ant-admin01-refused-777' }, /^genai-ledger: anthropic admin API: GET \/v1\/organizations\/cost_report answered 401: .*ANTHROPIC_ADMIN_KEY/],
  ])('%s: one line on stderr, exit 1, never the key', async (_, env, pattern) => {
    const result = await session.run(['reconcile', 'import', '--provider', 'anthropic', ...NOVEMBER, '--api-base', fake.url, '--store', dir], { env });
    expect(result.code).toBe(1);
    expect(errorLines(result)).toHaveLength(1);
    expect(errorLines(result)[0]).toMatch(pattern);
    expect(result.stderr).not.toContain('refused-777');
  }, 120_000);
});

describe('reconcile report', () => {
  it('per day, provider and model: exit 1, with the statuses and causes', async () => {
    const result = await session.run(['reconcile', 'report', ...NOVEMBER, '--store', dir, '--format', 'json']);
    expect(errorLines(result)).toEqual([]);
    expect(result.code).toBe(1);
    const rows = JSON.parse(result.stdout) as Array<Record<string, unknown>>;
    expect(rows.map((r) => [r.day, r.provider, r.model, r.ledger_cost_usd, r.billed_cost_usd, r.variance_pct, r.status, r.cause])).toEqual([
      // Sonnet: 2 × 0.15 = 0.3 against 0.342, tokens equal: a price. −0.042 / 0.342 = −12.28 %
      ['2025-11-01', 'anthropic', 'anthropic/(not a model)', '0', '0.01', '-100', 'missing_in_ledger', 'not_in_ledger'],
      ['2025-11-01', 'anthropic', 'anthropic/claude-sonnet-4-5', '0.3', '0.342', '-12.28', 'ledger_low', 'price'],
      ['2025-11-01', 'openai', 'openai/gpt-4o-mini', '0.27', '0.27', '0', 'ok', null],
      // 0.27 against 0.297: −9.09 %, 1M of 1.1M input tokens
      ['2025-11-02', 'openai', 'openai/gpt-4o-mini', '0.27', '0.297', '-9.09', 'ledger_low', 'uninstrumented_or_dropped'],
      ['2025-11-03', 'openai', 'openai/(not a model)', '0', '0.25', '-100', 'missing_in_ledger', 'not_in_ledger'],
      ['2025-11-03', 'openai', 'openai/o3', '0', '1', '-100', 'missing_in_ledger', 'not_in_ledger'],
    ]);
    // 0.18 / 60k, 0.012 / 40k, 0.15 / 10k per million tokens
    expect(rows[1]!.implied_prices).toEqual({ input_mtok: '3', output_mtok: '15', cache_read_mtok: '0.3' });
  }, 120_000);

  it('a table, and the override the bill implies, ready for reprice --prices', async () => {
    const overrides = join(dir, '..', `implied-${process.pid}.yaml`);
    try {
      const result = await session.run(['reconcile', 'report', '--provider', 'anthropic', ...NOVEMBER, '--store', dir, '--overrides', overrides]);
      expect(result.code).toBe(1);
      expect(result.stdout).toContain('2 of 2 groups out of tolerance');
      expect(result.stdout).toMatch(/claude-sonnet-4-5\s+0\.3\s+0\.342\s+-0\.042\s+-12\.28\s+ledger_low\s+price/);
      const yaml = readFileSync(overrides, 'utf8');
      expect(yaml).toBe([
        'models:',
        '  - provider: anthropic',
        '    model: claude-sonnet-4-5-20250929',
        '    effective_from: 2025-11-01',
        '    prices:',
        '      input_mtok: "3"',
        '      output_mtok: "15"',
        '      cache_read_mtok: "0.3"',
        '',
      ].join('\n'));
      expect(result.stdout).toContain(yaml.trimEnd());
    } finally {
      rmSync(overrides, { force: true });
    }
  }, 120_000);

  it('exit 0 when every group is within the tolerance', async () => {
    const result = await session.run(['reconcile', 'report', '--provider', 'openai', '--from', '2025-11-01', '--to', '2025-11-03', '--by', 'provider',
      '--tolerance', '0.1', '--store', dir]);
    // 0.54 against 0.27 + 0.297 = 0.567: −0.027 is 4.76 % of the bill
    expect(result.stdout).toMatch(/openai\s+0\.54\s+0\.567\s+-0\.027\s+-4\.76\s+ok/);
    expect(result.stdout).toContain('all 1 groups within tolerance');
    expect(result.code).toBe(0);
  }, 120_000);

  it.each([
    [['--by', 'org_id'], /--by: unknown dimension 'org_id'/],
    [['--tolerance', 'five'], /--tolerance: a fraction such as 0.05, not 'five'/],
    [['--provider', 'gemini'], /--provider: openai or anthropic, not 'gemini'/],
  ])('%j: a usage error', async (args, pattern) => {
    const result = await session.run(['reconcile', 'report', ...args, '--store', dir]);
    expect(result.code).toBe(2);
    expect(errorLines(result)[0]).toMatch(pattern);
  }, 120_000);
});
