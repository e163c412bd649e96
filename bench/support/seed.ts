/**
 * Fast, deterministic bulk data for the dashboard benchmark: usage rows generated inside ClickHouse
 * with `INSERT INTO ai_usage SELECT ... FROM numbers(n)` (no row crosses the JS boundary, so 10M
 * rows take seconds, not minutes), plus the matching `model_prices` rows.
 *
 * Shape of the traffic (every value a pure function of the row number, so runs are comparable):
 * - `days` days ending at `end` (UTC midnight), rows spread evenly with a minute of jitter;
 * - groups of 6 consecutive calls share org, user, conversation, service, environment and
 *   feature (a conversation), like real traffic;
 * - `orgs` tenants with a skewed (power-law) share of traffic, 40 users each, 12 features,
 *   4 services, prod (90 %) / staging, 3 providers, 9 models (one unpriced fine-tune, 1 % of calls);
 * - a third of the calls on cache-capable models read 60 % of their input from the cache;
 * - 2 % failed calls (input billed, no output);
 * - `duplicateShare` of the rows are delivered a second time in a later insert (same
 *   trace/span ids, later inserted_at), as a replay or a second collector would.
 * Costs are exact decimals computed the way the pricing engine does (uncached input, cache reads,
 * output, each at its price per token).
 */
import type { ClickHouseClient, ClickHouseSettings } from '@clickhouse/client';

export interface SeedModel {
  provider: string;
  model: string;
  /** `provider/model` of the price entry, '' for an unpriced model. */
  priced: string;
  operation: string;
  /** USD per token, exact decimal text ('' = unpriced). */
  input: string;
  cacheRead: string;
  output: string;
  /** Relative share of the calls. */
  weight: number;
  /** Typical latency, ms. */
  latencyMs: number;
}

export const SEED_MODELS: readonly SeedModel[] = [
  { provider: 'openai', model: 'gpt-4o', priced: 'openai/gpt-4o', operation: 'chat', input: '0.0000025', cacheRead: '0.00000125', output: '0.00001', weight: 20, latencyMs: 1800 },
  { provider: 'openai', model: 'gpt-4o-mini', priced: 'openai/gpt-4o-mini', operation: 'chat', input: '0.00000015', cacheRead: '0.000000075', output: '0.0000006', weight: 34, latencyMs: 900 },
  { provider: 'openai', model: 'o3-mini', priced: 'openai/o3-mini', operation: 'chat', input: '0.0000011', cacheRead: '0.00000055', output: '0.0000044', weight: 5, latencyMs: 6000 },
  { provider: 'openai', model: 'text-embedding-3-small', priced: 'openai/text-embedding-3-small', operation: 'embeddings', input: '0.00000002', cacheRead: '', output: '0', weight: 10, latencyMs: 120 },
  { provider: 'anthropic', model: 'claude-sonnet-4', priced: 'anthropic/claude-sonnet-4', operation: 'chat', input: '0.000003', cacheRead: '0.0000003', output: '0.000015', weight: 12, latencyMs: 2500 },
  { provider: 'anthropic', model: 'claude-3-5-haiku', priced: 'anthropic/claude-3-5-haiku', operation: 'chat', input: '0.0000008', cacheRead: '0.00000008', output: '0.000004', weight: 8, latencyMs: 1100 },
  { provider: 'gcp.gemini', model: 'gemini-2.5-pro', priced: 'google/gemini-2.5-pro', operation: 'chat', input: '0.00000125', cacheRead: '0.00000031', output: '0.00001', weight: 4, latencyMs: 3200 },
  { provider: 'gcp.gemini', model: 'gemini-2.5-flash', priced: 'google/gemini-2.5-flash', operation: 'chat', input: '0.0000003', cacheRead: '0.000000075', output: '0.0000025', weight: 6, latencyMs: 700 },
  { provider: 'openai', model: 'ft:gpt-4o-mini:acme::x1', priced: '', operation: 'chat', input: '', cacheRead: '', output: '', weight: 1, latencyMs: 950 },
];

export const SEED_FEATURES = ['chat', 'search', 'summarize', 'classify', 'extract', 'translate', 'agent', 'rag', 'autocomplete', 'moderation', 'indexing', 'report'] as const;
export const SEED_SERVICES = ['api', 'worker', 'web', 'batch'] as const;
export const SEED_ERRORS = ['timeout', 'rate_limit', '500'] as const;

