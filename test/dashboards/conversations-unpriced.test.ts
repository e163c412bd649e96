/**
 * Migration 0006. Its list of unpriced calls (ai_usage_unpriced), read by the overview's "Unpriced
 * calls (latest 500)": the same rows as the raw ledger's latest deliveries without a price, for any
 * range and selection; a call re-delivered with a price leaves it.
 *
 * Its rollup per (org, hour, user, conversation), read by the tenant drill-down's
 * "Top users", "Top conversations by cost" and "Spend by user (top 8, others summed)" when service,
 * environment, provider, model and feature are All: the rollup for the whole hours of the range, the
 * raw ledger for the partial hours at its edges. Selecting every value of a filter explicitly asks the
 * same question of the raw ledger alone, so both answers must be identical, row for row: over whole
 * days, over ranges starting and ending mid-day and mid-hour, for the series at sub-hour and
 * whole-hour intervals. Also: a call re-delivered into another conversation moves there (tombstone),
 * a second refresh changes nothing, and upgrading a store that predates 0006 backfills the rollup.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { migrate, refreshRollups, renderMigrations } from '../../clickhouse/migrate.js';
import { queryRows } from '../support/store.js';
import { dashboardQueries, expandFor, loadDashboard, type DashboardQuery } from './load.js';
import { expandQuery, type VariableState } from './macros.js';
import { ALL_FILTERS, openFixtureStore, pick, RANGE, type FixtureStore, type Row } from './support.js';

const ROLLUP = 'ai_usage_hourly_by_org_conversation_exact';
/** Migration 0010: the user panels read the rollup per (org, hour, user) instead. */
const USERS = 'ai_usage_hourly_by_org_user_exact';
const READS: Record<string, string> = { 'Top users': USERS, 'Top conversations by cost': ROLLUP, 'Spend by user (top 8, others summed)': USERS };
const PANELS = Object.keys(READS);
const HOUR = 3_600_000;
const RANGES = [
  RANGE,
  { from: new Date('2026-11-02T10:30:00Z'), to: new Date('2026-11-06T15:20:00Z') },
  { from: new Date('2026-11-05T19:02:30Z'), to: new Date('2026-11-06T14:30:00Z') },
  { from: new Date('2026-10-01T00:00:00Z'), to: new Date('2026-11-15T00:00:00Z') },
  { from: new Date('2026-11-06T14:00:00Z'), to: new Date('2026-11-06T14:59:59Z') },
];
const INTERVALS = [20 * 60_000, HOUR, 2 * HOUR, 24 * HOUR];

let fx: FixtureStore;
let services: VariableState;
const queries: DashboardQuery[] = dashboardQueries(loadDashboard('genai-ledger-tenant')).filter((q) => PANELS.includes(q.name));

beforeAll(async () => {
  fx = await openFixtureStore();
  const rows = await queryRows<{ v: string }>(fx.client, 'SELECT DISTINCT service_name AS v FROM ai_usage_exact ORDER BY v');
  services = { value: rows.map((r) => r.v) };
});
afterAll(async () => fx?.store.close());

async function run(q: DashboardQuery, range: { from: Date; to: Date }, intervalMs: number, variables: Record<string, VariableState>): Promise<Row[]> {
  const query = expandQuery(q.rawSql, { ...range, intervalMs, variables });
  const rs = await fx.client.query({ query, format: 'JSONEachRow', clickhouse_settings: { output_format_json_quote_64bit_integers: 0 } });
  return rs.json<Row>();
}

/** Every panel, org, range and interval: via the rollup (All) and via the raw ledger (every service selected). */
async function compareAll(): Promise<number> {
  let nonEmpty = 0;
  for (const q of queries) {
    for (const org of ['acme', 'globex', 'initech']) {
      const all = { ...ALL_FILTERS, org: { value: org } };
      for (const range of RANGES) {
        for (const intervalMs of q.name.startsWith('Spend by user') ? INTERVALS : [HOUR]) {
          const viaRollup = await run(q, range, intervalMs, all);
          const viaRaw = await run(q, range, intervalMs, { ...all, service: services });
          expect(viaRollup, `${q.name}, ${org}, ${range.from.toISOString()}..${range.to.toISOString()}, interval ${intervalMs} ms`).toEqual(viaRaw);
          if (viaRollup.length > 0) nonEmpty++;
        }
      }
    }
  }
  return nonEmpty;
}

