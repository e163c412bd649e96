/**
 * Panels more than one dashboard shows, over whatever rollups the dashboard reads (`read` gives
 * the branches for the columns each one needs).
 */
import { stat, timeseries, type GridPos, type Panel } from './model.js';
import { type Column } from './query/rollup-query.js';
import { sql } from './query/sql.js';
import { count, stackedBars, usd, fixedColor, redAboveZero, type FieldStyle } from './style.js';

/** The branches a dashboard reads for `columns` (its filters, rollups and window fixed). */
export type Read = (columns: readonly Column[], where?: readonly string[]) => string;

export function totals(id: number, description: string, gridPos: GridPos, read: Read): Panel {
  return stat({
    id,
    title: 'Spend, calls, tokens, cost per call',
    description,
    gridPos,
    showNames: true,
    sql: sql`
SELECT
    toFloat64(cost) AS spend,
    n AS calls,
    tokens,
    toFloat64(cost / nullIf(n - unpriced, 0)) AS cost_per_call
FROM
(
    SELECT
        sum(cost_usd) AS cost,
        sum(calls) AS n,
        sum(unpriced_calls) AS unpriced,
        sum(input_tokens + output_tokens) AS tokens
    FROM
    (
        ${read(['cost_usd', 'calls', 'unpriced_calls', 'input_tokens', 'output_tokens'])}
    )
)`,
    defaults: fixedColor('blue'),
    fields: {
      spend: { displayName: 'Spend', ...usd(2) },
      calls: { displayName: 'Calls', ...count },
      tokens: { displayName: 'Tokens', ...count },
      cost_per_call: { displayName: 'Cost per call', ...usd(5) },
    },
  });
}

export function unpricedCalls(id: number, description: string, gridPos: GridPos, read: Read, link?: FieldStyle): Panel {
  return stat({
    id,
    title: 'Unpriced calls',
    description,
    gridPos,
    colorMode: 'background',
    sql: sql`
SELECT sum(unpriced_calls) AS unpriced_calls
FROM
(
    ${read(['unpriced_calls'])}
)`,
    defaults: { ...count, ...redAboveZero, ...link },
  });
}

export interface SeriesSpec {
  id: number;
  title: string;
  description: string;
  gridPos: GridPos;
  /** The column with one series per value, and its name in the legend (`${__field.labels.<label>}`). */
  series: readonly [column: string, label: string];
  /** The figure per interval and series, from the summed `columns`: `<expression> AS <name>`. */
  figure: string;
  columns: readonly string[];
  read: Read;
  defaults: FieldStyle;
}

/** One series per value of a column, per interval (at least an hour: the hourly rollups). */
export function perIntervalSeries(spec: SeriesSpec): Panel {
  const [column, label] = spec.series;
  return timeseries({
    id: spec.id,
    title: spec.title,
    description: spec.description,
    gridPos: spec.gridPos,
    interval: '1h',
    maxDataPoints: 500,
    sql: sql`
SELECT
    $__timeInterval(hour) AS time,
    ${column === label ? column : `${column} AS ${label}`},
    ${spec.figure}
FROM
(
    ${spec.read(['hour', column, ...spec.columns])}
)
GROUP BY time, ${label}
ORDER BY time, ${label}`,
    defaults: spec.defaults,
  });
}

/** Spend per interval, stacked by `column` shown as `label`. */
export function spendOverTime(id: number, title: string, description: string, gridPos: GridPos, column: string, label: string, read: Read): Panel {
  return perIntervalSeries({ id, title, description, gridPos, series: [column, label], figure: 'toFloat64(sum(cost_usd)) AS spend', columns: ['cost_usd'], read, defaults: stackedBars(label) });
}
