-- genai-ledger 0004: rollups the dashboards can read in well under 100 ms, still exact.
--
-- Measured with `npm run bench:dashboards` (10M calls over 90 days, 30-day range, 2 vCPUs): with
-- 0002 alone about half the panel queries took over 100 ms and the rollup was only 2.5-7x faster
-- than the raw ledger. What cost the time, and what this file changes:
--
-- 1. FINAL on an org-first rollup. Every refresh writes a small part holding the newest hours of
--    every org; ordered (org_id, hour, ...), that part overlaps the whole key range of its month,
--    so FINAL merges the entire month on every read. ai_usage_hourly_by_time is the same rollup
--    ordered (hour, org_id, ...): a fresh part overlaps only the newest hours, and FINAL reads the
--    rest of the month without merging (ClickHouse splits a FINAL read into intersecting and
--    non-intersecting ranges). It is a copy of ai_usage_hourly, rows and tombstones, made by a
--    refresh that copies the rows written since its last run (cheap: no aggregation), so it holds
--    exactly what ai_usage_hourly holds and its FINAL gives the same answers. ai_usage_hourly stays
--    the rollup that is recomputed from ai_usage (and the one to query per tenant: org first).
-- 2. Panels that had to read the raw ledger or Map columns: the rollups gain
--      priced_model              (a dimension: list prices are looked up per priced model and day)
--      error_cost_usd            what failed calls cost
--      cache_saved_usd           per rollup group: cache reads at the uncached input price the group
--                                paid, minus what the cache reads were billed (the overview's
--                                definition; grafana/README.md)
--      cache_read_priced_tokens  cache-read tokens of calls that were billed cache reads separately,
--      cache_read_paid_usd       and what those reads were billed: with model_prices they give the
--                                saving at list prices (the tenant's definition) without the raw rows
-- 3. Latency percentiles merged from one t-digest per fine group (hundreds of thousands per month):
--    ai_usage_latency_hourly holds one merged digest per (hour, provider, model), for the panels
--    when no org/service/environment/feature filter is set.
-- 4. The refresh itself: `has(dirty_hours, x)` scanned every dirty hour for every row (10M rows
--    through SYSTEM REFRESH VIEW: 193 s); `x IN (SELECT arrayJoin(dirty_hours))` is a hash set.
--    The "previous rows" side of the refresh now reads only the dirty hours' range.
--
-- Upgrade of an existing store: a materialized view's query cannot be altered in all cases, so the
-- refresh views are dropped and created again. The new columns are added to the existing tables
-- with defaults; rows written by 0002's refresh keep rollup_version = 2, and the hourly refresh's
-- watermark only counts rows it wrote itself (rollup_version >= 4), so its first run after the
-- upgrade recomputes every hour from ai_usage FINAL (the backfill) and tombstones the old groups
-- (they had no priced_model). Until that first run finishes the old rows keep serving exact calls,
-- tokens and costs (the new columns read 0). The new tables are filled by their first refresh (the
-- copy takes the whole of ai_usage_hourly; the latency rollup every hour of the copy).
-- Safe to re-run and to race: DROP ... IF EXISTS, ADD COLUMN IF NOT EXISTS, CREATE ... IF NOT EXISTS,
-- CREATE OR REPLACE VIEW; "already exists" from a racing migrator is tolerated by migrate.ts.
--
-- The exact views read FINAL with do_not_merge_across_partitions_select_final: every table here is
-- partitioned by a function of its time column, which is in its sorting key, so one group's
-- versions never span partitions and partitions without overlapping parts are read as they are.
-- {{#...}} blocks are macros: clickhouse/migrate.ts spells out the statements they expand to.

DROP VIEW IF EXISTS {{database}}.ai_usage_daily_refresh{{on_cluster}};

DROP VIEW IF EXISTS {{database}}.ai_usage_hourly_refresh{{on_cluster}};

ALTER TABLE {{database}}.ai_usage_hourly{{local}}{{on_cluster}}
    ADD COLUMN IF NOT EXISTS priced_model LowCardinality(String) AFTER feature,
    ADD COLUMN IF NOT EXISTS error_cost_usd Decimal(38, 18) AFTER cost_breakdown,
    ADD COLUMN IF NOT EXISTS cache_saved_usd Decimal(38, 18) AFTER error_cost_usd,
    ADD COLUMN IF NOT EXISTS cache_read_priced_tokens UInt64 AFTER cache_saved_usd,
    ADD COLUMN IF NOT EXISTS cache_read_paid_usd Decimal(38, 18) AFTER cache_read_priced_tokens,
    ADD COLUMN IF NOT EXISTS rollup_version UInt8 DEFAULT 2 AFTER is_deleted,
    MODIFY ORDER BY (org_id, hour, provider, request_model, service_name, environment, operation, feature, priced_model);

ALTER TABLE {{database}}.ai_usage_daily{{local}}{{on_cluster}}
    ADD COLUMN IF NOT EXISTS priced_model LowCardinality(String) AFTER feature,
    ADD COLUMN IF NOT EXISTS error_cost_usd Decimal(38, 18) AFTER cost_breakdown,
    ADD COLUMN IF NOT EXISTS cache_saved_usd Decimal(38, 18) AFTER error_cost_usd,
    ADD COLUMN IF NOT EXISTS cache_read_priced_tokens UInt64 AFTER cache_saved_usd,
    ADD COLUMN IF NOT EXISTS cache_read_paid_usd Decimal(38, 18) AFTER cache_read_priced_tokens,
    MODIFY ORDER BY (org_id, day, provider, request_model, service_name, environment, operation, feature, priced_model);

-- @cluster-only
ALTER TABLE {{database}}.ai_usage_hourly{{on_cluster}}
    ADD COLUMN IF NOT EXISTS priced_model LowCardinality(String) AFTER feature,
    ADD COLUMN IF NOT EXISTS error_cost_usd Decimal(38, 18) AFTER cost_breakdown,
    ADD COLUMN IF NOT EXISTS cache_saved_usd Decimal(38, 18) AFTER error_cost_usd,
    ADD COLUMN IF NOT EXISTS cache_read_priced_tokens UInt64 AFTER cache_saved_usd,
    ADD COLUMN IF NOT EXISTS cache_read_paid_usd Decimal(38, 18) AFTER cache_read_priced_tokens,
    ADD COLUMN IF NOT EXISTS rollup_version UInt8 DEFAULT 2 AFTER is_deleted;

-- @cluster-only
ALTER TABLE {{database}}.ai_usage_daily{{on_cluster}}
    ADD COLUMN IF NOT EXISTS priced_model LowCardinality(String) AFTER feature,
    ADD COLUMN IF NOT EXISTS error_cost_usd Decimal(38, 18) AFTER cost_breakdown,
    ADD COLUMN IF NOT EXISTS cache_saved_usd Decimal(38, 18) AFTER error_cost_usd,
    ADD COLUMN IF NOT EXISTS cache_read_priced_tokens UInt64 AFTER cache_saved_usd,
    ADD COLUMN IF NOT EXISTS cache_read_paid_usd Decimal(38, 18) AFTER cache_read_priced_tokens;

-- The hourly rollup ordered by time first: same columns, same engine, same rows.
CREATE TABLE IF NOT EXISTS {{database}}.ai_usage_hourly_by_time{{local}}{{on_cluster}}
AS {{database}}.ai_usage_hourly{{local}}
ENGINE = {{replicated}}ReplacingMergeTree({{replica_args}}version, is_deleted)
PARTITION BY toYYYYMM(hour)
PRIMARY KEY (hour, org_id, provider, request_model)
ORDER BY (hour, org_id, provider, request_model, service_name, environment, operation, feature, priced_model);

-- One latency digest per (hour, provider, model), merged from the fine groups of the copy above.
{{#rollup_table ai_usage_latency_hourly}}
partition: toYYYYMM(hour)
order: hour, provider, request_model
columns:
    hour                  DateTime('UTC'),
    provider              LowCardinality(String),
    request_model         LowCardinality(String),
    calls                 UInt64,
    duration_ms_sum       Float64,
    duration_ms_quantiles AggregateFunction(quantilesTDigest(0.5, 0.9, 0.95, 0.99), Float64),
    -- Largest ai_usage_hourly_by_time.version folded into this row: the refresh watermark.
    max_version           DateTime64(6, 'UTC'),
{{/rollup_table}}

{{#each table in ai_usage_hourly_by_time, ai_usage_latency_hourly}}
-- @cluster-only
CREATE TABLE IF NOT EXISTS {{database}}.{{table}}{{on_cluster}} AS {{database}}.{{table}}_local
ENGINE = Distributed('{{cluster}}', '{{database}}', '{{table}}_local', rand());
{{/each}}

-- Hourly refresh (0002's, plus priced_model and the new measures, a hash set for the dirty hours,
-- and a watermark over the rows this version of the refresh wrote).
{{#refresh_view ai_usage_hourly}}
from: ai_usage AS u
dirty: toStartOfHour(ts) AS hour
keys: hour, org_id, service_name, environment, provider, request_model, operation, feature, priced_model
rollup_version: 4
append: same_line
columns:
    hour, org_id, service_name, environment, provider, request_model, operation, feature, priced_model,
    calls, errors, unpriced_calls,
    input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens,
    input_audio_tokens, output_audio_tokens, usage_details,
    cost_sum AS cost_usd, cost_breakdown,
    error_cost_usd,
    if(cache_read_tokens > 0 AND uncached_input_tokens > 0 AND mapContains(cost_breakdown, 'cache_read_tokens'),
       cost_breakdown['input_tokens'] * cache_read_tokens / uncached_input_tokens - cost_breakdown['cache_read_tokens'],
       toDecimal128(0, 18)) AS cache_saved_usd,
    cache_read_priced_tokens, cache_read_paid_usd,
    duration_ms_sum, duration_ms_quantiles,
    max_inserted_at,
fresh:
        toStartOfHour(ts) AS hour,
        org_id, service_name, environment, provider, request_model, operation, feature, priced_model,
        count() AS calls,
        countIf(error_type != '') AS errors,
        countIf(cost_usd IS NULL) AS unpriced_calls,
        {{sum input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens}}
        {{sum input_audio_tokens, output_audio_tokens}}
        sumMap(usage_details) AS usage_details,
        sum(ifNull(cost_usd, toDecimal128(0, 18))) AS cost_sum,
        sumMap(cost_breakdown) AS cost_breakdown,
        -- Qualified: the unqualified names are the aggregates' aliases here.
        sumIf(ifNull(u.cost_usd, toDecimal128(0, 18)), u.error_type != '') AS error_cost_usd,
        sumIf(u.cache_read_tokens, mapContains(u.cost_breakdown, 'cache_read_tokens')) AS cache_read_priced_tokens,
        sum(u.cost_breakdown['cache_read_tokens']) AS cache_read_paid_usd,
        toInt64(input_tokens) - toInt64(cache_read_tokens)
            - if(mapContains(cost_breakdown, 'cache_write_tokens'), toInt64(cache_write_tokens), 0)
            - if(mapContains(cost_breakdown, 'input_audio_tokens'), toInt64(input_audio_tokens), 0) AS uncached_input_tokens,
        sum(duration_ms) AS duration_ms_sum,
        quantilesTDigestState(0.5, 0.9, 0.95, 0.99)(duration_ms) AS duration_ms_quantiles,
        max(inserted_at) AS max_inserted_at
{{/refresh_view}}

-- The copy ordered by time: every row (versions and tombstones) written to ai_usage_hourly since the
-- last copy, with the same overlap as the other refreshes.
CREATE MATERIALIZED VIEW IF NOT EXISTS {{database}}.ai_usage_hourly_by_time_refresh{{on_cluster}}
REFRESH EVERY {{refresh_seconds}} SECOND DEPENDS ON {{database}}.ai_usage_hourly_refresh
APPEND TO {{database}}.ai_usage_hourly_by_time{{local}}
AS
SELECT *
FROM {{database}}.ai_usage_hourly{{local}}
WHERE version > (SELECT max(version) FROM {{database}}.ai_usage_hourly_by_time{{local}}) - INTERVAL {{watermark_lag_seconds}} SECOND;

-- Latency per (hour, provider, model): re-merges the hours whose copied rows changed, tombstones
-- groups that vanished.
{{#refresh_view ai_usage_latency_hourly}}
from: ai_usage_hourly_by_time
after: ai_usage_hourly_by_time_refresh
dirty: hour
keys: hour, provider, request_model
columns:
    hour, provider, request_model, calls, duration_ms_sum, duration_ms_quantiles, max_version,
fresh:
        hour, provider, request_model,
        {{sum calls, duration_ms_sum}}
        quantilesTDigestMergeState(0.5, 0.9, 0.95, 0.99)(duration_ms_quantiles) AS duration_ms_quantiles,
        max(version) AS max_version
{{/refresh_view}}

-- Daily refresh (0002's, plus priced_model and the new measures, hash sets, range-filtered previous rows).
{{#refresh_view ai_usage_daily}}
from: ai_usage_hourly
after: ai_usage_hourly_refresh
dirty: toDate(hour) AS day
keys: day, org_id, service_name, environment, provider, request_model, operation, feature, priced_model
columns:
    day, org_id, service_name, environment, provider, request_model, operation, feature, priced_model,
    calls, errors, unpriced_calls,
    input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens,
    input_audio_tokens, output_audio_tokens, usage_details,
    cost_usd, cost_breakdown, error_cost_usd, cache_saved_usd, cache_read_priced_tokens, cache_read_paid_usd,
    duration_ms_sum, duration_ms_quantiles,
    max_version,
fresh:
        toDate(hour) AS day,
        org_id, service_name, environment, provider, request_model, operation, feature, priced_model,
        {{sum calls, errors, unpriced_calls}}
        {{sum input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens}}
        {{sum input_audio_tokens, output_audio_tokens}}
        sumMap(usage_details) AS usage_details,
        sum(cost_usd) AS cost_usd,
        sumMap(cost_breakdown) AS cost_breakdown,
        {{sum error_cost_usd, cache_saved_usd, cache_read_priced_tokens, cache_read_paid_usd}}
        {{sum duration_ms_sum}}
        quantilesTDigestMergeState(0.5, 0.9, 0.95, 0.99)(duration_ms_quantiles) AS duration_ms_quantiles,
        max(version) AS max_version
{{/refresh_view}}

-- The relations to query (FINAL collapses versions and drops tombstones).
CREATE OR REPLACE VIEW {{database}}.ai_usage_hourly_exact{{on_cluster}} AS
SELECT * EXCEPT (max_inserted_at, version, is_deleted, rollup_version)
FROM {{database}}.ai_usage_hourly FINAL
SETTINGS do_not_merge_across_partitions_select_final = 1;

CREATE OR REPLACE VIEW {{database}}.ai_usage_daily_exact{{on_cluster}} AS
SELECT * EXCEPT (max_version, version, is_deleted)
FROM {{database}}.ai_usage_daily FINAL
SETTINGS do_not_merge_across_partitions_select_final = 1;

CREATE VIEW IF NOT EXISTS {{database}}.ai_usage_hourly_by_time_exact{{on_cluster}} AS
SELECT * EXCEPT (max_inserted_at, version, is_deleted, rollup_version)
FROM {{database}}.ai_usage_hourly_by_time FINAL
SETTINGS do_not_merge_across_partitions_select_final = 1;

CREATE VIEW IF NOT EXISTS {{database}}.ai_usage_latency_hourly_exact{{on_cluster}} AS
SELECT * EXCEPT (max_version, version, is_deleted)
FROM {{database}}.ai_usage_latency_hourly FINAL
SETTINGS do_not_merge_across_partitions_select_final = 1;
