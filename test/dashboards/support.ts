/**
 * The fixture (fixture.ts) written into an embedded store the way production writes it, and
 * helpers to run a dashboard panel or a cookbook query against it.
 *
 * Writing: BatchWriter (the real writer) sends the first deliveries, then a second writer the
 * re-deliveries, so the duplicates are separate inserts with a later inserted_at. Merges of
 * ai_usage are stopped first: the duplicates stay on disk, and only readers that deduplicate
 * (FINAL, the *_exact views) get the right numbers. The rollups are then brought up to date with
 * refreshRollups() (the scheduled refresh is pushed years away so it never runs mid-test).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ClickHouseClient } from '@clickhouse/client';
import { findPackageRoot, refreshRollups } from '../../clickhouse/migrate.js';
import { BatchWriter } from '../../delivery/writer/batch-writer.js';
import type { UsageRow } from '../../usage/usage-row.js';
import { openTestStore, queryRows, type TestStore } from '../support/store.js';
import { fixtureDeliveries, priceRows } from './fixture.js';
import { allPanels, dashboardQueries, expandFor, loadDashboard, type Dashboard, type Selection } from './load.js';
import type { VariableState } from './macros.js';

export interface FixtureStore {
  store: TestStore;
  client: ClickHouseClient;
  truth: UsageRow[];
  /** Rows physically stored in ai_usage (duplicates included). */
  stored: number;
}

export async function openFixtureStore(): Promise<FixtureStore> {
  const store = await openTestStore({ migrate: { database: 'genai_ledger', refreshSeconds: 315_360_000 } });
  const client = store.client;
  await client.command({ query: 'SYSTEM STOP MERGES genai_ledger.ai_usage' });
  const { first, second, truth } = fixtureDeliveries();
  for (const batch of [first, second]) {
    const rejected: Error[] = [];
    const writer = new BatchWriter(client, { meter: false, onReject: (_rows, error) => rejected.push(error) });
    writer.enqueue(batch);
    await writer.shutdown();
    if (rejected.length > 0 || writer.stats.writtenRows !== batch.length) {
      throw new Error(`fixture write failed: ${writer.stats.writtenRows}/${batch.length} rows, ${rejected[0]?.message ?? 'dropped'}`);
    }
  }
  await client.insert({ table: 'genai_ledger.model_prices', values: priceRows(), format: 'JSONEachRow' });
  await refreshRollups(client, { database: 'genai_ledger' });
  const [{ n }] = (await queryRows<{ n: string }>(client, 'SELECT toString(count()) AS n FROM ai_usage')) as [{ n: string }];
  return { store, client, truth, stored: Number(n) };
}

/** Nov 1-7 2026 as Grafana sends an absolute range ending at the end of a day. */
export const RANGE = { from: new Date('2026-11-01T00:00:00Z'), to: new Date('2026-11-07T23:59:59.999Z') };
/** The same range as the oracle's inclusive bounds. */
export const RANGE_FILTER = { from: '2026-11-01 00:00:00', to: '2026-11-07 23:59:59' };

export const ALL: VariableState = { value: ['$__all'] };
export const pick = (...values: string[]): VariableState => ({ value: values });

export const ALL_FILTERS: Record<string, VariableState> = { org: ALL, service: ALL, environment: ALL, provider: ALL, model: ALL, feature: ALL };

export type Row = Record<string, unknown>;

export class DashboardRunner {
  readonly dashboard: Dashboard;
  constructor(private readonly client: ClickHouseClient, uid: string) {
    this.dashboard = loadDashboard(uid);
  }

  /** The expanded SQL of the panel titled `title` (or of variable `$name`). */
  sql(title: string, selection: Selection): string {
    const q = dashboardQueries(this.dashboard).find((x) => (title.startsWith('$') ? x.kind === 'variable' && `$${x.name}` === title : x.kind === 'panel' && x.name === title));
    if (!q) throw new Error(`${this.dashboard.uid}: no panel or variable '${title}'`);
    return expandFor(q, selection);
  }

  async run(title: string, selection: Selection): Promise<Row[]> {
    const rs = await this.client.query({ query: this.sql(title, selection), format: 'JSONEachRow', clickhouse_settings: { output_format_json_quote_64bit_integers: 0 } });
    return rs.json<Row>();
  }

  /** The panel's single row. */
  async one(title: string, selection: Selection): Promise<Row> {
    const rows = await this.run(title, selection);
    if (rows.length !== 1) throw new Error(`${title}: expected one row, got ${rows.length}`);
    return rows[0] as Row;
  }

  panelTitles(): string[] {
    return allPanels(this.dashboard).filter((p) => (p.targets ?? []).length > 0).map((p) => p.title);
  }

  variableNames(): string[] {
    return dashboardQueries(this.dashboard).filter((q) => q.kind === 'variable').map((q) => `$${q.name}`);
  }
}

/** Money as a person reads it off a panel: rounded to `decimals` places. */
export const usd = (v: unknown, decimals = 2): string => Number(v).toFixed(decimals);

/** A cookbook query file's SQL. */
export function cookbook(name: string): string {
  return readFileSync(join(findPackageRoot(), 'clickhouse', 'queries', `${name}.sql`), 'utf8');
}
