/**
 * The SQL of the provisioned alert rules. Grafana evaluates alert queries in its backend, where
 * dashboard variables and the plugin's frontend `$__conditionalAll` do not exist: only the
 * backend macros (`$__timeFilter`, `$__fromTime`, `$__toTime`) are expanded. So a dashboard
 * panel's SQL is reused here with its filters on All and its variables fixed.
 */
import { FIELD_COLUMN } from '../../../clickhouse/budgets.js';
import { BUDGET_FIELDS } from '../../../pricing/budgets/index.js';
import { anomalies } from '../dashboards/anomalies.js';
import type { Panel } from '../model.js';
import { sql } from '../query/sql.js';

/** When an hour's spend counts as a jump: the anomalies dashboard's `$factor` and `$min_spend`. */
export const SPEND_JUMP = { factor: '2', minExcessUsd: '0.5' } as const;

/** Every `$__conditionalAll(cond, $var)` as the plugin renders it with All selected: `1=1`. */
export function withFiltersOnAll(rawSql: string): string {
  const macro = '$__conditionalAll(';
  let out = rawSql;
  for (let start = out.indexOf(macro); start !== -1; start = out.indexOf(macro)) {
    let depth = 0;
    let end = start + macro.length - 1;
    for (; end < out.length; end++) {
      if (out[end] === '(') depth++;
      else if (out[end] === ')' && --depth === 0) break;
    }
    if (depth !== 0) throw new Error(`unbalanced $__conditionalAll at: ${out.slice(start, start + 80)}`);
    out = `${out.slice(0, start)}1=1${out.slice(end + 1)}`;
  }
  return out;
}

/** The anomalies dashboard's "Anomalous hours" panel: the rule reuses its SQL and links to it. */
export function anomalousHoursPanel(): Panel & { rawSql: string } {
  const panel = (anomalies.panels as Panel[]).find((p) => p.title === 'Anomalous hours');
  const rawSql = panel?.targets?.[0]?.rawSql;
  if (panel === undefined || rawSql === undefined) throw new Error("anomalies dashboard: no panel 'Anomalous hours'");
  return { ...panel, rawSql };
}

/**
 * The largest excess over the baseline among the anomalous hours of the evaluated range (0 when
 * none): the "Anomalous hours" panel with every filter on All, `$factor` and `$min_spend` fixed.
 */
export function spendJumpSql(): string {
  const hours = withFiltersOnAll(anomalousHoursPanel().rawSql)
    .replaceAll('$factor', SPEND_JUMP.factor)
    .replaceAll('$min_spend', SPEND_JUMP.minExcessUsd);
  return sql`
SELECT max(excess) AS excess_usd
FROM
(
    ${hours}
)`;
}

/** The ledger column each budget field matches. */
/** The value of the budget field named by `name` (a String expression) in a ledger row. */
const fieldValue = (name: string): string =>
  `multiIf(${BUDGET_FIELDS.map((f) => `${name} = '${f}', ${FIELD_COLUMN[f]}`).join(', ')}, '')`;

/**
 * Per budget in force (and per value of a `per` budget) with spend in its current period: the
 * highest of its `alert_at` fractions its spend has reached (0 when none). Periods are calendar
 * periods in UTC holding the evaluation time (`$__toTime`), as `genai-ledger budgets` computes
 * them; spend comes from the exact view, so duplicate deliveries count once.
 */
export function budgetThresholdSql(): string {
  return sql`
WITH toTimeZone($__toTime, 'UTC') AS at
SELECT
    name AS budget,
    per_value,
    toFloat64(arrayMax(arrayFilter(a -> spent >= multiplyDecimal(limit_usd, a, 18), arrayPushFront(alert_at, toDecimal128(0, 18))))) AS threshold
FROM
(
    SELECT
        b.name AS name,
        if(b.per = '', '', ${fieldValue('b.per')}) AS per_value,
        any(b.limit_usd) AS limit_usd,
        any(b.alert_at) AS alert_at,
        sum(u.cost_usd) AS spent
    FROM
    (
        SELECT
            name, match, per, limit_usd, alert_at,
            multiIf(period = 'day', toStartOfDay(at), period = 'week', toDateTime(toMonday(at), 'UTC'), toDateTime(toStartOfMonth(at), 'UTC')) AS period_start
        FROM budgets FINAL
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
    GROUP BY name, per_value
)
ORDER BY budget, per_value`;
}
