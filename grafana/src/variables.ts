/**
 * The template variables: the data source, one filter per ledger column (its values in the range,
 * narrowed by the variables before it) and the anomaly knobs.
 */
import { BY_FEATURE, BY_MODEL, BY_ORG_MODEL, BY_ORG_SERVICE_FEATURE, DAILY_BY_ORG, exact, holds, HOURLY, HOURLY_BY_TIME, type Rollup } from '../../clickhouse/rollups.js';
import { CLICKHOUSE, DATASOURCE_TYPE, DATASOURCE_UID, type DatasourceRef } from './model.js';
import { ORG, NARROWED_BY, type Filter } from './query/filters.js';
import { rollupQuery, rollupWhere } from './query/rollup-query.js';
import { sql } from './query/sql.js';

export interface Variable {
  name: string;
  label: string;
  description?: string;
  type: 'datasource' | 'query' | 'custom';
  datasource?: DatasourceRef;
  query: string | { refId: string; editorType: 'sql'; queryType: 'sql'; rawSql: string };
  definition?: string;
  refresh?: number;
  multi: boolean;
  includeAll: boolean;
  current: { selected?: boolean; text: string | string[]; value: string | string[] };
  options: Array<{ selected: boolean; text: string; value: string }>;
  sort?: number;
  hide: number;
  regex?: string;
}

export const datasourceVariable: Variable = {
  name: 'datasource',
  label: 'Data source',
  type: 'datasource',
  query: DATASOURCE_TYPE,
  current: { selected: true, text: 'genai-ledger ClickHouse', value: DATASOURCE_UID },
  hide: 0,
  includeAll: false,
  multi: false,
  options: [],
  refresh: 1,
  regex: '',
};

function queryVariable(f: Filter, rawSql: string): Variable {
  return {
    name: f.variable,
    label: f.label,
    type: 'query',
    datasource: CLICKHOUSE,
    query: { refId: `var-${f.variable}`, editorType: 'sql', queryType: 'sql', rawSql },
    definition: rawSql,
    refresh: 2, // on time range change
    multi: !f.single,
    includeAll: !f.single,
    current: f.single ? { text: '', value: '' } : { selected: true, text: ['All'], value: ['$__all'] },
    options: [],
    sort: 1,
    hide: 0,
    regex: '',
  };
}

/** The smallest rollup listing a variable's values while the variables narrowing it are All. */
const LISTED_BY: Readonly<Record<string, Rollup>> = { org: DAILY_BY_ORG, feature: BY_FEATURE };

/** The values of `f` present in the range, narrowed by the variables before it. */
export function filterVariable(f: Filter): Variable {
  return queryVariable(
    f,
    sql`
SELECT ${f.column}
FROM
(
    ${rollupQuery({ select: [f.column], filters: NARROWED_BY[f.variable] ?? [], small: LISTED_BY[f.variable] ?? BY_MODEL, fine: HOURLY_BY_TIME })}
)
GROUP BY ${f.column}
ORDER BY ${f.column}`,
  );
}

/** Where the tenant dashboard lists values: the smallest per-org rollup holding the column and those narrowing it. */
const TENANT_LISTED_BY: readonly Rollup[] = [BY_ORG_SERVICE_FEATURE, BY_ORG_MODEL];

/** The tenant dashboard's lists: the values present for the selected org (org first in the rollups' keys). */
export function tenantVariable(f: Filter, org: Filter): Variable {
  if (f.variable === ORG.variable) return queryVariable(org, filterVariable(ORG).definition as string);
  const narrowing = [org, ...(NARROWED_BY[f.variable] ?? []).filter((n) => n.variable !== ORG.variable)];
  const from = TENANT_LISTED_BY.find((r) => [f, ...narrowing].every((x) => holds(r, x.column))) ?? HOURLY;
  return queryVariable(
    f,
    sql`
SELECT ${f.column}
FROM ${exact(from)}
${rollupWhere(narrowing)}
GROUP BY ${f.column}
ORDER BY ${f.column}`,
  );
}

/** A fixed list of values, one selected. */
export function customVariable(name: string, label: string, description: string, values: readonly string[], selected: string): Variable {
  return {
    name,
    label,
    description,
    type: 'custom',
    query: values.join(','),
    current: { selected: true, text: selected, value: selected },
    options: values.map((v) => ({ selected: v === selected, text: v, value: v })),
    multi: false,
    includeAll: false,
    hide: 0,
  };
}
