/**
 * The overview's Budgets row ('genai-ledger-overview'): the table's SQL run on a store whose
 * budgets table holds the budgets below (synced from a file, as the collector does) and whose
 * rollups are refreshed (refreshRollups(), as the collector's schedule does), at 2026-03-20 12:00
 * UTC (a Friday), checked against figures worked by hand and against `genai-ledger budgets
 * --format json` (the CLI, as a child process) on the same store. The panel reads 0013's spend per
 * budget, hour and value (grafana/src/query/budgets.ts), which the refresh folds from the raw
 * ledger: the period's hours that start before the evaluation time.
 *
 * Calls (feature summarize; even-numbered calls gpt-4o, odd ones gpt-4o-mini; the 08:00 one
 * delivered twice: exact readers count it once):
 *   1 Feb 28 23:00  org-1 u1  7     gpt-4o-mini  (last month: in no period)
 *   2 Mar  2 10:00  org-1 u1  1.25  gpt-4o
 *   3 Mar 16 09:00  org-1 u1  0.5   gpt-4o-mini  (Monday: this week)
 *   4 Mar 20 08:00  org-1 u1  1.5   gpt-4o       (today)
 *   5 Mar 20 09:30  org-1 u2  0.25  gpt-4o-mini
 *   6 Mar 20 10:00  org-2 u3  100   gpt-4o
 *   7 Mar 20 11:00  org-1 u1  unpriced (costs nothing)
 *
 *   org1-month        org-1, month, limit 5, alert_at 0.5, 1: spent
 *                     1.25 + 0.5 + 1.5 + 0.25 = 3.5, used 0.7, warning (≥ 2.5); 19.5 of March's
 *                     31 days gone: forecast 3.5 × 31 ÷ 19.5 = 5.5641025641…
 *   org1-user-day     org-1 per user_id, day, limit 2 (alert_at 0.8, 1): u1
 *                     1.5, used 0.75, ok (< 1.6), forecast 1.5 × 24 ÷ 12 = 3; u2 0.25, used
 *                     0.125, forecast 0.5
 *   everything-week   every call (per feature), week from Monday Mar 16, limit 100: 0.5 + 1.5 +
 *                     0.25 + 100 = 102.25, used 1.0225, exceeded; 4.5 of 7 days gone: forecast
 *                     102.25 × 7 ÷ 4.5 = 159.0555…
 *   org3-day          org-3, day, limit 1: no calls, a line at 0, ok
 *   gpt4o-week        model gpt-4o (per model), week, limit 200: 1.5 + 100 = 101.5, used 0.5075,
 *                     ok (< 160); forecast 101.5 × 7 ÷ 4.5 = 157.8888…
 *   u1-summarize-day  user u1 and feature summarize, day,
 *                     limit 1: 1.5, used 1.5, exceeded; forecast 1.5 × 24 ÷ 12 = 3
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { ClickHouseClient } from '@clickhouse/client';
import { syncBudgets } from '../../clickhouse/budgets.js';
import { refreshRollups } from '../../clickhouse/migrate.js';
import { createStoreClient } from '../../clickhouse/store.js';
import { loadBudgetsFile, parseBudgets } from '../../pricing/budgets/index.js';
import { runCli, seedRows, tempDir } from '../cli/support/cli.js';
import { usageRow } from '../support/store.js';
import { ALL_FILTERS, DashboardRunner, type Row } from './support.js';

const TABLE = 'Budgets: spent, limit, forecast';
const AT = '2026-03-20T12:00:00Z';
const BUDGETS = `budgets:
  - name: org1-month
    match: { org_id: org-1 }
    period: month
    limit_usd: "5"
    alert_at: [0.5, 1]
  - name: org1-user-day
    match: { org_id: org-1 }
    per: user_id
    period: day
    limit_usd: "2"
  - name: everything-week
    period: week
    limit_usd: "100"
    alert_at: [0.5, 1]
  - name: org3-day
    match: { org_id: org-3 }
    period: day
    limit_usd: "1"
  - name: gpt4o-week
    match: { model: gpt-4o }
    period: week
    limit_usd: "200"
  - name: u1-summarize-day
    match: { user_id: u1, feature: summarize }
    period: day
    limit_usd: "1"
`;

const call = (i: number, ts: string, org: string, user: string, cost: string | null) =>
  usageRow(i, { ts: `2026-${ts}:00.000000`, org_id: org, user_id: user, cost_usd: cost });
const twice = call(4, '03-20 08:00', 'org-1', 'u1', '1.5');
const ROWS = [
  call(1, '02-28 23:00', 'org-1', 'u1', '7'),
  call(2, '03-02 10:00', 'org-1', 'u1', '1.25'),
  call(3, '03-16 09:00', 'org-1', 'u1', '0.5'),
  twice,
  call(5, '03-20 09:30', 'org-1', 'u2', '0.25'),
  call(6, '03-20 10:00', 'org-2', 'u3', '100'),
  call(7, '03-20 11:00', 'org-1', 'u1', null),
];

let dir: string;
let file: string;
let client: ClickHouseClient | undefined;
let overview: DashboardRunner;
let cli: Array<Record<string, unknown>>;

beforeAll(async () => {
  dir = tempDir('budgets-panel');
  file = join(dir, '..', `budgets-panel-${process.pid}.yaml`);
  writeFileSync(file, BUDGETS);
  // Two deliveries of the 08:00 call, in separate inserts.
  await seedRows(dir, [twice]);
  await seedRows(dir, ROWS);
  const result = await runCli(['budgets', '--budgets', file, '--at', AT, '--format', 'json', '--store', dir]);
  expect(result.code, result.stderr).toBe(0);
  cli = JSON.parse(result.stdout) as Array<Record<string, unknown>>;
  client = await createStoreClient({ kind: 'embedded', path: dir }, { database: 'genai_ledger' });
  // A budget in force once, then dropped from the file: its tombstone hides it.
  await syncBudgets(client, 'genai_ledger', parseBudgets({ budgets: [{ name: 'retired', period: 'day', limit_usd: '1' }] }));
  await syncBudgets(client, 'genai_ledger', loadBudgetsFile(file));
  await refreshRollups(client, { database: 'genai_ledger' });
  overview = new DashboardRunner(client, 'genai-ledger-overview');
}, 180_000);

afterAll(async () => {
  await client?.close().catch(() => undefined);
  for (const path of [dir, file]) if (path) rmSync(path, { recursive: true, force: true });
});

const panel = (at = AT): Promise<Row[]> =>
  overview.run(TABLE, { from: new Date(Date.parse(at) - 7 * 86_400_000), to: new Date(at), variables: ALL_FILTERS });

describe('Budgets row', () => {
  test('each budget in force, a per budget per value with spend, most used first, figures worked by hand', async () => {
    const rows = await panel();
    expect(rows.map((r) => [r.budget, r.value, r.period, r.period_start, r.spent_usd, r.limit_usd, r.used, r.state])).toEqual([
      ['u1-summarize-day', '', 'day', '2026-03-20 00:00:00', 1.5, 1, 1.5, 'exceeded'],
      ['everything-week', '', 'week', '2026-03-16 00:00:00', 102.25, 100, 1.0225, 'exceeded'],
      ['org1-user-day', 'u1', 'day', '2026-03-20 00:00:00', 1.5, 2, 0.75, 'ok'],
      ['org1-month', '', 'month', '2026-03-01 00:00:00', 3.5, 5, 0.7, 'warning'],
      ['gpt4o-week', '', 'week', '2026-03-16 00:00:00', 101.5, 200, 0.5075, 'ok'],
      ['org1-user-day', 'u2', 'day', '2026-03-20 00:00:00', 0.25, 2, 0.125, 'ok'],
      ['org3-day', '', 'day', '2026-03-20 00:00:00', 0, 1, 0, 'ok'],
    ]);
    const forecast = Object.fromEntries(rows.map((r) => [`${r.budget}/${r.value}`, r.forecast_usd as number]));
    expect(forecast['everything-week/']).toBeCloseTo(159.0555555555, 9);
    expect(forecast['org1-user-day/u1']).toBe(3);
    expect(forecast['org1-month/']).toBeCloseTo(5.5641025641, 9);
    expect(forecast['org1-user-day/u2']).toBe(0.5);
    expect(forecast['org3-day/']).toBe(0);
    expect(forecast['gpt4o-week/']).toBeCloseTo(157.8888888888, 9);
    expect(forecast['u1-summarize-day/']).toBe(3);
  });

  test('the hour holding the evaluation time counts, duplicate delivery once; the hours after it do not', async () => {
    // 08:30: today's only call so far is the 08:00 one (delivered twice), in the hour holding 08:30.
    const early = await panel('2026-03-20T08:30:00Z');
    expect(early.map((r) => [r.budget, r.value, r.spent_usd, r.state])).toEqual([
      ['u1-summarize-day', '', 1.5, 'exceeded'],
      ['org1-user-day', 'u1', 1.5, 'ok'],
      ['org1-month', '', 3.25, 'warning'],
      ['everything-week', '', 2, 'ok'],
      ['gpt4o-week', '', 1.5, 'ok'],
      ['org3-day', '', 0, 'ok'],
    ]);
    // 10:30: org-2's 100 at 10:00 is in the hour holding 10:30; 08:00 and 09:30 in earlier hours.
    const later = await panel('2026-03-20T10:30:00Z');
    expect(later.map((r) => [r.budget, r.value, r.spent_usd, r.state])).toEqual([
      ['u1-summarize-day', '', 1.5, 'exceeded'],
      ['everything-week', '', 102.25, 'exceeded'],
      ['org1-user-day', 'u1', 1.5, 'ok'],
      ['org1-month', '', 3.5, 'warning'],
      ['gpt4o-week', '', 101.5, 'ok'],
      ['org1-user-day', 'u2', 0.25, 'ok'],
      ['org3-day', '', 0, 'ok'],
    ]);
  });

  test('the figures `genai-ledger budgets --format json` gives on the same store', async () => {
    const rows = await panel();
    const perValue = (r: Record<string, unknown>) => (r.name === 'org1-user-day' ? (r.match as Record<string, string>).user_id : '');
    expect(rows.map((r) => `${r.budget}/${r.value}`).sort()).toEqual(cli.map((r) => `${r.name}/${perValue(r)}`).sort());
    for (const c of cli) {
      const r = rows.find((x) => x.budget === c.name && x.value === perValue(c))!;
      // Grafana shows floats; the command's exact decimal strings read as numbers agree to 12 places.
      expect(new Date(`${String(r.period_start).replace(' ', 'T')}Z`).toISOString()).toBe(c.period_start);
      expect(new Date(`${String(r.period_end).replace(' ', 'T')}Z`).toISOString()).toBe(c.period_end);
      expect(r.spent_usd).toBeCloseTo(Number(c.spent_usd), 12);
      expect(r.limit_usd).toBe(Number(c.limit_usd));
      expect(r.used).toBeCloseTo(Number(c.used), 12);
      expect(r.forecast_usd).toBeCloseTo(Number(c.forecast_usd), 12);
      expect(r.state).toBe(c.state);
    }
  });

  test('a new day: the daily budgets start over, the week and month keep their spend', async () => {
    // Saturday Mar 21, 06:00: a quarter of the day gone, nothing spent yet today.
    const rows = await panel('2026-03-21T06:00:00Z');
    expect(rows.map((r) => [r.budget, r.value, r.spent_usd, r.state])).toEqual([
      ['everything-week', '', 102.25, 'exceeded'],
      ['org1-month', '', 3.5, 'warning'],
      ['gpt4o-week', '', 101.5, 'ok'],
      ['org3-day', '', 0, 'ok'],
      ['u1-summarize-day', '', 0, 'ok'],
    ]);
  });
});
