/** `query`: parameters, output formats, files with a comment header, against rows written with the BatchWriter. */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { usageRow } from '../support/store.js';
import { cliSession, errorLines, tempDir, type CliSession } from './support/cli.js';

let dir: string;
let session: CliSession;
const rows = Array.from({ length: 30 }, (_, i) => usageRow(i, {
  cost_usd: ['0.0125', '0.00472', '1.5'][i % 3]!,
  feature: i % 2 === 0 ? 'summarize' : 'support-bot',
}));

beforeAll(async () => {
  dir = tempDir('query');
  session = cliSession(dir);
  await session.seedRows(rows);
}, 120_000);
afterAll(async () => {
  await session?.close();
  rmSync(dir, { recursive: true, force: true });
});

const expected = (org: string, feature: string) => rows.filter((r) => r.org_id === org && r.feature === feature);

describe('query', () => {
  it('runs a parameterised query and prints exact rows as JSON Lines', async () => {
    const result = await session.run([
      'query',
      'SELECT span_id, org_id, feature, toString(cost_usd) AS cost FROM ai_usage_exact WHERE org_id = {org:String} AND feature = {feature:String} AND input_tokens >= {min:UInt32} ORDER BY span_id',
      '--param', 'org=org-1', '--param', 'feature=summarize', '--param', 'min=1000', '--store', dir,
    ]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const got = result.stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    const want = expected('org-1', 'summarize')
      .map((r) => ({ span_id: r.span_id, org_id: 'org-1', feature: 'summarize', cost: r.cost_usd }))
      .sort((a, b) => a.span_id.localeCompare(b.span_id));
    expect(want.length).toBeGreaterThan(0);
    expect(got).toEqual(want);
  });

  it('keeps exact decimals and takes array parameters', async () => {
    const result = await session.run([
      'query',
      'SELECT org_id, count() AS calls, sum(cost_usd) AS cost FROM ai_usage_exact WHERE has({orgs:Array(String)}, org_id) GROUP BY org_id ORDER BY org_id',
      '--param', "orgs=['org-0','org-2']", '--format', 'json', '--store', dir,
    ]);
    expect(result.code).toBe(0);
    const got = JSON.parse(result.stdout) as Array<{ org_id: string; calls: number; cost: string }>;
    const sum = (org: string) => rows.filter((r) => r.org_id === org).reduce((s, r) => s + Math.round(Number(r.cost_usd) * 1e5), 0) / 1e5;
    expect(got.map((r) => [r.org_id, r.calls, Number(r.cost)])).toEqual([
      ['org-0', 10, sum('org-0')],
      ['org-2', 10, sum('org-2')],
    ]);
    expect(got[0]!.cost).toMatch(/^\d+\.\d+$/);
  });

  it('reads --file, skipping its comment header, and prints a table', async () => {
    const file = join(dir, '..', `query-${process.pid}.sql`);
    writeFileSync(file, [
      '-- spend by feature',
      '-- params: org (String)',
      '/* a block comment too */',
      '',
      'SELECT feature, count() AS calls',
      'FROM ai_usage_exact',
      "WHERE org_id = {org:String} -- the tenant, '{not:Placeholder}'",
      'GROUP BY feature ORDER BY feature;',
      '',
    ].join('\n'));
    try {
      const result = await session.run(['query', '--file', file, '--param', 'org=org-2', '--format', 'table', '--store', dir]);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      const lines = result.stdout.trimEnd().split('\n');
      expect(lines[0]).toMatch(/^feature\s+calls$/);
      expect(lines[1]).toMatch(/^-+\s+-+$/);
      expect(lines.slice(2).map((l) => l.split(/\s+/))).toEqual([
        ['summarize', String(expected('org-2', 'summarize').length)],
        ['support-bot', String(expected('org-2', 'support-bot').length)],
      ]);
    } finally {
      rmSync(file, { force: true });
    }
  });

  it('says clearly when a parameter is missing, before touching the store', async () => {
    const result = await session.run(['query', 'SELECT * FROM ai_usage_exact WHERE org_id = {org:String}', '--store', join(dir, 'never-created')]);
    expect(result.code).toBe(2);
    expect(errorLines(result)).toEqual(["genai-ledger: missing parameter 'org' (String): pass --param org=VALUE"]);
  });

  it('turns a ClickHouse error into one line and exit 1', async () => {
    const result = await session.run(['query', 'SELECT no_such_column FROM ai_usage_exact', '--store', dir]);
    expect(result.code).toBe(1);
    const lines = errorLines(result);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^genai-ledger: .*no_such_column/);
  });

  it('a missing --file is one clear line', async () => {
    const result = await session.run(['query', '--file', join(dir, 'nope.sql'), '--store', dir]);
    expect(result.code).toBe(1);
    expect(errorLines(result)).toEqual([`genai-ledger: cannot read ${join(dir, 'nope.sql')}: no such file`]);
  });
});
