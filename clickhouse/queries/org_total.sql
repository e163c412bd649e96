-- org_total: one org's total for a period.
--
-- Answers: what did this org use and cost, and how much of it went to which feature?
-- Parameters:
--   org   String    the org
--   from  DateTime  start of the period, inclusive (server time zone: UTC)
--   to    DateTime  end of the period, exclusive
-- Example:
--   genai-ledger query --file clickhouse/queries/org_total.sql --param org=acme --param from=2026-11-01 --param to=2026-12-01
-- Reads ai_usage_exact. Always one row (zeros when the org made no calls); by_feature maps each
-- feature to its exact spend.
SELECT
    {org:String} AS org_id,
    count() AS calls,
    countIf(error_type != '') AS failed_calls,
    countIf(u.cost_usd IS NULL) AS unpriced_calls,
    uniqExact(user_id) AS users,
    uniqExact(conversation_id) AS conversations,
    sum(input_tokens) AS input_tokens,
    sum(cache_read_tokens) AS cache_read_tokens,
    sum(output_tokens) AS output_tokens,
    ifNull(sum(u.cost_usd), 0) AS cost_usd,
    sumMap(map(feature, ifNull(u.cost_usd, 0))) AS by_feature
FROM ai_usage_exact AS u
WHERE u.org_id = {org:String}
  AND u.ts >= {from:DateTime}
  AND u.ts < {to:DateTime}
