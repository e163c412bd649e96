/** Tenant drill-down: one org (a single-value variable), its features, users, models and month. */
import { BY_ORG_CONVERSATION, BY_ORG_MODEL, BY_ORG_SERVICE_FEATURE, BY_ORG_USER, HOURLY, type Rollup } from '../../../clickhouse/rollups.js';
import { dashboard } from '../dashboard.js';
import { stat, table, timeseries } from '../model.js';
import { marginTable, marginTotals } from '../margin.js';
import { spendOverTime, totals, unpricedCalls, type Read } from '../panels.js';
import { allSelected, filterClause, ORG, TENANT_FILTERS } from '../query/filters.js';
import { LEDGER, rollupQuery, type Column, type Condition } from '../query/rollup-query.js';
import { sql } from '../query/sql.js';
import { fixedColor, stackedBars, usd } from '../style.js';
import { datasourceVariable, tenantVariable } from '../variables.js';
import { TENANT } from './ids.js';

/** Service, environment and feature All: the rollup per (org, hour, model); else the org's fine groups. */
const byOrgModel: Read = (select, where) => rollupQuery({ select, filters: TENANT_FILTERS, small: BY_ORG_MODEL, fine: HOURLY, where });

/** Provider and model All: the rollup per (org, hour, service, environment, feature); else the org's fine groups. */
const byOrgFeature: Read = (select, where) => rollupQuery({ select, filters: TENANT_FILTERS, small: BY_ORG_SERVICE_FEATURE, fine: HOURLY, where });

/** Every filter but org All: `small` (per org, hour and user or conversation) for the whole hours, the ledger for the rest. */
const perOrgHour = (small: Rollup) => (select: readonly Column[], where: readonly Condition[] = [], smallOnlyIf: readonly string[] = []): string =>
  rollupQuery({ select, filters: TENANT_FILTERS, small, fine: LEDGER, where, smallOnlyIf });
const byConversation = perOrgHour(BY_ORG_CONVERSATION);
const byUser = perOrgHour(BY_ORG_USER);

/**
 * The raw ledger's edge hours are read through FINAL, which by default reads every column of the
 * org's edge days before filtering; this moves the conditions on sorting-key columns (org, ts) ahead
 * of FINAL's merge. Only sorting-key conditions move (ClickHouse keeps the others after the merge),
 * and every delivery of a call has the same key, so the answers stay exact.
 */
const KEY_PREWHERE = 'SETTINGS optimize_move_to_prewhere_if_final = 1';
const SPENT = ['n_calls', 'calls'] as const;
const UNPRICED = ['n_unpriced', 'unpriced_calls'] as const;
const COST = ['cost', 'cost_usd'] as const;
/** A user's or conversation's spend: NULL when none of its calls was priced (sorted last). */
const spendOrNull = 'if(sum(n_calls) = sum(n_unpriced), NULL, sum(cost))';

const org = TENANT_FILTERS.find((f) => f.variable === ORG.variable)!;

/**
 * "Top conversations by cost" ranks the conversations that can be among the org's 20 costliest in
 * the range (0014): each day the range covers whole, its candidates; each other day it touches,
 * every conversation of its part in the range. That holds the top 20 when every other filter is
 * All and the range's last day is at most 35 days after its first (0014's look-back): SHORT. Then
 * the candidates' sums and lists are built in one pass; otherwise every conversation is ranked by
 * its sums first and the lists are built for the 20. `$__timeFilter` keeps calls up to
 * `$__toTime` (whole seconds): a day is whole when it ends by then.
 */
const SHORT = `(${allSelected(TENANT_FILTERS.filter((f) => f !== org))} AND dateDiff('day', toDate($__fromTime, 'UTC'), toDate($__toTime, 'UTC')) <= 35)`;
const FIRST_WHOLE_DAY = "toDate($__fromTime + INTERVAL 86399 SECOND, 'UTC')";
const LAST_WHOLE_DAY = "toDate($__toTime - INTERVAL 1 DAY, 'UTC')";
const CANDIDATES = sql`
(NOT ${SHORT}
 OR conversation_id IN
 (
     SELECT conversation_id
     FROM ai_usage_daily_top_conversations_exact
     WHERE ${filterClause(org)} AND day >= ${FIRST_WHOLE_DAY} AND day <= ${LAST_WHOLE_DAY} AND ${SHORT}
     UNION ALL
     SELECT conversation_id
     FROM
     (
         ${byConversation(['conversation_id'], ["conversation_id != ''", SHORT, (time) => `(${time} < toDateTime(${FIRST_WHOLE_DAY}, 'UTC') OR ${time} >= toDateTime(${LAST_WHOLE_DAY}, 'UTC') + INTERVAL 1 DAY)`])}
     )
 ))`;