export interface SeedOptions {
  database: string;
  /** Distinct calls to generate (duplicates come on top). */
  rows: number;
  /** Days of traffic, ending at `end`. Default 90. */
  days?: number;
  /** Exclusive end of the traffic, a UTC midnight. Default 2026-12-01. */
  end?: Date;
  /** Tenants. Default 300. */
  orgs?: number;
  /** Share of the calls delivered twice. Default 0.02. */
  duplicateShare?: number;
  /** Rows per INSERT ... SELECT at most (memory bound). Default 2M. */
  chunkRows?: number;
}

export interface SeedResult {
  rows: number;
  duplicates: number;
  from: Date;
  to: Date;
  insertMs: number;
}

const sqlString = (s: string): string => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
const sqlArray = (values: readonly string[]): string => `[${values.map(sqlString).join(', ')}]`;
const decArray = (values: readonly string[]): string => `[${values.map((v) => `toDecimal128(${sqlString(v || '0')}, 18)`).join(', ')}]`;

/** Column order of the generated SELECT (the insert names them). */
const COLUMNS = [
  'ts', 'trace_id', 'span_id', 'parent_span_id', 'duration_ms', 'service_name', 'environment', 'provider', 'operation',
  'request_model', 'response_model', 'priced_model', 'org_id', 'user_id', 'feature', 'conversation_id',
  'input_tokens', 'output_tokens', 'cache_read_tokens', 'cache_write_tokens', 'reasoning_tokens',
  'input_audio_tokens', 'output_audio_tokens', 'usage_details', 'cost_usd', 'cost_breakdown', 'price_source',
  'error_type', 'instrumentation', 'attributes',
];

/** `value` × 10^places, exact, as decimal text ('0.0000025', 6 → '2.5'). */
export function shiftDecimal(value: string, places: number): string {
  const [int = '0', frac = ''] = value.split('.');
  const padded = frac.padEnd(places, '0');
  const whole = (int + padded.slice(0, places)).replace(/^0+(?=\d)/, '');
  const rest = padded.slice(places).replace(/0+$/, '');
  return rest ? `${whole}.${rest}` : whole;
}

