/**
 * The store tool's operations on an open, migrated embedded store, shared by the store tool
 * (store-tool.ts, a process of its own) and the CLI session (cli-session.ts): `seed=FILE` (a JSON
 * array of usage rows, written with the BatchWriter), `refresh` (rollups), `hold-merges` (no
 * background merge of ai_usage: every delivery stays visible, see holdMerges), or SQL (its rows as
 * one JSON line). Returns what the operation prints.
 */
import { readFileSync } from 'node:fs';
import type { ClickHouseClient } from '@clickhouse/client';
import { refreshRollups } from '../../../clickhouse/migrate.js';
import { QUERY_OUTPUT_SETTINGS } from '../../../clickhouse/query-runner.js';
import { BatchWriter } from '../../../delivery/writer/batch-writer.js';
import { holdMerges } from '../../support/delivery-counts.js';
import type { UsageRow } from '../../../usage/usage-row.js';

export async function storeOp(client: ClickHouseClient, database: string, op: string): Promise<string> {
  if (op.startsWith('seed=')) {
    const rows = JSON.parse(readFileSync(op.slice('seed='.length), 'utf8')) as UsageRow[];
    const writer = new BatchWriter(client, { table: `${database}.ai_usage`, meter: false });
    writer.enqueue(rows);
    await writer.shutdown();
    if (writer.stats.writtenRows !== rows.length) throw new Error(`seed: wrote ${writer.stats.writtenRows} of ${rows.length} rows`);
    return '';
  }
  if (op === 'refresh') {
    await refreshRollups(client, { database });
    return '';
  }
  if (op === 'hold-merges') {
    await holdMerges(client, database);
    return '';
  }
  const rs = await client.query({ query: op, format: 'JSONEachRow', clickhouse_settings: QUERY_OUTPUT_SETTINGS });
  return `${JSON.stringify(await rs.json())}\n`;
}
