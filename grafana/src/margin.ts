/**
 * Chargeback panels: what orgs are billed against what their calls cost, read from
 * `billed_daily_exact` (migration 0008: per org, UTC day, feature and model), which a collector
 * given rate cards keeps current, or `genai-ledger reprice --billing` fills, from the ledger and
 * the rate cards. The table has no
 * service, environment or provider, so only the org, model and feature variables narrow it.
 */
import { stat, table, type GridPos, type Panel } from './model.js';
import { filterClause, type Filter } from './query/filters.js';
import { sql, where } from './query/sql.js';
import { count, ratio, usd, usdGauge, type FieldStyle } from './style.js';

/** billed_daily names the requested model (else the answering one) `model`. */
const BILLED_COLUMNS: Readonly<Record<string, string>> = { org: 'org_id', model: 'model', feature: 'feature' };

/** The days of the range and the dashboard's filters billed_daily has, as its WHERE. */
function billedWhere(filters: readonly Filter[]): string {
  const narrowing = filters.flatMap((f) => {
    const column = BILLED_COLUMNS[f.variable];
    return column ? [filterClause({ ...f, column })] : [];
  });
  return where(['$__dateFilter(day)', ...narrowing]);
}

const AS_OF = 'Billed amounts are kept current by a collector given rate cards (--rates; within --billing-refresh, 60 s by default), else as of the last `genai-ledger reprice --billing`.';
const SCOPE = 'Whole UTC days touched by the range; the org, model and feature variables apply (service, environment and provider do not: billed_daily has no such columns).';
const MARGIN = 'Margin = billed − cost; margin % = margin ÷ billed (a 0.20 markup gives 16.7 %). Unpriced calls cost and bill nothing; calls of a day no card covers bill nothing, so they show as a loss.';

/** A group's cost and billed sums, margin and margin %, calls. */
const FIGURES = `toFloat64(sum(cost_usd)) AS cost,
toFloat64(sum(billed_usd)) AS billed,
toFloat64(sum(billed_usd) - sum(cost_usd)) AS margin_usd,
toFloat64(sum(billed_usd) - sum(cost_usd)) / nullIf(toFloat64(sum(billed_usd)), 0) AS margin,
sum(calls) AS calls,
sum(unpriced_calls) AS unpriced_calls`;

const FIGURE_FIELDS: Record<string, FieldStyle> = {
  cost: usd(4),
  billed: usdGauge,
  margin_usd: usd(4),
  margin: ratio(1),
  calls: count,
  unpriced_calls: count,
};

/** A loss, in red text. */
const LOSS: FieldStyle = { ...usd(4), color: { mode: 'fixed', fixedColor: 'red' }, custom: { cellOptions: { type: 'color-text' } } };

/** Billed, cost, margin and margin % over the range: one row. */
export function marginTotals(id: number, gridPos: GridPos, filters: readonly Filter[]): Panel {
  return stat({
    id,
    title: 'Billed, cost and margin',
    description: `What the rate cards bill against what the calls cost. ${MARGIN} ${SCOPE} ${AS_OF}`,
    gridPos,
    showNames: true,
    sql: sql`
SELECT
    ${FIGURES}
FROM billed_daily_exact
${billedWhere(filters)}`,
    fields: {
      cost: { displayName: 'Cost', ...usd(2) },
      billed: { displayName: 'Billed', ...usd(2) },
      margin_usd: { displayName: 'Margin', ...usd(2) },
      margin: { displayName: 'Margin %', ...ratio(1) },
      calls: { displayName: 'Calls', ...count },
      unpriced_calls: { displayName: 'Unpriced calls', ...count },
    },
  });
}

export interface MarginTableSpec {
  id: number;
  title: string;
  gridPos: GridPos;
  filters: readonly Filter[];
  /** The billed_daily column per row, and its name in the table. */
  by: readonly [column: string, label: string];
  /** Only the groups billed less than they cost. */
  negativeOnly?: boolean;
  fields?: Record<string, FieldStyle>;
}

/** Billed against cost per value of a column, highest billed first (or largest loss first). */
export function marginTable(spec: MarginTableSpec): Panel {
  const [column, label] = spec.by;
  const what = spec.negativeOnly
    ? `The ${label}s billed less than their calls cost in the range (negative margin: sell prices below cost, or days without a card), largest loss first.`
    : `Per ${label}: billed against cost, highest billed first.`;
  return table({
    id: spec.id,
    title: spec.title,
    description: `${what} ${MARGIN} ${SCOPE} ${AS_OF}`,
    gridPos: spec.gridPos,
    sql: sql`
SELECT
    ${column === label ? column : `${column} AS ${label}`},
    ${FIGURES}
FROM billed_daily_exact
${billedWhere(spec.filters)}
GROUP BY ${column}
${spec.negativeOnly ? `HAVING sum(billed_usd) < sum(cost_usd)\nORDER BY sum(billed_usd) - sum(cost_usd), ${label}` : `ORDER BY sum(billed_usd) DESC, ${label}`}`,
    fields: { ...FIGURE_FIELDS, ...(spec.negativeOnly ? { margin_usd: LOSS } : {}), ...spec.fields },
  });
}
