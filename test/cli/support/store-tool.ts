/**
 * A child process that owns an embedded store for a test (chDB binds a directory to one process,
 * so the test process itself never opens it): `node --import tsx store-tool.ts DIR OP...` where OP
 * is `seed=FILE` (a JSON array of usage rows, written with the BatchWriter), `refresh` (rollups),
 * `hold=MS` (print `holding` and keep the store open MS ms, as a collector would), or SQL (its
 * rows printed as one JSON line). The store is migrated first.
 *
 * Rows come from a file, not stdin: with data on its stdin, the embedded engine refuses inserts
 * ("Processing async inserts with both inlined and external data (from stdin or infile) is not
 * supported"), so this process runs with stdin closed.
 */
import { readFileSync } from 'node:fs';
import { createStoreClient } from '../../../clickhouse/store.js';
import { migrate, refreshRollups } from '../../../clickhouse/migrate.js';
import { QUERY_OUTPUT_SETTINGS } from '../../../clickhouse/query-runner.js';
import { BatchWriter } from '../../../delivery/writer/batch-writer.js';
import type { UsageRow } from '../../../usage/usage-row.js';

const [dir, ...ops] = process.argv.slice(2);
if (!dir) throw new Error('usage: store-tool.ts DIR OP...');
const database = 'genai_ledger';
const client = await createStoreClient({ kind: 'embedded', path: dir }, { database });
try {
  await migrate(client, { database });
  for (const op of ops) {
    if (op.startsWith('seed=')) {
      const rows = JSON.parse(readFileSync(op.slice('seed='.length), 'utf8')) as UsageRow[];
      const writer = new BatchWriter(client, { table: `${database}.ai_usage`, meter: false });
      writer.enqueue(rows);
      await writer.shutdown();
      if (writer.stats.writtenRows !== rows.length) throw new Error(`seed: wrote ${writer.stats.writtenRows} of ${rows.length} rows`);
    } else if (op.startsWith('hold=')) {
      process.stdout.write('holding\n');
      await new Promise((resolve) => setTimeout(resolve, Number(op.slice('hold='.length))));
    } else if (op === 'refresh') {
      await refreshRollups(client, { database });
    } else {
      const rs = await client.query({ query: op, format: 'JSONEachRow', clickhouse_settings: QUERY_OUTPUT_SETTINGS });
      process.stdout.write(`${JSON.stringify(await rs.json())}\n`);
    }
  }
} finally {
  await client.close();
}
