-- usage_by_conversation: every call of one conversation, with its running cost.
--
-- Answers: what did this conversation do, and what did it cost as it went?
-- Parameters:
--   org           String  the org the conversation belongs to (narrows the read to that org's rows)
--   conversation  String  the conversation id (gen_ai.conversation.id, session.id, ...)
-- Example:
--   genai-ledger query --file clickhouse/queries/usage_by_conversation.sql --param org=acme --param conversation=c-42
-- Reads ai_usage_exact (duplicates collapsed). cost_usd is NULL for an unpriced call;
-- running_cost_usd counts priced calls only.
SELECT
    ts,
    user_id,
    feature,
    provider,
    request_model,
    operation,
    input_tokens,
    cache_read_tokens,
    output_tokens,
    duration_ms,
    error_type,
    u.cost_usd AS cost_usd,
    sum(ifNull(u.cost_usd, 0)) OVER (ORDER BY ts, trace_id, span_id ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS running_cost_usd,
    trace_id,
    span_id
FROM ai_usage_exact AS u
WHERE org_id = {org:String}
  AND conversation_id = {conversation:String}
ORDER BY ts, trace_id, span_id
