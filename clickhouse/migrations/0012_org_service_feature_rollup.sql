-- genai-ledger 0012: the tenant drill-down's spend by feature and its lists from a rollup per
-- (org, hour, service, environment, feature).
--
-- At the density of 100M calls a year (`npm run bench:dashboards -- --rows 10000000 --days 36`,
-- 300k calls a day), the largest org's fine groups in the hourly rollup (service × environment ×
-- model × operation × feature × priced model) number ~600 an hour: "Spend by feature" and the
-- $service, $environment and $feature lists read ~430k of them for 30 days. They never read a
-- model column, so this file adds
--
--   ai_usage_hourly_by_org_service_feature  (org, hour, service, environment, feature): calls,
--                               unpriced calls, spend; at most 96 groups an org and hour (~65k rows
--                               for the same 30 days). "Spend by feature" reads it when provider and
--                               model are All (the fine rollup otherwise); the lists read it
--                               directly, and $provider and $model read 0005's per (org, hour, model).
--
-- Derived like 0005's small rollups: folded from ai_usage_hourly_by_time (the fine groups ordered by
-- hour, tombstones included) by a refreshable view that re-folds the hours whose rows changed since
-- its last run (watermark: the largest source version folded, minus the overlap), writes the groups
-- with a new version, and tombstones groups that vanished (FULL JOIN with the previous rows).
-- ReplacingMergeTree(version, is_deleted), read through the _exact view (FINAL; partitioned by month
-- of hour, which is in the sorting key). On an existing store the first refresh folds every hour:
-- the backfill. Safe to re-run and to race: CREATE ... IF NOT EXISTS only. Refresh order:
-- clickhouse/rollups.ts.
-- {{#...}} blocks are macros: clickhouse/migrate.ts spells out the statements they expand to.

{{#rollup_table ai_usage_hourly_by_org_service_feature}}
partition: toYYYYMM(hour)
order: org_id, hour, service_name, environment, feature
columns:
    hour                      DateTime('UTC'),
    org_id                    String,
    service_name              LowCardinality(String),
    environment               LowCardinality(String),
    feature                   LowCardinality(String),
    calls                     UInt64,
    unpriced_calls            UInt64,
    cost_usd                  Decimal(38, 18),
    -- Largest ai_usage_hourly_by_time.version folded into this row: the refresh watermark.
    max_version               DateTime64(6, 'UTC'),
{{/rollup_table}}

-- @cluster-only
CREATE TABLE IF NOT EXISTS {{database}}.ai_usage_hourly_by_org_service_feature{{on_cluster}} AS {{database}}.ai_usage_hourly_by_org_service_feature_local
ENGINE = Distributed('{{cluster}}', '{{database}}', 'ai_usage_hourly_by_org_service_feature_local', rand());

{{#refresh_view ai_usage_hourly_by_org_service_feature}}
from: ai_usage_hourly_by_time
after: ai_usage_hourly_by_time_refresh
dirty: hour
keys: hour, org_id, service_name, environment, feature
columns:
    hour, org_id, service_name, environment, feature, calls, unpriced_calls, cost_usd, max_version,
fresh:
        hour, org_id, service_name, environment, feature,
        {{sum calls, unpriced_calls, cost_usd}}
        max(version) AS max_version
{{/refresh_view}}

-- The relation to query (FINAL collapses versions and drops tombstones).
CREATE VIEW IF NOT EXISTS {{database}}.ai_usage_hourly_by_org_service_feature_exact{{on_cluster}} AS
SELECT * EXCEPT (max_version, version, is_deleted)
FROM {{database}}.ai_usage_hourly_by_org_service_feature FINAL
SETTINGS do_not_merge_across_partitions_select_final = 1;