describe('tenant panels over the per-conversation rollup', () => {
  test('read it', () => {
    expect(queries.map((q) => q.name).sort()).toEqual([...PANELS].sort());
    for (const q of queries) expect(q.rawSql).toContain(READS[q.name]);
  });

  test('rollup (All) = raw ledger (every value selected), whole days, mid-day and mid-hour edges, every interval', async () => {
    expect(await compareAll()).toBeGreaterThan(50);
  });

  test('the rollups hold every call once (duplicates collapsed)', async () => {
    const [row] = await queryRows<Record<string, string>>(
      fx.client,
      `SELECT
         (SELECT toString(sum(calls)) || ' ' || toString(sum(cost_usd)) || ' ' || toString(sum(tokens)) FROM ${ROLLUP}) AS rollup,
         (SELECT toString(sum(calls)) || ' ' || toString(sum(cost_usd)) || ' ' || toString(uniqExactMerge(conversations)) FROM ${USERS}) AS users,
         (SELECT toString(count()) || ' ' || toString(sum(ifNull(cost_usd, toDecimal128(0, 18)))) || ' ' || toString(sum(input_tokens + output_tokens)) FROM ai_usage_exact) AS raw,
         (SELECT toString(count()) || ' ' || toString(sum(ifNull(cost_usd, toDecimal128(0, 18)))) || ' ' || toString(uniqExact(conversation_id)) FROM ai_usage_exact) AS raw_users`,
    );
    expect(row?.rollup).toBe(row?.raw);
    expect(row?.users).toBe(row?.raw_users);
    expect(Number(String(row?.raw).split(' ')[0])).toBe(fx.truth.length);
    expect(fx.stored).toBeGreaterThan(fx.truth.length);
  });

  test('a call re-delivered into another conversation moves there (tombstone); refreshing again changes nothing', async () => {
    const conversations = async () =>
      queryRows<{ c: string; calls: number }>(fx.client, `SELECT conversation_id AS c, toUInt32(sum(calls)) AS calls FROM ${ROLLUP} WHERE org_id = 'globex' GROUP BY c ORDER BY c`);
    const before = await conversations();
    // The newest version of one spike call now says another conversation (and another user).
    await fx.client.command({
      query: `INSERT INTO ai_usage SELECT * REPLACE ('globex-moved' AS conversation_id, 'globex-u42' AS user_id, now64(6) AS inserted_at)
              FROM (SELECT * FROM ai_usage_exact WHERE conversation_id = 'globex-spike-1106' ORDER BY ts, trace_id, span_id LIMIT 1)`,
    });
    await new Promise((r) => setTimeout(r, 1100));
    await refreshRollups(fx.client, { database: 'genai_ledger' });
    const after = await conversations();
    expect(after).toContainEqual({ c: 'globex-moved', calls: 1 });
    expect(after.find((r) => r.c === 'globex-spike-1106')?.calls).toBe((before.find((r) => r.c === 'globex-spike-1106')?.calls ?? 0) - 1);
    expect(await compareAll()).toBeGreaterThan(50);
    await refreshRollups(fx.client, { database: 'genai_ledger' });
    expect(await conversations()).toEqual(after);
  });
});

/** The list as the raw ledger gives it (the panel's columns, every latest delivery without a price). */
const RAW_UNPRICED = `SELECT ts AS time, org_id AS org, provider, request_model AS model, response_model, operation,
    service_name AS service, environment, feature, user_id AS user, conversation_id AS conversation,
    input_tokens, output_tokens, error_type, trace_id, span_id
  FROM ai_usage_exact
  WHERE $__timeFilter(ts) AND cost_usd IS NULL
    AND $__conditionalAll(org_id IN (\${org:singlequote}), $org)
    AND $__conditionalAll(provider IN (\${provider:singlequote}), $provider)
    AND $__conditionalAll(request_model IN (\${model:singlequote}), $model)
    AND $__conditionalAll(feature IN (\${feature:singlequote}), $feature)
  ORDER BY ts DESC, trace_id, span_id
  LIMIT 500`;
