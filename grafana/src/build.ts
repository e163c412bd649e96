/**
 * `npm run dashboards`: writes grafana/dashboards/*.json from the dashboards in code. The output is
 * deterministic (keys in the order the constructors write them, two-space indent, final newline),
 * so running it twice changes nothing; test/dashboards/generated.test.ts fails when the committed
 * files differ from it.
 */
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findPackageRoot } from '../../clickhouse/migrate.js';
import { anomalies } from './dashboards/anomalies.js';
import { models } from './dashboards/models.js';
import { overview } from './dashboards/overview.js';
import { reconcileDashboard } from './dashboards/reconcile.js';
import { tenant } from './dashboards/tenant.js';

/** Each provisioned file and its dashboard. */
export const DASHBOARDS: Readonly<Record<string, unknown>> = {
  'ai-spend-overview.json': overview,
  'anomalies.json': anomalies,
  'ledger-vs-bill.json': reconcileDashboard,
  'model-comparison.json': models,
  'tenant-drill-down.json': tenant,
};

/** The text of each file. */
export function renderDashboards(): Record<string, string> {
  return Object.fromEntries(Object.entries(DASHBOARDS).map(([file, d]) => [file, `${JSON.stringify(d, null, 2)}\n`]));
}

export const dashboardsDir = (): string => join(findPackageRoot(), 'grafana', 'dashboards');

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  for (const [file, text] of Object.entries(renderDashboards())) {
    writeFileSync(join(dashboardsDir(), file), text);
    process.stdout.write(`grafana/dashboards/${file}\n`);
  }
}
