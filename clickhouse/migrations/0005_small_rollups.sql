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

CREATE TABLE IF NOT EXISTS {{database}}.ai_usage_hourly_by_model{{local}}{{on_cluster}}
(
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
    version                   DateTime64(6, 'UTC'),
    is_deleted                UInt8
)
ENGINE = {{replicated}}ReplacingMergeTree({{replica_args}}version, is_deleted)
PARTITION BY toYYYYMM(hour)
ORDER BY (hour, provider, request_model, service_name, environment, operation, priced_model);

CREATE TABLE IF NOT EXISTS {{database}}.ai_usage_hourly_by_org{{local}}{{on_cluster}}
(
    hour                      DateTime('UTC'),
    org_id                    String,
    calls                     UInt64,
    unpriced_calls            UInt64,
    cost_usd                  Decimal(38, 18),
    max_version               DateTime64(6, 'UTC'),
    version                   DateTime64(6, 'UTC'),
    is_deleted                UInt8
)
ENGINE = {{replicated}}ReplacingMergeTree({{replica_args}}version, is_deleted)
PARTITION BY toYYYYMM(hour)
ORDER BY (hour, org_id);

CREATE TABLE IF NOT EXISTS {{database}}.ai_usage_hourly_by_feature{{local}}{{on_cluster}}
(
    hour                      DateTime('UTC'),
    feature                   LowCardinality(String),
    calls                     UInt64,
    unpriced_calls            UInt64,
    cost_usd                  Decimal(38, 18),
    max_version               DateTime64(6, 'UTC'),
    version                   DateTime64(6, 'UTC'),
    is_deleted                UInt8
)
ENGINE = {{replicated}}ReplacingMergeTree({{replica_args}}version, is_deleted)
PARTITION BY toYYYYMM(hour)
ORDER BY (hour, feature);

CREATE TABLE IF NOT EXISTS {{database}}.ai_usage_hourly_by_org_model{{local}}{{on_cluster}}
(
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
    version                   DateTime64(6, 'UTC'),
    is_deleted                UInt8
)
ENGINE = {{replicated}}ReplacingMergeTree({{replica_args}}version, is_deleted)
PARTITION BY toYYYYMM(hour)
ORDER BY (org_id, hour, provider, request_model, priced_model);

CREATE TABLE IF NOT EXISTS {{database}}.ai_usage_latency_daily{{local}}{{on_cluster}}
(
    day                   Date,
    provider              LowCardinality(String),
    request_model         LowCardinality(String),
    calls                 UInt64,
    duration_ms_sum       Float64,
    duration_ms_quantiles AggregateFunction(quantilesTDigest(0.5, 0.9, 0.95, 0.99), Float64),
    -- Largest ai_usage_latency_hourly.version folded into this row: the refresh watermark.
    max_version           DateTime64(6, 'UTC'),
    version               DateTime64(6, 'UTC'),
    is_deleted            UInt8
)
ENGINE = {{replicated}}ReplacingMergeTree({{replica_args}}version, is_deleted)
PARTITION BY toYear(day)
ORDER BY (day, provider, request_model);

CREATE TABLE IF NOT EXISTS {{database}}.ai_usage_daily_by_org{{local}}{{on_cluster}}
(
    day                       Date,
    org_id                    String,
    calls                     UInt64,
    unpriced_calls            UInt64,
    cost_usd                  Decimal(38, 18),
    -- Largest ai_usage_hourly_by_org.version folded into this row: the refresh watermark.
    max_version               DateTime64(6, 'UTC'),
    version                   DateTime64(6, 'UTC'),
    is_deleted                UInt8
)
ENGINE = {{replicated}}ReplacingMergeTree({{replica_args}}version, is_deleted)
PARTITION BY toYear(day)
ORDER BY (day, org_id);

-- @cluster-only
CREATE TABLE IF NOT EXISTS {{database}}.ai_usage_hourly_by_model{{on_cluster}} AS {{database}}.ai_usage_hourly_by_model_local
ENGINE = Distributed('{{cluster}}', '{{database}}', 'ai_usage_hourly_by_model_local', rand());

-- @cluster-only
CREATE TABLE IF NOT EXISTS {{database}}.ai_usage_hourly_by_org{{on_cluster}} AS {{database}}.ai_usage_hourly_by_org_local
ENGINE = Distributed('{{cluster}}', '{{database}}', 'ai_usage_hourly_by_org_local', rand());

