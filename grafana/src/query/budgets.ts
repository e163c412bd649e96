/**
 * Where each budget in force stands, in SQL: the overview's Budgets table and the budget alert
 * rule read the same query. It computes what `genai-ledger budgets` computes
 * (clickhouse/budgets.ts, pricing/budgets/): per budget in the `budgets` table, and per value of
 * a `per` budget with spend, the calendar period in UTC holding the evaluation time `$__toTime`
 * (weeks from Monday), the spend of the matching calls in it (duplicate deliveries count once;
 * unpriced calls cost nothing), used = spent ÷ limit, forecast = spent × period length ÷ time
 * elapsed (ms, at least 1), the state (`exceeded` at or over the limit, `warning` from the first
 * alert fraction, else `ok`) and the highest alert fraction reached (0 when none). Decimals to
 * the end: toFloat64 on the final figures only.
 *
 * The spend is read from 0013's rollup per (budget, hour, value), which its refresh folds from the
 * raw ledger with the budgets in force: at most a few hundred rows per budget and value. It counts
 * the period's hours that start before the evaluation time, the hour holding it whole: with the
 * evaluation time at now (Grafana's default range) that hour is as far as the last refresh went,
 * and the figures are the command's as of then. With `from: 'ledger'` the same question is asked
 * of the raw ledger (the calls of the same hours): the bench's baseline.
 */
import { FIELD_COLUMN } from '../../../clickhouse/budgets.js';
import { BUDGET_FIELDS, BUDGET_PERIODS, type BudgetPeriod } from '../../../pricing/budgets/index.js';
import { LEDGER } from './rollup-query.js';
import { sql, unionAll } from './sql.js';

/** 0013's rollup, through its exact view. */
const BUDGET_SPEND = 'budget_spend_hourly_exact';

/** Each period's first instant, an alias of the query's WITH (`at`: the evaluation time in UTC). */
const PERIOD_START: Readonly<Record<BudgetPeriod, string>> = {
  day: 'toStartOfDay(at)',
  week: "toDateTime(toMonday(at), 'UTC')",
  month: "toDateTime(toStartOfMonth(at), 'UTC')",
};
const PERIOD_LENGTH: Readonly<Record<BudgetPeriod, string>> = { day: 'INTERVAL 1 DAY', week: 'INTERVAL 1 WEEK', month: 'INTERVAL 1 MONTH' };
const startOf = (p: BudgetPeriod): string => `start_${p}`;
/** The earliest period start of all: no budget's period begins before it. */
const EARLIEST = `least(${BUDGET_PERIODS.map(startOf).join(', ')})`;

/** multiIf over a budget's `period` column, the last period as the default. */
const byPeriod = (period: string, value: (p: BudgetPeriod) => string): string =>
  `multiIf(${BUDGET_PERIODS.slice(0, -1).map((p) => `${period} = '${p}', ${value(p)}`).join(', ')}, ${value(BUDGET_PERIODS[BUDGET_PERIODS.length - 1] as BudgetPeriod)})`;

/** Each budget in force with its current period, [period_start, period_end). */
const IN_FORCE = sql`
SELECT
    name, match, per, period, limit_usd, alert_at,
    ${byPeriod('period', startOf)} AS period_start,
    ${byPeriod('period', (p) => `${startOf(p)} + ${PERIOD_LENGTH[p]}`)} AS period_end
FROM budgets FINAL`;

/** The budgets `b` joined with their spend `s` (the join, then its conditions), as the union's rows. */
const withBudget = (spend: string, perValue = 's.per_value', spent = 's.spent'): string => sql`
SELECT b.name AS name, ${perValue} AS per_value, b.period AS period, b.limit_usd AS limit_usd, b.alert_at AS alert_at,
       b.period_start AS period_start, b.period_end AS period_end, ${spent} AS spent
FROM
(
    ${IN_FORCE}
) AS b
${spend}`;

/** Each budget's spend per hour of its period that starts before the evaluation time, from 0013's rollup. */
const FROM_ROLLUP = withBudget(sql`
INNER JOIN
(
    SELECT budget, per_value, hour, cost_usd AS spent
    FROM ${BUDGET_SPEND}
    WHERE hour >= ${EARLIEST} AND hour < at
) AS s ON s.budget = b.name
WHERE s.hour >= b.period_start`);

/** The value of the budget field named by `name` (a String expression) in a raw ledger row. */
const fieldValue = (name: string): string => `multiIf(${BUDGET_FIELDS.map((f) => `${name} = '${f}', ${FIELD_COLUMN[f]}`).join(', ')}, '')`;
const COLUMNS = [...new Set(BUDGET_FIELDS.map((f) => FIELD_COLUMN[f]))];

/** The same spend from the raw ledger: the period's priced calls in the hours that start before the evaluation time, summed per group of budget columns, then matched. */
const FROM_LEDGER = withBudget(sql`
CROSS JOIN
(
    SELECT
        ${[...COLUMNS, ...BUDGET_PERIODS.map((p) => `sumIf(assumeNotNull(cost_usd), ts >= ${startOf(p)}) AS spent_${p}`), 'max(ts) AS last'].join(',\n')}
    FROM ${LEDGER}
    WHERE ts >= ${EARLIEST} AND toStartOfHour(ts) < at AND cost_usd IS NOT NULL
    GROUP BY ${COLUMNS.join(', ')}
) AS s
WHERE s.last >= b.period_start
  AND arrayAll(k -> b.match[k] = ${fieldValue('k')}, mapKeys(b.match))
  AND (b.per = '' OR per_value != '')`, `if(b.per = '', '', ${fieldValue('b.per')})`, byPeriod('b.period', (p) => `s.spent_${p}`));

/**
 * One row per budget (and per value of a `per` budget with spend): budget, per_value, period,
 * period_start, period_end, spent_usd, limit_usd, forecast_usd, used, state, threshold; the
 * spend from 0013's rollup, or with `from: 'ledger'` from the raw ledger.
 */
export function budgetStatusSql(from: 'rollup' | 'ledger' = 'rollup'): string {
  const withStarts = BUDGET_PERIODS.map((p) => `${PERIOD_START[p]} AS ${startOf(p)}`).join(', ');
  return sql`
WITH toTimeZone($__toTime, 'UTC') AS at, ${withStarts}
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
        ${unionAll([from === 'rollup' ? FROM_ROLLUP : FROM_LEDGER, sql`
-- A budget without \`per\` has its line before its first call too.
SELECT name, '' AS per_value, period, limit_usd, alert_at, period_start, period_end, toDecimal128(0, 18) AS spent
FROM
(
    ${IN_FORCE}
)
WHERE per = ''`])}
    )
    GROUP BY name, per_value
)`;
}