/** The SELECT producing usage rows number `first`, `first + every`, ... (`count` rows) of the seeded traffic. */
export function seedSelect(options: { rows: number; days: number; orgs: number; end: Date; first: number; count: number; every?: number }): string {
  const spanSeconds = options.days * 86_400;
  const endSeconds = Math.floor(options.end.getTime() / 1000);
  const start = endSeconds - spanSeconds;
  const cumulative: number[] = [];
  let total = 0;
  for (const x of SEED_MODELS) cumulative.push((total += x.weight));
  const m = SEED_MODELS;
  const every = options.every ?? 1;
  // Row number n; its conversation g = n / 6 decides tenant, user, feature, service, environment, model.
  return `SELECT ${COLUMNS.join(', ')} FROM (
SELECT
    toDateTime64(least(${start} + (n * ${spanSeconds}) / ${options.rows} + (cityHash64(n, 11) % 600) / 10, ${endSeconds} - 0.001), 6, 'UTC') AS ts,
    concat(leftPad(hex(cityHash64(g, 1)), 16, '0'), leftPad(hex(n), 16, '0')) AS trace_id,
    leftPad(hex(cityHash64(n, 2)), 16, '0') AS span_id,
    '' AS parent_span_id,
    round(lat[mi] * (0.4 + (cityHash64(n, 3) % 1000) / 1000 * if(cityHash64(n, 4) % 20 = 0, 4, 1.2)), 3) AS duration_ms,
    ${sqlArray(SEED_SERVICES)}[1 + cityHash64(g, 5) % ${SEED_SERVICES.length}] AS service_name,
    if(cityHash64(g, 6) % 10 = 0, 'staging', 'prod') AS environment,
    ${sqlArray(m.map((x) => x.provider))}[mi] AS provider,
    ${sqlArray(m.map((x) => x.operation))}[mi] AS operation,
    ${sqlArray(m.map((x) => x.model))}[mi] AS request_model,
    request_model AS response_model,
    ${sqlArray(m.map((x) => x.priced))}[mi] AS priced_model,
    concat('org-', leftPad(toString(toUInt32(floor(pow((cityHash64(g, 7) % 1000000) / 1000000, 2.5) * ${options.orgs}))), 4, '0')) AS org_id,
    concat(org_id, '-u', toString(cityHash64(g, 8) % 40)) AS user_id,
    ${sqlArray(SEED_FEATURES)}[1 + cityHash64(g, 9) % ${SEED_FEATURES.length}] AS feature,
    concat('conv-', leftPad(hex(g), 10, '0')) AS conversation_id,
    toUInt64(200 + cityHash64(n, 10) % 8000) AS input_tokens,
    toUInt64(if(failed OR operation = 'embeddings', 0, 50 + cityHash64(n, 12) % 1500)) AS output_tokens,
    toUInt64(if(cacheable AND cityHash64(g, 13) % 3 = 0, intDiv(input_tokens * 6, 10), 0)) AS cache_read_tokens,
    toUInt64(0) AS cache_write_tokens,
    toUInt64(if(request_model = 'o3-mini', intDiv(output_tokens, 2), 0)) AS reasoning_tokens,
    toUInt64(0) AS input_audio_tokens,
    toUInt64(0) AS output_audio_tokens,
    CAST(map(), 'Map(LowCardinality(String), Float64)') AS usage_details,
    toDecimal128(input_tokens - cache_read_tokens, 0) * p_in AS c_in,
    toDecimal128(cache_read_tokens, 0) * p_cache AS c_cache,
    toDecimal128(output_tokens, 0) * p_out AS c_out,
    if(priced_model = '', NULL, c_in + c_cache + c_out) AS cost_usd,
    CAST(if(priced_model = '', map(), mapFilter((k, v) -> v != 0, map('input_tokens', c_in, 'cache_read_tokens', c_cache, 'output_tokens', c_out))),
         'Map(LowCardinality(String), Decimal(38, 18))') AS cost_breakdown,
    if(priced_model = '', '', 'genai-prices@0.1.8') AS price_source,
    if(failed, ${sqlArray(SEED_ERRORS)}[1 + cityHash64(n, 15) % ${SEED_ERRORS.length}], '') AS error_type,
    '@opentelemetry/instrumentation-openai' AS instrumentation,
    CAST(map(), 'Map(String, String)') AS attributes
FROM
(
    SELECT
        number * ${every} + ${options.first} AS n,
        intDiv(n, 6) AS g,
        arrayFirstIndex(c -> (cityHash64(g, 14) % ${total}) < c, ${JSON.stringify(cumulative)}) AS mi,
        ${JSON.stringify(m.map((x) => x.latencyMs))} AS lat,
        cityHash64(n, 16) % 50 = 0 AS failed,
        ${JSON.stringify(m.map((x) => x.cacheRead !== ''))}[mi] AS cacheable,
        ${decArray(m.map((x) => x.input))}[mi] AS p_in,
        ${decArray(m.map((x) => x.cacheRead))}[mi] AS p_cache,
        ${decArray(m.map((x) => x.output))}[mi] AS p_out
    FROM numbers(${options.count})
))`;
}


/**
 * Measured on 1M rows (2 vCPUs): defaults 10.8 s; without the insert-time ReplacingMergeTree pass
 * (optimize_on_insert = 0: duplicates are what the seed wants anyway) 6.6 s; plus 2 insert threads
 * and 100k-row blocks 4.0 s.
 */
const INSERT_SETTINGS: ClickHouseSettings = {
  optimize_on_insert: 0,
  max_insert_threads: '2',
  min_insert_block_size_rows: '100000',
  max_block_size: '65536',
  max_partitions_per_insert_block: '1000',
};

export interface SeedChunk {
  /** 0-based, in time order. */
  index: number;
  chunks: number;
  /** Calls and re-deliveries inserted in this chunk. */
  rows: number;
  duplicates: number;
}

/**
 * Inserts the seeded traffic into `<database>.ai_usage` in `chunks` time-ordered slices (each
 * slice's calls, then its re-deliveries as a separate insert), calling `afterChunk` after each:
 * the benchmark refreshes the rollups there, as a live system refreshes them while traffic
 * arrives. Then writes the prices into model_prices.
 */
