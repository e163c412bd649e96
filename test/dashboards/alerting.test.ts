/**
 * The alerting provisioning file (grafana/provisioning/alerting/genai-ledger.yaml): generated from
 * grafana/src/alerting, shaped as Grafana's file provisioning documents it (apiVersion 1, groups
 * of rules, contact points), mounted by docker-compose.yml, and each rule's query run on the
 * fixture (fixture.ts) as Grafana's backend would send it: only the backend macros expanded.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { parse } from 'yaml';
import { syncBudgets } from '../../clickhouse/budgets.js';
import { findPackageRoot, refreshRollups } from '../../clickhouse/migrate.js';
import { alertingFile, renderAlerting } from '../../grafana/src/alerting/build.js';
import { parseBudgets } from '../../pricing/budgets/index.js';
import { expandQuery } from './macros.js';
import { openFixtureStore, type FixtureStore, type Row } from './support.js';

const ROOT = findPackageRoot();

/** The slice of Grafana's alerting provisioning schema the file uses. */
interface Query {
  refId: string;
  datasourceUid: string;
  relativeTimeRange?: { from: number; to: number };
  model: Record<string, unknown> & { rawSql?: string };
}
interface Rule {
  uid: string;
  title: string;
  condition: string;
  data: [Query, Query];
  for: string;
  noDataState: string;
  execErrState: string;
  labels: Record<string, string>;
  notification_settings: { receiver: string };
}
interface ProvisioningFile {
  apiVersion: number;
  groups: Array<{ orgId: number; name: string; folder: string; interval: string; rules: Rule[] }>;
  contactPoints: Array<{ orgId: number; name: string; receivers: Array<{ uid: string; type: string; settings: Record<string, string> }> }>;
}

const readYaml = <T>(path: string): T => parse(readFileSync(join(ROOT, path), 'utf8')) as T;
const file = parse(readFileSync(alertingFile(), 'utf8')) as ProvisioningFile;
const datasourceUid = readYaml<{ datasources: Array<{ uid: string }> }>('grafana/provisioning/datasources/clickhouse.yaml').datasources[0]!.uid;
const rules = file.groups.flatMap((g) => g.rules);
function ruleQuery(uid: string): Query & { relativeTimeRange: { from: number; to: number }; model: { rawSql: string } } {
  const query = rules.find((r) => r.uid === uid)?.data[0];
  if (query?.relativeTimeRange === undefined || query.model.rawSql === undefined) throw new Error(`no rule query ${uid}`);
  return query as ReturnType<typeof ruleQuery>;
}

/** Grafana's duration syntax for `interval` and `for`. */
const DURATION = /^\d+[smhd]$/;

