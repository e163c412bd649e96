-- genai-ledger 0001: the raw ledger, one row per AI call (span).
--
-- Placeholders ({{name}}) are filled by clickhouse/migrate.ts. Single-node renders
-- {{on_cluster}} = '', {{local}} = '', {{replicated}} = ''; cluster mode renders
-- ON CLUSTER, the Replicated* engines and a Distributed table in front of the local one.
-- A statement starting with the comment line `-- @cluster-only` is rendered in cluster mode only.
-- Statements end with a semicolon at the end of a line; comments never do.
-- Macro blocks ({{#name ...}} ... {{/name}}, from 0002 on) are expanded before all this: see
-- "Macros" in clickhouse/migrate.ts, and `npx tsx clickhouse/migrate.ts --templates 2` to print a
-- file expanded. A checksum covers the expanded statements.

CREATE DATABASE IF NOT EXISTS {{database}}{{on_cluster}};

-- Exactly-once. The identity of a call is (trace_id, span_id). A span may arrive more than once
-- (SDK retry, replay, two collectors, different insert batches), so the table is a
-- ReplacingMergeTree: rows with the same sorting key collapse to the one with the highest
-- inserted_at (the latest delivery wins, so a re-priced replay corrects the row).
--
-- The sorting key serves the dashboard filters first (org, day, provider, model, time) and
-- ends with the identity. That is compatible with deduplication because every column ahead
-- of (trace_id, span_id) is a pure function of the span itself: ts is the span start,
-- org_id/provider/request_model come from its attributes, so two deliveries of one span
-- always carry the same prefix and land next to each other. The partition key (month of ts)
-- is a function of the sorting key too, so duplicates are never split across partitions and
-- FINAL never has to merge across partitions.
--
-- Merges are eventual: read exact numbers through the ai_usage_exact view (FINAL) below.
-- Retried identical batches are already dropped at insert time by the writer's
-- insert_deduplication_token; non_replicated_deduplication_window enables that for the
-- non-replicated engine (Replicated engines deduplicate by default).
CREATE TABLE IF NOT EXISTS {{database}}.ai_usage{{local}}{{on_cluster}}
(
    ts                  DateTime64(6, 'UTC') CODEC(Delta, ZSTD(1)),
    trace_id            String,
    span_id             String,
    parent_span_id      String,
    duration_ms         Float64,
    service_name        LowCardinality(String),
    environment         LowCardinality(String),
    provider            LowCardinality(String),
    operation           LowCardinality(String),
    request_model       LowCardinality(String),
    response_model      LowCardinality(String),
    priced_model        LowCardinality(String),
    -- Tenants can number in the hundreds of thousands: plain String, not LowCardinality.
    org_id              String,
    user_id             String,
    feature             LowCardinality(String),
    conversation_id     String,
    input_tokens        UInt64,
    output_tokens       UInt64,
    cache_read_tokens   UInt64,
    cache_write_tokens  UInt64,
    reasoning_tokens    UInt64,
    input_audio_tokens  UInt64,
    output_audio_tokens UInt64,
    usage_details       Map(LowCardinality(String), Float64),
    -- Exact decimal dollars: 18 fractional digits hold per-token prices of any provider
    -- exactly, 20 integer digits leave room for any sum. NULL = no price known.
    cost_usd            Nullable(Decimal(38, 18)),
    cost_breakdown      Map(LowCardinality(String), Decimal(38, 18)),
    price_source        LowCardinality(String),
    error_type          LowCardinality(String),
    instrumentation     LowCardinality(String),
    attributes          Map(String, String) CODEC(ZSTD(3)),
    -- Version for ReplacingMergeTree and the rollup refresh watermark. Set by the server.
    inserted_at         DateTime64(6, 'UTC') DEFAULT now64(6),
    -- Lets the rollup refresh find recently inserted rows without a full scan.
    INDEX inserted_at_minmax inserted_at TYPE minmax GRANULARITY 1
)
ENGINE = {{replicated}}ReplacingMergeTree({{replica_args}}inserted_at)
PARTITION BY toYYYYMM(ts)
ORDER BY (org_id, toDate(ts), provider, request_model, ts, trace_id, span_id)
{{ttl}}
SETTINGS non_replicated_deduplication_window = 1000, ttl_only_drop_parts = 1;

-- Cluster mode: the writer and the queries address ai_usage, a Distributed table sharded by the
-- call identity, so every delivery of a span lands on the same shard and FINAL stays correct
-- shard-locally.
-- @cluster-only
CREATE TABLE IF NOT EXISTS {{database}}.ai_usage{{on_cluster}} AS {{database}}.ai_usage_local
ENGINE = Distributed('{{cluster}}', '{{database}}', 'ai_usage_local', cityHash64(trace_id, span_id));

-- The relation to query for exact truth: one row per (trace_id, span_id), the latest delivery.
-- FINAL beats argMax(..., inserted_at) GROUP BY (trace_id, span_id), measured on the embedded
-- engine with 1M rows + 10 % unmerged duplicates (npm run bench:insert-format -- --only exact --rows 1000000):
-- all rows 150-240 ms vs 625-740 ms; one org, two days,
-- one model 6-9 ms vs 1300-2100 ms, because filters on sorting-key columns still use the primary
-- index under FINAL while argMax must group the whole table first. Filters on other columns are
-- applied after FINAL's merge, so they stay correct.
CREATE VIEW IF NOT EXISTS {{database}}.ai_usage_exact{{on_cluster}} AS
SELECT *
FROM {{database}}.ai_usage FINAL;
