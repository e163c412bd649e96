/** `budgets`: spent, used, forecast and state per budget and per value, exact under duplicate deliveries. */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { usageRow } from '../support/store.js';
import { cliSession, errorLines, tempDir, type CliSession } from './support/cli.js';

let dir: string;
let session: CliSession;
let file: string;
// All on 2026-03-14 (usageRow), org-1: user-1 and user-4; org-2 elsewhere.
const a = usageRow(1, { cost_usd: '1.25' });
const b = usageRow(4, { cost_usd: '2.5' });
const c = usageRow(2, { cost_usd: '100' });

beforeAll(async () => {
  dir = tempDir('budgets');
  session = cliSession(dir);
  // Two batches: the raw table holds span a twice until a merge (held: the session's engine runs on).
  await session.storeTool(['hold-merges']);
  await session.seedRows([a]);
  await session.seedRows([a, b, c]);
  file = join(dir, '..', `${dir.split('/').at(-1)}-budgets.yaml`);
  writeFileSync(file, [
    'budgets:',
    '  - name: org1-month',
    '    match: { org_id: org-1 }',
    '    period: month',
    '    limit_usd: "5"',
    '    alert_at: [0.5, 1]',
    '  - name: per-user-day',
    '    match: { org_id: org-1 }',
    '    per: user_id',
    '    period: day',
    '    limit_usd: "2"',
  ].join('\n'));
}, 120_000);
afterAll(async () => {
  await session?.close();
  rmSync(dir, { recursive: true, force: true });
  rmSync(file, { force: true });
});

describe('budgets', () => {
  it('is exact when a span was stored twice', async () => {
    expect(a.org_id).toBe('org-1');
    expect(b.org_id).toBe('org-1');
    expect(await session.sql(`SELECT count() AS n FROM genai_ledger.ai_usage WHERE span_id = '${a.span_id}'`)).toEqual([{ n: 2 }]);

    const month = await session.run(['budgets', '--budgets', file, '--at', '2026-03-20', '--format', 'json', '--store', dir]);
    expect(month.stderr).toBe('');
    const rows = JSON.parse(month.stdout) as Array<Record<string, unknown>>;
    // org-1 spent 1.25 + 2.5 = 3.75 of 5: used 0.75, warning (≥ 0.5 × 5 = 2.5). 19 of March's 31
    // days have passed on the 20th: forecast 3.75 × 31 / 19 = 6.1184210526315789473…, 18 places.
    expect(rows.find((r) => r.name === 'org1-month')).toEqual({
      name: 'org1-month', match: { org_id: 'org-1' },
      period_start: '2026-03-01T00:00:00.000Z', period_end: '2026-04-01T00:00:00.000Z',
      spent_usd: '3.75', limit_usd: '5', used: '0.75', forecast_usd: '6.118421052631578947', state: 'warning',
    });
    // The per-user day budget has no spend on the 20th.
    expect(rows.filter((r) => r.name === 'per-user-day')).toEqual([]);
  }, 120_000);

  it('shows a per budget per value with spend', async () => {
    const day = await session.run(['budgets', '--budgets', file, '--at', '2026-03-14T12:00:00Z', '--format', 'json', '--store', dir]);
    expect(day.stderr).toBe('');
    const rows = (JSON.parse(day.stdout) as Array<Record<string, unknown>>).filter((r) => r.name === 'per-user-day');
    // Half the day gone: forecasts are twice the spend. user-1: 1.25 / 2 = 0.625 (< 0.8: ok);
    // user-4: 2.5 / 2 = 1.25, exceeded.
    expect(rows.map((r) => [r.match, r.spent_usd, r.used, r.forecast_usd, r.state])).toEqual([
      [{ org_id: 'org-1', user_id: 'user-1' }, '1.25', '0.625', '2.5', 'ok'],
      [{ org_id: 'org-1', user_id: 'user-4' }, '2.5', '1.25', '5', 'exceeded'],
    ]);
  }, 120_000);

  it('refuses a budgets file with an error in one line naming the budget and field', async () => {
    const bad = `${file}.bad.yaml`;
    writeFileSync(bad, 'budgets:\n  - name: acme\n    period: quarter\n    limit_usd: "5"\n');
    try {
      const result = await session.run(['budgets', '--budgets', bad, '--store', dir]);
      expect(result.code).not.toBe(0);
      expect(errorLines(result)).toEqual([`genai-ledger: ${bad}: budget 'acme': period: one of day, week, month, got "quarter"`]);
    } finally {
      rmSync(bad, { force: true });
    }
  });

  it('refuses a bad --at naming it', async () => {
    const result = await session.run(['budgets', '--budgets', file, '--at', 'yesterday', '--store', dir]);
    expect(result.code).toBe(2);
    expect(errorLines(result)).toEqual(["genai-ledger: --at: not a date or time: 'yesterday'"]);
  });
});