export async function seedUsage(
  client: ClickHouseClient,
  options: SeedOptions & { chunks?: number; afterChunk?: (chunk: SeedChunk) => Promise<void> },
): Promise<SeedResult> {
  const days = options.days ?? 90;
  const end = options.end ?? new Date(Date.UTC(2026, 11, 1));
  const orgs = options.orgs ?? 300;
  const duplicateShare = options.duplicateShare ?? 0.02;
  const chunks = Math.max(1, Math.min(options.chunks ?? 1, options.rows));
  const maxInsert = options.chunkRows ?? 2_000_000;
  const base = { rows: options.rows, days, orgs, end };
  const insert = `INSERT INTO ${options.database}.ai_usage (${COLUMNS.join(', ')})`;
  const every = duplicateShare > 0 ? Math.max(1, Math.round(1 / duplicateShare)) : 0;
  let insertMs = 0;
  let duplicates = 0;
  for (let index = 0; index < chunks; index++) {
    const started = performance.now();
    const lo = Math.floor((options.rows * index) / chunks);
    const hi = Math.floor((options.rows * (index + 1)) / chunks);
    for (let first = lo; first < hi; first += maxInsert) {
      const count = Math.min(maxInsert, hi - first);
      await client.command({ query: `${insert} ${seedSelect({ ...base, first, count })}`, clickhouse_settings: INSERT_SETTINGS });
    }
    // Re-deliveries: every k-th call of the slice again, in a later insert (new block, later inserted_at).
    let again = 0;
    if (every > 0) {
      const first = Math.ceil(lo / every) * every;
      again = first < hi ? Math.ceil((hi - first) / every) : 0;
      if (again > 0) {
        await client.command({ query: `${insert} ${seedSelect({ ...base, first, count: again, every })}`, clickhouse_settings: INSERT_SETTINGS });
      }
    }
    duplicates += again;
    insertMs += performance.now() - started;
    await options.afterChunk?.({ index, chunks, rows: hi - lo, duplicates: again });
  }
  await seedModelPrices(client, options.database);
  return { rows: options.rows, duplicates, from: new Date(end.getTime() - days * 86_400_000), to: end, insertMs };
}

/**
 * Inserts calls number `first`, `first + every`, ... (`count` of them) of the traffic `options`
 * describes, as one insert: with calls seeded before, a re-delivery (same ids, later inserted_at).
 */
export async function insertSeedRows(
  client: ClickHouseClient,
  options: SeedOptions,
  slice: { first: number; count: number; every?: number },
): Promise<void> {
  const base = { rows: options.rows, days: options.days ?? 90, orgs: options.orgs ?? 300, end: options.end ?? new Date(Date.UTC(2026, 11, 1)) };
  await client.command({
    query: `INSERT INTO ${options.database}.ai_usage (${COLUMNS.join(', ')}) ${seedSelect({ ...base, ...slice })}`,
    clickhouse_settings: INSERT_SETTINGS,
  });
}

/** model_prices rows for SEED_MODELS (per-token prices as USD per million tokens). */
export async function seedModelPrices(client: ClickHouseClient, database: string): Promise<void> {
  const rows: Record<string, unknown>[] = [];
  for (const m of SEED_MODELS) {
    if (m.priced === '') continue;
    const [provider_id, model_id] = [m.priced.slice(0, m.priced.indexOf('/')), m.priced.slice(m.priced.indexOf('/') + 1)];
    const prices: Array<[string, string, string]> = [['input_mtok', 'input_tokens', m.input], ['output_mtok', 'output_tokens', m.output]];
    if (m.cacheRead) prices.push(['cache_read_mtok', 'cache_read_tokens', m.cacheRead]);
    for (const [price_key, unit, perToken] of prices) {
      rows.push({
        source: 'genai-prices@0.1.8', provider_id, model_id, model_match: JSON.stringify({ equals: model_id }),
        effective_from: '1970-01-01', time_of_day: '', price_key, unit, per: 1_000_000, price: shiftDecimal(perToken, 6),
        tiers: [], loaded_at: '2026-01-01 00:00:00.000000', is_deleted: 0,
      });
    }
  }
  await client.insert({ table: `${database}.model_prices`, values: rows, format: 'JSONEachRow' });
}
