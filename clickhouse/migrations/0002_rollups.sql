-- genai-ledger 0002: hourly and daily rollups that count every call exactly once.
--
-- Why not the usual insert-time materialized view into an AggregatingMergeTree? A materialized
-- view sees every inserted block. A span re-delivered in a different batch (replay, two
-- collectors, an SDK retry that got a new batch) is a new block, so an insert-time view would
-- add it twice, and no sum state can be un-added later. The alternatives considered:
--   (a) the writer remembers spans it has seen: one process only, lost on restart;
--   (b) insert_deduplication_token: only identical retried batches;
--   (c) a first-seen key table (EmbeddedRocksDB/Join) in front of the view: "check then insert"
--       is not atomic, two collectors inserting the same span concurrently both pass, and the
--       key table is node-local; per-span partial rows keyed by (hour, dims, trace_id, span_id)
--       are correct but as big as ai_usage itself;
--   (d) recompute: rollup rows are derived from ai_usage FINAL (already one row per span) by a
--       refreshable materialized view, and written idempotently.
-- (d) is the one that is correct under every kind of duplicate, so it is what this file builds.
--
-- Cheap enough: a refresh only recomputes the hours that received rows since the last refresh.
-- "Since" is a watermark derived from the data itself (the largest ai_usage.inserted_at already
-- folded into the rollup, minus {{watermark_lag_seconds}} s of overlap for inserts that were
-- still committing), so a refresh that was skipped (process down, embedded store closed) is
-- caught up by the next one, and a backfill of old hours recomputes exactly those hours.
-- inserted_at must come from the server's DEFAULT (never written by clients), and the lag must
-- exceed both an insert's duration and the clock skew between the nodes inserting.
-- Measured on the embedded engine (2 busy vCPUs, npm run bench:insert-format -- --only rollup --rows 1000000):
-- first build over 1M spans + 10 % duplicates 7-11 s;
-- a refresh after 1000 new spans in one hour 0.2-0.4 s (hourly + daily).
--
-- Idempotent: the rollup is a ReplacingMergeTree keyed by (hour, dims) and versioned by the
-- refresh time, so recomputing an hour replaces its rows. A group that no longer exists in a
-- recomputed hour (a span re-delivered with a different feature, say) gets a tombstone
-- (is_deleted = 1) through the FULL JOIN with the previous rows, so it disappears too.
-- Read through the *_exact views (FINAL): between merges the table holds several versions.
--
-- Retention: with a TTL on ai_usage, hours old enough to have lost raw rows are never recomputed
-- (a late replay into such an hour would otherwise shrink its rollup to the replayed spans); the
-- rollups themselves keep everything. Changing the TTL later does not change this guard.
--
-- Latency: a rollup trails ai_usage by up to {{refresh_seconds}} s. `SYSTEM REFRESH VIEW` (or
-- refreshRollups() in clickhouse/migrate.ts) forces a refresh. In cluster mode every node
-- refreshes its local shard; ai_usage is sharded by (trace_id, span_id), so FINAL is correct per
-- shard and the Distributed rollup tables below sum the shards' partial rows.
--
-- The rollup tables and refresh views are written as {{#rollup_table}} and {{#refresh_view}}
-- macros: clickhouse/migrate.ts spells out the statements they expand to.

{{#rollup_table ai_usage_hourly}}
partition: toYYYYMM(hour)
order: org_id, hour, provider, request_model, service_name, environment, operation, feature
index: version_minmax version TYPE minmax GRANULARITY 1
columns:
    hour                  DateTime('UTC'),
    org_id                String,
    service_name          LowCardinality(String),
    environment           LowCardinality(String),
    provider              LowCardinality(String),
    request_model         LowCardinality(String),
    operation             LowCardinality(String),
    feature               LowCardinality(String),
    calls                 UInt64,
    errors                UInt64,
    unpriced_calls        UInt64,
    input_tokens          UInt64,
    output_tokens         UInt64,
    cache_read_tokens     UInt64,
    cache_write_tokens    UInt64,
    reasoning_tokens      UInt64,
    input_audio_tokens    UInt64,
    output_audio_tokens   UInt64,
    usage_details         Map(LowCardinality(String), Float64),
    cost_usd              Decimal(38, 18),
    cost_breakdown        Map(LowCardinality(String), Decimal(38, 18)),
    duration_ms_sum       Float64,
    -- quantilesTDigestMerge(0.5, 0.9, 0.95, 0.99)(duration_ms_quantiles) reads it.
    duration_ms_quantiles AggregateFunction(quantilesTDigest(0.5, 0.9, 0.95, 0.99), Float64),
    -- Largest ai_usage.inserted_at folded into this row: the refresh watermark.
    max_inserted_at       DateTime64(6, 'UTC'),
{{/rollup_table}}

{{#rollup_table ai_usage_daily}}
partition: toYear(day)
order: org_id, day, provider, request_model, service_name, environment, operation, feature
columns:
    day                   Date,
    org_id                String,
    service_name          LowCardinality(String),
    environment           LowCardinality(String),
    provider              LowCardinality(String),
    request_model         LowCardinality(String),
    operation             LowCardinality(String),
    feature               LowCardinality(String),
    calls                 UInt64,
    errors                UInt64,
    unpriced_calls        UInt64,
    input_tokens          UInt64,
    output_tokens         UInt64,
    cache_read_tokens     UInt64,
    cache_write_tokens    UInt64,
    reasoning_tokens      UInt64,
    input_audio_tokens    UInt64,
    output_audio_tokens   UInt64,
    usage_details         Map(LowCardinality(String), Float64),
    cost_usd              Decimal(38, 18),
    cost_breakdown        Map(LowCardinality(String), Decimal(38, 18)),
    duration_ms_sum       Float64,
    duration_ms_quantiles AggregateFunction(quantilesTDigest(0.5, 0.9, 0.95, 0.99), Float64),
    -- Largest ai_usage_hourly.version folded into this row: the daily refresh watermark.
    max_version           DateTime64(6, 'UTC'),
{{/rollup_table}}

{{#each table in ai_usage_hourly, ai_usage_daily}}
-- @cluster-only
CREATE TABLE IF NOT EXISTS {{database}}.{{table}}{{on_cluster}} AS {{database}}.{{table}}_local
ENGINE = Distributed('{{cluster}}', '{{database}}', '{{table}}_local', rand());
{{/each}}

-- Hourly refresh: recompute the dirty hours from ai_usage FINAL, tombstone vanished groups.
-- `lookup: has` is this file's original form (0004 replaces the view with hash-set lookups).
{{#refresh_view ai_usage_hourly}}
from: ai_usage
dirty: toStartOfHour(ts) AS hour
keys: hour, org_id, service_name, environment, provider, request_model, operation, feature
lookup: has
append: same_line
columns:
    hour, org_id, service_name, environment, provider, request_model, operation, feature,
    calls, errors, unpriced_calls,
    input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens,
    input_audio_tokens, output_audio_tokens, usage_details,
    cost_sum AS cost_usd, cost_breakdown, duration_ms_sum, duration_ms_quantiles,
    max_inserted_at,
fresh:
        toStartOfHour(ts) AS hour,
        org_id, service_name, environment, provider, request_model, operation, feature,
        count() AS calls,
        countIf(error_type != '') AS errors,
        countIf(cost_usd IS NULL) AS unpriced_calls,
        {{sum input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens}}
        {{sum input_audio_tokens, output_audio_tokens}}
        sumMap(usage_details) AS usage_details,
        sum(ifNull(cost_usd, toDecimal128(0, 18))) AS cost_sum,
        sumMap(cost_breakdown) AS cost_breakdown,
        sum(duration_ms) AS duration_ms_sum,
        quantilesTDigestState(0.5, 0.9, 0.95, 0.99)(duration_ms) AS duration_ms_quantiles,
        max(inserted_at) AS max_inserted_at
{{/refresh_view}}

-- Daily refresh: runs after the hourly one and re-folds the days whose hourly rows changed
-- (tombstones included: the dirty-day scan reads ai_usage_hourly without FINAL).
{{#refresh_view ai_usage_daily}}
from: ai_usage_hourly
after: ai_usage_hourly_refresh
dirty: toDate(hour) AS day
keys: day, org_id, service_name, environment, provider, request_model, operation, feature
lookup: has
columns:
    day, org_id, service_name, environment, provider, request_model, operation, feature,
    calls, errors, unpriced_calls,
    input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens,
    input_audio_tokens, output_audio_tokens, usage_details,
    cost_usd, cost_breakdown, duration_ms_sum, duration_ms_quantiles,
    max_version,
fresh:
        toDate(hour) AS day,
        org_id, service_name, environment, provider, request_model, operation, feature,
        {{sum calls, errors, unpriced_calls}}
        {{sum input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens}}
        {{sum input_audio_tokens, output_audio_tokens}}
        sumMap(usage_details) AS usage_details,
        sum(cost_usd) AS cost_usd,
        sumMap(cost_breakdown) AS cost_breakdown,
        sum(duration_ms_sum) AS duration_ms_sum,
        quantilesTDigestMergeState(0.5, 0.9, 0.95, 0.99)(duration_ms_quantiles) AS duration_ms_quantiles,
        max(version) AS max_version
{{/refresh_view}}

-- The relations to query. FINAL collapses versions and drops tombstones.
CREATE VIEW IF NOT EXISTS {{database}}.ai_usage_hourly_exact{{on_cluster}} AS
SELECT * EXCEPT (max_inserted_at, version, is_deleted)
FROM {{database}}.ai_usage_hourly FINAL;

CREATE VIEW IF NOT EXISTS {{database}}.ai_usage_daily_exact{{on_cluster}} AS
SELECT * EXCEPT (max_version, version, is_deleted)
FROM {{database}}.ai_usage_daily FINAL;
