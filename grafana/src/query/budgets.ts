/**
 * Where each budget in force stands, in SQL: the overview's Budgets table and the budget alert
 * rule read the same query. It computes what `genai-ledger budgets` computes
 * (clickhouse/budgets.ts, pricing/budgets/): per budget in the `budgets` table, and per value of
 * a `per` budget with spend, the calendar period in UTC holding the evaluation time `$__toTime`
 * (weeks from Monday), the spend of the matching calls in it (duplicate deliveries count once;
 * unpriced calls cost nothing), used = spent ÷ limit, forecast = spent × period length ÷ time
 * elapsed (ms, at least 1), the state (`exceeded` at or over the limit, `warning` from the first
 * alert fraction, else `ok`) and the highest alert fraction reached (0 when none). Spend counts
 * calls up to the evaluation time, so with it at now (Grafana's default range) the figures are the
 * command's once the rollups are refreshed. Decimals to the end: toFloat64 on the final figures only.
 *
 * Periods start at whole hours, so a period is its whole hours before the current one, read from
 * a rollup, and the current partial hour, read from the raw ledger. Budgets are data, so the rollup
 * is chosen in SQL: each budget is routed to the first rollup of BUDGET_ROLLUPS (smallest first)
 * whose dimensions hold its match keys and its `per` field, or to the raw ledger for its whole
 * period when none does (user_id with anything but org_id). Each rollup is read only over the
 * periods of the budgets routed to it (from an instant after every hour, so nothing, when none is)
 * and, ordered by org first, only for their orgs; its rows are summed per group of its budget
 * columns before the budgets are matched (one join of the budgets with every route's sums, one
 * with the raw ledger's partial hour).
 */
import { FIELD_COLUMN } from '../../../clickhouse/budgets.js';
import {
  BY_FEATURE, BY_MODEL, BY_ORG, BY_ORG_MODEL, BY_ORG_SERVICE_FEATURE, BY_ORG_USER, exact, HOURLY_BY_TIME, type Rollup,
} from '../../../clickhouse/rollups.js';
import { BUDGET_FIELDS, BUDGET_PERIODS, type BudgetField, type BudgetPeriod } from '../../../pricing/budgets/index.js';
import { LEDGER } from './rollup-query.js';
import { sql, unionAll, where } from './sql.js';

/**
 * The rollups budgets are read from, in the order a budget takes the first that holds its keys:
 * by expected groups per hour (features; services × models; orgs; orgs × models; orgs × services ×
 * features; orgs × users; every fine group).
 */
export const BUDGET_ROLLUPS: readonly Rollup[] = [BY_FEATURE, BY_MODEL, BY_ORG, BY_ORG_MODEL, BY_ORG_SERVICE_FEATURE, BY_ORG_USER, HOURLY_BY_TIME];

/** The budget fields a rollup's dimensions hold. */
const fieldsOf = (r: Rollup): BudgetField[] => BUDGET_FIELDS.filter((f) => r.dimensions.includes(FIELD_COLUMN[f]));

/** The value of the budget field named by `name` (a String expression) in a row of budget columns. */
const fieldValue = (name: string): string => `multiIf(${BUDGET_FIELDS.map((f) => `${name} = '${f}', ${FIELD_COLUMN[f]}`).join(', ')}, '')`;

/** Each period's first instant, an alias of the query's WITH (`at`: the evaluation time in UTC). */
const PERIOD_START: Readonly<Record<BudgetPeriod, string>> = {
  day: 'toStartOfDay(at)',
  week: "toDateTime(toMonday(at), 'UTC')",
  month: "toDateTime(toStartOfMonth(at), 'UTC')",
};
const PERIOD_LENGTH: Readonly<Record<BudgetPeriod, string>> = { day: 'INTERVAL 1 DAY', week: 'INTERVAL 1 WEEK', month: 'INTERVAL 1 MONTH' };
const startOf = (p: BudgetPeriod): string => `start_${p}`;
const spentIn = (p: BudgetPeriod): string => `spent_${p}`;

/** multiIf over a budget's `period` column, the last period as the default. */
const byPeriod = (period: string, value: (p: BudgetPeriod) => string): string =>
  `multiIf(${BUDGET_PERIODS.slice(0, -1).map((p) => `${period} = '${p}', ${value(p)}`).join(', ')}, ${value(BUDGET_PERIODS[BUDGET_PERIODS.length - 1] as BudgetPeriod)})`;

