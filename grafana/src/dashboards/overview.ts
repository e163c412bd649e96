/** AI spend overview: the whole ledger, every filter a multi-value variable. */
import { BY_FEATURE, BY_MODEL, DAILY_BY_ORG, exact, HOURLY_BY_TIME, LATENCY_DAILY, UNPRICED, type Rollup } from '../../../clickhouse/rollups.js';
import { dashboard } from '../dashboard.js';
import { row, stat, table, type GridPos, type Panel } from '../model.js';
import { marginTable, marginTotals } from '../margin.js';
import { spendOverTime, totals, unpricedCalls, type Read } from '../panels.js';
import { budgetStatusSql } from '../query/budgets.js';
import { filterClause, FILTERS } from '../query/filters.js';
import { rollupQuery } from '../query/rollup-query.js';
import { sql, where } from '../query/sql.js';
import { count, drillDownToOrg, fixedColor, ms, ratio, usd, usdGauge, viewPanel, type FieldStyle } from '../style.js';
import { datasourceVariable, filterVariable } from '../variables.js';
import { OVERVIEW, TENANT } from './ids.js';

/** The panels' reads: `small` when the filters it lacks are All, else the fine hourly groups. */
export const via = (small: Rollup): Read => (select, where) => rollupQuery({ select, filters: FILTERS, small, fine: HOURLY_BY_TIME, where });
const byModel = via(BY_MODEL);

/** The ten values of `column` (shown as `label`) that spent most, read through `small` when it applies. */
function topSpenders(id: number, title: string, description: string, gridPos: GridPos, [column, label]: readonly [string, string], small: Rollup, fields: Record<string, FieldStyle> = {}): Panel {
  return table({
    id,
    title,
    description,
    gridPos,
    sql: sql`
SELECT
    ${column === label ? column : `${column} AS ${label}`},
    toFloat64(sum(cost_usd)) AS spend,
    sum(calls) AS calls
FROM
(
    ${via(small)([column, 'cost_usd', 'calls'])}
)
GROUP BY ${column}
ORDER BY sum(cost_usd) DESC, ${label}
LIMIT 10`,
    fields: { spend: usdGauge, ...fields },
  });
}

const UNPRICED_LIST = 11;

