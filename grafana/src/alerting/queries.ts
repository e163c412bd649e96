/**
 * The SQL of the provisioned alert rules. Grafana evaluates alert queries in its backend, where
 * dashboard variables and the plugin's frontend `$__conditionalAll` do not exist: only the
 * backend macros (`$__timeFilter`, `$__fromTime`, `$__toTime`) are expanded. So a dashboard
 * panel's SQL is reused here with its filters on All and its variables fixed.
 */
import { anomalies } from '../dashboards/anomalies.js';
import type { Panel } from '../model.js';
import { budgetStatusSql } from '../query/budgets.js';
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

/**
 * Per budget in force (and per value of a `per` budget with spend): the highest of its `alert_at`
 * fractions its spend has reached in its current period (0 when none), from the overview's Budgets
 * table query (query/budgets.ts), computed as `genai-ledger budgets` computes it.
 */
export function budgetThresholdSql(): string {
  return sql`
SELECT budget, per_value, threshold
FROM
(
    ${budgetStatusSql()}
)
ORDER BY budget, per_value`;
}