/** The route of a budget: the first of `rollups` holding its match keys and `per` field, else the raw ledger. */
const route = (rollups: readonly Rollup[]): string =>
  rollups.length === 0 ? `'${LEDGER}'` : `multiIf(${rollups.map((r) => `arrayAll(k -> has([${fieldsOf(r).map((f) => `'${f}'`).join(', ')}], k), keys), '${r.name}'`).join(', ')}, '${LEDGER}')`;

/** Each budget in force with its current period, [period_start, period_end), and its route. */
const inForce = (rollups: readonly Rollup[]): string => sql`
SELECT
    name, match, per, period, limit_usd, alert_at,
    ${byPeriod('period', startOf)} AS period_start,
    ${byPeriod('period', (p) => `${startOf(p)} + ${PERIOD_LENGTH[p]}`)} AS period_end,
    arrayConcat(CAST(mapKeys(match), 'Array(String)'), if(per = '', [], [toString(per)])) AS keys,
    ${route(rollups)} AS route
FROM budgets FINAL`;

/**
 * `starts`, one scalar of the query: each route's earliest period start among the budgets routed
 * to it. A route absent from it reads from the last instant a DateTime holds: after every part's
 * hours, so the read skips every part.
 */
const STARTS = 'starts';
const routesStarts = (budgets: string): string => sql`
(
    SELECT CAST((groupArray(route), groupArray(start)), 'Map(String, DateTime(\\'UTC\\'))')
    FROM
    (
        SELECT route, min(period_start) AS start
        FROM
        (
            ${budgets}
        )
        GROUP BY route
    )
) AS ${STARTS}`;
/**
 * `orgs`, the other scalar: each route's orgs its budgets match ('*' for a budget matching no one
 * org), so a rollup ordered by org first reads only their rows.
 */
const ORGS = 'orgs';
const routesOrgs = (budgets: string): string => sql`
(
    SELECT CAST((groupArray(route), groupArray(route_orgs)), 'Map(String, Array(String))')
    FROM
    (
        SELECT route, groupUniqArray(if(mapContains(match, 'org_id'), match['org_id'], '*')) AS route_orgs
        FROM
        (
            ${budgets}
        )
        GROUP BY route
    )
) AS ${ORGS}`;
const earliestStart = (route: string): string => `if(mapContains(${STARTS}, '${route}'), ${STARTS}['${route}'], toDateTime(4294967295, 'UTC'))`;

/** The ledger columns budget fields match. */
const COLUMNS = [...new Set(BUDGET_FIELDS.map((f) => FIELD_COLUMN[f]))];

/**
 * The budgets `b` joined with spend summed per group of budget columns (`u`: a sum from each
 * period start, and `last`, the latest bucket or call holding a priced call), matched on those
 * columns: `spent` is a budget's spend from the sums, counted from the instant `since`.
 */
function matched(comment: string, budgets: string, join: string, spend: string, spent: string, since: string): string {
  return sql`
-- ${comment}
SELECT
    b.name AS name,
    if(b.per = '', '', ${fieldValue('b.per')}) AS per_value,
    b.period AS period,
    b.limit_usd AS limit_usd,
    b.alert_at AS alert_at,
    b.period_start AS period_start,
    b.period_end AS period_end,
    ${spent} AS spent
FROM
(
    ${budgets}
) AS b
${join}
(
    ${spend}
) AS u${join.startsWith('INNER') ? ' ON b.route = u.route' : ''}
WHERE u.last >= ${since}
  AND arrayAll(k -> b.match[k] = ${fieldValue('k')}, mapKeys(b.match))
  AND (b.per = '' OR per_value != '')`;
}

/** One rollup's spend per group of its budget columns (the others ''), over the whole hours of the periods of the budgets routed to it. */
function rollupSpend(r: Rollup): string {
  const kept = COLUMNS.filter((c) => r.dimensions.includes(c));
  return sql`
SELECT
    '${r.name}' AS route,
    ${[...COLUMNS.map((c) => (kept.includes(c) ? c : `'' AS ${c}`)), ...BUDGET_PERIODS.map((p) => `sumIf(cost_usd, hour >= ${startOf(p)}) AS ${spentIn(p)}`), 'maxIf(hour, calls > unpriced_calls) AS last'].join(',\n')}
FROM ${exact(r)}
${where([`hour >= ${earliestStart(r.name)}`, 'hour < hour_start', ...(kept.includes('org_id') ? [`(has(${ORGS}['${r.name}'], '*') OR has(${ORGS}['${r.name}'], org_id))`] : [])])}
GROUP BY ${kept.join(', ')}`;
}