-- @cluster-only
CREATE TABLE IF NOT EXISTS {{database}}.ai_usage_hourly_by_feature{{on_cluster}} AS {{database}}.ai_usage_hourly_by_feature_local
ENGINE = Distributed('{{cluster}}', '{{database}}', 'ai_usage_hourly_by_feature_local', rand());

-- @cluster-only
CREATE TABLE IF NOT EXISTS {{database}}.ai_usage_hourly_by_org_model{{on_cluster}} AS {{database}}.ai_usage_hourly_by_org_model_local
ENGINE = Distributed('{{cluster}}', '{{database}}', 'ai_usage_hourly_by_org_model_local', rand());

-- @cluster-only
CREATE TABLE IF NOT EXISTS {{database}}.ai_usage_latency_daily{{on_cluster}} AS {{database}}.ai_usage_latency_daily_local
ENGINE = Distributed('{{cluster}}', '{{database}}', 'ai_usage_latency_daily_local', rand());

-- @cluster-only
CREATE TABLE IF NOT EXISTS {{database}}.ai_usage_daily_by_org{{on_cluster}} AS {{database}}.ai_usage_daily_by_org_local
ENGINE = Distributed('{{cluster}}', '{{database}}', 'ai_usage_daily_by_org_local', rand());

CREATE MATERIALIZED VIEW IF NOT EXISTS {{database}}.ai_usage_hourly_by_model_refresh{{on_cluster}}
REFRESH EVERY {{refresh_seconds}} SECOND DEPENDS ON {{database}}.ai_usage_hourly_by_time_refresh
APPEND TO {{database}}.ai_usage_hourly_by_model{{local}}
AS
WITH
    (SELECT max(max_version) FROM {{database}}.ai_usage_hourly_by_model{{local}}) - INTERVAL {{watermark_lag_seconds}} SECOND AS since,
    (SELECT groupUniqArray(hour) FROM {{database}}.ai_usage_hourly_by_time{{local}} WHERE version > since) AS dirty_hours
SELECT
    hour, service_name, environment, provider, request_model, operation, priced_model,
    calls, errors, unpriced_calls,
    input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens,
    input_audio_tokens, output_audio_tokens,
    cost_usd, error_cost_usd, cache_saved_usd, cache_read_priced_tokens, cache_read_paid_usd,
    duration_ms_sum, duration_ms_quantiles,
    max_version,
    now64(6) AS version,
    toUInt8(calls = 0) AS is_deleted
FROM
(
    SELECT
        hour, service_name, environment, provider, request_model, operation, priced_model,
        sum(calls) AS calls,
        sum(errors) AS errors,
        sum(unpriced_calls) AS unpriced_calls,
        sum(input_tokens) AS input_tokens,
        sum(output_tokens) AS output_tokens,
        sum(cache_read_tokens) AS cache_read_tokens,
        sum(cache_write_tokens) AS cache_write_tokens,
        sum(reasoning_tokens) AS reasoning_tokens,
        sum(input_audio_tokens) AS input_audio_tokens,
        sum(output_audio_tokens) AS output_audio_tokens,
        sum(cost_usd) AS cost_usd,
        sum(error_cost_usd) AS error_cost_usd,
        sum(cache_saved_usd) AS cache_saved_usd,
        sum(cache_read_priced_tokens) AS cache_read_priced_tokens,
        sum(cache_read_paid_usd) AS cache_read_paid_usd,
        sum(duration_ms_sum) AS duration_ms_sum,
        quantilesTDigestMergeState(0.5, 0.9, 0.95, 0.99)(duration_ms_quantiles) AS duration_ms_quantiles,
        max(version) AS max_version
    FROM {{database}}.ai_usage_hourly_by_time{{local}} FINAL
    WHERE hour >= arrayMin(dirty_hours)
      AND hour <= arrayMax(dirty_hours)
      AND hour IN (SELECT arrayJoin(dirty_hours))
    GROUP BY hour, service_name, environment, provider, request_model, operation, priced_model
) AS fresh
FULL OUTER JOIN
(
    SELECT hour, service_name, environment, provider, request_model, operation, priced_model
    FROM {{database}}.ai_usage_hourly_by_model{{local}} FINAL
    WHERE hour >= arrayMin(dirty_hours)
      AND hour <= arrayMax(dirty_hours)
      AND hour IN (SELECT arrayJoin(dirty_hours))
) AS previous
USING (hour, service_name, environment, provider, request_model, operation, priced_model)
SETTINGS join_use_nulls = 0;

