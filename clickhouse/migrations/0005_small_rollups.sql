-- genai-ledger 0005: small rollups for the dashboards' "All" views, still exact.
--
-- Measured with `npm run bench:dashboards` (10M calls over 90 days, 30-day range, 2 vCPUs): the
-- seeded traffic draws org, service, environment, model and feature independently, so the fine
-- hourly rollup (hour × org × service × environment × provider × model × operation × feature ×
-- priced model) holds ~770 groups per hour: a 30-day panel still read ~550k rows, and the rollup
-- panels were only ~1.5x faster than the raw ledger. Most panels, most of the time, are looked at
-- with org and feature on All, and never group by either. This file adds small rollups:
--
--   ai_usage_hourly_by_model    (hour, service, environment, provider, model, operation, priced
--                               model) with every measure the overview, model and anomaly panels
--                               read (no Map columns): read when org and feature are All
--   ai_usage_hourly_by_org      (hour, org): calls and spend, for "top orgs", "orgs whose spend
--                               jumped" and the $org list, when no other filter is set
--   ai_usage_daily_by_org       (day, org): the same per day, folded from the hourly one: those
--                               queries read it for the whole days of the range and the hourly
--                               one only for the hours at its edges
--   ai_usage_hourly_by_feature  (hour, feature): the same for features
--   ai_usage_hourly_by_org_model (org, hour, provider, model, priced model), org first: the tenant
--                               drill-down's totals, caching, unpriced calls, month and spend by
--                               model, when service, environment and feature are All
--   ai_usage_latency_daily      one latency digest per (day, provider, model), folded from 0004's
--                               hourly one: the latency panels merge one digest per day for the
--                               whole days of the range and the hourly ones only at its edges
--
-- A panel holds both branches, the small rollup and the fine one, and `$__conditionalAll(0, $var)`
-- turns off the one that does not apply (as 0004's latency panels do).
--
-- Derived like the other rollups: a refreshable view re-folds the hours (days) whose rows in its
-- source changed since the last refresh (watermark: the largest source version already folded,
-- minus the overlap), from the source's FINAL, and writes the groups with a new version; groups
-- that vanished from a re-folded hour get a tombstone through the FULL JOIN with the previous rows.
-- The hourly ones fold ai_usage_hourly_by_time (the time-ordered copy of the fine rollup,
-- tombstones included); the daily ones fold their hourly one. Re-running a refresh rewrites the
-- same figures. On an existing store the first refresh finds an empty table (watermark 1970) and so
-- folds every hour: the backfill. ReplacingMergeTree(version, is_deleted), read through the *_exact
-- views (FINAL, no merging across partitions: every table is partitioned by a function of its time
-- column, which is in its sorting key). Refresh order: clickhouse/migrate.ts ROLLUP_REFRESH_VIEWS.
-- {{#...}} blocks are macros: clickhouse/migrate.ts spells out the statements they expand to.

{{#rollup_table ai_usage_hourly_by_model}}
partition: toYYYYMM(hour)
order: hour, provider, request_model, service_name, environment, operation, priced_model
columns:
    hour                      DateTime('UTC'),
    service_name              LowCardinality(String),
    environment               LowCardinality(String),
    provider                  LowCardinality(String),
    request_model             LowCardinality(String),
    operation                 LowCardinality(String),
    priced_model              LowCardinality(String),
    calls                     UInt64,
    errors                    UInt64,
    unpriced_calls            UInt64,
    input_tokens              UInt64,
    output_tokens             UInt64,
    cache_read_tokens         UInt64,
    cache_write_tokens        UInt64,
    reasoning_tokens          UInt64,
    input_audio_tokens        UInt64,
    output_audio_tokens       UInt64,
    cost_usd                  Decimal(38, 18),
    error_cost_usd            Decimal(38, 18),
    cache_saved_usd           Decimal(38, 18),
    cache_read_priced_tokens  UInt64,
    cache_read_paid_usd       Decimal(38, 18),
    duration_ms_sum           Float64,
    duration_ms_quantiles     AggregateFunction(quantilesTDigest(0.5, 0.9, 0.95, 0.99), Float64),
    -- Largest ai_usage_hourly_by_time.version folded into this row: the refresh watermark.
    max_version               DateTime64(6, 'UTC'),
{{/rollup_table}}

{{#rollup_table ai_usage_hourly_by_org}}
partition: toYYYYMM(hour)
order: hour, org_id
columns:
    hour                      DateTime('UTC'),
    org_id                    String,
    calls                     UInt64,
    unpriced_calls            UInt64,
    cost_usd                  Decimal(38, 18),
    max_version               DateTime64(6, 'UTC'),
{{/rollup_table}}

{{#rollup_table ai_usage_hourly_by_feature}}
partition: toYYYYMM(hour)
order: hour, feature
columns:
    hour                      DateTime('UTC'),
    feature                   LowCardinality(String),
    calls                     UInt64,
    unpriced_calls            UInt64,
    cost_usd                  Decimal(38, 18),
    max_version               DateTime64(6, 'UTC'),
{{/rollup_table}}

{{#rollup_table ai_usage_hourly_by_org_model}}
partition: toYYYYMM(hour)
order: org_id, hour, provider, request_model, priced_model
columns:
    hour                      DateTime('UTC'),
    org_id                    String,
    provider                  LowCardinality(String),
    request_model             LowCardinality(String),
    priced_model              LowCardinality(String),
    calls                     UInt64,
    errors                    UInt64,
    unpriced_calls            UInt64,
    input_tokens              UInt64,
    output_tokens             UInt64,
    cache_read_tokens         UInt64,
    cost_usd                  Decimal(38, 18),
    error_cost_usd            Decimal(38, 18),
    cache_read_priced_tokens  UInt64,
    cache_read_paid_usd       Decimal(38, 18),
    max_version               DateTime64(6, 'UTC'),
{{/rollup_table}}

{{#rollup_table ai_usage_latency_daily}}
partition: toYear(day)
order: day, provider, request_model
columns:
    day                   Date,
    provider              LowCardinality(String),
    request_model         LowCardinality(String),
    calls                 UInt64,
    duration_ms_sum       Float64,
    duration_ms_quantiles AggregateFunction(quantilesTDigest(0.5, 0.9, 0.95, 0.99), Float64),
    -- Largest ai_usage_latency_hourly.version folded into this row: the refresh watermark.
    max_version           DateTime64(6, 'UTC'),
{{/rollup_table}}

{{#rollup_table ai_usage_daily_by_org}}
partition: toYear(day)
order: day, org_id
columns:
    day                       Date,
    org_id                    String,
    calls                     UInt64,
    unpriced_calls            UInt64,
    cost_usd                  Decimal(38, 18),
    -- Largest ai_usage_hourly_by_org.version folded into this row: the refresh watermark.
    max_version               DateTime64(6, 'UTC'),
{{/rollup_table}}

{{#each table in ai_usage_hourly_by_model, ai_usage_hourly_by_org, ai_usage_hourly_by_feature, ai_usage_hourly_by_org_model, ai_usage_latency_daily, ai_usage_daily_by_org}}
-- @cluster-only
CREATE TABLE IF NOT EXISTS {{database}}.{{table}}{{on_cluster}} AS {{database}}.{{table}}_local
ENGINE = Distributed('{{cluster}}', '{{database}}', '{{table}}_local', rand());
{{/each}}

{{#refresh_view ai_usage_hourly_by_model}}
from: ai_usage_hourly_by_time
after: ai_usage_hourly_by_time_refresh
dirty: hour
keys: hour, service_name, environment, provider, request_model, operation, priced_model
columns:
    hour, service_name, environment, provider, request_model, operation, priced_model,
    calls, errors, unpriced_calls,
    input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens,
    input_audio_tokens, output_audio_tokens,
    cost_usd, error_cost_usd, cache_saved_usd, cache_read_priced_tokens, cache_read_paid_usd,
    duration_ms_sum, duration_ms_quantiles,
    max_version,
fresh:
        hour, service_name, environment, provider, request_model, operation, priced_model,
        {{sum calls, errors, unpriced_calls}}
        {{sum input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens}}
        {{sum input_audio_tokens, output_audio_tokens}}
        {{sum cost_usd, error_cost_usd, cache_saved_usd, cache_read_priced_tokens, cache_read_paid_usd}}
        {{sum duration_ms_sum}}
        quantilesTDigestMergeState(0.5, 0.9, 0.95, 0.99)(duration_ms_quantiles) AS duration_ms_quantiles,
        max(version) AS max_version
{{/refresh_view}}

{{#refresh_view ai_usage_hourly_by_org}}
from: ai_usage_hourly_by_time
after: ai_usage_hourly_by_time_refresh
dirty: hour
keys: hour, org_id
columns:
    hour, org_id, calls, unpriced_calls, cost_usd, max_version,
fresh:
        hour, org_id,
        {{sum calls, unpriced_calls, cost_usd}}
        max(version) AS max_version
{{/refresh_view}}

{{#refresh_view ai_usage_hourly_by_feature}}
from: ai_usage_hourly_by_time
after: ai_usage_hourly_by_time_refresh
dirty: hour
keys: hour, feature
columns:
    hour, feature, calls, unpriced_calls, cost_usd, max_version,
fresh:
        hour, feature,
        {{sum calls, unpriced_calls, cost_usd}}
        max(version) AS max_version
{{/refresh_view}}

{{#refresh_view ai_usage_hourly_by_org_model}}
from: ai_usage_hourly_by_time
after: ai_usage_hourly_by_time_refresh
dirty: hour
keys: hour, org_id, provider, request_model, priced_model
columns:
    hour, org_id, provider, request_model, priced_model,
    calls, errors, unpriced_calls, input_tokens, output_tokens, cache_read_tokens,
    cost_usd, error_cost_usd, cache_read_priced_tokens, cache_read_paid_usd,
    max_version,
fresh:
        hour, org_id, provider, request_model, priced_model,
        {{sum calls, errors, unpriced_calls, input_tokens, output_tokens, cache_read_tokens}}
        {{sum cost_usd, error_cost_usd, cache_read_priced_tokens, cache_read_paid_usd}}
        max(version) AS max_version
{{/refresh_view}}

-- The days whose hourly latency rows changed (tombstones included: the dirty-day scan reads the
-- hourly table without FINAL), re-merged.
{{#refresh_view ai_usage_latency_daily}}
from: ai_usage_latency_hourly
after: ai_usage_latency_hourly_refresh
dirty: toDate(hour) AS day
keys: day, provider, request_model
columns:
    day, provider, request_model, calls, duration_ms_sum, duration_ms_quantiles, max_version,
fresh:
        toDate(hour) AS day, provider, request_model,
        {{sum calls, duration_ms_sum}}
        quantilesTDigestMergeState(0.5, 0.9, 0.95, 0.99)(duration_ms_quantiles) AS duration_ms_quantiles,
        max(version) AS max_version
{{/refresh_view}}

-- The days whose hourly per-org rows changed (tombstones included, as above), re-folded.
{{#refresh_view ai_usage_daily_by_org}}
from: ai_usage_hourly_by_org
after: ai_usage_hourly_by_org_refresh
dirty: toDate(hour) AS day
keys: day, org_id
columns:
    day, org_id, calls, unpriced_calls, cost_usd, max_version,
fresh:
        toDate(hour) AS day, org_id,
        {{sum calls, unpriced_calls, cost_usd}}
        max(version) AS max_version
{{/refresh_view}}

-- The relations to query (FINAL collapses versions and drops tombstones).
{{#each table in ai_usage_hourly_by_model, ai_usage_hourly_by_org, ai_usage_hourly_by_feature, ai_usage_hourly_by_org_model, ai_usage_latency_daily, ai_usage_daily_by_org}}
CREATE VIEW IF NOT EXISTS {{database}}.{{table}}_exact{{on_cluster}} AS
SELECT * EXCEPT (max_version, version, is_deleted)
FROM {{database}}.{{table}} FINAL
SETTINGS do_not_merge_across_partitions_select_final = 1;
{{/each}}
