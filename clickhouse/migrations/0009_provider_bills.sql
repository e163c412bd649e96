-- genai-ledger 0009: what the providers billed, imported from their Admin APIs or console exports
-- (reconcile/), to set against the ledger (`genai-ledger reconcile report`).
--
-- Idempotent re-imports: an import replaces the period it covers. Both tables are
-- ReplacingMergeTree(imported_at, is_deleted) keyed by what identifies a bill line (provider, day,
-- model as the provider names it, project or workspace, line item); clickhouse/provider-bills.ts
-- writes only the lines that are new or changed, with a newer imported_at, and tombstones
-- (is_deleted = 1) for the period's stored lines the new import no longer has. Importing the same
-- report twice writes nothing. Read through the _exact views (FINAL, tombstones hidden).
--
-- Cluster mode: small tables read by every node's reports: one replica everywhere, as model_prices.

-- One line of a cost report: an amount billed for a day.
CREATE TABLE IF NOT EXISTS {{database}}.provider_costs{{on_cluster}}
(
    provider        LowCardinality(String),
    day             Date,
    -- As the provider names it ('' for a line that is not a model's: web search, code execution).
    model           String,
    -- The ledger's priced model (`provider/model` of the catalog), '' when the catalog has none.
    priced_model    LowCardinality(String),
    -- OpenAI project_id, Anthropic workspace_id ('' for the default one).
    project_id      String,
    -- The provider's own line name (OpenAI line_item, Anthropic description or cost type).
    line_item       String,
    -- What the line bills: input, output, cache_read, cache_write, or other.
    token_type      LowCardinality(String),
    -- Exact decimal USD (Anthropic reports cents: converted on import).
    amount_usd      Decimal(38, 18),
    -- api, or file:<name>.
    source          LowCardinality(String),
    imported_at     DateTime64(6, 'UTC'),
    is_deleted      UInt8 DEFAULT 0
)
ENGINE = {{replicated}}ReplacingMergeTree({{replica_args_global}}imported_at, is_deleted)
PARTITION BY toYYYYMM(day)
ORDER BY (provider, day, model, project_id, line_item);

-- One line of a usage report: tokens and requests for a day, normalised as the ledger counts
-- them (input_tokens includes cache reads and writes).
CREATE TABLE IF NOT EXISTS {{database}}.provider_usage{{on_cluster}}
(
    provider            LowCardinality(String),
    day                 Date,
    model               String,
    priced_model        LowCardinality(String),
    project_id          String,
    -- The report (completions, embeddings, audio_speeches, audio_transcriptions, messages) and
    -- the provider's other grouping (batch, service tier, context window) as `key=value` pairs.
    line_item           String,
    input_tokens        UInt64,
    output_tokens       UInt64,
    cache_read_tokens   UInt64,
    cache_write_tokens  UInt64,
    input_audio_tokens  UInt64,
    output_audio_tokens UInt64,
    -- NULL when the report does not count requests (Anthropic's messages usage report).
    requests            Nullable(UInt64),
    -- Other reported units: characters, seconds, web_search_requests.
    units               Map(LowCardinality(String), Float64),
    source              LowCardinality(String),
    imported_at         DateTime64(6, 'UTC'),
    is_deleted          UInt8 DEFAULT 0
)
ENGINE = {{replicated}}ReplacingMergeTree({{replica_args_global}}imported_at, is_deleted)
PARTITION BY toYYYYMM(day)
ORDER BY (provider, day, model, project_id, line_item);

{{#each bill_table in provider_costs, provider_usage}}
CREATE VIEW IF NOT EXISTS {{database}}.{{bill_table}}_exact{{on_cluster}} AS
SELECT * EXCEPT (is_deleted)
FROM {{database}}.{{bill_table}} FINAL;
{{/each}}
