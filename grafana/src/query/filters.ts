/**
 * The dashboards' filters: each template variable, the ledger column it narrows, and the SQL that
 * narrows by it. Multi-value variables go through `$__conditionalAll`, so All adds no condition.
 */

export interface Filter {
  variable: string;
  column: string;
  label: string;
  /** One value, never All (the tenant dashboard's org): a plain equality. */
  single?: boolean;
}

export const ORG: Filter = { variable: 'org', column: 'org_id', label: 'Org' };
export const SERVICE: Filter = { variable: 'service', column: 'service_name', label: 'Service' };
export const ENVIRONMENT: Filter = { variable: 'environment', column: 'environment', label: 'Environment' };
export const PROVIDER: Filter = { variable: 'provider', column: 'provider', label: 'Provider' };
export const MODEL: Filter = { variable: 'model', column: 'request_model', label: 'Model' };
export const FEATURE: Filter = { variable: 'feature', column: 'feature', label: 'Feature' };

/** Every filter, in the order of the variables above the dashboards. */
export const FILTERS: readonly Filter[] = [ORG, SERVICE, ENVIRONMENT, PROVIDER, MODEL, FEATURE];

/** The tenant dashboard's filters: one org. */
export const TENANT_FILTERS: readonly Filter[] = FILTERS.map((f) => (f === ORG ? { ...f, single: true } : f));

/** Each variable's list narrowed by the variables before it (org → service → environment, provider → model). */
export const NARROWED_BY: Readonly<Record<string, readonly Filter[]>> = {
  org: [],
  service: [ORG],
  environment: [ORG, SERVICE],
  provider: [ORG],
  model: [ORG, PROVIDER],
  feature: [ORG],
};

/** The condition a filter adds. */
export function filterClause(f: Filter): string {
  return f.single ? `${f.column} = \${${f.variable}:singlequote}` : `$__conditionalAll(${f.column} IN (\${${f.variable}:singlequote}), $${f.variable})`;
}

/** True (in SQL) exactly when every one of `filters` is on All. */
export function allSelected(filters: readonly Filter[]): string {
  return filters.map((f) => `$__conditionalAll(0, $${f.variable})`).join(' AND ');
}

/** "org and feature All", for a query's comments. */
export function allWords(filters: readonly Filter[]): string {
  const names = filters.map((f) => f.variable);
  const list = names.length > 1 ? `${names.slice(0, -1).join(', ')} and ${names.at(-1)}` : (names[0] ?? '');
  return `${list} All`;
}
