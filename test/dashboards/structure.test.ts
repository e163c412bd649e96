/**
 * The provisioning files and the dashboard JSON, checked the way Grafana and the plugin will read
 * them: the data source uid the dashboards use is the provisioned one, panel ids are unique, panels
 * do not overlap, every target is raw SQL for the plugin, every variable used is defined and every
 * variable defined is used, every query reads the ledger through an exact (FINAL) relation, and
 * every panel is exercised with asserted figures by one of the dashboard test files.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, test } from 'vitest';
import { findPackageRoot } from '../../clickhouse/migrate.js';
import { ALL, allPanels, DATASOURCE_TYPE, DATASOURCE_UID, dashboardQueries, expandFor, loadDashboards, type Dashboard, type Panel } from './load.js';

const root = findPackageRoot();
/** The test file that runs each dashboard's panels and variables with asserted figures. */
const TEST_FILES: Record<string, string | string[]> = {
  'genai-ledger-overview': ['overview.test.ts', 'margin.test.ts', 'budgets.test.ts'],
  'genai-ledger-tenant': ['tenant.test.ts', 'margin.test.ts'],
  'genai-ledger-models': 'models-anomalies.test.ts',
  'genai-ledger-anomalies': 'models-anomalies.test.ts',
  'genai-ledger-reconcile': 'ledger-vs-bill.test.ts',
};
const dashboards = loadDashboards();

describe('provisioning', () => {
  test('data source: the ClickHouse plugin, fixed uid, connection and read-only user from the environment', () => {
    const file = parse(readFileSync(join(root, 'grafana/provisioning/datasources/clickhouse.yaml'), 'utf8')) as {
      apiVersion: number;
      datasources: Array<{ uid: string; type: string; jsonData: Record<string, string>; secureJsonData: Record<string, string> }>;
    };
    expect(file.apiVersion).toBe(1);
    expect(file.datasources).toHaveLength(1);
    const ds = file.datasources[0]!;
    expect(ds).toMatchObject({ uid: DATASOURCE_UID, type: DATASOURCE_TYPE });
    for (const key of ['host', 'port', 'protocol', 'defaultDatabase', 'username']) {
      expect(ds.jsonData[key], key).toMatch(/^\$\{CLICKHOUSE_[A-Z_]+\}$/);
    }
    expect(ds.jsonData.username).toBe('${CLICKHOUSE_READONLY_USER}');
    expect(ds.secureJsonData.password).toBe('${CLICKHOUSE_READONLY_PASSWORD}');
  });

  test('dashboards provider: apiVersion 1, files from the mounted dashboards directory', () => {
    const file = parse(readFileSync(join(root, 'grafana/provisioning/dashboards/genai-ledger.yaml'), 'utf8')) as {
      apiVersion: number;
      providers: Array<{ type: string; options: { path: string } }>;
    };
    expect(file.apiVersion).toBe(1);
    expect(file.providers).toHaveLength(1);
    expect(file.providers[0]).toMatchObject({ type: 'file', options: { path: '/var/lib/grafana/dashboards' } });
  });
});

/** `$name`, `${name}`, `${name:fmt}`, `[[name]]` references, Grafana built-ins (`__...`) excluded. */
function references(text: string): string[] {
  const names: string[] = [];
  for (const m of text.matchAll(/\$\{(\w+)[^}]*\}|\$(\w+)|\[\[(\w+)(?::\w+)?\]\]/g)) {
    const name = m[1] ?? m[2] ?? m[3];
    if (name && !name.startsWith('__')) names.push(name);
  }
  return names;
}

/** Every text Grafana interpolates: SQL, titles, descriptions, links. */
function interpolatedTexts(d: Dashboard): string[] {
  const texts: string[] = [];
  for (const q of dashboardQueries(d)) texts.push(q.rawSql);
  for (const p of allPanels(d)) {
    texts.push(p.title);
    const walk = (v: unknown): void => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === 'object') {
        for (const [k, x] of Object.entries(v)) {
          if ((k === 'url' || k === 'title' || k === 'displayName') && typeof x === 'string') texts.push(x);
          else walk(x);
        }
      }
    };
    walk(p.fieldConfig);
  }
  return texts;
}

