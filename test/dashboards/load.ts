/**
 * The provisioned dashboards (grafana/dashboards/*.json), read as Grafana would, with helpers to
 * list every query they send (panel targets and variable queries) and to expand one for a given
 * time range and variable selection. Shared by the dashboard tests and bench/dashboards.ts.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { findPackageRoot } from '../../clickhouse/migrate.js';
import { expandQuery, panelIntervalMs, type VariableState } from './macros.js';

export const DATASOURCE_TYPE = 'grafana-clickhouse-datasource';
export const DATASOURCE_UID = 'genai-ledger-clickhouse';

export interface DatasourceRef {
  type?: string;
  uid?: string;
}

export interface Target {
  refId: string;
  datasource?: DatasourceRef;
  editorType?: string;
  format?: number;
  queryType?: string;
  rawSql?: string;
}

export interface Panel {
  id: number;
  type: string;
  title: string;
  description?: string;
  datasource?: DatasourceRef;
  gridPos: { h: number; w: number; x: number; y: number };
  targets?: Target[];
  interval?: string;
  maxDataPoints?: number;
  fieldConfig?: { defaults?: Record<string, unknown>; overrides?: unknown[] };
  panels?: Panel[];
}

export interface Variable {
  name: string;
  type: string;
  label?: string;
  datasource?: DatasourceRef;
  query?: string | { rawSql?: string; editorType?: string };
  definition?: string;
  multi?: boolean;
  includeAll?: boolean;
  current?: { text?: string | string[]; value?: string | string[] };
  options?: Array<{ text: string; value: string }>;
}

export interface Dashboard {
  uid: string;
  title: string;
  timezone?: string;
  templating: { list: Variable[] };
  panels: Panel[];
}

export function dashboardsDir(): string {
  return join(findPackageRoot(), 'grafana', 'dashboards');
}

export function loadDashboards(): Array<{ file: string; dashboard: Dashboard }> {
  return readdirSync(dashboardsDir())
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => ({ file, dashboard: JSON.parse(readFileSync(join(dashboardsDir(), file), 'utf8')) as Dashboard }));
}

export function loadDashboard(uid: string): Dashboard {
  const found = loadDashboards().find((d) => d.dashboard.uid === uid);
  if (!found) throw new Error(`no dashboard with uid ${uid}`);
  return found.dashboard;
}

/** Panels including those nested in collapsed rows. */
export function allPanels(d: Dashboard): Panel[] {
  return d.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
}

export function variableSql(v: Variable): string | undefined {
  if (v.type !== 'query') return undefined;
  return typeof v.query === 'string' ? v.query : v.query?.rawSql;
}

export interface DashboardQuery {
  dashboard: string;
  kind: 'panel' | 'variable';
  /** Panel title or variable name. */
  name: string;
  panel?: Panel;
  rawSql: string;
}

/** Every query the dashboard sends: its query variables, then each panel target. */
export function dashboardQueries(d: Dashboard): DashboardQuery[] {
  const out: DashboardQuery[] = [];
  for (const v of d.templating.list) {
    const rawSql = variableSql(v);
    if (rawSql) out.push({ dashboard: d.uid, kind: 'variable', name: v.name, rawSql });
  }
  for (const p of allPanels(d)) {
    for (const t of p.targets ?? []) {
      if (t.rawSql) out.push({ dashboard: d.uid, kind: 'panel', name: p.targets!.length > 1 ? `${p.title} [${t.refId}]` : p.title, panel: p, rawSql: t.rawSql });
    }
  }
  return out;
}

/** Grafana's default maxDataPoints when a panel sets none (roughly its width in pixels). */
export const DEFAULT_MAX_DATA_POINTS = 1000;

export interface Selection {
  from: Date;
  to: Date;
  variables: Record<string, VariableState>;
}

/** The SQL ClickHouse receives for `q` under `selection`. */
export function expandFor(q: DashboardQuery, selection: Selection): string {
  const intervalMs = panelIntervalMs(selection.from, selection.to, q.panel?.maxDataPoints ?? DEFAULT_MAX_DATA_POINTS, q.panel?.interval);
  return expandQuery(q.rawSql, { from: selection.from, to: selection.to, intervalMs, variables: selection.variables });
}

/** All = Grafana's current value for a multi-value variable with All selected. */
export const ALL: VariableState = { value: ['$__all'] };
