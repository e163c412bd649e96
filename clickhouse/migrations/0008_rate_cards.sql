-- genai-ledger 0008: chargeback. The rate cards in force, and what each org is billed per day.
--
--   rate_cards       one row per card (org_id, effective_from): the card as written (JSON, checked
--                    by billing/rate-cards.ts), and its markup and credit terms as columns for SQL.
--                    syncRateCards() (clickhouse/billing.ts) makes it hold exactly a rate-card file:
--                    changed cards get a newer loaded_at, cards that left the file a tombstone.
--   billed_daily     billed amounts next to cost per (org, day, feature, model), written by
--                    `genai-ledger reprice --billing` from ai_usage_exact (each call once) and the
--                    cards: exact Decimal sums; credits are those the cards round per call plus the
--                    exact credits of invoice_half_even cards (rounded on the invoice). A re-run
--                    writes only the groups that changed (newer version) and tombstones the groups
--                    that vanished, so it is idempotent. The card in force is constant over a UTC
--                    day (cards start at midnight), so every row is billed by one card.
--
-- Both ReplacingMergeTree(version, is_deleted): read them through the _exact views (FINAL).

CREATE TABLE IF NOT EXISTS {{database}}.rate_cards{{on_cluster}}
(
    org_id           String,
    effective_from   Date,
    markup           Decimal(38, 18),
    credits_per_usd  Nullable(Decimal(38, 18)),
    credit_rounding  LowCardinality(String),
    card             String,
    loaded_at        DateTime64(6, 'UTC') DEFAULT now64(6),
    is_deleted       UInt8 DEFAULT 0
)
ENGINE = {{replicated}}ReplacingMergeTree({{replica_args_global}}loaded_at, is_deleted)
ORDER BY (org_id, effective_from);

CREATE VIEW IF NOT EXISTS {{database}}.rate_cards_exact{{on_cluster}} AS
SELECT * EXCEPT (is_deleted)
FROM {{database}}.rate_cards FINAL;

CREATE TABLE IF NOT EXISTS {{database}}.billed_daily{{local}}{{on_cluster}}
(
    org_id          String,
    day             Date,
    feature         LowCardinality(String),
    model           LowCardinality(String),
    -- The card that billed the day: org_id@effective_from ('' when none was in force).
    rate_card       String,
    calls           UInt64,
    unpriced_calls  UInt64,
    cost_usd        Decimal(38, 18),
    billed_usd      Decimal(38, 18),
    credits         Decimal(38, 18),
    version         DateTime64(6, 'UTC') DEFAULT now64(6),
    is_deleted      UInt8 DEFAULT 0
)
ENGINE = {{replicated}}ReplacingMergeTree({{replica_args}}version, is_deleted)
PARTITION BY toYYYYMM(day)
ORDER BY (org_id, day, feature, model);

-- @cluster-only
CREATE TABLE IF NOT EXISTS {{database}}.billed_daily{{on_cluster}} AS {{database}}.billed_daily_local
ENGINE = Distributed('{{cluster}}', '{{database}}', 'billed_daily_local', cityHash64(org_id));

CREATE VIEW IF NOT EXISTS {{database}}.billed_daily_exact{{on_cluster}} AS
SELECT * EXCEPT (is_deleted)
FROM {{database}}.billed_daily FINAL
WHERE is_deleted = 0;
