-- genai-ledger 0013: the Budgets panel and the budget alert rule from a rollup per (budget, value, hour).
--
-- They read, per budget in force, its current period's spend. Read from the call rollups (a route
-- per budget to the smallest rollup holding its keys, the raw ledger for the partial hour), that
-- query took ~0.5 s whatever the store's size (`npm run bench:dashboards`, 10M and 100M calls):
-- its cost was its shape (seven routes, a raw read across every org), not the data. So this file
-- adds
--
--   budget_spend_hourly  (budget, hour, per value): the priced calls each budget in force matches
--                        in the hour and their spend (a `per` budget: per value of its field;
--                        calls without that field count for no value). Unpriced calls cost nothing
--                        and are left out. A budget's period is at most a month and a few days of
--                        hours: the readers sum a few hundred rows per budget and value.
--
-- Folded from ai_usage FINAL (exact under duplicate delivery) by a refreshable view, every
-- {{refresh_seconds}} s: the hours whose raw rows were inserted since its last run (watermark: the
-- largest inserted_at folded, minus the overlap), or every hour when the budgets table changed
-- since (a budget added, removed or edited is folded over all of its history). The calls are
-- summed per hour and group of budget fields, and each group is matched against every budget at
-- once (arrays of the budgets' match values, '' for a field a budget does not match on: match
-- values are never empty). The view writes the groups with a new
-- version, tombstones the groups that vanished from a re-folded hour (FULL JOIN with the previous
-- rows), and writes one row of marks (budget '', hour 1970): the inserted_at and the budgets
-- version it folded up to, kept even when no budget matched anything. Readers skip it.
-- ReplacingMergeTree(version, is_deleted), read through the _exact view (FINAL).
--
-- The current hour is as complete as the last refresh: the readers count the hours that start
-- before the evaluation time, as of then. Safe to re-run and to race: CREATE ... IF NOT EXISTS only.
-- {{#...}} blocks are macros: clickhouse/migrate.ts spells out the statements they expand to.

{{#rollup_table budget_spend_hourly}}
partition: toYYYYMM(hour)
order: budget, hour, per_value
columns:
    budget            String,
    hour              DateTime('UTC'),
    per_value         String,
    calls             UInt64,
    cost_usd          Decimal(38, 18),
    -- On the marks row: the largest ai_usage.inserted_at and budgets.updated_at folded.
    max_inserted_at   DateTime64(6, 'UTC'),
    budgets_at        DateTime64(6, 'UTC'),
{{/rollup_table}}

-- @cluster-only
CREATE TABLE IF NOT EXISTS {{database}}.budget_spend_hourly{{on_cluster}} AS {{database}}.budget_spend_hourly_local
ENGINE = Distributed('{{cluster}}', '{{database}}', 'budget_spend_hourly_local', rand());

CREATE MATERIALIZED VIEW IF NOT EXISTS {{database}}.budget_spend_hourly_refresh{{on_cluster}}
REFRESH EVERY {{refresh_seconds}} SECOND
APPEND TO {{database}}.budget_spend_hourly{{local}}
AS
WITH
    (SELECT (max(max_inserted_at), max(budgets_at)) FROM {{database}}.budget_spend_hourly{{local}} WHERE budget = '') AS marks,
    (
        SELECT (
            groupArray(name), groupArray(toString(per)),
            groupArray(match['org_id']), groupArray(match['user_id']), groupArray(match['feature']), groupArray(match['service_name']),
            groupArray(match['environment']), groupArray(match['provider']), groupArray(match['model']))
        FROM {{database}}.budgets FINAL
    ) AS b,
    (SELECT max(updated_at) FROM {{database}}.budgets) AS budgets_version,
    budgets_version > marks.2 AS refold_all,
    marks.1 - INTERVAL {{watermark_lag_seconds}} SECOND AS since,
    -- No budget in force: nothing to fold (a budget added later re-folds every hour).
    (SELECT groupUniqArray(toStartOfHour(ts)) FROM {{database}}.ai_usage{{local}} WHERE length(b.1) > 0 AND (refold_all OR inserted_at > since){{ttl_guard}}) AS dirty_hours,
    (SELECT max(inserted_at) FROM {{database}}.ai_usage{{local}} WHERE length(b.1) > 0 AND (refold_all OR inserted_at > since){{ttl_guard}}) AS folded_upto
SELECT
    budget, per_value, hour, calls, cost_usd,
    greatest(marks.1, folded_upto) AS max_inserted_at,
    greatest(marks.2, budgets_version) AS budgets_at,
    now64(6) AS version,
    toUInt8(calls = 0 AND budget != '') AS is_deleted
FROM
(
    SELECT budget, per_value, hour, calls, cost_usd
    FROM
    (
        SELECT
            b.1[i] AS budget,
            multiIf(b.2[i] = 'org_id', org_id, b.2[i] = 'user_id', user_id, b.2[i] = 'feature', feature, b.2[i] = 'service_name', service_name,
                    b.2[i] = 'environment', environment, b.2[i] = 'provider', provider, b.2[i] = 'model', request_model, '') AS per_value,
            hour,
            sum(n) AS calls,
            sum(cost) AS cost_usd
        FROM
        (
            -- The calls summed per hour and group of budget fields first: the budgets are matched
            -- per group, not per call.
            SELECT toStartOfHour(ts) AS hour, org_id, user_id, feature, service_name, environment, provider, request_model,
                   count() AS n, sum(assumeNotNull(cost_usd)) AS cost
            FROM {{database}}.ai_usage{{local}} FINAL
            WHERE ts >= arrayMin(dirty_hours) AND ts < arrayMax(dirty_hours) + INTERVAL 1 HOUR
              -- has(): an IN subquery cannot read the view's WITH this deep; all hours need no test.
              AND (refold_all OR has(dirty_hours, toStartOfHour(ts)))
              AND cost_usd IS NOT NULL
            GROUP BY hour, org_id, user_id, feature, service_name, environment, provider, request_model
        )
        -- The budgets this call counts for: every match value equal, and a `per` budget's field set.
        ARRAY JOIN arrayFilter(
            i -> (b.3[i] = '' OR b.3[i] = org_id) AND (b.4[i] = '' OR b.4[i] = user_id) AND (b.5[i] = '' OR b.5[i] = feature)
                AND (b.6[i] = '' OR b.6[i] = service_name) AND (b.7[i] = '' OR b.7[i] = environment) AND (b.8[i] = '' OR b.8[i] = provider)
                AND (b.9[i] = '' OR b.9[i] = request_model)
                AND multiIf(b.2[i] = '', 1, b.2[i] = 'org_id', org_id != '', b.2[i] = 'user_id', user_id != '', b.2[i] = 'feature', feature != '',
                            b.2[i] = 'service_name', service_name != '', b.2[i] = 'environment', environment != '', b.2[i] = 'provider', provider != '',
                            b.2[i] = 'model', request_model != '', 0),
            arrayEnumerate(b.1)) AS i
        GROUP BY budget, per_value, hour
    ) AS fresh
    FULL OUTER JOIN
    (
        SELECT budget, per_value, hour
        FROM {{database}}.budget_spend_hourly{{local}} FINAL
        WHERE budget != '' AND hour >= arrayMin(dirty_hours) AND hour <= arrayMax(dirty_hours)
          AND (refold_all OR has(dirty_hours, hour))
    ) AS previous
    USING (budget, per_value, hour)
    UNION ALL
    -- The marks (see max_inserted_at and budgets_at above).
    SELECT '' AS budget, '' AS per_value, toDateTime(0, 'UTC') AS hour, toUInt64(0) AS calls, toDecimal128(0, 18) AS cost_usd
)
SETTINGS join_use_nulls = 0;

-- The relation to query (FINAL collapses versions and drops tombstones), without the marks row.
CREATE VIEW IF NOT EXISTS {{database}}.budget_spend_hourly_exact{{on_cluster}} AS
SELECT * EXCEPT (max_inserted_at, budgets_at, version, is_deleted)
FROM {{database}}.budget_spend_hourly FINAL
WHERE budget != ''
SETTINGS do_not_merge_across_partitions_select_final = 1;