describe('alerting provisioning file', () => {
  test('is what grafana/src/alerting generates (npm run alerting)', () => {
    expect(readFileSync(alertingFile(), 'utf8')).toBe(renderAlerting());
  });

  test('has the documented shape: apiVersion 1, groups of rules, contact points', () => {
    expect(file.apiVersion).toBe(1);
    expect(file.groups.length).toBeGreaterThan(0);
    for (const group of file.groups) {
      expect(group).toMatchObject({ orgId: 1, name: expect.any(String), folder: expect.any(String) });
      expect(group.interval).toMatch(DURATION);
    }
    expect(rules.map((r) => r.uid)).toEqual(['genai-ledger-budget-threshold', 'genai-ledger-spend-jump']);
    const receivers = new Set(file.contactPoints.map((c) => c.name));
    for (const rule of rules) {
      // Rule uids: at most 40 letters, digits, '-' or '_'.
      expect(rule.uid).toMatch(/^[A-Za-z0-9_-]{1,40}$/);
      expect(rule.title).toEqual(expect.any(String));
      expect(rule.for).toMatch(DURATION);
      expect(['Alerting', 'NoData', 'OK', 'KeepLast']).toContain(rule.noDataState);
      expect(['Alerting', 'Error', 'OK', 'KeepLast']).toContain(rule.execErrState);
      expect(rule.data.map((d) => d.refId)).toContain(rule.condition);
      expect(receivers.has(rule.notification_settings.receiver)).toBe(true);
      const [query, condition] = rule.data;
      // The query reads the provisioned ClickHouse data source, over a range ending now.
      expect(query.datasourceUid).toBe(datasourceUid);
      expect(query.model).toMatchObject({ refId: query.refId, datasource: { type: 'grafana-clickhouse-datasource', uid: datasourceUid }, format: 1, queryType: 'table' });
      expect(query.relativeTimeRange?.from).toBeGreaterThan(0);
      expect(query.relativeTimeRange?.to).toBe(0);
      // The condition is a server-side expression over the query.
      expect(condition).toMatchObject({ datasourceUid: '__expr__', model: { type: 'threshold', expression: query.refId } });
      // Labels are expanded from the environment by Grafana: no '$' there.
      expect(JSON.stringify(rule.labels)).not.toContain('$');
    }
  });

  test('one webhook contact point whose URL Grafana takes from GENAI_LEDGER_ALERT_WEBHOOK', () => {
    expect(file.contactPoints).toHaveLength(1);
    const [receiver] = file.contactPoints[0]!.receivers;
    expect(receiver).toMatchObject({ type: 'webhook', settings: { url: '${GENAI_LEDGER_ALERT_WEBHOOK}', httpMethod: 'POST' } });
  });

  test('docker-compose mounts the provisioning folder holding alerting/ and passes the webhook URL to Grafana', () => {
    const grafana = readYaml<{ services: Record<string, { volumes: string[]; environment: Record<string, string> }> }>('docker-compose.yml').services.grafana!;
    expect(grafana.volumes).toContain('./grafana/provisioning:/etc/grafana/provisioning:ro');
    expect(alertingFile()).toBe(join(ROOT, 'grafana', 'provisioning', 'alerting', 'genai-ledger.yaml'));
    expect(grafana.environment.GENAI_LEDGER_ALERT_WEBHOOK).toMatch(/^\$\{GENAI_LEDGER_ALERT_WEBHOOK:-http/);
  });
});

describe('alert rules on the fixture', () => {
  let fx: FixtureStore;
  beforeAll(async () => {
    fx = await openFixtureStore();
  }, 600_000);
  afterAll(async () => fx?.store.close());

  /** Rule `uid`'s query evaluated at `at`, as Grafana's backend sends it (no dashboard variables exist). */
  async function evaluate(uid: string, at: string): Promise<Row[]> {
    const query = ruleQuery(uid);
    const to = new Date(at);
    const from = new Date(to.getTime() - query.relativeTimeRange.from * 1000);
    const sql = expandQuery(query.model.rawSql, { from, to, intervalMs: 60_000, variables: {} });
    const rs = await fx.client.query({ query: sql, format: 'JSONEachRow' });
    return rs.json<Row>();
  }

  test('spend jump: the globex spike hour, Nov 6 14:00, fires with its excess', async () => {
    // 14:00 on a normal day: acme gpt-4o 0.009 + acme claude 0.0102 + globex 2 × gpt-4o-mini 0.0021
    // = 0.0234, the baseline (every day before is normal). Nov 6 adds 60 × 0.0102 = 0.612.
    const [row] = await evaluate('genai-ledger-spend-jump', '2026-11-06T15:00:00Z');
    expect(Number(row?.excess_usd)).toBeCloseTo(0.612, 9);
  });

  test('spend jump: nothing fires for a normal hour or an excess under the minimum', async () => {
    // Nov 5 19:00: five extra acme calls, 5 × 0.009 = 0.045 over a baseline of 0: under 0.5 USD.
    for (const at of ['2026-11-05T20:00:00Z', '2026-11-06T13:00:00Z', '2026-11-06T17:00:00Z']) {
      expect((await evaluate('genai-ledger-spend-jump', at)).map((r) => Number(r.excess_usd))).toEqual([0]);
    }
  });

  test('budgets: the highest alert fraction reached in each current UTC period, per value for per budgets', async () => {
    await syncBudgets(fx.client, 'genai_ledger', parseBudgets({
      budgets: [
        { name: 'acme-monthly', match: { org_id: 'acme' }, period: 'month', limit_usd: '500', alert_at: [0.5, 0.8, 1] },
        { name: 'claude-weekly', match: { model: 'claude-sonnet-4' }, period: 'week', limit_usd: '0.95', alert_at: [1] },
        { name: 'globex-daily', match: { org_id: 'globex' }, period: 'day', limit_usd: '1', alert_at: [0.5, 0.8, 1] },
        { name: 'globex-user-daily', match: { org_id: 'globex' }, per: 'user_id', period: 'day', limit_usd: '0.5' },
      ],
    }));
    // The rule reads 0013's spend per budget, which the next refresh folds with these budgets.
    await refreshRollups(fx.client, { database: 'genai_ledger' });
    // At Friday 2026-11-06 15:00 UTC (calls at 15:00:00 or later are not yet spent):
    // - acme-monthly: a few USD of 500, no fraction reached.
    // - claude-weekly, Monday Nov 2 on: a normal day's claude calls are acme 4 × 0.0102 + 0.0042
    //   (failed) + globex 2 × 0.0102 = 0.0654; Nov 2-5: 0.2616; Nov 6 to 15:00: acme 10:30, 12:30,
    //   14:30 + globex 13:30 = 4 × 0.0102 = 0.0408, spike 0.612: 0.9144 < 0.95. (Had the week
    //   started on Sunday Nov 1, another 0.0654 would pass the limit.)
    // - globex-daily: 12 × gpt-4o-mini 0.0021 (09:05..14:35) = 0.0252, claude 13:30 0.0102, spike
    //   0.612: 0.6474 of 1, past 0.5 but not 0.8.
    // - globex-user-daily (default alert_at 0.8, 1): globex-u9 spent the spike, 0.612 ≥ 0.5; the
    //   others cents (globex-u1: 12:05, 12:35 mini + 13:30 claude = 0.0144).
    const rows = await evaluate('genai-ledger-budget-threshold', '2026-11-06T15:00:00Z');
    expect(rows.map((r) => [r.budget, r.per_value, r.threshold])).toEqual([
      ['acme-monthly', '', 0],
      ['claude-weekly', '', 0],
      ['globex-daily', '', 0.5],
      ['globex-user-daily', 'globex-u1', 0],
      ['globex-user-daily', 'globex-u2', 0],
      ['globex-user-daily', 'globex-u3', 0],
      ['globex-user-daily', 'globex-u4', 0],
      ['globex-user-daily', 'globex-u9', 1],
    ]);
    // Nov 7 13:00, a new day: the daily budgets start over; the week keeps the spike. The rest of
    // Nov 6's claude calls (globex 15:30, acme 16:30, acme 18:30 failed: 0.0246) and Nov 7's acme
    // 10:30 and 12:30 (0.0204) bring it to 0.9144 + 0.045 = 0.9594 ≥ 0.95.
    const nextDay = await evaluate('genai-ledger-budget-threshold', '2026-11-07T13:00:00Z');
    expect(nextDay.filter((r) => r.budget !== 'globex-user-daily').map((r) => [r.budget, r.threshold])).toEqual([
      ['acme-monthly', 0],
      ['claude-weekly', 1],
      ['globex-daily', 0],
    ]);
  });
});
