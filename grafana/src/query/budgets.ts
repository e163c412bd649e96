/**
 * Where each budget in force stands, in SQL: the overview's Budgets table and the budget alert
 * rule read the same query. It computes what `genai-ledger budgets` computes
 * (clickhouse/budgets.ts, pricing/budgets/): per budget in the `budgets` table, and per value of
 * a `per` budget with spend, the calendar period in UTC holding the evaluation time `$__toTime`
 * (weeks from Monday), the spend of the matching calls in it from the exact view (duplicate
 * deliveries count once; unpriced calls cost nothing), used = spent ÷ limit, forecast = spent ×
 * period length ÷ time elapsed (ms, at least 1), the state (`exceeded` at or over the limit,
 * `warning` from the first alert fraction, else `ok`) and the highest alert fraction reached (0
 * when none). Spend counts calls up to the evaluation time, so with it at now (Grafana's default
 * range) the figures are the command's. Decimals to the end: toFloat64 on the final figures only.
 */
import { FIELD_COLUMN } from '../../../clickhouse/budgets.js';
import { BUDGET_FIELDS } from '../../../pricing/budgets/index.js';
import { sql } from './sql.js';

/** The value of the budget field named by `name` (a String expression) in a ledger row. */
const fieldValue = (name: string): string =>
  `multiIf(${BUDGET_FIELDS.map((f) => `${name} = '${f}', ${FIELD_COLUMN[f]}`).join(', ')}, '')`;

/** Each budget in force with its current period, [period_start, period_end). */
const BUDGET_PERIODS = sql`
SELECT
    name, match, per, period, limit_usd, alert_at,
    multiIf(period = 'day', toStartOfDay(at), period = 'week', toDateTime(toMonday(at), 'UTC'), toDateTime(toStartOfMonth(at), 'UTC')) AS period_start,
    multiIf(period = 'day', period_start + INTERVAL 1 DAY, period = 'week', period_start + INTERVAL 1 WEEK, period_start + INTERVAL 1 MONTH) AS period_end
FROM budgets FINAL`;

/**
 * One row per budget (and per value of a `per` budget with spend): budget, per_value, period,
 * period_start, period_end, spent_usd, limit_usd, forecast_usd, used, state, threshold.
 */
export function budgetStatusSql(): string {
  return sql`
WITH toTimeZone($__toTime, 'UTC') AS at
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
        SELECT
            b.name AS name,
            if(b.per = '', '', ${fieldValue('b.per')}) AS per_value,
            b.period AS period,
            b.limit_usd AS limit_usd,
            b.alert_at AS alert_at,
            b.period_start AS period_start,
            b.period_end AS period_end,
            assumeNotNull(u.cost_usd) AS spent
        FROM
        (
            ${BUDGET_PERIODS}
        ) AS b
        CROSS JOIN
        (
            SELECT ts, org_id, user_id, feature, service_name, environment, provider, request_model, cost_usd
            FROM ai_usage_exact
            WHERE ts >= least(toDateTime(toMonday(at), 'UTC'), toDateTime(toStartOfMonth(at), 'UTC'))
              AND ts <= at
              AND cost_usd IS NOT NULL
        ) AS u
        WHERE u.ts >= b.period_start
          AND arrayAll(k -> b.match[k] = ${fieldValue('k')}, mapKeys(b.match))
          AND (b.per = '' OR per_value != '')
        UNION ALL
        -- A budget without \`per\` has its line before its first call too.
        SELECT name, '' AS per_value, period, limit_usd, alert_at, period_start, period_end, toDecimal128(0, 18) AS spent
        FROM
        (
            ${BUDGET_PERIODS}
        )
        WHERE per = ''
    )
    GROUP BY name, per_value
)`;
}
