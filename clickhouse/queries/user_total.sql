-- user_total: one user's total for a period.
--
-- Answers: what did this user of this org use and cost?
-- Parameters:
--   org   String    the org the user belongs to
--   user  String    the user id
--   from  DateTime  start of the period, inclusive (server time zone: UTC)
--   to    DateTime  end of the period, exclusive
-- Example:
--   genai-ledger query --file clickhouse/queries/user_total.sql --param org=acme --param user=u-7 --param from=2026-11-01 --param to=2026-12-01
-- Reads ai_usage_exact. Always one row (zeros when the user made no calls).
SELECT
    {org:String} AS org_id,
    {user:String} AS user_id,
    count() AS calls,
    countIf(error_type != '') AS failed_calls,
    countIf(u.cost_usd IS NULL) AS unpriced_calls,
    uniqExact(conversation_id) AS conversations,
    sum(input_tokens) AS input_tokens,
    sum(cache_read_tokens) AS cache_read_tokens,
    sum(output_tokens) AS output_tokens,
    ifNull(sum(u.cost_usd), 0) AS cost_usd
FROM ai_usage_exact AS u
WHERE u.org_id = {org:String}
  AND u.user_id = {user:String}
  AND u.ts >= {from:DateTime}
  AND u.ts < {to:DateTime}
