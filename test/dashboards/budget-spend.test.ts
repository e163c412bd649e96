/**
 * 0013's rollup per (budget, hour, value), which the Budgets panel and alert rule read: what its
 * refresh folds from the raw ledger and the budgets table. Counted in the table itself (versions,
 * tombstones and the marks row, before FINAL) as well as through the exact view.
 *
 * Calls on 2026-03-14 (all gpt-4o unless said):
 *   1  09:05  org-1  u1   0.5
 *   2  09:40  org-1  u2   1.25   delivered twice (exact: once)
 *   3  09:50  org-1  ''   2      no user: counts for no value of a per-user budget
 *   4  10:10  org-1  u1   unpriced (costs nothing: left out)
 *   5  10:20  org-2  u3   4      gpt-4o-mini
 *   6  09:55  org-1  u1   0.25   late (inserted after the first folds)
 *   7  09:58  org-1  u2   0.5    late
 * Budgets: org1 (org-1), per-user (org-1 per user_id), mini (model gpt-4o-mini).
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { syncBudgets } from '../../clickhouse/budgets.js';
import { parseBudgets } from '../../pricing/budgets/index.js';
import { openTestStore, queryRows, usageRow, type TestStore } from '../support/store.js';

const VIEW = 'genai_ledger.budget_spend_hourly_refresh';
let store: TestStore;

const call = (i: number, time: string, org: string, user: string, cost: string | null, model = 'gpt-4o') =>
  usageRow(i, { ts: `2026-03-14 ${time}:00.000000`, org_id: org, user_id: user, cost_usd: cost, request_model: model });
const insert = (rows: ReturnType<typeof call>[]) => store.client.insert({ table: 'genai_ledger.ai_usage', values: rows, format: 'JSONEachRow' });

/** A refresh past the watermark overlap (1 s here): it re-folds only what arrived since the last. */
async function refresh(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 1100));
  await store.client.command({ query: `SYSTEM WAIT VIEW ${VIEW}` }).catch(() => undefined);
  await store.client.command({ query: `SYSTEM REFRESH VIEW ${VIEW}` });
  await store.client.command({ query: `SYSTEM WAIT VIEW ${VIEW}` });
}

/** Every row written, oldest first, as `budget/value hour calls cost deleted` (the marks row apart). */
const written = async (): Promise<string[]> =>
  (await queryRows<{ line: string }>(store.client, `
    SELECT concat(budget, '/', per_value, ' ', formatDateTime(hour, '%H'), ' ', toString(calls), ' ', toString(toFloat64(cost_usd)), if(is_deleted = 1, ' deleted', '')) AS line
    FROM genai_ledger.budget_spend_hourly WHERE budget != '' ORDER BY version, line`)).map((r) => r.line);

/** The exact view, as `budget/value hour calls cost`. */
const exact = async (): Promise<string[]> =>
  (await queryRows<{ line: string }>(store.client, `
    SELECT concat(budget, '/', per_value, ' ', formatDateTime(hour, '%H'), ' ', toString(calls), ' ', toString(toFloat64(cost_usd))) AS line
    FROM genai_ledger.budget_spend_hourly_exact ORDER BY line`)).map((r) => r.line);

const budgets = (entries: object[]) => syncBudgets(store.client, 'genai_ledger', parseBudgets({ budgets: entries }));
const ORG1 = { name: 'org1', match: { org_id: 'org-1' }, period: 'day', limit_usd: '10' };
const PER_USER = { name: 'per-user', match: { org_id: 'org-1' }, per: 'user_id', period: 'day', limit_usd: '1' };
const MINI = { name: 'mini', match: { model: 'gpt-4o-mini' }, period: 'week', limit_usd: '100' };

beforeAll(async () => {
  store = await openTestStore({ migrate: { watermarkLagSeconds: 1 } });
  const twice = call(2, '09:40', 'org-1', 'u2', '1.25');
  await insert([twice]);
  await insert([call(1, '09:05', 'org-1', 'u1', '0.5'), twice, call(3, '09:50', 'org-1', '', '2'), call(4, '10:10', 'org-1', 'u1', null), call(5, '10:20', 'org-2', 'u3', '4', 'gpt-4o-mini')]);
}, 120_000);

afterAll(async () => {
  await store?.close();
});

describe('spend per budget, hour and value', () => {
  test('no budget in force: a refresh writes only its marks', async () => {
    await refresh();
    expect(await written()).toEqual([]);
    const marks = await queryRows(store.client, "SELECT budgets_at FROM genai_ledger.budget_spend_hourly FINAL WHERE budget = ''");
    expect(marks).toEqual([{ budgets_at: '1970-01-01 00:00:00.000000' }]);
  });

  test('budgets synced: every hour folded, duplicates once, unpriced calls and calls without the per field left out', async () => {
    await budgets([ORG1, PER_USER, MINI]);
    await refresh();
    expect(await exact()).toEqual([
      'mini/ 10 1 4',
      'org1/ 09 3 3.75',
      'per-user/u1 09 1 0.5',
      'per-user/u2 09 1 1.25',
    ]);
  });

  test('a late call re-folds its own hour: the groups of other hours are not written again', async () => {
    await insert([call(6, '09:55', 'org-1', 'u1', '0.25')]);
    // This refresh also re-folds the hours of the calls inserted within the overlap (1 s) of the
    // newest it had folded: the previous insert's.
    await refresh();
    const before = await written();
    await insert([call(7, '09:58', 'org-1', 'u2', '0.5')]);
    await refresh();
    expect((await written()).slice(before.length)).toEqual(['org1/ 09 5 4.5', 'per-user/u1 09 2 0.75', 'per-user/u2 09 2 1.75']);
    expect(await exact()).toEqual(['mini/ 10 1 4', 'org1/ 09 5 4.5', 'per-user/u1 09 2 0.75', 'per-user/u2 09 2 1.75']);
  });

  test('budgets changed: every hour re-folded with them, the groups of a dropped or changed budget tombstoned', async () => {
    const before = await written();
    await budgets([{ ...ORG1, match: { org_id: 'org-2' } }, PER_USER]);
    await refresh();
    expect((await written()).slice(before.length).sort()).toEqual([
      'mini/ 10 0 0 deleted',
      'org1/ 09 0 0 deleted',
      'org1/ 10 1 4',
      'per-user/u1 09 2 0.75',
      'per-user/u2 09 2 1.75',
    ]);
    expect(await exact()).toEqual(['org1/ 10 1 4', 'per-user/u1 09 2 0.75', 'per-user/u2 09 2 1.75']);
  });
});
