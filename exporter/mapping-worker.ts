/**
 * The mapping thread (a worker_threads worker, started by mapping-thread.ts): decodes the span
 * batches export() packed (span-wire.ts), maps and prices them (UsageMapper, with a price book
 * loaded here from the same options) and serializes and hashes the rows, answering each batch,
 * in order, with its rows as a chunk (writer/row-chunk.ts, transferred) and counts. It never logs: a failed batch is answered with the error, and a
 * failure to start surfaces as the worker's 'error' event.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { MappedBatch } from './ledger.js';
import { UsageMapper, type MapperOptions } from './mapper.js';
import { loadPriceBook, type LoadPriceBookOptions } from './pricing/index.js';
import { SpanWire, type WireBatch } from './span-wire.js';
import { niceThisThread } from './thread-priority.js';
import { chunkOfLines } from './writer/row-chunk.js';
import { serializeRows } from './writer/serialize.js';

export interface MappingWorkerData {
  mapper: Omit<MapperOptions, 'prices'>;
  prices: LoadPriceBookOptions;
  /** This thread's nice value (Linux); 0 leaves it at the app's priority. */
  nice: number;
}

export interface MappingRequest {
  id: number;
  batch: WireBatch;
}

/** `ready` once the price book is loaded, then one answer per batch. */
export type MappingReply = { ready: true } | { id: number; mapped: MappedBatch } | { id: number; error: string };

const { mapper: options, prices, nice } = workerData as MappingWorkerData;
if (nice !== 0) niceThisThread(nice);
const wire = new SpanWire(options);
const port = parentPort!;
const ready = loadPriceBook(prices).then((book) => new UsageMapper({ ...options, prices: book }));
void ready.then(() => port.postMessage({ ready: true } satisfies MappingReply));

// Answers go out in the order the batches came in: every batch waits on the same `ready`.
port.on('message', (request: MappingRequest) => {
  void ready.then((mapper) => {
    const reply = answer(mapper, request);
    // The rows' bytes move to the app's thread (transferred: no copy, nothing on its heap).
    port.postMessage(reply, 'mapped' in reply ? [reply.mapped.chunk.bytes.buffer as ArrayBuffer] : []);
  });
});

function answer(mapper: UsageMapper, { id, batch }: MappingRequest): MappingReply {
  try {
    const records = wire.decode(batch);
    const result = mapper.mapAll(records);
    const { lines, unserializable } = serializeRows(result.rows);
    return {
      id,
      mapped: {
        spans: records.length, skipped: result.skipped, malformed: result.malformed, unpriced: result.unpriced,
        errors: result.errors, chunk: chunkOfLines(lines, true), unserializable,
      },
    };
  } catch (error) {
    return { id, error: error instanceof Error ? error.message : String(error) };
  }
}
