/**
 * Units, colours, thresholds and links, written once for every dashboard. A FieldStyle is a
 * field's display settings: a panel's defaults, or one column's (an override by name).
 */

export interface FieldStyle {
  displayName?: string;
  unit?: string;
  decimals?: number;
  color?: { mode: string; fixedColor?: string };
  thresholds?: { mode: 'absolute'; steps: Array<{ color: string; value: number | null }> };
  links?: Array<{ title: string; url: string }>;
  custom?: Record<string, unknown>;
}

/** US dollars, `decimals` places (sums to cents, unit costs finer). */
export const usd = (decimals = 2): FieldStyle => ({ unit: 'currencyUSD', decimals });
export const count: FieldStyle = { unit: 'short' };
export const ratio = (decimals: number): FieldStyle => ({ unit: 'percentunit', decimals });
export const ms: FieldStyle = { unit: 'ms' };

/** A stat's single colour (its thresholds unused). */
export const fixedColor = (colour: 'blue' | 'green' | 'orange' | 'purple' | 'red'): FieldStyle => ({
  color: { mode: 'fixed', fixedColor: colour },
  thresholds: { mode: 'absolute', steps: [{ color: 'blue', value: null }] },
});

/** Green at zero, red from one: counts that should be zero (unpriced calls). */
export const redAboveZero: FieldStyle = {
  color: { mode: 'thresholds' },
  thresholds: { mode: 'absolute', steps: [{ color: 'green', value: null }, { color: 'red', value: 1 }] },
};

/** Stacked bars per interval, one series per value of the `label` column. */
export const stackedBars = (label: string): FieldStyle => ({
  ...usd(2),
  displayName: `\${__field.labels.${label}}`,
  custom: { drawStyle: 'bars', fillOpacity: 80, stacking: { mode: 'normal', group: 'A' }, lineWidth: 1 },
  color: { mode: 'palette-classic' },
});

/** A money column drawn as a bar in its cell. */
export const usdGauge: FieldStyle = { ...usd(2), custom: { cellOptions: { type: 'gauge', mode: 'basic' } } };

/** Grafana's URL slug of a dashboard title (`/d/<uid>/<slug>`). */
export const slug = (title: string): string => title.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');

/** A link from a table's `org` column to that org's tenant drill-down, same time range. */
export function drillDownToOrg(tenant: { uid: string; title: string }): FieldStyle {
  return { links: [{ title: 'Drill down into ${__data.fields.org}', url: `/d/${tenant.uid}/${slug(tenant.title)}?var-org=\${__data.fields.org}&\${__url_time_range}` }] };
}

/** A link to one panel of a dashboard shown alone, with the current time range and variables. */
export function viewPanel(title: string, dashboard: { uid: string; title: string }, panelId: number): FieldStyle {
  return { links: [{ title, url: `/d/${dashboard.uid}/${slug(dashboard.title)}?viewPanel=${panelId}&\${__url_time_range}&\${__all_variables}` }] };
}