/** Each budget's whole hours from the rollup it is routed to: one join of the budgets with every route's spend. */
const rollupBranch = (budgets: string, rollups: readonly Rollup[]): string =>
  matched('Each budget routed to a rollup: its whole hours from it.', budgets, 'INNER JOIN', unionAll(rollups.map(rollupSpend)), byPeriod('b.period', (p) => `u.${spentIn(p)}`), 'b.period_start');

/** Every budget's current partial hour, and the whole period of those no rollup holds, from the raw ledger. */
const ledgerBranch = (budgets: string): string =>
  matched(`Every budget's partial hour, and the whole periods of the budgets routed to ${LEDGER}: the raw ledger.`, budgets, 'CROSS JOIN', sql`
SELECT
    ${[...COLUMNS, ...BUDGET_PERIODS.map((p) => `sumIf(assumeNotNull(cost_usd), ts >= ${startOf(p)}) AS ${spentIn(p)}`), 'sumIf(assumeNotNull(cost_usd), ts >= hour_start) AS spent_hour', 'max(ts) AS last'].join(',\n')}
FROM ${LEDGER}
${where([
  `ts >= least(hour_start, ${earliestStart(LEDGER)})`,
  // Implied by the line above. The raw ledger is ordered by org, then day: without an org, its
  // primary index skips each org's earlier days only on a condition on the day itself.
  `toDate(ts) >= toDate(least(hour_start, ${earliestStart(LEDGER)}))`,
  'ts <= at',
  'cost_usd IS NOT NULL',
])}
GROUP BY ${COLUMNS.join(', ')}`,
  `if(b.route = '${LEDGER}', ${byPeriod('b.period', (p) => `u.${spentIn(p)}`)}, u.spent_hour)`,
  `if(b.route = '${LEDGER}', b.period_start, hour_start)`);

/**
 * One row per budget (and per value of a `per` budget with spend): budget, per_value, period,
 * period_start, period_end, spent_usd, limit_usd, forecast_usd, used, state, threshold. With
 * `rollups` empty every budget reads the raw ledger (the bench's baseline for the same question).
 */
export function budgetStatusSql(rollups: readonly Rollup[] = BUDGET_ROLLUPS): string {
  const budgets = inForce(rollups);
  const withStarts = BUDGET_PERIODS.map((p) => `${PERIOD_START[p]} AS ${startOf(p)}`).join(', ');
  return sql`
WITH toTimeZone($__toTime, 'UTC') AS at, toStartOfHour(at) AS hour_start, ${withStarts},
${routesStarts(budgets)},
${routesOrgs(budgets)}
SELECT
    name AS budget,
    per_value,
    period,
    period_start,
    period_end,
    toFloat64(spent) AS spent_usd,
    toFloat64(limit_exact) AS limit_usd,
    toFloat64(divideDecimal(multiplyDecimal(spent, toDecimal128(length_ms, 0), 18), toDecimal128(least(length_ms, greatest(1, elapsed_ms)), 0), 18)) AS forecast_usd,
    toFloat64(divideDecimal(spent, limit_exact, 18)) AS used,
    multiIf(spent >= limit_exact, 'exceeded', spent >= multiplyDecimal(limit_exact, alert_at[1], 18), 'warning', 'ok') AS state,
    toFloat64(arrayMax(arrayFilter(a -> spent >= multiplyDecimal(limit_exact, a, 18), arrayPushFront(alert_at, toDecimal128(0, 18))))) AS threshold
FROM
(
    SELECT
        name,
        per_value,
        any(period) AS period,
        -- Not limit_usd: the outer SELECT's float of the same name would shadow it.
        any(limit_usd) AS limit_exact,
        any(alert_at) AS alert_at,
        any(period_start) AS period_start,
        any(period_end) AS period_end,
        (toInt64(toUnixTimestamp(period_end)) - toUnixTimestamp(period_start)) * 1000 AS length_ms,
        (toInt64(toUnixTimestamp(at)) - toUnixTimestamp(period_start)) * 1000 AS elapsed_ms,
        sum(spent) AS spent
    FROM
    (
        ${unionAll([...(rollups.length > 0 ? [rollupBranch(budgets, rollups)] : []), ledgerBranch(budgets)])}
        UNION ALL
        -- A budget without \`per\` has its line before its first call too.
        SELECT name, '' AS per_value, period, limit_usd, alert_at, period_start, period_end, toDecimal128(0, 18) AS spent
        FROM
        (
            ${budgets}
        )
        WHERE per = ''
    )
    GROUP BY name, per_value
)`;
}
