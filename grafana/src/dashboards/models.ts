/** Model comparison: cost, tokens, caching, latency and errors per requested model. */
import { BY_MODEL, LATENCY_DAILY } from '../../../clickhouse/rollups.js';
import { dashboard } from '../dashboard.js';
import { barchart, table, type GridPos, type Panel } from '../model.js';
import { perIntervalSeries } from '../panels.js';
import { FILTERS } from '../query/filters.js';
import { sql } from '../query/sql.js';
import { ms, ratio, usd, type FieldStyle } from '../style.js';
import { datasourceVariable, filterVariable } from '../variables.js';
import { via } from './overview.js';
import { MODELS } from './ids.js';

const byModel = via(BY_MODEL);

/** One line per model over time: `figure` computed from the summed `columns` per interval. */
function perModelOverTime(id: number, title: string, description: string, gridPos: GridPos, figure: string, columns: readonly string[], style: FieldStyle): Panel {
  const defaults = { ...style, displayName: '${__field.labels.model}', custom: { drawStyle: 'line', lineWidth: 1, ...style.custom } };
  return perIntervalSeries({ id, title, description, gridPos, series: ['request_model', 'model'], figure, columns, read: byModel, defaults });
}

export const models = dashboard({
  ...MODELS,
  description: 'Models side by side: cost per 1000 calls, tokens per call, cache hit ratio, latency and error rate.',
  from: 'now-7d',
  variables: [datasourceVariable, ...FILTERS.map(filterVariable)],
  panels: [
    table({
      id: 1,
      title: 'Models side by side',
      description:
        'Per requested model over the range (hourly rollup): calls, exact cost per 1000 priced calls, tokens per call, cache hit ratio (cached ÷ all input tokens), error rate (failed ÷ all calls), mean latency, spend.',
      gridPos: { h: 10, w: 24, x: 0, y: 0 },
      sql: sql`
SELECT
    provider,
    model,
    n AS calls,
    toFloat64(cost * 1000 / nullIf(n - unpriced, 0)) AS cost_per_1k_calls,
    input / n AS input_tokens_per_call,
    output / n AS output_tokens_per_call,
    cached / nullIf(input, 0) AS cache_hit_ratio,
    failed / n AS error_rate,
    round(duration / n, 1) AS mean_latency_ms,
    toFloat64(cost) AS spend,
    unpriced AS unpriced_calls
FROM
(
    SELECT
        provider,
        request_model AS model,
        sum(calls) AS n,
        sum(unpriced_calls) AS unpriced,
        sum(errors) AS failed,
        sum(input_tokens) AS input,
        sum(output_tokens) AS output,
        sum(cache_read_tokens) AS cached,
        sum(duration_ms_sum) AS duration,
        sum(cost_usd) AS cost
    FROM
    (
        ${byModel(['provider', 'request_model', 'calls', 'unpriced_calls', 'errors', 'input_tokens', 'output_tokens', 'cache_read_tokens', 'duration_ms_sum', 'cost_usd'])}
    )
    GROUP BY provider, request_model
)
ORDER BY cost DESC, model`,
      fields: {
        cost_per_1k_calls: usd(4),
        input_tokens_per_call: { unit: 'short', decimals: 0 },
        output_tokens_per_call: { unit: 'short', decimals: 0 },
        cache_hit_ratio: ratio(1),
        error_rate: ratio(2),
        mean_latency_ms: { ...ms, decimals: 0 },
        spend: usd(2),
      },
    }),
    barchart({
      id: 2,
      title: 'Latency percentiles by model',
      description:
        "p50, p95 and p99 call duration per model, merged from t-digests: the per-model latency rollup when no org, service, environment or feature is selected, else the hourly rollup's groups.",
      gridPos: { h: 9, w: 12, x: 0, y: 10 },
      xField: 'model',
      sql: sql`
SELECT model, round(q[1]) AS p50_ms, round(q[3]) AS p95_ms, round(q[4]) AS p99_ms
FROM
(
    SELECT
        request_model AS model,
        quantilesTDigestMerge(0.5, 0.9, 0.95, 0.99)(duration_ms_quantiles) AS q
    FROM
    (
        ${via(LATENCY_DAILY)(['request_model', 'duration_ms_quantiles'])}
    )
    GROUP BY request_model
)
ORDER BY p95_ms DESC, model`,
      defaults: { ...ms, color: { mode: 'palette-classic' } },
    }),
    perModelOverTime(
      3,
      'Cost per 1000 calls over time',
      'Exact cost per 1000 priced calls per interval and model (hourly rollup).',
      { h: 9, w: 12, x: 12, y: 10 },
      'toFloat64(sum(cost_usd) * 1000 / nullIf(sum(calls) - sum(unpriced_calls), 0)) AS cost_per_1k_calls',
      ['cost_usd', 'calls', 'unpriced_calls'],
      { ...usd(4), custom: { spanNulls: true } },
    ),
    perModelOverTime(4, 'Error rate over time', 'Failed calls ÷ calls per interval and model (hourly rollup).', { h: 9, w: 12, x: 0, y: 19 }, 'sum(errors) / sum(calls) AS error_rate', ['errors', 'calls'], { unit: 'percentunit' }),
    perModelOverTime(
      5,
      'Cache hit ratio over time',
      'Cached input tokens ÷ all input tokens per interval and model (hourly rollup).',
      { h: 9, w: 12, x: 12, y: 19 },
      'sum(cache_read_tokens) / nullIf(sum(input_tokens), 0) AS cache_hit_ratio',
      ['cache_read_tokens', 'input_tokens'],
      { unit: 'percentunit' },
    ),
  ],
});