/**
 * The candidates, on the rollup's whole hours: the raw ledger is read for partial hours only, whose
 * days are not whole, and every conversation of those is a candidate.
 */
const candidate = (time: string): string => (time === 'ts' ? '1' : CANDIDATES);

export const tenant = dashboard({
  ...TENANT,
  description: 'One org: spend by feature, user and model, its costliest conversations, and the month so far against last month.',
  from: 'now-7d',
  variables: [datasourceVariable, ...TENANT_FILTERS.map((f) => tenantVariable(f, org))],
  panels: [
    totals(
      1,
      'Exact totals for the org over the selected range, from the hourly rollup (whole hours whose start is in the range). Cost per call divides by priced calls only.',
      { h: 4, w: 12, x: 0, y: 0 },
      byOrgModel,
    ),
    stat({
      id: 2,
      title: 'Prompt caching saved (list prices)',
      description:
        "Cached input tokens at the list input price in force on the call's day (model_prices: input_mtok of the priced model, the latest effective_from on or before that day, an override before the catalog), minus what the cache reads were billed (cost_breakdown['cache_read_tokens']). Only calls whose cache reads were priced separately; time-of-day prices and long-context tiers are not applied. Read from the hourly rollup (cache_read_priced_tokens, cache_read_paid_usd per priced model and day), priced at read time.",
      gridPos: { h: 4, w: 6, x: 12, y: 0 },
      sql: sql`
SELECT toFloat64(ifNull(sum(u.tokens * p.input_per_token - u.paid), 0)) AS saved
FROM
(
    SELECT priced_model, toDate(hour) AS day, sum(cache_read_priced_tokens) AS tokens, sum(cache_read_paid_usd) AS paid
    FROM
    (
        ${byOrgModel(['hour', 'priced_model', 'cache_read_priced_tokens', 'cache_read_paid_usd'], ['cache_read_priced_tokens > 0'])}
    )
    GROUP BY priced_model, day
) AS u
ASOF INNER JOIN
(
    SELECT
        concat(provider_id, '/', model_id) AS priced_model,
        effective_from,
        argMax(price / per, (startsWith(source, 'override:'), loaded_at)) AS input_per_token
    FROM model_prices_exact
    WHERE price_key = 'input_mtok' AND time_of_day = ''
    GROUP BY priced_model, effective_from
) AS p
ON u.priced_model = p.priced_model AND u.day >= p.effective_from`,
      defaults: { ...usd(2), ...fixedColor('green') },
    }),
    unpricedCalls(3, 'Calls of the org without a price (cost_usd NULL), from the hourly rollup.', { h: 4, w: 6, x: 18, y: 0 }, byOrgModel),
    stat({
      id: 4,
      title: 'Month to date against last month, with a linear forecast',
      description:
        'As of the end of the selected range (UTC months, hourly rollup). Month to date: the month containing the range end, up to it. Last month: all of the previous month; "same point": the previous month up to the same elapsed time. Forecast = month to date × month length ÷ time elapsed (linear).',
      gridPos: { h: 4, w: 24, x: 0, y: 4 },
      showNames: true,
      sql: sql`
WITH
    toTimeZone($__toTime, 'UTC') AS as_of,
    toDateTime(toStartOfMonth(as_of), 'UTC') AS month_start,
    month_start - INTERVAL 1 MONTH AS prev_start,
    dateDiff('second', month_start, as_of) AS elapsed_s,
    dateDiff('second', month_start, month_start + INTERVAL 1 MONTH) AS month_s
SELECT
    toFloat64(sumIf(cost_usd, hour >= month_start)) AS month_to_date,
    toFloat64(sumIf(cost_usd, hour < month_start)) AS last_month,
    toFloat64(sumIf(cost_usd, hour < month_start AND hour <= prev_start + toIntervalSecond(elapsed_s))) AS last_month_same_point,
    toFloat64(sumIf(cost_usd, hour >= month_start)) * month_s / greatest(elapsed_s, 1) AS forecast
FROM
(
    ${rollupQuery({ select: ['hour', 'cost_usd'], filters: TENANT_FILTERS, small: BY_ORG_MODEL, fine: HOURLY, window: { hour: ['hour >= prev_start', 'hour <= as_of'], from: 'prev_start', to: 'as_of' } })}
)`,
      defaults: { ...usd(2), ...fixedColor('purple') },
      fields: {
        month_to_date: { displayName: 'Month to date' },
        last_month: { displayName: 'Last month' },
        last_month_same_point: { displayName: 'Last month, same point' },
        forecast: { displayName: 'Month-end forecast' },
      },
    }),
    spendOverTime(5, 'Spend by feature', 'Exact spend per interval (at least one hour: the hourly rollups), stacked by feature.', { h: 9, w: 12, x: 0, y: 8 }, 'feature', 'feature', byOrgFeature),
    spendOverTime(6, 'Spend by model', 'Exact spend per interval (at least one hour: the hourly rollup), stacked by requested model.', { h: 9, w: 12, x: 12, y: 8 }, 'request_model', 'model', byOrgModel),
    timeseries({
      id: 7,
      title: 'Spend by user (top 8, others summed)',
      description: 'Exact spend per interval of the eight users who spent most in the range; everyone else is "other".',
      gridPos: { h: 9, w: 12, x: 0, y: 17 },
      maxDataPoints: 500,
      sql: sql`
SELECT
    time,
    if(user_rank <= 8, user_id, 'other') AS user,
    toFloat64(sum(s)) AS spend
FROM
(
    SELECT
        time, user_id, s,
        -- The users ranked by what they spent in the range (NULLS LAST: users without a priced call).
        dense_rank() OVER (ORDER BY user_priced = 0, user_total DESC, user_id) AS user_rank
    FROM
    (
        SELECT
            time, user_id,
            sum(cost) AS s,
            sum(sum(cost)) OVER (PARTITION BY user_id) AS user_total,
            sum(sum(n_calls) - sum(n_unpriced)) OVER (PARTITION BY user_id) AS user_priced
        FROM
        (
            -- The rollup also only when the interval is whole hours (then an hour's row falls in the
            -- same bucket as its calls).
            ${byUser([['time', (t) => `$__timeInterval(${t})`], 'user_id', SPENT, UNPRICED, COST], [], ['$__interval_s % 3600 = 0'])}
        )
        GROUP BY time, user_id
    )
)
GROUP BY time, user
ORDER BY time, user
${KEY_PREWHERE}`,
      defaults: stackedBars('user'),
    }),
    table({
      id: 8,
      title: 'Top users',
      description: "The org's users by spend in the range.",
      gridPos: { h: 9, w: 12, x: 12, y: 17 },
      sql: sql`
SELECT
    user_id AS user,
    toFloat64(ifNull(${spendOrNull}, 0)) AS spend,
    sum(n_calls) AS calls,
    uniqExactMerge(conversation_set) AS conversations,
    arrayStringConcat(arraySort(groupUniqArrayArray(model_list)), ', ') AS models
FROM
(
    ${byUser(['user_id', SPENT, UNPRICED, COST, ['conversation_set', 'conversations'], ['model_list', 'models']])}
)
GROUP BY user_id
ORDER BY ${spendOrNull} DESC NULLS LAST, user
LIMIT 20
${KEY_PREWHERE}`,
      fields: { spend: usd(4) },
    }),
    table({
      id: 9,
      title: 'Top conversations by cost',
      description: "The org's most expensive conversations in the range (calls with a conversation id). Ranked among each day's candidates (its 20 costliest and those seen on an earlier day) when every other filter is All and the range spans at most 35 days after its first; among all of them otherwise.",
      gridPos: { h: 10, w: 24, x: 0, y: 26 },
      sql: sql`
SELECT
    conversation_id AS conversation,
    toFloat64(ifNull(${spendOrNull}, 0)) AS spend,
    sum(n_calls) AS calls,
    sum(n_tokens) AS tokens,
    min(first_ts) AS first_call,
    max(last_ts) AS last_call,
    arrayStringConcat(arraySort(groupUniqArray(user_id)), ', ') AS users,
    arrayStringConcat(arraySort(groupUniqArrayArray(model_list)), ', ') AS models
FROM
(
    ${byConversation(['conversation_id', 'user_id', SPENT, UNPRICED, COST, ['n_tokens', 'tokens'], ['first_ts', 'first_call'], ['last_ts', 'last_call'], ['model_list', 'models']], ["conversation_id != ''", candidate])}
)
-- Otherwise the 20 conversations that cost most, found first from sums alone (the lists of users
-- and models are only built for them).
WHERE ${SHORT} OR conversation_id IN
(
    SELECT conversation_id
    FROM
    (
        ${byConversation(['conversation_id', SPENT, UNPRICED, COST], ["conversation_id != ''", `NOT ${SHORT}`])}
    )
    GROUP BY conversation_id
    ORDER BY ${spendOrNull} DESC NULLS LAST, conversation_id
    LIMIT 20
)
GROUP BY conversation_id
ORDER BY ${spendOrNull} DESC NULLS LAST, conversation
LIMIT 20
${KEY_PREWHERE}`,
      fields: { spend: usd(4) },
    }),
    marginTotals(10, { h: 9, w: 8, x: 0, y: 36 }, TENANT_FILTERS),
    marginTable({ id: 11, title: 'Billed against cost per feature', gridPos: { h: 9, w: 16, x: 8, y: 36 }, filters: TENANT_FILTERS, by: ['feature', 'feature'] }),
  ],
});
