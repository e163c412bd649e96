-- genai-ledger 0003: the price book as a table, so SQL can join usage to the prices in force.
--
-- One row per price component (price_key: input, output, cache_read, ...) of a model, from a
-- source (genai-prices@<version>, override:<file>), effective from a date, optionally for a
-- time-of-day window. Content is replaced by syncModelPrices() (clickhouse/prices.ts): it diffs the
-- price book against the table and writes only what changed: new or changed rows with a newer
-- loaded_at, and tombstones (is_deleted = 1) for rows that left the book. Re-running it with the
-- same book writes nothing. ReplacingMergeTree(loaded_at, is_deleted) makes the latest write per
-- key win; read through model_prices_exact (FINAL), which also hides the tombstones.
--
-- Cluster mode: the table is tiny and joined from any node, so every node keeps a full replica
-- (one replication path for the whole cluster instead of one per shard).
CREATE TABLE IF NOT EXISTS {{database}}.model_prices{{on_cluster}}
(
    source          LowCardinality(String),
    provider_id     LowCardinality(String),
    model_id        String,
    -- How the pricing engine matches model names to this entry (JSON matcher, or the exact id of
    -- an override). Part of the key: match-based overrides have no model_id.
    model_match     String,
    -- First day (UTC) the price is in force; 1970-01-01 = always.
    effective_from  Date,
    -- '' = all day; otherwise the window the price applies to.
    time_of_day     LowCardinality(String),
    price_key       LowCardinality(String),
    unit            LowCardinality(String),
    -- price is per `per` units (e.g. per 1000000 tokens).
    per             UInt64,
    price           Decimal(38, 18),
    -- Tiered prices: from `start` units on, `price` applies.
    tiers           Array(Tuple(start UInt64, price Decimal(38, 18))),
    loaded_at       DateTime64(6, 'UTC'),
    is_deleted      UInt8 DEFAULT 0
)
ENGINE = {{replicated}}ReplacingMergeTree({{replica_args_global}}loaded_at, is_deleted)
ORDER BY (provider_id, model_id, price_key, source, effective_from, time_of_day, model_match);

CREATE VIEW IF NOT EXISTS {{database}}.model_prices_exact{{on_cluster}} AS
SELECT * EXCEPT (is_deleted)
FROM {{database}}.model_prices FINAL;