CREATE MATERIALIZED VIEW IF NOT EXISTS {{database}}.ai_usage_hourly_by_org_refresh{{on_cluster}}
REFRESH EVERY {{refresh_seconds}} SECOND DEPENDS ON {{database}}.ai_usage_hourly_by_time_refresh
APPEND TO {{database}}.ai_usage_hourly_by_org{{local}}
AS
WITH
    (SELECT max(max_version) FROM {{database}}.ai_usage_hourly_by_org{{local}}) - INTERVAL {{watermark_lag_seconds}} SECOND AS since,
    (SELECT groupUniqArray(hour) FROM {{database}}.ai_usage_hourly_by_time{{local}} WHERE version > since) AS dirty_hours
SELECT
    hour, org_id, calls, unpriced_calls, cost_usd, max_version,
    now64(6) AS version,
    toUInt8(calls = 0) AS is_deleted
FROM
(
    SELECT
        hour, org_id,
        sum(calls) AS calls,
        sum(unpriced_calls) AS unpriced_calls,
        sum(cost_usd) AS cost_usd,
        max(version) AS max_version
    FROM {{database}}.ai_usage_hourly_by_time{{local}} FINAL
    WHERE hour >= arrayMin(dirty_hours)
      AND hour <= arrayMax(dirty_hours)
      AND hour IN (SELECT arrayJoin(dirty_hours))
    GROUP BY hour, org_id
) AS fresh
FULL OUTER JOIN
(
    SELECT hour, org_id
    FROM {{database}}.ai_usage_hourly_by_org{{local}} FINAL
    WHERE hour >= arrayMin(dirty_hours)
      AND hour <= arrayMax(dirty_hours)
      AND hour IN (SELECT arrayJoin(dirty_hours))
) AS previous
USING (hour, org_id)
SETTINGS join_use_nulls = 0;

CREATE MATERIALIZED VIEW IF NOT EXISTS {{database}}.ai_usage_hourly_by_feature_refresh{{on_cluster}}
REFRESH EVERY {{refresh_seconds}} SECOND DEPENDS ON {{database}}.ai_usage_hourly_by_time_refresh
APPEND TO {{database}}.ai_usage_hourly_by_feature{{local}}
AS
WITH
    (SELECT max(max_version) FROM {{database}}.ai_usage_hourly_by_feature{{local}}) - INTERVAL {{watermark_lag_seconds}} SECOND AS since,
    (SELECT groupUniqArray(hour) FROM {{database}}.ai_usage_hourly_by_time{{local}} WHERE version > since) AS dirty_hours
SELECT
    hour, feature, calls, unpriced_calls, cost_usd, max_version,
    now64(6) AS version,
    toUInt8(calls = 0) AS is_deleted
FROM
(
    SELECT
        hour, feature,
        sum(calls) AS calls,
        sum(unpriced_calls) AS unpriced_calls,
        sum(cost_usd) AS cost_usd,
        max(version) AS max_version
    FROM {{database}}.ai_usage_hourly_by_time{{local}} FINAL
    WHERE hour >= arrayMin(dirty_hours)
      AND hour <= arrayMax(dirty_hours)
      AND hour IN (SELECT arrayJoin(dirty_hours))
    GROUP BY hour, feature
) AS fresh
FULL OUTER JOIN
(
    SELECT hour, feature
    FROM {{database}}.ai_usage_hourly_by_feature{{local}} FINAL
    WHERE hour >= arrayMin(dirty_hours)
      AND hour <= arrayMax(dirty_hours)
      AND hour IN (SELECT arrayJoin(dirty_hours))
) AS previous
USING (hour, feature)
SETTINGS join_use_nulls = 0;

