-- genai-ledger 0014: the tenant drill-down's "Top conversations by cost" from each day's candidates.
--
-- The panel ranks an org's conversations by their spend in the range. Read from 0006's rollup per
-- (org, hour, user, conversation), that is a GROUP BY over every conversation of the org in the
-- range: ~140k for the largest org's 30 days at 100M calls a year (`npm run bench:dashboards --
-- --rows 100000000 --days 365`), over 100 ms p95. Only a few of them can be in the top 20:
--
--   ai_usage_daily_top_conversations  (org, day, conversation): the day's 20 costliest
--                               conversations (in the panel's order: priced before unpriced, spend
--                               descending, then id), and the day's conversations also seen on one
--                               of the 35 days before it.
--
-- Why that holds the top 20 of any range of whole days spanning at most 35 days: a conversation
-- with calls on two of those days is listed on the later one. A conversation with calls on one of
-- them only has the spend of that day there, and each conversation ranked above it on that day
-- has at least as much in the range, so it is among that day's 20. The panel reads every
-- conversation of the range's partial days at its edges beside these, and computes the exact
-- spend of those candidates only; longer ranges read every conversation as before.
--
-- Folded from 0006's rollup (FINAL) by a refreshable view after it: the days whose rows changed
-- since its last run (watermark: the largest source version folded, minus the overlap), and the 35
-- days after each (a new conversation on a day can be seen again on those), written with a new
-- version; rows that vanished from a re-folded day are tombstoned (FULL JOIN with the previous
-- rows). ReplacingMergeTree(version, is_deleted), read through the _exact view (FINAL).
--
-- On a cluster, calls of one conversation are on several shards, so no shard can rank them: there
-- the _exact view lists every conversation of each day instead (exact, and as slow as before).
-- Safe to re-run and to race: CREATE ... IF NOT EXISTS only.
-- {{#...}} blocks are macros: clickhouse/migrate.ts spells out the statements they expand to.

-- @single-node
{{#rollup_table ai_usage_daily_top_conversations}}
partition: toYYYYMM(day)
order: org_id, day, conversation_id
columns:
    org_id            String,
    day               Date,
    conversation_id   String,
    -- Largest ai_usage_hourly_by_org_conversation.version folded: the refresh watermark.
    max_version       DateTime64(6, 'UTC'),
{{/rollup_table}}

-- @single-node
CREATE MATERIALIZED VIEW IF NOT EXISTS {{database}}.ai_usage_daily_top_conversations_refresh
REFRESH EVERY {{refresh_seconds}} SECOND DEPENDS ON {{database}}.ai_usage_hourly_by_org_conversation_refresh
APPEND TO {{database}}.ai_usage_daily_top_conversations
AS
WITH
    (SELECT max(max_version) FROM {{database}}.ai_usage_daily_top_conversations) - INTERVAL {{watermark_lag_seconds}} SECOND AS since,
    (SELECT (groupUniqArray(toDate(hour)), max(version)) FROM {{database}}.ai_usage_hourly_by_org_conversation WHERE version > since) AS changed,
    arrayDistinct(arrayFlatten(arrayMap(d -> arrayMap(k -> d + k, range(36)), changed.1))) AS dirty_days
SELECT org_id, day, conversation_id, changed.2 AS max_version, now64(6) AS version, toUInt8(kept = 0) AS is_deleted
FROM
(
    SELECT org_id, day, conversation_id, toUInt8(1) AS kept
    FROM
    (
        -- Each day's 20 costliest, in the panel's order.
        SELECT org_id, day, conversation_id
        FROM
        (
            SELECT org_id, toDate(hour) AS day, conversation_id, sum(calls) AS calls, sum(unpriced_calls) AS unpriced, sum(cost_usd) AS cost
            FROM {{database}}.ai_usage_hourly_by_org_conversation FINAL
            WHERE hour >= toDateTime(arrayMin(dirty_days), 'UTC') AND hour < toDateTime(arrayMax(dirty_days), 'UTC') + INTERVAL 1 DAY
              AND has(dirty_days, toDate(hour)) AND conversation_id != ''
            GROUP BY org_id, day, conversation_id
        )
        ORDER BY calls = unpriced, cost DESC, conversation_id
        LIMIT 20 BY org_id, day
        UNION DISTINCT
        -- Each day's conversations seen on one of the 35 days before it.
        SELECT d.org_id AS org_id, d.day AS day, d.conversation_id AS conversation_id
        FROM
        (
            -- Not DISTINCT: the join keeps only the rows of the later days' conversations, and the
            -- UNION DISTINCT collapses them, instead of grouping 35 days of rows first.
            SELECT org_id, toDate(hour) AS day, conversation_id
            FROM {{database}}.ai_usage_hourly_by_org_conversation FINAL
            WHERE hour >= toDateTime(arrayMin(dirty_days), 'UTC') - INTERVAL 35 DAY AND hour < toDateTime(arrayMax(dirty_days), 'UTC')
              AND conversation_id != ''
        ) AS e
        INNER JOIN
        (
            SELECT DISTINCT org_id, toDate(hour) AS day, conversation_id
            FROM {{database}}.ai_usage_hourly_by_org_conversation FINAL
            WHERE hour >= toDateTime(arrayMin(dirty_days), 'UTC') AND hour < toDateTime(arrayMax(dirty_days), 'UTC') + INTERVAL 1 DAY
              AND has(dirty_days, toDate(hour)) AND conversation_id != ''
        ) AS d
        ON e.org_id = d.org_id AND e.conversation_id = d.conversation_id
        WHERE e.day < d.day AND e.day >= d.day - 35
    )
) AS fresh
FULL OUTER JOIN
(
    SELECT org_id, day, conversation_id
    FROM {{database}}.ai_usage_daily_top_conversations FINAL
    WHERE day >= arrayMin(dirty_days) AND day <= arrayMax(dirty_days) AND has(dirty_days, day)
) AS previous
USING (org_id, day, conversation_id)
SETTINGS join_use_nulls = 0;

-- The relation to query (FINAL collapses versions and drops tombstones).
-- @single-node
CREATE VIEW IF NOT EXISTS {{database}}.ai_usage_daily_top_conversations_exact AS
SELECT org_id, day, conversation_id
FROM {{database}}.ai_usage_daily_top_conversations FINAL
SETTINGS do_not_merge_across_partitions_select_final = 1;

-- On a cluster: every conversation of each day (see above).
-- @cluster-only
CREATE VIEW IF NOT EXISTS {{database}}.ai_usage_daily_top_conversations_exact{{on_cluster}} AS
SELECT DISTINCT org_id, toDate(hour) AS day, conversation_id
FROM {{database}}.ai_usage_hourly_by_org_conversation_exact
WHERE conversation_id != '';
