/**
 * A dashboard's envelope: identity, time settings, the link to the other genai-ledger dashboards,
 * Grafana's built-in annotations, then its variables and panels.
 */
import type { Panel } from './model.js';
import type { Variable } from './variables.js';

/** Every dashboard carries it; the dashboards' link menu lists the dashboards that do. */
export const TAG = 'genai-ledger';

export interface DashboardSpec {
  uid: string;
  title: string;
  description: string;
  /** Default range, e.g. `now-7d`. */
  from: string;
  variables: Variable[];
  panels: Panel[];
}

export function dashboard(spec: DashboardSpec): Record<string, unknown> {
  return {
    uid: spec.uid,
    title: spec.title,
    description: spec.description,
    tags: [TAG],
    timezone: 'utc',
    editable: true,
    graphTooltip: 1, // shared crosshair
    schemaVersion: 39,
    version: 1,
    refresh: '',
    time: { from: spec.from, to: 'now' },
    timepicker: {},
    fiscalYearStartMonth: 0,
    liveNow: false,
    weekStart: '',
    links: [
      { title: 'GenAI ledger', type: 'dashboards', tags: [TAG], asDropdown: true, includeVars: false, keepTime: true, icon: 'external link', targetBlank: false, tooltip: '', url: '' },
    ],
    annotations: {
      list: [
        {
          builtIn: 1,
          datasource: { type: 'grafana', uid: '-- Grafana --' },
          enable: true,
          hide: true,
          iconColor: 'rgba(0, 211, 255, 1)',
          name: 'Annotations & Alerts',
          type: 'dashboard',
        },
      ],
    },
    templating: { list: spec.variables },
    panels: spec.panels,
  };
}
