-- usage_by_model: calls, tokens, exact spend, cost per call, latency and errors per model.
--
-- Answers: which models do we use, what do they cost per call, how fast and how reliable are they?
-- Parameters:
--   from  DateTime  start of the period, inclusive (server time zone: UTC)
--   to    DateTime  end of the period, exclusive
--   org   String    one org, or empty for every org
-- Example:
--   genai-ledger query --file clickhouse/queries/usage_by_model.sql --param org=acme --param from=2026-11-01 --param to=2026-12-01
-- Reads ai_usage_exact. cost_per_call_usd divides by priced calls; latency percentiles are exact
-- (quantileExact), error_rate = failed ÷ all calls.
SELECT
    provider,
    request_model,
    arrayStringConcat(arraySort(groupUniqArrayIf(priced_model, priced_model != '')), ', ') AS priced_as,
    count() AS calls,
    countIf(error_type != '') AS failed_calls,
    countIf(u.cost_usd IS NULL) AS unpriced_calls,
    sum(input_tokens) AS input_tokens,
    sum(cache_read_tokens) AS cache_read_tokens,
    sum(output_tokens) AS output_tokens,
    ifNull(sum(u.cost_usd), 0) AS cost_usd,
    sum(u.cost_usd) / nullIf(countIf(u.cost_usd IS NOT NULL), 0) AS cost_per_call_usd,
    round(countIf(error_type != '') / count(), 4) AS error_rate,
    quantileExact(0.5)(duration_ms) AS p50_ms,
    quantileExact(0.95)(duration_ms) AS p95_ms
FROM ai_usage_exact AS u
WHERE ts >= {from:DateTime}
  AND ts < {to:DateTime}
  AND ({org:String} = '' OR org_id = {org:String})
GROUP BY provider, request_model
ORDER BY sum(u.cost_usd) DESC NULLS LAST, provider, request_model
