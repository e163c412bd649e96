-- genai-ledger 0011: how far billed_daily has been kept current by the billing refresh.
--
--   billing_watermark  per `what`: 'calls', the largest ai_usage.inserted_at whose calls' days
--                      have been re-billed; 'cards', the largest rate_cards.loaded_at whose cards
--                      billed_daily reflects. A refresh (clickhouse/billing-refresh.ts) re-bills
--                      the days of the calls inserted since the first (minus an overlap for
--                      inserts still committing), and every day from the earliest changed card's
--                      effective_from when a card changed since the second, then records both.
--                      Derived from the data, so a refresh skipped (process down) is caught up by
--                      the next one, whichever process runs it.
--
-- ReplacingMergeTree(upto): merges keep each key's largest mark, so several collectors only ever
-- move it forward; readers take max(upto) per key (correct before merges too).

CREATE TABLE IF NOT EXISTS {{database}}.billing_watermark{{on_cluster}}
(
    what  LowCardinality(String),
    upto  DateTime64(6, 'UTC')
)
ENGINE = {{replicated}}ReplacingMergeTree({{replica_args_global}}upto)
ORDER BY what;