export const overview = dashboard({
  ...OVERVIEW,
  description: 'What AI calls cost, on what and for whom: exact totals from the genai-ledger ClickHouse tables (hourly rollup; the unpriced and failed-call details from the raw ledger).',
  from: 'now-7d',
  variables: [datasourceVariable, ...FILTERS.map(filterVariable)],
  panels: [
    totals(
      1,
      'Exact totals over the selected range, from the hourly rollup (whole hours whose start is in the range). Cost per call divides by priced calls only.',
      { h: 4, w: 12, x: 0, y: 0 },
      byModel,
    ),
    stat({
      id: 2,
      title: 'Prompt caching saved',
      description:
        "What prompt caching saved: the cached input tokens at the uncached input price, minus what those cache reads were billed. Per hourly rollup group (one model, org, feature, ... and hour): saved = cost_breakdown['input_tokens'] × cache_read_tokens ÷ uncached_input_tokens − cost_breakdown['cache_read_tokens'], where uncached_input_tokens = input_tokens − cache_read_tokens (− cache writes and input audio when those are priced separately). The uncached price is therefore the one the group actually paid per uncached input token (long-context tiers make it an average). Groups whose cache reads were not priced separately saved nothing. The cookbook's cache_savings.sql computes the same from list prices (model_prices).",
      gridPos: { h: 4, w: 4, x: 12, y: 0 },
      sql: sql`
SELECT toFloat64(sum(cache_saved_usd)) AS saved
FROM
(
    ${byModel(['cache_saved_usd'])}
)`,
      defaults: { ...usd(2), ...fixedColor('green') },
    }),
    stat({
      id: 3,
      title: 'Spend on failed calls',
      description: 'What calls that ended in an error (error_type set) cost, and how many there were (hourly rollup: errors, error_cost_usd).',
      gridPos: { h: 4, w: 4, x: 16, y: 0 },
      showNames: true,
      sql: sql`
SELECT
    toFloat64(sum(error_cost_usd)) AS failed_spend,
    sum(errors) AS failed_calls
FROM
(
    ${byModel(['error_cost_usd', 'errors'])}
)`,
      defaults: fixedColor('orange'),
      fields: {
        failed_spend: { displayName: 'Failed-call spend', ...usd(2) },
        failed_calls: { displayName: 'Failed calls', ...count },
      },
    }),
    unpricedCalls(
      4,
      'Calls the ledger could not price (no price known for the model, cost_usd NULL): their spend is missing from every total. Red above zero; click for the calls (table below) and add their prices as overrides.',
      { h: 4, w: 4, x: 20, y: 0 },
      byModel,
      viewPanel('Show the unpriced calls', OVERVIEW, UNPRICED_LIST),
    ),
    spendOverTime(5, 'Spend over time by provider', 'Exact spend per interval (at least one hour: the hourly rollup), stacked by provider.', { h: 9, w: 12, x: 0, y: 4 }, 'provider', 'provider', byModel),
    spendOverTime(6, 'Spend over time by model', 'Exact spend per interval (at least one hour: the hourly rollup), stacked by requested model.', { h: 9, w: 12, x: 12, y: 4 }, 'request_model', 'model', byModel),
    topSpenders(7, 'Top orgs', 'The ten orgs that spent most in the range. Click an org for its drill-down.', { h: 9, w: 8, x: 0, y: 13 }, ['org_id', 'org'], DAILY_BY_ORG, { org: drillDownToOrg(TENANT) }),
    topSpenders(8, 'Top features', 'The ten features that spent most in the range.', { h: 9, w: 8, x: 8, y: 13 }, ['feature', 'feature'], BY_FEATURE),
    table({
      id: 9,
      title: 'Latency p50 / p95 by model',
      description:
        "Call duration percentiles per model, merged from t-digests (approximate, as t-digests are): the per-model latency rollup when no org, service, environment or feature is selected, else the hourly rollup's groups.",
      gridPos: { h: 9, w: 8, x: 16, y: 13 },
      sql: sql`
SELECT provider, model, round(q[1]) AS p50_ms, round(q[3]) AS p95_ms, calls
FROM
(
    SELECT
        provider,
        request_model AS model,
        sum(calls) AS calls,
        quantilesTDigestMerge(0.5, 0.9, 0.95, 0.99)(duration_ms_quantiles) AS q
    FROM
    (
        ${via(LATENCY_DAILY)(['provider', 'request_model', 'calls', 'duration_ms_quantiles'])}
    )
    GROUP BY provider, request_model
)
ORDER BY p95_ms DESC, model`,
      fields: { p50_ms: ms, p95_ms: ms },
    }),
    row(10, 'Drill-down: unpriced calls', 22),
    table({
      id: UNPRICED_LIST,
      title: 'Unpriced calls (latest 500)',
      description:
        'Every call without a price in the range, newest first (at most 500), from ai_usage_unpriced_exact: one row per unpriced call (its latest delivery), kept by a refresh from the raw ledger (migration 0006).',
      gridPos: { h: 10, w: 24, x: 0, y: 23 },
      sql: sql`
-- The unpriced calls one row each (migration 0006: re-folded from the ledger's latest deliveries),
-- ordered by time.
SELECT
    ts AS time,
    org_id AS org,
    provider,
    request_model AS model,
    response_model,
    operation,
    service_name AS service,
    environment,
    feature,
    user_id AS user,
    conversation_id AS conversation,
    input_tokens,
    output_tokens,
    error_type,
    trace_id,
    span_id
FROM ${exact(UNPRICED)}
${where(['$__timeFilter(ts)', 'hour >= toStartOfHour($__fromTime) AND hour <= $__toTime', ...FILTERS.map(filterClause)])}
ORDER BY ts DESC, trace_id, span_id
LIMIT 500`,
    }),
    row(12, 'Chargeback: billed against cost', 33),
    marginTotals(13, { h: 4, w: 24, x: 0, y: 34 }, FILTERS),
    marginTable({ id: 14, title: 'Billed against cost per org', gridPos: { h: 9, w: 14, x: 0, y: 38 }, filters: FILTERS, by: ['org_id', 'org'], fields: { org: drillDownToOrg(TENANT) } }),
    marginTable({ id: 15, title: 'Orgs with a negative margin', gridPos: { h: 9, w: 10, x: 14, y: 38 }, filters: FILTERS, by: ['org_id', 'org'], negativeOnly: true, fields: { org: drillDownToOrg(TENANT) } }),
    row(16, 'Budgets', 47),
    table({
      id: 17,
      title: 'Budgets: spent, limit, forecast',
      description:
        "Each budget in force (the budgets table: what the collector's or an app's budgets file put there) in its current calendar period in UTC (weeks from Monday) at the end of the range (now by default), and a per budget once per value with spend, most used first: spent (exact, duplicate deliveries counted once), limit, forecast (spent × period length ÷ time elapsed), used (spent ÷ limit) and state (warning from the first alert_at fraction, exceeded at or over the limit), as `genai-ledger budgets` computes them. The filters do not apply: a budget's own match does. Read from the spend per budget and hour that the rollup refresh keeps (every minute by default): the hours of the period that start before the end of the range, the current one as far as the last refresh went.",
      gridPos: { h: 9, w: 24, x: 0, y: 48 },
      sql: sql`
SELECT budget, per_value AS value, period, period_start, period_end, spent_usd, limit_usd, forecast_usd, used, state
FROM
(
    ${budgetStatusSql()}
)
ORDER BY used DESC, budget, value`,
      fields: {
        spent_usd: { displayName: 'spent', ...usd(4) },
        limit_usd: { displayName: 'limit', ...usd(2) },
        forecast_usd: { displayName: 'forecast', ...usd(2) },
        used: {
          ...ratio(1),
          color: { mode: 'thresholds' },
          thresholds: { mode: 'absolute', steps: [{ color: 'green', value: null }, { color: 'orange', value: 0.8 }, { color: 'red', value: 1 }] },
          custom: { cellOptions: { type: 'gauge', mode: 'basic' } },
        },
      },
    }),
  ],
});