const unpriced = dashboardQueries(loadDashboard('genai-ledger-overview')).find((q) => q.name === 'Unpriced calls (latest 500)') as DashboardQuery;

async function compareUnpriced(): Promise<number> {
  let rows = 0;
  const selections = [ALL_FILTERS, { ...ALL_FILTERS, org: pick('acme') }, { ...ALL_FILTERS, org: pick('globex', 'initech') }, { ...ALL_FILTERS, model: pick('ft:gpt-4o-mini:acme::x1') }, { ...ALL_FILTERS, feature: pick('chat') }, { ...ALL_FILTERS, provider: pick('anthropic') }];
  for (const range of RANGES) {
    for (const variables of selections) {
      const viaList = await run(unpriced, range, HOUR, variables);
      const viaRaw = await run({ ...unpriced, rawSql: RAW_UNPRICED }, range, HOUR, variables);
      expect(viaList, `${range.from.toISOString()}..${range.to.toISOString()} ${JSON.stringify(variables)}`).toEqual(viaRaw);
      rows += viaList.length;
    }
  }
  return rows;
}

describe('the list of unpriced calls', () => {
  test('the panel reads it', () => {
    expect(unpriced.rawSql).toContain('FROM ai_usage_unpriced_exact');
    expect(expandFor(unpriced, { ...RANGE, variables: ALL_FILTERS })).not.toContain('ai_usage_exact');
  });

  test('= the raw ledger, for every range and selection; a call re-delivered with a price leaves it', async () => {
    expect(await compareUnpriced()).toBeGreaterThan(5);
    const before = await run(unpriced, RANGE, HOUR, ALL_FILTERS);
    // The newest unpriced call of the range is re-delivered priced.
    await fx.client.command({
      query: `INSERT INTO ai_usage SELECT * REPLACE (toDecimal128('0.001', 18) AS cost_usd, now64(6) AS inserted_at)
              FROM (SELECT * FROM ai_usage_exact WHERE isNull(cost_usd) AND ts <= '2026-11-07 23:59:59' ORDER BY ts DESC, trace_id, span_id LIMIT 1)`,
    });
    await new Promise((r) => setTimeout(r, 1100));
    await refreshRollups(fx.client, { database: 'genai_ledger' });
    const after = await run(unpriced, RANGE, HOUR, ALL_FILTERS);
    expect(after.length).toBe(before.length - 1);
    expect(after).toEqual(before.slice(1));
    expect(await compareUnpriced()).toBeGreaterThan(5);
    // Refreshing again changes nothing; hours without unpriced calls still move the watermark.
    await refreshRollups(fx.client, { database: 'genai_ledger' });
    expect(await run(unpriced, RANGE, HOUR, ALL_FILTERS)).toEqual(after);
    const [marks] = await queryRows<{ hours: number; watermark: string; newest: string }>(
      fx.client,
      `SELECT toUInt32((SELECT uniqExact(hour) FROM genai_ledger.ai_usage_unpriced WHERE trace_id = '')) AS hours,
              toString((SELECT max(max_inserted_at) FROM genai_ledger.ai_usage_unpriced)) AS watermark,
              toString((SELECT max(inserted_at) FROM ai_usage)) AS newest`,
    );
    expect(marks?.hours).toBeGreaterThan(100);
    expect(marks?.watermark).toBe(marks?.newest);
  });
});

