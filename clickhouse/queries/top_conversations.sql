-- top_conversations: an org's most expensive conversations in a period.
--
-- Answers: where did this org's money go, conversation by conversation?
-- Parameters:
--   org    String    the org
--   from   DateTime  start of the period, inclusive (server time zone: UTC)
--   to     DateTime  end of the period, exclusive
--   limit  UInt32    how many conversations
-- Example:
--   genai-ledger query --file clickhouse/queries/top_conversations.sql --param org=acme --param from=2026-11-01 --param to=2026-12-01 --param limit=20
-- Reads ai_usage_exact; calls without a conversation id are left out. cost_usd is exact.
SELECT
    conversation_id,
    ifNull(sum(u.cost_usd), 0) AS cost_usd,
    count() AS calls,
    countIf(u.cost_usd IS NULL) AS unpriced_calls,
    sum(input_tokens + output_tokens) AS tokens,
    min(ts) AS first_call,
    max(ts) AS last_call,
    arrayStringConcat(arraySort(groupUniqArray(user_id)), ', ') AS users,
    arrayStringConcat(arraySort(groupUniqArray(request_model)), ', ') AS models
FROM ai_usage_exact AS u
WHERE org_id = {org:String}
  AND ts >= {from:DateTime}
  AND ts < {to:DateTime}
  AND conversation_id != ''
GROUP BY conversation_id
ORDER BY sum(u.cost_usd) DESC NULLS LAST, conversation_id
LIMIT {limit:UInt32}
