-- genai-ledger 0006: the last dashboard panels that read the raw ledger, from small exact tables.
--
-- Measured with `npm run bench:dashboards` (10M calls over 90 days, 30-day range, 2 vCPUs): after
-- 0005 the queries over the 100 ms p95 budget all read the raw ledger: the tenant drill-down's "Top
-- conversations by cost" (108-222 ms), "Top users" (74-110 ms) and "Spend by user" (~90-100 ms) on
-- the largest org (~10 % of the calls), and the overview's "Unpriced calls (latest 500)" (157-309
-- ms: without an org filter the raw table's primary index cannot narrow a time range, since a small
-- org's granules span many days, so it read most of the month). This file adds:
--
--   ai_usage_hourly_by_org_conversation  (org, hour, user, conversation): calls, unpriced calls,
--                               spend, tokens (input + output), first and last call, the sorted
--                               list of models. A conversation's calls are close together, so it
--                               holds about one row per conversation and hour (~6x fewer rows than
--                               the ledger on the seeded traffic), and every figure those tenant
--                               panels show is a sum, min, max, distinct count or union over it.
--                               They read it for the whole hours of the range (hours every instant
--                               of which $__timeFilter(ts) admits) and the raw ledger for the partial
--                               hours at its edges, so their answers equal the raw ledger's to the
--                               row; only when service, environment, provider, model and feature
--                               are All (`$__conditionalAll(0, $var)` switches to the raw ledger
--                               otherwise).
--   ai_usage_unpriced           the unpriced calls themselves, one row per call, ordered by time,
--                               with the columns the overview's list shows and filters on.
--
-- Both are derived from ai_usage FINAL like ai_usage_hourly: a refreshable view re-folds the hours
-- whose raw rows were inserted since its last run (watermark: the largest inserted_at folded, minus
-- the overlap), writes the rows with a new version, and tombstones rows that vanished from a
-- re-folded hour (FULL JOIN with the previous rows). ReplacingMergeTree(version, is_deleted), read
-- through the _exact views (FINAL; partitioned by month of hour, which is in the sorting key). On an
-- existing store the first refresh finds empty tables (watermark 1970) and folds every hour: the
-- backfill. Safe to re-run and to race: CREATE ... IF NOT EXISTS only ("already exists" from a
-- racing migrator is tolerated by migrate.ts). Refresh order: clickhouse/migrate.ts
-- ROLLUP_REFRESH_VIEWS.
-- {{#...}} blocks are macros: clickhouse/migrate.ts spells out the statements they expand to.

{{#rollup_table ai_usage_hourly_by_org_conversation}}
partition: toYYYYMM(hour)
order: org_id, hour, user_id, conversation_id
columns:
    org_id            String,
    hour              DateTime('UTC'),
    user_id           String,
    conversation_id   String,
    calls             UInt64,
    unpriced_calls    UInt64,
    cost_usd          Decimal(38, 18),
    tokens            UInt64,
    first_call        DateTime64(6, 'UTC'),
    last_call         DateTime64(6, 'UTC'),
    models            Array(LowCardinality(String)),
    -- Largest ai_usage.inserted_at folded into this row: the refresh watermark.
    max_inserted_at   DateTime64(6, 'UTC'),
{{/rollup_table}}

-- @cluster-only
CREATE TABLE IF NOT EXISTS {{database}}.ai_usage_hourly_by_org_conversation{{on_cluster}} AS {{database}}.ai_usage_hourly_by_org_conversation_local
ENGINE = Distributed('{{cluster}}', '{{database}}', 'ai_usage_hourly_by_org_conversation_local', rand());

{{#refresh_view ai_usage_hourly_by_org_conversation}}
from: ai_usage AS u
dirty: toStartOfHour(ts) AS hour
keys: org_id, hour, user_id, conversation_id
columns:
    org_id, hour, user_id, conversation_id,
    calls, unpriced_calls, cost_usd, tokens, first_call, last_call, models,
    max_inserted_at,
fresh:
        org_id, toStartOfHour(ts) AS hour, user_id, conversation_id,
        count() AS calls,
        countIf(u.cost_usd IS NULL) AS unpriced_calls,
        sum(ifNull(u.cost_usd, toDecimal128(0, 18))) AS cost_usd,
        sum(u.input_tokens + u.output_tokens) AS tokens,
        min(u.ts) AS first_call,
        max(u.ts) AS last_call,
        arraySort(groupUniqArray(u.request_model)) AS models,
        max(u.inserted_at) AS max_inserted_at
{{/refresh_view}}

-- The relation to query (FINAL collapses versions and drops tombstones).
CREATE VIEW IF NOT EXISTS {{database}}.ai_usage_hourly_by_org_conversation_exact{{on_cluster}} AS
SELECT * EXCEPT (max_inserted_at, version, is_deleted)
FROM {{database}}.ai_usage_hourly_by_org_conversation FINAL
SETTINGS do_not_merge_across_partitions_select_final = 1;

-- The unpriced calls themselves, one row per call (its latest delivery), ordered by time: the
-- overview's "Unpriced calls (latest 500)" reads the newest of them. From the raw ledger that list
-- read most of the month (without an org filter the primary index cannot narrow a time range: small
-- orgs' granules span many days). Re-folded per dirty hour like the rollups: the hour's unpriced
-- calls from ai_usage FINAL with a new version; a call that is no longer unpriced (re-delivered
-- with a price) or moved gets a tombstone through the FULL JOIN with the previous rows; and each
-- re-folded hour writes one marker row (empty identity, is_deleted = 1: FINAL drops it) carrying the
-- hour's largest inserted_at, so the watermark advances through hours without unpriced calls.
{{#rollup_table ai_usage_unpriced}}
partition: toYYYYMM(hour)
order: hour, ts, trace_id, span_id
columns:
    hour              DateTime('UTC'),
    ts                DateTime64(6, 'UTC'),
    trace_id          String,
    span_id           String,
    org_id            String,
    service_name      LowCardinality(String),
    environment       LowCardinality(String),
    provider          LowCardinality(String),
    operation         LowCardinality(String),
    request_model     LowCardinality(String),
    response_model    LowCardinality(String),
    feature           LowCardinality(String),
    user_id           String,
    conversation_id   String,
    input_tokens      UInt64,
    output_tokens     UInt64,
    error_type        LowCardinality(String),
    max_inserted_at   DateTime64(6, 'UTC'),
{{/rollup_table}}

-- @cluster-only
CREATE TABLE IF NOT EXISTS {{database}}.ai_usage_unpriced{{on_cluster}} AS {{database}}.ai_usage_unpriced_local
ENGINE = Distributed('{{cluster}}', '{{database}}', 'ai_usage_unpriced_local', rand());

CREATE MATERIALIZED VIEW IF NOT EXISTS {{database}}.ai_usage_unpriced_refresh{{on_cluster}}
REFRESH EVERY {{refresh_seconds}} SECOND
APPEND TO {{database}}.ai_usage_unpriced{{local}}
AS
WITH
    (SELECT max(max_inserted_at) FROM {{database}}.ai_usage_unpriced{{local}}) - INTERVAL {{watermark_lag_seconds}} SECOND AS since,
    (SELECT groupUniqArray(toStartOfHour(ts)) FROM {{database}}.ai_usage{{local}} WHERE inserted_at > since{{ttl_guard}}) AS dirty_hours
SELECT
    hour, ts, trace_id, span_id,
    org_id, service_name, environment, provider, operation, request_model, response_model, feature,
    user_id, conversation_id, input_tokens, output_tokens, error_type,
    max_inserted_at,
    now64(6) AS version,
    toUInt8(present = 0) AS is_deleted
FROM
(
    SELECT
        toStartOfHour(u.ts) AS hour, u.ts AS ts, u.trace_id AS trace_id, u.span_id AS span_id,
        u.org_id AS org_id, u.service_name AS service_name, u.environment AS environment, u.provider AS provider,
        u.operation AS operation, u.request_model AS request_model, u.response_model AS response_model,
        u.feature AS feature, u.user_id AS user_id, u.conversation_id AS conversation_id,
        u.input_tokens AS input_tokens, u.output_tokens AS output_tokens, u.error_type AS error_type,
        u.inserted_at AS max_inserted_at,
        toUInt8(1) AS present
    FROM {{database}}.ai_usage{{local}} AS u FINAL
    WHERE u.ts >= arrayMin(dirty_hours)
      AND u.ts < arrayMax(dirty_hours) + INTERVAL 1 HOUR
      AND toStartOfHour(u.ts) IN (SELECT arrayJoin(dirty_hours))
      AND u.cost_usd IS NULL
    UNION ALL
    -- One marker per re-folded hour: its largest inserted_at, for the watermark.
    SELECT
        toStartOfHour(m.ts) AS hour, toDateTime64(toStartOfHour(m.ts), 6, 'UTC') AS ts, '' AS trace_id, '' AS span_id,
        '' AS org_id, '' AS service_name, '' AS environment, '' AS provider,
        '' AS operation, '' AS request_model, '' AS response_model,
        '' AS feature, '' AS user_id, '' AS conversation_id,
        toUInt64(0) AS input_tokens, toUInt64(0) AS output_tokens, '' AS error_type,
        max(m.inserted_at) AS max_inserted_at,
        toUInt8(0) AS present
    FROM {{database}}.ai_usage{{local}} AS m
    WHERE m.ts >= arrayMin(dirty_hours)
      AND m.ts < arrayMax(dirty_hours) + INTERVAL 1 HOUR
      AND toStartOfHour(m.ts) IN (SELECT arrayJoin(dirty_hours))
    GROUP BY hour
) AS fresh
FULL OUTER JOIN
(
    SELECT hour, ts, trace_id, span_id
    FROM {{database}}.ai_usage_unpriced{{local}} FINAL
    WHERE hour >= arrayMin(dirty_hours)
      AND hour <= arrayMax(dirty_hours)
      AND hour IN (SELECT arrayJoin(dirty_hours))
) AS previous
USING (hour, ts, trace_id, span_id)
SETTINGS join_use_nulls = 0;

CREATE VIEW IF NOT EXISTS {{database}}.ai_usage_unpriced_exact{{on_cluster}} AS
SELECT * EXCEPT (max_inserted_at, version, is_deleted)
FROM {{database}}.ai_usage_unpriced FINAL
SETTINGS do_not_merge_across_partitions_select_final = 1;
