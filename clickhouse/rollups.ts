/**
 * The rollups, declared once: what each table keeps (its bucket, the dimensions of its group key,
 * the measures it sums) and what its refresh folds, in refresh order. The migrations create them
 * (clickhouse/migrations/0002, 0004-0006, 0010, 0012), refreshRollups() refreshes them in this order, the
 * dashboards (grafana/src/) choose among them by the columns a panel reads, and
 * bench/dashboards.ts settles and compares them. Readers query `<name>_exact` (FINAL).
 */

export type Bucket = 'hour' | 'day';

export interface Rollup {
  name: string;
  bucket: Bucket;
  /** The table its refresh folds: the raw ledger (`ai_usage`) or another rollup. */
  from: string;
  /** The group key without the bucket: the columns a reader can filter and group by. */
  dimensions: readonly string[];
  measures: readonly string[];
  /** What one row holds, in the words a dashboard query's comment uses. */
  about: string;
  /** Each measure as an expression over one raw-ledger row (ai_usage_exact): for reading the
   *  partial hours at a range's edges from the ledger next to this rollup's whole hours. */
  fromLedger?: Readonly<Record<string, string>>;
}

const FINE_DIMENSIONS = ['org_id', 'service_name', 'environment', 'provider', 'request_model', 'operation', 'feature', 'priced_model'] as const;
/** Every measure of the fine rollup except the Map columns (usage_details, cost_breakdown). */
const SUMMED_MEASURES = [
  'calls', 'errors', 'unpriced_calls',
  'input_tokens', 'output_tokens', 'cache_read_tokens', 'cache_write_tokens', 'reasoning_tokens', 'input_audio_tokens', 'output_audio_tokens',
  'cost_usd', 'error_cost_usd', 'cache_saved_usd', 'cache_read_priced_tokens', 'cache_read_paid_usd',
  'duration_ms_sum', 'duration_ms_quantiles',
] as const;
const FINE_MEASURES = [...SUMMED_MEASURES, 'usage_details', 'cost_breakdown'] as const;
const LATENCY_MEASURES = ['calls', 'duration_ms_sum', 'duration_ms_quantiles'] as const;
const SPEND_MEASURES = ['calls', 'unpriced_calls', 'cost_usd'] as const;

const rollup = (r: Rollup): Rollup => r;

