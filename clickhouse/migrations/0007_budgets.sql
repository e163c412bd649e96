-- genai-ledger 0007: budgets in force, and the record of budget alerts sent.
--
-- budgets: what the budgets file said at the last sync (clickhouse/budgets.ts): one row per
-- budget, the latest `updated_at` wins, and a budget the file no longer holds gets a tombstone
-- (is_deleted = 1). Read it through FINAL. Small: a full copy on every node of a cluster.
CREATE TABLE IF NOT EXISTS {{database}}.budgets{{on_cluster}}
(
    name        String,
    match       Map(LowCardinality(String), String),
    per         LowCardinality(String),
    period      LowCardinality(String),
    limit_usd   Decimal(38, 18),
    alert_at    Array(Decimal(38, 18)),
    enforce     UInt8,
    updated_at  DateTime64(6, 'UTC') DEFAULT now64(6),
    is_deleted  UInt8 DEFAULT 0
)
ENGINE = {{replicated}}ReplacingMergeTree({{replica_args_global}}updated_at, is_deleted)
ORDER BY name;

-- budget_alerts: an alert (budget × per value × period × threshold, its `id`) is claimed by
-- inserting a 'claimed' row with insert_deduplication_token = the claim's token: ClickHouse keeps
-- the first block with a token and drops later ones (atomically, under the table's deduplication
-- log, or in Keeper when replicated), so whoever's row is stored after its own insert returned
-- is the one sender, across restarts and collectors. A 'delivered' row follows the webhook's 2xx.
-- A claim never delivered (its owner died) is taken over with the next `attempt` after a lease.
-- Repeated 'delivered' rows collapse. Not partitioned: deduplication tokens are per partition.
CREATE TABLE IF NOT EXISTS {{database}}.budget_alerts{{on_cluster}}
(
    id            String,
    event         Enum8('claimed' = 1, 'delivered' = 2),
    attempt       UInt32,
    owner         String,
    budget        String,
    per_value     String,
    period_start  DateTime('UTC'),
    threshold     Decimal(38, 18),
    payload       String,
    at            DateTime64(6, 'UTC') DEFAULT now64(6)
)
ENGINE = {{replicated}}ReplacingMergeTree({{replica_args_global}}at)
ORDER BY (id, event, attempt)
SETTINGS non_replicated_deduplication_window = 100000, replicated_deduplication_window = 100000;
