/**
 * The slice of Grafana's dashboard JSON model (schemaVersion 39) these dashboards use, typed, and
 * the constructors that fill it. Key order is fixed by the constructors, so the output is stable.
 */
import type { FieldStyle } from './style.js';

export const DATASOURCE_TYPE = 'grafana-clickhouse-datasource';
export const DATASOURCE_UID = 'genai-ledger-clickhouse';

export interface DatasourceRef {
  type: string;
  uid: string;
}

/** Every panel and query variable reads the data source the `$datasource` variable selects. */
export const CLICKHOUSE: DatasourceRef = { type: DATASOURCE_TYPE, uid: '${datasource}' };

export interface GridPos {
  h: number;
  w: number;
  x: number;
  y: number;
}

/** The ClickHouse plugin's query: raw SQL, as a table (1) or a time series (0). */
export interface ClickHouseTarget {
  refId: string;
  datasource: DatasourceRef;
  editorType: 'sql';
  format: 0 | 1;
  queryType: 'table' | 'timeseries';
  rawSql: string;
}

export interface Override {
  matcher: { id: 'byName'; options: string };
  properties: Array<{ id: string; value: unknown }>;
}

export interface FieldConfig {
  defaults: FieldStyle;
  overrides: Override[];
}

export interface Panel {
  id: number;
  type: string;
  title: string;
  description?: string;
  datasource?: DatasourceRef;
  gridPos: GridPos;
  collapsed?: boolean;
  panels?: Panel[];
  targets?: ClickHouseTarget[];
  fieldConfig?: FieldConfig;
  options?: Record<string, unknown>;
  interval?: string;
  maxDataPoints?: number;
}

/** What every data panel is given. */
export interface PanelSpec {
  id: number;
  title: string;
  description: string;
  gridPos: GridPos;
  sql: string;
  defaults?: FieldStyle;
  /** Per field (column) of the result: its style. */
  fields?: Record<string, FieldStyle>;
}

function target(rawSql: string, timeSeries: boolean): ClickHouseTarget {
  return { refId: 'A', datasource: CLICKHOUSE, editorType: 'sql', format: timeSeries ? 0 : 1, queryType: timeSeries ? 'timeseries' : 'table', rawSql };
}

/** A field's style as override properties (`custom` keys become `custom.<key>`), in the order written. */
function properties(style: FieldStyle): Override['properties'] {
  return Object.entries(style).flatMap(([id, value]) =>
    id === 'custom' ? Object.entries(value as Record<string, unknown>).map(([k, v]) => ({ id: `custom.${k}`, value: v })) : [{ id, value }],
  );
}

function dataPanel(type: string, spec: PanelSpec, timeSeries: boolean, options: Record<string, unknown>): Panel {
  return {
    id: spec.id,
    type,
    title: spec.title,
    description: spec.description,
    datasource: CLICKHOUSE,
    gridPos: spec.gridPos,
    targets: [target(spec.sql, timeSeries)],
    fieldConfig: {
      defaults: spec.defaults ?? {},
      overrides: Object.entries(spec.fields ?? {}).map(([field, style]) => ({ matcher: { id: 'byName', options: field }, properties: properties(style) })),
    },
    options,
  };
}

/** Big numbers: one per field of the single result row. */
export function stat(spec: PanelSpec & { colorMode?: 'value' | 'background'; showNames?: boolean }): Panel {
  return dataPanel('stat', spec, false, {
    reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
    colorMode: spec.colorMode ?? 'value',
    graphMode: 'none',
    justifyMode: 'auto',
    orientation: 'auto',
    textMode: spec.showNames ? 'value_and_name' : 'value',
    wideLayout: true,
    showPercentChange: false,
  });
}

export function table(spec: PanelSpec): Panel {
  return dataPanel('table', spec, false, { showHeader: true, cellHeight: 'sm' });
}

export interface TimeSeriesSpec extends PanelSpec {
  /** Minimum interval (`1h` over hourly rollups); none when the query reads calls too. */
  interval?: string;
  maxDataPoints: number;
  /** Legend as a table at the right with each series' sum (default), or a list below. */
  legend?: 'table' | 'list';
}

export function timeseries(spec: TimeSeriesSpec): Panel {
  const table = (spec.legend ?? 'table') === 'table';
  return {
    ...dataPanel('timeseries', spec, true, {
      legend: table ? { displayMode: 'table', placement: 'right', calcs: ['sum'], showLegend: true } : { displayMode: 'list', placement: 'bottom', showLegend: true },
      tooltip: { mode: 'multi', sort: table ? 'desc' : 'none' },
    }),
    ...(spec.interval ? { interval: spec.interval } : {}),
    maxDataPoints: spec.maxDataPoints,
  };
}

/** Horizontal bars, one group per value of `xField`. */
export function barchart(spec: PanelSpec & { xField: string }): Panel {
  return dataPanel('barchart', spec, false, { orientation: 'horizontal', xField: spec.xField, legend: { showLegend: true, displayMode: 'list', placement: 'bottom' } });
}

/** A full-width row header (expanded: the panels below it stay at the top level). */
export function row(id: number, title: string, y: number): Panel {
  return { id, type: 'row', title, collapsed: false, gridPos: { h: 1, w: 24, x: 0, y }, panels: [] };
}