export const HOURLY = rollup({ name: 'ai_usage_hourly', bucket: 'hour', from: 'ai_usage', dimensions: FINE_DIMENSIONS, measures: FINE_MEASURES, about: 'the fine groups of the hourly rollup' });
/** The same rows as HOURLY ordered by hour first (FINAL merges only the newest hours). */
export const HOURLY_BY_TIME = rollup({ ...HOURLY, name: 'ai_usage_hourly_by_time', from: HOURLY.name });
export const LATENCY_HOURLY = rollup({ name: 'ai_usage_latency_hourly', bucket: 'hour', from: HOURLY_BY_TIME.name, dimensions: ['provider', 'request_model'], measures: LATENCY_MEASURES, about: 'one digest per hour and model' });
export const LATENCY_DAILY = rollup({ ...LATENCY_HOURLY, name: 'ai_usage_latency_daily', bucket: 'day', from: LATENCY_HOURLY.name, about: 'one digest per day and model' });
export const BY_MODEL = rollup({
  name: 'ai_usage_hourly_by_model',
  bucket: 'hour',
  from: HOURLY_BY_TIME.name,
  dimensions: ['service_name', 'environment', 'provider', 'request_model', 'operation', 'priced_model'],
  measures: SUMMED_MEASURES,
  about: 'the rollup per (hour, service, environment, model)',
});
export const BY_ORG = rollup({ name: 'ai_usage_hourly_by_org', bucket: 'hour', from: HOURLY_BY_TIME.name, dimensions: ['org_id'], measures: SPEND_MEASURES, about: 'the rollup per (hour, org)' });
export const DAILY_BY_ORG = rollup({ ...BY_ORG, name: 'ai_usage_daily_by_org', bucket: 'day', from: BY_ORG.name, about: 'the rollup per (day, org)' });
export const BY_FEATURE = rollup({ name: 'ai_usage_hourly_by_feature', bucket: 'hour', from: HOURLY_BY_TIME.name, dimensions: ['feature'], measures: SPEND_MEASURES, about: 'the rollup per (hour, feature)' });
export const BY_ORG_MODEL = rollup({
  name: 'ai_usage_hourly_by_org_model',
  bucket: 'hour',
  from: HOURLY_BY_TIME.name,
  dimensions: ['org_id', 'provider', 'request_model', 'priced_model'],
  measures: ['calls', 'errors', 'unpriced_calls', 'input_tokens', 'output_tokens', 'cache_read_tokens', 'cost_usd', 'error_cost_usd', 'cache_read_priced_tokens', 'cache_read_paid_usd'],
  about: 'the rollup per (org, hour, model)',
});
export const BY_ORG_SERVICE_FEATURE = rollup({
  name: 'ai_usage_hourly_by_org_service_feature',
  bucket: 'hour',
  from: HOURLY_BY_TIME.name,
  dimensions: ['org_id', 'service_name', 'environment', 'feature'],
  measures: SPEND_MEASURES,
  about: 'the rollup per (org, hour, service, environment, feature)',
});
export const BY_ORG_CONVERSATION = rollup({
  name: 'ai_usage_hourly_by_org_conversation',
  bucket: 'hour',
  from: 'ai_usage',
  dimensions: ['org_id', 'user_id', 'conversation_id'],
  measures: ['calls', 'unpriced_calls', 'cost_usd', 'tokens', 'first_call', 'last_call', 'models'],
  about: 'the rollup per (org, hour, user, conversation)',
  fromLedger: {
    calls: 'toUInt64(1)',
    unpriced_calls: 'toUInt64(cost_usd IS NULL)',
    cost_usd: 'ifNull(cost_usd, toDecimal128(0, 18))',
    tokens: 'input_tokens + output_tokens',
    first_call: 'ts',
    last_call: 'ts',
    models: '[request_model]',
  },
});
export const BY_ORG_USER = rollup({
  name: 'ai_usage_hourly_by_org_user',
  bucket: 'hour',
  from: 'ai_usage',
  dimensions: ['org_id', 'user_id'],
  measures: ['calls', 'unpriced_calls', 'cost_usd', 'conversations', 'models'],
  about: 'the rollup per (org, hour, user)',
  fromLedger: {
    calls: 'toUInt64(1)',
    unpriced_calls: 'toUInt64(cost_usd IS NULL)',
    cost_usd: 'ifNull(cost_usd, toDecimal128(0, 18))',
    // The set of the user's conversations, as the rollup keeps it (uniqExact state).
    conversations: "arrayReduce('uniqExactState', [conversation_id])",
    models: '[request_model]',
  },
});
/** One row per unpriced call (its latest delivery), bucketed by hour for the refresh. */
export const UNPRICED = rollup({
  name: 'ai_usage_unpriced',
  bucket: 'hour',
  from: 'ai_usage',
  dimensions: ['ts', 'trace_id', 'span_id', 'org_id', 'service_name', 'environment', 'provider', 'operation', 'request_model', 'response_model', 'feature', 'user_id', 'conversation_id', 'error_type'],
  measures: ['input_tokens', 'output_tokens'],
  about: 'one row per unpriced call',
});
export const DAILY = rollup({ ...HOURLY, name: 'ai_usage_daily', bucket: 'day', from: HOURLY.name, about: 'the fine groups of the daily rollup' });

/** Every rollup in refresh order: each after the one it folds. */
export const ROLLUPS: readonly Rollup[] = [
  HOURLY, HOURLY_BY_TIME, LATENCY_HOURLY, LATENCY_DAILY, BY_MODEL, BY_ORG, DAILY_BY_ORG, BY_FEATURE, BY_ORG_MODEL, BY_ORG_SERVICE_FEATURE, BY_ORG_CONVERSATION, BY_ORG_USER, UNPRICED, DAILY,
];

/** The relation readers query: FINAL, so duplicates and tombstones never count. */
export const exact = (r: Rollup): string => `${r.name}_exact`;

/** True when `column` can be read from `r` (its bucket, a dimension or a measure). */
export function holds(r: Rollup, column: string): boolean {
  return column === r.bucket || r.dimensions.includes(column) || r.measures.includes(column);
}
