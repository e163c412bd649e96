/** Bytes on disk per call of the raw ledger and of every rollup (bench:store-costs, bench:dashboards). */
import type { ClickHouseClient } from '@clickhouse/client';
import { REFRESH_VIEWS } from '../../clickhouse/migrate.js';
import { printFigure } from './measure.js';

const MiB = 1024 * 1024;

async function rows<T>(client: ClickHouseClient, query: string): Promise<T[]> {
  const rs = await client.query({ query, format: 'JSONEachRow', clickhouse_settings: { output_format_json_quote_64bit_integers: 0 } });
  return rs.json<T>();
}

/** Prints each table's active rows, MiB and bytes per call, then the raw, rollup and store totals per call. */
export async function printDisk(client: ClickHouseClient, database: string): Promise<void> {
  const out = (line: string): void => void process.stdout.write(`${line}\n`);
  const [total] = await rows<{ calls: number }>(client, `SELECT sum(calls) AS calls FROM ${database}.ai_usage_daily_exact`);
  const calls = Number(total?.calls ?? 0);
  // Every table a refreshable view keeps: the call rollups and the spend per budget.
  const tables = ['ai_usage', ...REFRESH_VIEWS.map((view) => view.replace(/_refresh$/, ''))];
  const parts = await rows<{ table: string; rows: number; bytes: number; parts: number }>(
    client,
    `SELECT table, sum(rows) AS rows, sum(bytes_on_disk) AS bytes, count() AS parts FROM system.parts
     WHERE database = '${database}' AND active AND table IN (${tables.map((t) => `'${t}'`).join(', ')}) GROUP BY table`,
  );
  const byTable = new Map(parts.map((p) => [p.table, p]));
  out(`disk: ${calls.toLocaleString('en-US')} calls (exact); active parts per table, bytes on disk per call`);
  let rollupBytes = 0;
  for (const table of tables) {
    const p = byTable.get(table);
    if (!p) continue;
    if (table !== 'ai_usage') rollupBytes += Number(p.bytes);
    out(`  ${table.padEnd(38)} ${Number(p.rows).toLocaleString('en-US').padStart(13)} rows ${(Number(p.bytes) / MiB).toFixed(0).padStart(7)} MiB ${(Number(p.bytes) / calls).toFixed(1).padStart(7)} B/call (${p.parts} parts)`);
  }
  const raw = Number(byTable.get('ai_usage')?.bytes ?? 0);
  printFigure('raw ledger on disk per call', `${(raw / calls).toFixed(1)} B`, 1, 'the figure; ratio 1');
  printFigure('all rollups on disk per call', `${(rollupBytes / calls).toFixed(1)} B`, rollupBytes / raw, 'rollups ÷ raw ledger');
  printFigure('store on disk per call', `${((raw + rollupBytes) / calls).toFixed(1)} B`, (raw + rollupBytes) / raw, 'store ÷ raw ledger');
}
