-- usage_by_date_range: calls, tokens and exact spend per day and org over a period.
--
-- Answers: what did we (or one org) use and spend, day by day?
-- Parameters:
--   from  DateTime  start of the period, inclusive ('2026-11-01' or '2026-11-01 00:00:00', server time zone: UTC)
--   to    DateTime  end of the period, exclusive
--   org   String    one org, or empty for every org
-- Example:
--   genai-ledger query --file clickhouse/queries/usage_by_date_range.sql --param org=acme --param from=2026-11-01 --param to=2026-12-01
--   genai-ledger query --file clickhouse/queries/usage_by_date_range.sql --param org= --param from=2026-11-01 --param to=2026-12-01
-- Reads ai_usage_exact: one row per call however often it was delivered. cost_usd is an exact
-- decimal; unpriced calls (no price known) are counted in unpriced_calls and add nothing to it.
SELECT
    toDate(ts) AS day,
    org_id,
    count() AS calls,
    countIf(error_type != '') AS failed_calls,
    countIf(u.cost_usd IS NULL) AS unpriced_calls,
    sum(input_tokens) AS input_tokens,
    sum(cache_read_tokens) AS cache_read_tokens,
    sum(output_tokens) AS output_tokens,
    ifNull(sum(u.cost_usd), 0) AS cost_usd
FROM ai_usage_exact AS u
WHERE ts >= {from:DateTime}
  AND ts < {to:DateTime}
  AND ({org:String} = '' OR org_id = {org:String})
GROUP BY day, org_id
ORDER BY day, org_id
