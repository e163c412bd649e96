-- cache_savings: cache hit ratio and what prompt caching saved, per model and in total.
--
-- Answers: how much of our input comes from the prompt cache, and what did that save?
-- Parameters:
--   from  DateTime  start of the period, inclusive (server time zone: UTC)
--   to    DateTime  end of the period, exclusive
--   org   String    one org, or empty for every org
-- Example:
--   genai-ledger query --file clickhouse/queries/cache_savings.sql --param org=acme --param from=2026-11-01 --param to=2026-12-01
-- Formula, per call whose cache reads were priced separately (cost_breakdown has cache_read_tokens):
--   would_have_cost = cache_read_tokens × the list input price per token of the call's priced
--                     model on the call's day (model_prices: price_key input_mtok, price ÷ per, the
--                     latest effective_from on or before that day, an override before the catalog,
--                     all-day prices only; long-context tiers are not applied)
--   paid            = cost_breakdown['cache_read_tokens'] (what the cache reads were billed)
--   saved           = would_have_cost − paid
-- cache_hit_ratio = cache_read_tokens ÷ input_tokens (input includes cached tokens). Calls with
-- cache reads but no list price (unpriced, or a model missing from model_prices) are counted in
-- cached_calls_not_valued and left out of the savings. The AI spend overview dashboard computes
-- the same savings from the rollups, taking the uncached price each group actually paid.
SELECT
    if(grouping(provider) = 1, 'total', 'model') AS line,
    provider,
    request_model AS model,
    count() AS calls,
    sum(in_tokens) AS input_tokens,
    sum(cached_tokens) AS cache_read_tokens,
    round(sum(cached_tokens) / nullIf(sum(in_tokens), 0), 4) AS cache_hit_ratio,
    ifNull(sum(paid), 0) AS cache_reads_paid_usd,
    ifNull(sum(would_have_cost), 0) AS cache_reads_uncached_usd,
    ifNull(sum(would_have_cost - paid), 0) AS saved_usd,
    countIf(cached_tokens > 0 AND (paid IS NULL OR input_per_token IS NULL)) AS cached_calls_not_valued
FROM
(
    SELECT
        u.provider AS provider,
        u.request_model AS request_model,
        u.input_tokens AS in_tokens,
        u.cache_read_tokens AS cached_tokens,
        u.paid AS paid,
        p.input_per_token AS input_per_token,
        u.cache_read_tokens * p.input_per_token AS would_have_cost
    FROM
    (
        SELECT
            provider, request_model, priced_model, toDate(ts) AS day, input_tokens, cache_read_tokens,
            if(mapContains(cost_breakdown, 'cache_read_tokens'), cost_breakdown['cache_read_tokens'], NULL) AS paid
        FROM ai_usage_exact
        WHERE ts >= {from:DateTime}
          AND ts < {to:DateTime}
          AND ({org:String} = '' OR org_id = {org:String})
    ) AS u
    ASOF LEFT JOIN
    (
        SELECT
            concat(provider_id, '/', model_id) AS priced_model,
            effective_from,
            argMax(price / per, (startsWith(source, 'override:'), loaded_at)) AS input_per_token
        FROM model_prices_exact
        WHERE price_key = 'input_mtok' AND time_of_day = ''
        GROUP BY priced_model, effective_from
    ) AS p
    ON u.priced_model = p.priced_model AND u.day >= p.effective_from
)
GROUP BY GROUPING SETS ((provider, request_model), ())
ORDER BY line = 'total', saved_usd DESC, provider, model
SETTINGS join_use_nulls = 1
