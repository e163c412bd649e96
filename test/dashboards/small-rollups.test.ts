/**
 * The small rollups of migrations 0005 (ai_usage_hourly_by_model, _by_org, _by_feature, _by_org_model) and 0012 (_by_org_service_feature) against the
 * fine hourly rollup: every panel and variable query that reads a small rollup holds a second
 * branch over the fine groups, and `$__conditionalAll(0, $var)` picks one. Selecting every value of
 * a variable explicitly asks the same question as All but through the fine branch, so both answers
 * must be identical, row for row. Also: after a re-delivery with a changed feature, the small
 * rollups follow (tombstones), and a second refresh changes nothing.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { migrate, refreshRollups, renderMigrations } from '../../clickhouse/migrate.js';
import { queryRows } from '../support/store.js';
import { dashboardQueries, expandFor, loadDashboard, type DashboardQuery, type Selection } from './load.js';
import type { VariableState } from './macros.js';
import { ALL_FILTERS, openFixtureStore, RANGE, type FixtureStore, type Row } from './support.js';

const SMALL = ['ai_usage_hourly_by_model_exact', 'ai_usage_hourly_by_org_exact', 'ai_usage_hourly_by_feature_exact', 'ai_usage_hourly_by_org_model_exact', 'ai_usage_latency_daily_exact', 'ai_usage_daily_by_org_exact',
  // 0012's, read by the tenant's spend by feature and its lists.
  'ai_usage_hourly_by_org_service_feature_exact'];
const COLUMNS: Record<string, string> = {
  org: 'org_id',
  service: 'service_name',
  environment: 'environment',
  provider: 'provider',
  model: 'request_model',
  feature: 'feature',
};

let fx: FixtureStore;
/** Every value of each filter variable in the whole ledger: selected explicitly, the same as All. */
const every: Record<string, VariableState> = {};
beforeAll(async () => {
  fx = await openFixtureStore();
  for (const [name, column] of Object.entries(COLUMNS)) {
    const rows = await queryRows<{ v: string }>(fx.client, `SELECT DISTINCT ${column} AS v FROM ai_usage_exact ORDER BY v`);
    every[name] = { value: rows.map((r) => r.v) };
  }
});
afterAll(async () => fx?.store.close());

async function run(q: DashboardQuery, selection: Selection): Promise<Row[]> {
  const rs = await fx.client.query({ query: expandFor(q, selection), format: 'JSONEachRow', clickhouse_settings: { output_format_json_quote_64bit_integers: 0 } });
  return rs.json<Row>();
}

const ODD_RANGE = { from: new Date('2026-11-02T10:30:00Z'), to: new Date('2026-11-06T15:20:00Z') };

const base = { ...ALL_FILTERS, factor: { value: '2' }, min_spend: { value: '0.01' } };

describe.each(['genai-ledger-overview', 'genai-ledger-models', 'genai-ledger-anomalies', 'genai-ledger-tenant'])('%s', (uid) => {
  const dashboard = loadDashboard(uid);
  // Not the Budgets panel: it routes each budget to a small rollup by the budget's keys, not by the
  // variables (test/dashboards/budgets.test.ts).
  const queries = dashboardQueries(dashboard).filter((q) => SMALL.some((t) => q.rawSql.includes(t)) && !/\bbudgets FINAL\b/.test(q.rawSql));
  const tenant = uid === 'genai-ledger-tenant';

  test('reads the small rollups', () => {
    expect(queries.length).toBeGreaterThan(0);
  });

  test.each(queries.map((q) => [q.kind === 'variable' ? `$${q.name}` : q.name, q] as const))('%s: small branch (All) = fine branch (every value selected)', async (_name, q) => {
    const variables = { ...base, ...(tenant ? { org: { value: 'acme' } } : {}) };
    // Whole days (the daily rollups cover them), and a range that starts and ends mid-day (their
    // edges come from the hourly rollups).
    for (const range of [RANGE, ODD_RANGE]) {
      const viaSmall = await run(q, { ...range, variables });
      if (range === RANGE) expect(viaSmall.length).toBeGreaterThan(0);
      const names = Object.keys(COLUMNS).filter((name) => !(tenant && name === 'org'));
      // One variable at a time, then all of them: each turns the small branch off.
      for (const explicit of [...names.map((n) => [n]), names]) {
        const selected = { ...variables, ...Object.fromEntries(explicit.map((n) => [n, every[n] as VariableState])) };
        const sql = expandFor(q, { ...range, variables: selected });
        const viaFine = await run(q, { ...range, variables: selected });
        expect(viaFine, `${q.name} with ${explicit.join(', ')} selected explicitly\n${sql}`).toEqual(viaSmall);
      }
    }
  });
});