function overlaps(a: Panel['gridPos'], b: Panel['gridPos']): boolean {
  return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}

describe.each(dashboards.map((d) => [d.file, d.dashboard] as const))('%s', (_file, d) => {
  test('identity: uid, genai-ledger tag, UTC', () => {
    expect(d.uid).toMatch(/^genai-ledger-[a-z]+$/);
    expect((d as unknown as { tags: string[] }).tags).toContain('genai-ledger');
    expect(d.timezone).toBe('utc');
  });

  test('the $datasource variable defaults to the provisioned ClickHouse data source', () => {
    const ds = d.templating.list.find((v) => v.name === 'datasource');
    expect(ds).toMatchObject({ type: 'datasource', query: DATASOURCE_TYPE, current: { value: DATASOURCE_UID } });
  });

  test('every panel and target uses that data source; every target is raw SQL', () => {
    for (const p of allPanels(d)) {
      if (p.type === 'row') continue;
      expect(p.datasource, p.title).toEqual({ type: DATASOURCE_TYPE, uid: '${datasource}' });
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
      for (const t of p.targets ?? []) {
        expect(t.datasource, p.title).toEqual(p.datasource);
        expect(t.editorType, p.title).toBe('sql');
        expect(t.rawSql?.trim().length, p.title).toBeGreaterThan(0);
        // time series panels get the plugin's time series format (0), everything else a table (1)
        expect(t.format, p.title).toBe(p.type === 'timeseries' ? 0 : 1);
      }
    }
  });

  test('panel ids are unique and panels do not overlap', () => {
    const panels = allPanels(d);
    const ids = panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of panels) {
      expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
      expect(p.gridPos.w * p.gridPos.h, p.title).toBeGreaterThan(0);
    }
    for (let i = 0; i < panels.length; i++) {
      for (let j = i + 1; j < panels.length; j++) {
        expect(overlaps(panels[i]!.gridPos, panels[j]!.gridPos), `${panels[i]!.title} / ${panels[j]!.title}`).toBe(false);
      }
    }
  });

  test('every variable used is defined; every variable defined is used', () => {
    const defined = new Set(d.templating.list.map((v) => v.name));
    const used = new Set(interpolatedTexts(d).flatMap(references));
    for (const name of used) expect(defined.has(name), `$${name} is used but not defined`).toBe(true);
    for (const name of defined) {
      if (name === 'datasource') continue; // used as the panels' data source uid
      expect(used.has(name), `$${name} is defined but not used`).toBe(true);
    }
  });

  test('query variables: over the data, multi-select with All (the tenant dashboard: one org)', () => {
    for (const v of d.templating.list.filter((x) => x.type === 'query')) {
      expect(v.datasource, v.name).toEqual({ type: DATASOURCE_TYPE, uid: '${datasource}' });
      expect(typeof v.query === 'object' && v.query.rawSql, v.name).toBeTruthy();
      const single = d.uid === 'genai-ledger-tenant' && v.name === 'org';
      expect([v.multi, v.includeAll], v.name).toEqual(single ? [false, false] : [true, true]);
    }
    const filters = d.templating.list.filter((x) => x.type === 'query').map((v) => v.name);
    // A bill has none of the ledger's dimensions but provider and model, which its panels show.
    expect(filters).toEqual(d.uid === 'genai-ledger-reconcile' ? [] : ['org', 'service', 'environment', 'provider', 'model', 'feature']);
  });

  test('multi-value filters go through $__conditionalAll, so All adds no condition', () => {
    for (const q of dashboardQueries(d)) {
      for (const m of q.rawSql.matchAll(/\$\{(\w+):singlequote\}/g)) {
        const name = m[1]!;
        const variable = d.templating.list.find((v) => v.name === name);
        if (!variable?.multi) continue;
        expect(q.rawSql, `${q.name}: \${${name}} outside $__conditionalAll`).toContain(`$__conditionalAll(`);
        const outside = q.rawSql.replace(new RegExp(`\\$__conditionalAll\\([^$]*\\$\\{${name}:singlequote\\}\\), \\$${name}\\)`, 'g'), '');
        expect(outside, `${q.name}: \${${name}} outside $__conditionalAll`).not.toContain(`\${${name}:`);
      }
    }
  });

  test('every query reads the ledger through exact relations (FINAL views), never ai_usage itself', () => {
    const allowed = new Set(['ai_usage_exact', 'ai_usage_hourly_exact', 'ai_usage_hourly_by_time_exact', 'ai_usage_latency_hourly_exact', 'ai_usage_daily_exact', 'model_prices_exact',
      'ai_usage_hourly_by_model_exact', 'ai_usage_hourly_by_org_exact', 'ai_usage_hourly_by_feature_exact', 'ai_usage_hourly_by_org_model_exact', 'ai_usage_latency_daily_exact', 'ai_usage_daily_by_org_exact',
      'ai_usage_hourly_by_org_conversation_exact', 'ai_usage_hourly_by_org_user_exact', 'ai_usage_hourly_by_org_service_feature_exact', 'ai_usage_unpriced_exact', 'budget_spend_hourly_exact', 'ai_usage_daily_top_conversations_exact', 'provider_costs_exact', 'provider_usage_exact', 'billed_daily_exact',
      // Budgets in force, a ReplacingMergeTree read with FINAL (checked below).
      'budgets']);
    for (const q of dashboardQueries(d)) {
      for (const m of q.rawSql.matchAll(/\b(?:FROM|JOIN)\s+([A-Za-z_][\w.]*)\b(?!\s*\()/g)) {
        expect(allowed.has(m[1]!), `${q.name} reads ${m[1]}`).toBe(true);
      }
      expect(q.rawSql, q.name).not.toMatch(/\bai_usage(_hourly|_daily)?\b(?!_)/);
      expect(q.rawSql, q.name).not.toMatch(/\bFROM budgets\b(?! FINAL)/);
    }
  });

  test('every query expands with All and with a selection (macros with plain arguments only)', () => {
    const variables = Object.fromEntries(d.templating.list.map((v) => [v.name, v.multi ? ALL : { value: String(v.current?.value ?? 'acme') || 'acme' }]));
    const picked = Object.fromEntries(d.templating.list.map((v) => [v.name, v.multi ? { value: ['a', "b'c"] } : { value: String(v.current?.value || 'acme') }]));
    for (const q of dashboardQueries(d)) {
      const sql = expandFor(q, { from: new Date('2026-11-01T00:00:00Z'), to: new Date('2026-11-07T23:59:59.999Z'), variables });
      expect(sql, q.name).not.toMatch(/\$__|\$\{|\$[a-z]/);
      const narrowed = expandFor(q, { from: new Date('2026-11-01T00:00:00Z'), to: new Date('2026-11-07T23:59:59.999Z'), variables: picked });
      if (q.rawSql.includes('$__conditionalAll')) expect(narrowed, q.name).toContain("'b\\'c'");
    }
  });

  test('every panel and variable query is run, with figures asserted, by the dashboard\'s test file', () => {
    const file = TEST_FILES[d.uid];
    expect(file, `no test file for ${d.uid}`).toBeDefined();
    const source = [file ?? []].flat().map((f) => readFileSync(join(root, 'test', 'dashboards', f), 'utf8')).join('\n');
    expect(source).toContain(`'${d.uid}'`);
    for (const q of dashboardQueries(d)) {
      const needle = q.kind === 'variable' ? `values('${q.name}'` : `'${q.name}'`;
      expect(source.includes(needle), `${file}: ${q.kind} ${q.name} is not exercised`).toBe(true);
    }
  });
});

test('the five dashboards are there, with distinct uids', () => {
  expect(dashboards.map((d) => d.dashboard.uid).sort()).toEqual(['genai-ledger-anomalies', 'genai-ledger-models', 'genai-ledger-overview', 'genai-ledger-reconcile', 'genai-ledger-tenant']);
});
