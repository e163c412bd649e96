-- genai-ledger 0010: the tenant drill-down's user panels from a rollup per (org, hour, user).
--
-- Measured with `npm run bench:dashboards` at the density of 100M calls a year (300k calls a day:
-- `--rows 10000000 --days 36`, 30-day range, the largest org, 2 vCPUs): "Spend by user (top 8,
-- others summed)" and "Top users" read 0006's rollup per (org, hour, user, conversation), about
-- one row per conversation and hour: ~140k rows for the largest org's 30 days, over 100 ms p95.
-- Both only group by user (and time), so this file adds
--
--   ai_usage_hourly_by_org_user  (org, hour, user): calls, unpriced calls, spend, the set of the
--                               user's conversations (a uniqExact state: "Top users" counts
--                               distinct conversations over the whole range, which hourly counts
--                               cannot add up to) and the sorted list of models. 40 users an org:
--                               ~30k rows for the same 30 days.
--
-- The panels read it for the whole hours of the range and the raw ledger for the partial hours at
-- its edges (a raw row's conversation becomes a one-element state), when service, environment,
-- provider, model and feature are All, as they read 0006's rollup; their answers equal the raw
-- ledger's to the row (test/dashboards/conversations-unpriced.test.ts).
--
-- Derived like 0006's rollups, from ai_usage FINAL: a refreshable view re-folds the hours whose raw
-- rows were inserted since its last run (watermark: the largest inserted_at folded, minus the
-- overlap; the dirty-hour scan uses ai_usage's inserted_at index), writes the groups with a new
-- version, and tombstones groups that vanished from a re-folded hour (FULL JOIN with the previous
-- rows). ReplacingMergeTree(version, is_deleted), read through the _exact view (FINAL; partitioned
-- by month of hour, which is in the sorting key). On an existing store the first refresh finds an
-- empty table (watermark 1970) and folds every hour: the backfill. Safe to re-run and to race:
-- CREATE ... IF NOT EXISTS only. Refresh order: clickhouse/rollups.ts.
-- {{#...}} blocks are macros: clickhouse/migrate.ts spells out the statements they expand to.

{{#rollup_table ai_usage_hourly_by_org_user}}
partition: toYYYYMM(hour)
order: org_id, hour, user_id
columns:
    org_id            String,
    hour              DateTime('UTC'),
    user_id           String,
    calls             UInt64,
    unpriced_calls    UInt64,
    cost_usd          Decimal(38, 18),
    conversations     AggregateFunction(uniqExact, String),
    models            Array(LowCardinality(String)),
    -- Largest ai_usage.inserted_at folded into this row: the refresh watermark.
    max_inserted_at   DateTime64(6, 'UTC'),
{{/rollup_table}}

-- @cluster-only
CREATE TABLE IF NOT EXISTS {{database}}.ai_usage_hourly_by_org_user{{on_cluster}} AS {{database}}.ai_usage_hourly_by_org_user_local
ENGINE = Distributed('{{cluster}}', '{{database}}', 'ai_usage_hourly_by_org_user_local', rand());

{{#refresh_view ai_usage_hourly_by_org_user}}
from: ai_usage AS u
dirty: toStartOfHour(ts) AS hour
keys: org_id, hour, user_id
columns:
    org_id, hour, user_id,
    calls, unpriced_calls, cost_usd, conversations, models,
    max_inserted_at,
fresh:
        org_id, toStartOfHour(ts) AS hour, user_id,
        count() AS calls,
        countIf(u.cost_usd IS NULL) AS unpriced_calls,
        sum(ifNull(u.cost_usd, toDecimal128(0, 18))) AS cost_usd,
        uniqExactState(u.conversation_id) AS conversations,
        arraySort(groupUniqArray(u.request_model)) AS models,
        max(u.inserted_at) AS max_inserted_at
{{/refresh_view}}

-- The relation to query (FINAL collapses versions and drops tombstones).
CREATE VIEW IF NOT EXISTS {{database}}.ai_usage_hourly_by_org_user_exact{{on_cluster}} AS
SELECT * EXCEPT (max_inserted_at, version, is_deleted)
FROM {{database}}.ai_usage_hourly_by_org_user FINAL
SETTINGS do_not_merge_across_partitions_select_final = 1;
