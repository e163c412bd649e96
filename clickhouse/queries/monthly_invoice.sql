-- monthly_invoice: an org's invoice for one calendar month (UTC): one line per model, then the total.
--
-- Answers: what do we bill this org for the month, and for what?
-- Parameters:
--   org    String  the org
--   month  Date    any day of the month ('2026-11-01')
-- Example:
--   genai-ledger query --file clickhouse/queries/monthly_invoice.sql --param org=acme --param month=2026-11-01
-- Reads ai_usage_exact (each call once, at its latest price). Amounts are exact decimals (no
-- rounding: round the total, not the lines, if the invoice needs cents). cost_breakdown splits a
-- line by priced unit (input_tokens = uncached input, cache_read_tokens, output_tokens, ...).
-- Unpriced calls are listed (unpriced_calls) but add nothing: price them (an overrides file)
-- before invoicing.
SELECT
    if(grouping(provider) = 1, 'total', 'line') AS line,
    toStartOfMonth({month:Date}) AS month,
    {org:String} AS org_id,
    provider,
    request_model AS model,
    count() AS calls,
    countIf(u.cost_usd IS NULL) AS unpriced_calls,
    sum(input_tokens) AS input_tokens,
    sum(cache_read_tokens) AS cache_read_tokens,
    sum(cache_write_tokens) AS cache_write_tokens,
    sum(output_tokens) AS output_tokens,
    sumMap(cost_breakdown) AS cost_breakdown,
    ifNull(sum(u.cost_usd), 0) AS amount_usd
FROM ai_usage_exact AS u
WHERE u.org_id = {org:String}
  AND u.ts >= toDateTime(toStartOfMonth({month:Date}), 'UTC')
  AND u.ts < toDateTime(toStartOfMonth({month:Date}) + INTERVAL 1 MONTH, 'UTC')
GROUP BY GROUPING SETS ((provider, request_model), ())
ORDER BY line = 'total', amount_usd DESC, provider, model