CREATE MATERIALIZED VIEW IF NOT EXISTS {{database}}.ai_usage_hourly_by_org_model_refresh{{on_cluster}}
REFRESH EVERY {{refresh_seconds}} SECOND DEPENDS ON {{database}}.ai_usage_hourly_by_time_refresh
APPEND TO {{database}}.ai_usage_hourly_by_org_model{{local}}
AS
WITH
    (SELECT max(max_version) FROM {{database}}.ai_usage_hourly_by_org_model{{local}}) - INTERVAL {{watermark_lag_seconds}} SECOND AS since,
    (SELECT groupUniqArray(hour) FROM {{database}}.ai_usage_hourly_by_time{{local}} WHERE version > since) AS dirty_hours
SELECT
    hour, org_id, provider, request_model, priced_model,
    calls, errors, unpriced_calls, input_tokens, output_tokens, cache_read_tokens,
    cost_usd, error_cost_usd, cache_read_priced_tokens, cache_read_paid_usd,
    max_version,
    now64(6) AS version,
    toUInt8(calls = 0) AS is_deleted
FROM
(
    SELECT
        hour, org_id, provider, request_model, priced_model,
        sum(calls) AS calls,
        sum(errors) AS errors,
        sum(unpriced_calls) AS unpriced_calls,
        sum(input_tokens) AS input_tokens,
        sum(output_tokens) AS output_tokens,
        sum(cache_read_tokens) AS cache_read_tokens,
        sum(cost_usd) AS cost_usd,
        sum(error_cost_usd) AS error_cost_usd,
        sum(cache_read_priced_tokens) AS cache_read_priced_tokens,
        sum(cache_read_paid_usd) AS cache_read_paid_usd,
        max(version) AS max_version
    FROM {{database}}.ai_usage_hourly_by_time{{local}} FINAL
    WHERE hour >= arrayMin(dirty_hours)
      AND hour <= arrayMax(dirty_hours)
      AND hour IN (SELECT arrayJoin(dirty_hours))
    GROUP BY hour, org_id, provider, request_model, priced_model
) AS fresh
FULL OUTER JOIN
(
    SELECT hour, org_id, provider, request_model, priced_model
    FROM {{database}}.ai_usage_hourly_by_org_model{{local}} FINAL
    WHERE hour >= arrayMin(dirty_hours)
      AND hour <= arrayMax(dirty_hours)
      AND hour IN (SELECT arrayJoin(dirty_hours))
) AS previous
USING (hour, org_id, provider, request_model, priced_model)
SETTINGS join_use_nulls = 0;

-- The days whose hourly latency rows changed (tombstones included: the dirty-day scan reads the
-- hourly table without FINAL), re-merged.
CREATE MATERIALIZED VIEW IF NOT EXISTS {{database}}.ai_usage_latency_daily_refresh{{on_cluster}}
REFRESH EVERY {{refresh_seconds}} SECOND DEPENDS ON {{database}}.ai_usage_latency_hourly_refresh
APPEND TO {{database}}.ai_usage_latency_daily{{local}}
AS
WITH
    (SELECT max(max_version) FROM {{database}}.ai_usage_latency_daily{{local}}) - INTERVAL {{watermark_lag_seconds}} SECOND AS since,
    (SELECT groupUniqArray(toDate(hour)) FROM {{database}}.ai_usage_latency_hourly{{local}} WHERE version > since) AS dirty_days
SELECT
    day, provider, request_model, calls, duration_ms_sum, duration_ms_quantiles, max_version,
    now64(6) AS version,
    toUInt8(calls = 0) AS is_deleted
FROM
(
    SELECT
        toDate(hour) AS day, provider, request_model,
        sum(calls) AS calls,
        sum(duration_ms_sum) AS duration_ms_sum,
        quantilesTDigestMergeState(0.5, 0.9, 0.95, 0.99)(duration_ms_quantiles) AS duration_ms_quantiles,
        max(version) AS max_version
    FROM {{database}}.ai_usage_latency_hourly{{local}} FINAL
    WHERE hour >= toDateTime(arrayMin(dirty_days), 'UTC')
      AND hour < toDateTime(arrayMax(dirty_days), 'UTC') + INTERVAL 1 DAY
      AND toDate(hour) IN (SELECT arrayJoin(dirty_days))
    GROUP BY day, provider, request_model
) AS fresh
FULL OUTER JOIN
(
    SELECT day, provider, request_model
    FROM {{database}}.ai_usage_latency_daily{{local}} FINAL
    WHERE day >= arrayMin(dirty_days)
      AND day <= arrayMax(dirty_days)
      AND day IN (SELECT arrayJoin(dirty_days))
) AS previous
USING (day, provider, request_model)
SETTINGS join_use_nulls = 0;

