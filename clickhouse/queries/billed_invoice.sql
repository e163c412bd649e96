-- billed_invoice: what an org is billed for one calendar month (UTC), next to what it cost:
-- one line per model, then the total, with the margin.
--
-- Answers: what do we bill this org for the month, what did it cost us, and what is left?
-- Parameters:
--   org    String  the org
--   month  Date    any day of the month ('2026-11-01')
-- Example:
--   genai-ledger query --file clickhouse/queries/billed_invoice.sql --param org=acme --param month=2026-11-01
-- Columns are qualified (b.) so the aliases (org_id, month, the sums) do not shadow them. Reads billed_daily_exact, which a collector given rate cards (--rates) keeps current, or
-- `genai-ledger reprice --billing` fills, from ai_usage_exact (each call once) and the rate cards
-- (rate_cards_exact): without such a collector, run reprice --billing after the month's calls are
-- in and after a card changes. Amounts are exact Decimal(38, 18) sums. credits adds the whole credits of cards
-- that round per call and the exact credits of invoice_half_even cards: `genai-ledger invoice`
-- rounds those once and prints the same month from the calls themselves.
SELECT
    if(grouping(model) = 1, 'total', 'line') AS line,
    toStartOfMonth({month:Date}) AS month,
    {org:String} AS org_id,
    model,
    sum(b.calls) AS calls,
    sum(b.unpriced_calls) AS unpriced_calls,
    sum(b.cost_usd) AS cost_usd,
    sum(b.billed_usd) AS billed_usd,
    sum(b.billed_usd) - sum(b.cost_usd) AS margin_usd,
    if(sum(b.billed_usd) = 0, NULL, round(toFloat64(sum(b.billed_usd) - sum(b.cost_usd)) / toFloat64(sum(b.billed_usd)) * 100, 2)) AS margin_pct,
    sum(b.credits) AS credits,
    groupUniqArray(b.rate_card) AS rate_cards
FROM billed_daily_exact AS b
WHERE b.org_id = {org:String}
  AND b.day >= toStartOfMonth({month:Date})
  AND b.day < toStartOfMonth({month:Date}) + INTERVAL 1 MONTH
GROUP BY GROUPING SETS ((model), ())
ORDER BY line = 'total', billed_usd DESC, model