describe('upgrading a store that predates migration 0006', () => {
  test('migrate adds the rollup, the first refresh backfills it, the panels answer as before', async () => {
    const variables = { ...ALL_FILTERS, org: { value: 'acme' } };
    const answers = async () =>
      Promise.all([...queries.flatMap((q) => [HOUR, 20 * 60_000].map((i) => run(q, RANGE, i, variables))), run(unpriced, RANGE, HOUR, ALL_FILTERS)]);
    const before = await answers();

    const created = renderMigrations({ database: 'genai_ledger' })
      .filter((m) => m.version === 6)
      .flatMap((m) => m.statements)
      .map((sql) => /^CREATE (?:TABLE|MATERIALIZED VIEW|VIEW) IF NOT EXISTS genai_ledger\.(\w+)/.exec(sql)?.[1])
      .filter((name): name is string => name !== undefined);
    expect(created).toEqual([
      'ai_usage_hourly_by_org_conversation', 'ai_usage_hourly_by_org_conversation_refresh', 'ai_usage_hourly_by_org_conversation_exact',
      'ai_usage_unpriced', 'ai_usage_unpriced_refresh', 'ai_usage_unpriced_exact',
    ]);
    for (const name of created.reverse()) await fx.client.command({ query: `DROP TABLE IF EXISTS genai_ledger.${name} SYNC` });
    await fx.client.command({ query: 'ALTER TABLE genai_ledger.schema_migrations DELETE WHERE version = 6 SETTINGS mutations_sync = 2' });

    const options = { database: 'genai_ledger', refreshSeconds: 315_360_000 };
    expect((await migrate(fx.client, options)).applied.map((m) => m.version)).toEqual([6]);
    expect((await migrate(fx.client, options)).applied).toEqual([]);
    await refreshRollups(fx.client, { database: 'genai_ledger' });
    const after = await answers();
    expect(after).toEqual(before);
    expect(after.at(-1)?.length).toBeGreaterThan(0);
  });
});

describe('an org with more users than the top 8', () => {
  test("Spend by user keeps 8 users and sums the rest into 'other', the same via the rollup and the raw ledger", async () => {
    // 12 users of a new org, 10 priced calls each, user k spending (k + 1) × the base call's cost.
    await fx.client.command({
      query: `INSERT INTO ai_usage
              SELECT * EXCEPT (number) REPLACE (
                'megacorp' AS org_id,
                concat('mega-u', leftPad(toString(number % 12), 2, '0')) AS user_id,
                concat('mega-c', toString(number % 12)) AS conversation_id,
                leftPad(hex(0xfeed0000 + number), 16, '0') AS span_id,
                ts + toIntervalMinute(number * 3) AS ts,
                cost_usd * ((number % 12) + 1) AS cost_usd,
                now64(6) AS inserted_at)
              FROM (SELECT * FROM ai_usage_exact WHERE org_id = 'acme' AND cost_usd > 0 AND ts >= '2026-11-02 00:00:00' ORDER BY ts, trace_id, span_id LIMIT 1)
              AS base CROSS JOIN numbers(120) AS n`,
    });
    await new Promise((r) => setTimeout(r, 1100));
    await refreshRollups(fx.client, { database: 'genai_ledger' });
    const panel = queries.find((q) => q.name.startsWith('Spend by user'))!;
    const all = { ...ALL_FILTERS, org: { value: 'megacorp' } };
    const viaRollup = await run(panel, RANGE, 24 * HOUR, all);
    expect(viaRollup).toEqual(await run(panel, RANGE, 24 * HOUR, { ...all, service: services }));
    const users = [...new Set(viaRollup.map((r) => String(r.user)))].sort();
    // The 8 biggest spenders are users 04..11; users 00..03 are summed as 'other'.
    expect(users).toEqual(['mega-u04', 'mega-u05', 'mega-u06', 'mega-u07', 'mega-u08', 'mega-u09', 'mega-u10', 'mega-u11', 'other']);
    const total = (user: string) => viaRollup.filter((r) => r.user === user).reduce((s, r) => s + Number(r.spend), 0);
    // 'other' = users 00..03 = (1 + 2 + 3 + 4) × 10 calls × base, user 11 = 12 × 10 × base.
    expect(total('other') / total('mega-u11')).toBeCloseTo(10 / 12, 9);
  });
});