-- The days whose hourly per-org rows changed (tombstones included: the dirty-day scan reads the
-- hourly table without FINAL), re-folded.
CREATE MATERIALIZED VIEW IF NOT EXISTS {{database}}.ai_usage_daily_by_org_refresh{{on_cluster}}
REFRESH EVERY {{refresh_seconds}} SECOND DEPENDS ON {{database}}.ai_usage_hourly_by_org_refresh
APPEND TO {{database}}.ai_usage_daily_by_org{{local}}
AS
WITH
    (SELECT max(max_version) FROM {{database}}.ai_usage_daily_by_org{{local}}) - INTERVAL {{watermark_lag_seconds}} SECOND AS since,
    (SELECT groupUniqArray(toDate(hour)) FROM {{database}}.ai_usage_hourly_by_org{{local}} WHERE version > since) AS dirty_days
SELECT
    day, org_id, calls, unpriced_calls, cost_usd, max_version,
    now64(6) AS version,
    toUInt8(calls = 0) AS is_deleted
FROM
(
    SELECT
        toDate(hour) AS day, org_id,
        sum(calls) AS calls,
        sum(unpriced_calls) AS unpriced_calls,
        sum(cost_usd) AS cost_usd,
        max(version) AS max_version
    FROM {{database}}.ai_usage_hourly_by_org{{local}} FINAL
    WHERE hour >= toDateTime(arrayMin(dirty_days), 'UTC')
      AND hour < toDateTime(arrayMax(dirty_days), 'UTC') + INTERVAL 1 DAY
      AND toDate(hour) IN (SELECT arrayJoin(dirty_days))
    GROUP BY day, org_id
) AS fresh
FULL OUTER JOIN
(
    SELECT day, org_id
    FROM {{database}}.ai_usage_daily_by_org{{local}} FINAL
    WHERE day >= arrayMin(dirty_days)
      AND day <= arrayMax(dirty_days)
      AND day IN (SELECT arrayJoin(dirty_days))
) AS previous
USING (day, org_id)
SETTINGS join_use_nulls = 0;

-- The relations to query (FINAL collapses versions and drops tombstones).
CREATE VIEW IF NOT EXISTS {{database}}.ai_usage_hourly_by_model_exact{{on_cluster}} AS
SELECT * EXCEPT (max_version, version, is_deleted)
FROM {{database}}.ai_usage_hourly_by_model FINAL
SETTINGS do_not_merge_across_partitions_select_final = 1;

CREATE VIEW IF NOT EXISTS {{database}}.ai_usage_hourly_by_org_exact{{on_cluster}} AS
SELECT * EXCEPT (max_version, version, is_deleted)
FROM {{database}}.ai_usage_hourly_by_org FINAL
SETTINGS do_not_merge_across_partitions_select_final = 1;

CREATE VIEW IF NOT EXISTS {{database}}.ai_usage_hourly_by_feature_exact{{on_cluster}} AS
SELECT * EXCEPT (max_version, version, is_deleted)
FROM {{database}}.ai_usage_hourly_by_feature FINAL
SETTINGS do_not_merge_across_partitions_select_final = 1;

CREATE VIEW IF NOT EXISTS {{database}}.ai_usage_hourly_by_org_model_exact{{on_cluster}} AS
SELECT * EXCEPT (max_version, version, is_deleted)
FROM {{database}}.ai_usage_hourly_by_org_model FINAL
SETTINGS do_not_merge_across_partitions_select_final = 1;

CREATE VIEW IF NOT EXISTS {{database}}.ai_usage_latency_daily_exact{{on_cluster}} AS
SELECT * EXCEPT (max_version, version, is_deleted)
FROM {{database}}.ai_usage_latency_daily FINAL
SETTINGS do_not_merge_across_partitions_select_final = 1;

CREATE VIEW IF NOT EXISTS {{database}}.ai_usage_daily_by_org_exact{{on_cluster}} AS
SELECT * EXCEPT (max_version, version, is_deleted)
FROM {{database}}.ai_usage_daily_by_org FINAL
SETTINGS do_not_merge_across_partitions_select_final = 1;
