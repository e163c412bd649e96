/** Anomalies: hours against the same hour of the 7 days before, and orgs and features whose spend jumped. */
import { BY_FEATURE, BY_MODEL, DAILY_BY_ORG, HOURLY_BY_TIME, type Rollup } from '../../../clickhouse/rollups.js';
import { dashboard } from '../dashboard.js';
import { table, timeseries, type Panel } from '../model.js';
import { FILTERS } from '../query/filters.js';
import { rollupQuery } from '../query/rollup-query.js';
import { sql } from '../query/sql.js';
import type { Window } from '../query/window.js';
import { drillDownToOrg, usd, type FieldStyle } from '../style.js';
import { customVariable, datasourceVariable, filterVariable } from '../variables.js';
import { ANOMALIES, TENANT } from './ids.js';

/** The range and the 7 days before it, by whole hours (the baseline's window). */
const WITH_WEEK_BEFORE: Window = { hour: ['hour >= toStartOfHour($__fromTime) - INTERVAL 7 DAY', 'hour <= $__toTime'], from: '$__fromTime', to: '$__toTime' };
/** The range and the 7 days before it, summed apart at the range start (the jump's window). */
const RANGE_AND_WEEK_BEFORE: Window = { hour: ['hour >= $__fromTime - INTERVAL 7 DAY', 'hour <= $__toTime'], from: '$__fromTime - INTERVAL 7 DAY', to: '$__toTime', splitAt: '$__fromTime' };

/** Each hour's spend and its baseline: the mean of the same hour over the 7 days before (missing hours are zero). */
const hourlyBaseline = sql`
SELECT
    time,
    spend,
    sum(spend) OVER (PARTITION BY toHour(time) ORDER BY time ROWS BETWEEN 7 PRECEDING AND 1 PRECEDING) / 7 AS baseline
FROM
(
    SELECT hour AS time, toFloat64(sum(cost_usd)) AS spend
    FROM
    (
        ${rollupQuery({ select: ['hour', 'cost_usd'], filters: FILTERS, small: BY_MODEL, fine: HOURLY_BY_TIME, window: WITH_WEEK_BEFORE })}
    )
    GROUP BY time
    ORDER BY time WITH FILL
        FROM toStartOfHour($__fromTime) - INTERVAL 7 DAY
        TO toStartOfHour($__toTime) + INTERVAL 1 HOUR
        STEP INTERVAL 1 HOUR
)`;

/** The money columns of a jump table, to a hundredth of a cent. */
const jumpFields = (expected: 'baseline' | 'expected'): Record<string, FieldStyle> => ({ spend: usd(4), [expected]: usd(4), excess: usd(4), ratio: { decimals: 2 } });

/** Spend per `column` value in the range against what its 7 days before predict for a range this long. */
function jumped(id: number, x: number, what: string, column: string, label: string, small: Rollup, fields: Record<string, FieldStyle>): Panel {
  return table({
    id,
    title: `${what}s whose spend jumped`,
    description: `${what}s whose spend in the range is at least the chosen factor times what the 7 days before the range would predict for a range this long (their spend × range length ÷ 7 days), and exceeds it by at least the chosen minimum. New spenders (nothing in the 7 days before) show a ratio of "-".`,
    gridPos: { h: 10, w: 8, x, y: 10 },
    sql: sql`
SELECT ${label}, spend, expected, spend / nullIf(expected, 0) AS ratio, spend - expected AS excess
FROM
(
    SELECT
        ${column} AS ${label},
        toFloat64(sumIf(cost_usd, hour >= $__fromTime)) AS spend,
        toFloat64(sumIf(cost_usd, hour < $__fromTime)) * (dateDiff('second', $__fromTime, $__toTime) + 1) / 604800 AS expected
    FROM
    (
        ${rollupQuery({ select: ['hour', column, 'cost_usd'], filters: FILTERS, small, fine: HOURLY_BY_TIME, window: RANGE_AND_WEEK_BEFORE })}
    )
    GROUP BY ${column}
)
WHERE spend > expected
  AND spend >= $factor * expected
  AND spend - expected >= $min_spend
ORDER BY excess DESC, ${label}
LIMIT 20`,
    fields,
  });
}

export const anomalies = dashboard({
  ...ANOMALIES,
  description: 'Spend that left its usual range: hours against the same hour of the previous 7 days, and the orgs and features whose spend jumped.',
  from: 'now-24h',
  variables: [
    datasourceVariable,
    ...FILTERS.map(filterVariable),
    customVariable('factor', 'Factor', 'How many times the baseline counts as a jump.', ['1.5', '2', '3', '5'], '2'),
    customVariable('min_spend', 'Minimum excess (USD)', 'Ignore jumps smaller than this, in USD.', ['0', '0.1', '1', '10', '100'], '1'),
  ],
  panels: [
    timeseries({
      id: 1,
      title: 'Hourly spend against the trailing 7-day baseline',
      description:
        'Spend per hour, and the baseline for that hour: the mean spend of the same hour of day over the 7 days before it (hours without calls count as zero). The threshold line is the baseline times the chosen factor.',
      gridPos: { h: 10, w: 24, x: 0, y: 0 },
      interval: '1h',
      maxDataPoints: 2000,
      legend: 'list',
      sql: sql`
SELECT time, spend, baseline, baseline * $factor AS threshold
FROM
(
    ${hourlyBaseline}
)
WHERE $__timeFilter(time)
ORDER BY time`,
      defaults: { ...usd(2), custom: { drawStyle: 'line', lineWidth: 1, fillOpacity: 0 } },
      fields: {
        spend: { displayName: 'Spend', custom: { fillOpacity: 20, lineWidth: 2 } },
        baseline: { displayName: 'Baseline (same hour, 7 days)', custom: { lineStyle: { fill: 'dash', dash: [10, 10] } } },
        threshold: { displayName: 'Threshold', color: { mode: 'fixed', fixedColor: 'red' }, custom: { lineStyle: { fill: 'dot', dash: [2, 6] } } },
      },
    }),
    table({
      id: 2,
      title: 'Anomalous hours',
      description: 'Hours whose spend is at least the chosen factor times their baseline and exceeds it by at least the chosen minimum, largest excess first.',
      gridPos: { h: 10, w: 8, x: 0, y: 10 },
      sql: sql`
SELECT time, spend, baseline, spend / nullIf(baseline, 0) AS ratio, spend - baseline AS excess
FROM
(
    ${hourlyBaseline}
)
WHERE $__timeFilter(time)
  AND spend > baseline
  AND spend >= $factor * baseline
  AND spend - baseline >= $min_spend
ORDER BY excess DESC, time
LIMIT 50`,
      fields: jumpFields('baseline'),
    }),
    jumped(3, 8, 'Org', 'org_id', 'org', DAILY_BY_ORG, { ...jumpFields('expected'), org: drillDownToOrg(TENANT) }),
    jumped(4, 16, 'Feature', 'feature', 'feature', BY_FEATURE, jumpFields('expected')),
  ],
});
