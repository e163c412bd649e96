/**
 * A child process that owns an embedded store for a test (chDB binds a directory to one process,
 * so the test process itself never opens it): `node --import tsx store-tool.ts DIR OP...` where OP
 * is `hold=MS` (print `holding` and keep the store open MS ms, as a collector would) or one of
 * store-ops.ts's (`seed=FILE`, `refresh`, `hold-merges`, SQL). The store is migrated first.
 *
 * Rows come from a file, not stdin: with data on its stdin, the embedded engine refuses inserts
 * ("Processing async inserts with both inlined and external data (from stdin or infile) is not
 * supported"), so this process runs with stdin closed.
 */
import { createStoreClient } from '../../../clickhouse/store.js';
import { migrate } from '../../../clickhouse/migrate.js';
import { storeOp } from './store-ops.js';

const [dir, ...ops] = process.argv.slice(2);
if (!dir) throw new Error('usage: store-tool.ts DIR OP...');
const database = 'genai_ledger';
const client = await createStoreClient({ kind: 'embedded', path: dir }, { database });
try {
  await migrate(client, { database });
  for (const op of ops) {
    if (op.startsWith('hold=')) {
      process.stdout.write('holding\n');
      await new Promise((resolve) => setTimeout(resolve, Number(op.slice('hold='.length))));
    } else {
      process.stdout.write(await storeOp(client, database, op));
    }
  }
} finally {
  await client.close();
}
