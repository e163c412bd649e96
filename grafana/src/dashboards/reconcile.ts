/**
 * Ledger vs bill: what the providers billed (imported by `genai-ledger reconcile import`) against
 * the ledger's exact cost, per UTC day, provider and model, grouped as `reconcile report` groups
 * them (clickhouse/provider-bills.ts). Only the providers with a bill line in the range are set
 * against the ledger.
 */
import { BILL_MODEL, LEDGER_MODEL } from '../../../clickhouse/provider-bills.js';
import { dashboard } from '../dashboard.js';
import { table, timeseries, type Panel } from '../model.js';
import { sql } from '../query/sql.js';
import { ratio, usd, type FieldStyle } from '../style.js';
import { customVariable, datasourceVariable } from '../variables.js';
import { RECONCILE } from './ids.js';

const toleranceVariable = customVariable(
  'tolerance', 'Tolerance', 'The share of the bill a variance may reach and count as ok (reconcile report --tolerance).',
  ['0.01', '0.02', '0.05', '0.1'], '0.05',
);

/** Ledger and billed USD per day, provider and model over the dashboard's days. */
const GROUPS = sql`
SELECT day, provider, model, sum(ledger) AS ledger_usd, sum(billed) AS billed_usd
FROM
(
    SELECT toDate(ts) AS day, lower(provider) AS provider, ${LEDGER_MODEL} AS group_model,
        sumOrDefault(cost_usd) AS ledger, toDecimal128(0, 18) AS billed
    FROM ai_usage_exact
    WHERE ts >= toStartOfDay($__fromTime) AND ts < toStartOfDay($__toTime) + INTERVAL 1 DAY
      AND lower(provider) IN (SELECT provider FROM provider_costs_exact WHERE $__dateFilter(day))
    GROUP BY day, provider, group_model
    UNION ALL
    SELECT day, provider, ${BILL_MODEL} AS group_model, toDecimal128(0, 18) AS ledger, sum(amount_usd) AS billed
    FROM provider_costs_exact
    WHERE $__dateFilter(day)
    GROUP BY day, provider, group_model
)
GROUP BY day, provider, group_model AS model`;

function dailyPanel(id: number, title: string, description: string, y: number, figure: string, style: FieldStyle): Panel {
  return timeseries({
    id, title, description, gridPos: { h: 9, w: 24, x: 0, y }, maxDataPoints: 400, interval: '1d', legend: 'list',
    sql: sql`
SELECT toDateTime(day) AS time, provider, ${figure}
FROM (${GROUPS})
GROUP BY day, provider
ORDER BY time, provider`,
    defaults: style,
  });
}

export const reconcileDashboard = dashboard({
  ...RECONCILE,
  description: 'What the providers billed against the ledger, per day, provider and model: variance and the groups out of tolerance.',
  from: 'now-30d',
  variables: [datasourceVariable, toleranceVariable],
  panels: [
    dailyPanel(1, 'Billed and ledger per day', 'Per UTC day and provider: the bill (imported) and the ledger\'s exact cost of the same provider.', 0,
      'toFloat64(sum(billed_usd)) AS billed, toFloat64(sum(ledger_usd)) AS ledger', usd(2)),
    dailyPanel(2, 'Variance per day', 'Per UTC day and provider: (ledger − billed) ÷ billed. Below zero, the ledger is low (calls missing from it, or priced low).', 9,
      'toFloat64((sum(ledger_usd) - sum(billed_usd)) / nullIf(sum(billed_usd), 0)) AS variance', ratio(1)),
    table({
      id: 3,
      title: 'Groups out of tolerance',
      description: 'Day, provider and model whose ledger and bill differ by more than the tolerance, or appear on one side only: `genai-ledger reconcile report` says the likely cause and the price the bill implies.',
      gridPos: { h: 10, w: 24, x: 0, y: 18 },
      sql: sql`
SELECT
    day,
    provider,
    model,
    toFloat64(ledger_usd) AS ledger,
    toFloat64(billed_usd) AS billed,
    toFloat64(ledger_usd - billed_usd) AS variance_usd,
    toFloat64((ledger_usd - billed_usd) / nullIf(billed_usd, 0)) AS variance,
    multiIf(billed_usd = 0, 'missing_in_bill', ledger_usd = 0, 'missing_in_ledger', ledger_usd < billed_usd, 'ledger_low', 'ledger_high') AS status
FROM (${GROUPS})
WHERE abs(ledger_usd - billed_usd) > toDecimal128($tolerance, 18) * billed_usd
ORDER BY day, provider, model`,
      fields: { ledger: usd(4), billed: usd(4), variance_usd: usd(4), variance: ratio(1) },
    }),
  ],
});
