/**
 * The process the crash test kills. `node --import tsx crash-child.ts <store> <spool> <mode>`:
 * - `ingest`: opens a durable Ledger on its own embedded store and spool, then ingests batches of
 *   chat spans in 4 concurrent loops, printing `ack <batch>` once each batch is acknowledged
 *   (ingestDurable resolved: fsync'd). Runs until killed.
 * - `replay`: opens the same directories (the spool replays), waits until nothing is pending,
 *   prints `done <stats JSON>` and exits cleanly.
 * Batch b holds spans [b * BATCH, (b + 1) * BATCH) of test/faults/support/spans.ts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ledger } from '../../../delivery/ledger.js';
import { chatSpans } from './spans.js';

export const BATCH = 100;
const [storeDir, spoolDir, mode] = process.argv.slice(2);
if (!storeDir || !spoolDir || (mode !== 'ingest' && mode !== 'replay')) {
  process.stderr.write('usage: crash-child.ts <store> <spool> ingest|replay\n');
  process.exit(2);
}

const ledger = await Ledger.open({
  store: storeDir,
  spool: { dir: spoolDir, retryInitialMs: 100, retryMaxMs: 500 },
  writer: { flushIntervalMs: 50, maxBatchRows: 1_000, meter: false },
});
const statusPid = /PID:\s*(\d+)/.exec(readFileSync(join(storeDir, 'status'), 'utf8'))?.[1];
process.stdout.write(`ready ${process.pid} ${statusPid} ${JSON.stringify(ledger.stats.spool)}\n`);

if (mode === 'ingest') {
  const loops = 4;
  await Promise.all(Array.from({ length: loops }, async (_, k) => {
    for (let b = k; ; b += loops) {
      await ledger.ingestDurable(chatSpans(b * BATCH, BATCH));
      process.stdout.write(`ack ${b}\n`);
    }
  }));
} else {
  const deadline = Date.now() + 60_000;
  while (ledger.stats.spool!.pendingRows > 0 || ledger.stats.spool!.inFlightRows > 0) {
    if (Date.now() > deadline) throw new Error('replay did not drain');
    await ledger.flush();
  }
  const stats = { ...ledger.stats.spool };
  await ledger.close();
  process.stdout.write(`done ${JSON.stringify(stats)}\n`);
}