describe('the small rollups follow the fine one', () => {
  const totals = async () =>
    queryRows<Record<string, string>>(
      fx.client,
      `SELECT
         (SELECT toString(sum(calls)) || ' ' || toString(sum(cost_usd)) FROM ai_usage_hourly_exact) AS fine,
         (SELECT toString(sum(calls)) || ' ' || toString(sum(cost_usd)) FROM ai_usage_hourly_by_model_exact) AS by_model,
         (SELECT toString(sum(calls)) || ' ' || toString(sum(cost_usd)) FROM ai_usage_hourly_by_org_exact) AS by_org,
         (SELECT toString(sum(calls)) || ' ' || toString(sum(cost_usd)) FROM ai_usage_hourly_by_feature_exact) AS by_feature,
         (SELECT toString(sum(calls)) || ' ' || toString(sum(cost_usd)) FROM ai_usage_hourly_by_org_model_exact) AS by_org_model,
         (SELECT toString(groupArray((feature, calls))) FROM (SELECT feature, sum(calls) AS calls FROM ai_usage_hourly_exact GROUP BY feature ORDER BY feature)) AS fine_features,
         (SELECT toString(groupArray((feature, calls))) FROM (SELECT feature, sum(calls) AS calls FROM ai_usage_hourly_by_feature_exact GROUP BY feature ORDER BY feature)) AS small_features`,
    );

  test('equal totals; a span re-delivered with another feature moves it (tombstone); refreshing again changes nothing', async () => {
    const [before] = await totals();
    expect(before?.by_model).toBe(before?.fine);
    expect(before?.by_org).toBe(before?.fine);
    expect(before?.by_feature).toBe(before?.fine);
    expect(before?.by_org_model).toBe(before?.fine);
    expect(before?.small_features).toBe(before?.fine_features);

    // The newest version of one span (ReplacingMergeTree by inserted_at) now says another feature.
    await fx.client.command({
      query: `INSERT INTO ai_usage SELECT * REPLACE ('moved-feature' AS feature, now64(6) AS inserted_at)
              FROM ai_usage_exact ORDER BY ts, trace_id, span_id LIMIT 1`,
    });
    await new Promise((r) => setTimeout(r, 1100));
    await refreshRollups(fx.client, { database: 'genai_ledger' });
    const [after] = await totals();
    expect(after?.fine).toBe(before?.fine);
    expect(after?.by_feature).toBe(after?.fine);
    expect(after?.small_features).toBe(after?.fine_features);
    expect(after?.small_features).toContain("'moved-feature',1");
    expect(after?.small_features).not.toBe(before?.small_features);

    await refreshRollups(fx.client, { database: 'genai_ledger' });
    expect((await totals())[0]).toEqual(after);
  });
});

describe('upgrading a store that predates migration 0005', () => {
  test('migrate adds the small rollups, the first refresh backfills them, the panels answer as before', async () => {
    const panels = ['genai-ledger-overview', 'genai-ledger-models', 'genai-ledger-anomalies', 'genai-ledger-tenant'].flatMap((uid) =>
      dashboardQueries(loadDashboard(uid))
        .filter((q) => SMALL.some((t) => q.rawSql.includes(t)))
        .map((q) => ({ q, variables: { ...base, ...(uid === 'genai-ledger-tenant' ? { org: { value: 'acme' } } : {}) } })),
    );
    const answers = async () => Promise.all(panels.map(({ q, variables }) => run(q, { ...RANGE, variables })));
    const before = await answers();

    // Back to the schema of 0001-0004: drop what 0005 created, forget that it was applied.
    const created = renderMigrations({ database: 'genai_ledger' })
      .filter((m) => m.version === 5)
      .flatMap((m) => m.statements)
      .map((sql) => /^CREATE (?:TABLE|MATERIALIZED VIEW|VIEW) IF NOT EXISTS genai_ledger\.(\w+)/.exec(sql)?.[1])
      .filter((name): name is string => name !== undefined);
    expect(created.length).toBeGreaterThan(10);
    for (const name of created.reverse()) await fx.client.command({ query: `DROP TABLE IF EXISTS genai_ledger.${name} SYNC` });
    await fx.client.command({ query: 'ALTER TABLE genai_ledger.schema_migrations DELETE WHERE version = 5 SETTINGS mutations_sync = 2' });

    const options = { database: 'genai_ledger', refreshSeconds: 315_360_000 };
    const result = await migrate(fx.client, options);
    expect(result.applied.map((m) => m.version)).toEqual([5]);
    // Re-running it changes nothing.
    expect((await migrate(fx.client, options)).applied).toEqual([]);
    await refreshRollups(fx.client, { database: 'genai_ledger' });
    expect(await answers()).toEqual(before);
  });
});
