/**
 * The mapping thread (a worker_threads worker, started by mapping-thread.ts): maps and prices
 * spans (UsageMapper, with a price book loaded here from the same options), serializes and hashes
 * the rows, and answers each job with its rows as a chunk (clickhouse/row-chunk.ts, transferred) and
 * counts. Two kinds of job: the span batches export() packed (span-wire.ts), and the collector's
 * OTLP request bodies, decoded here too (collector/otlp-request.ts, loaded on the first one).
 * It never logs: a failed job is answered with the error, and a failure to start surfaces as the
 * worker's 'error' event.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { RequestJob, RequestOutcome } from '../collector/otlp-request.js';
import type { MappedBatch } from './ledger.js';
import { mapBatch } from './map-batch.js';
import { UsageMapper, type MapperOptions } from '../usage/mapper.js';
import { loadPriceBook, type LoadPriceBookOptions } from '../pricing/index.js';
import { SpanWire, type WireBatch } from '../exporter/span-wire.js';
import { niceThisThread } from './thread-priority.js';
import type { RowChunk } from '../clickhouse/row-chunk.js';

export interface MappingWorkerData {
  mapper: Omit<MapperOptions, 'prices'>;
  prices: LoadPriceBookOptions;
  /** This thread's nice value (Linux); 0 leaves it at the app's priority. */
  nice: number;
}

export type MappingRequest = { id: number; batch: WireBatch } | { id: number; request: RequestJob };

/** `ready` once the price book is loaded, then one answer per job. */
export type MappingReply =
  | { ready: true }
  | { id: number; mapped: MappedBatch }
  | { id: number; request: RequestOutcome }
  | { id: number; error: string };

const { mapper: options, prices, nice } = workerData as MappingWorkerData;
if (nice !== 0) niceThisThread(nice);
const wire = new SpanWire(options);
const port = parentPort!;
const ready = loadPriceBook(prices).then((book) => new UsageMapper({ ...options, prices: book }));
void ready.then(() => port.postMessage({ ready: true } satisfies MappingReply));
let requests: Promise<typeof import('../collector/otlp-request.js')> | undefined;

port.on('message', (job: MappingRequest) => {
  void ready.then(async (mapper) => {
    let reply: MappingReply;
    try {
      if ('batch' in job) {
        reply = { id: job.id, mapped: mapBatch(mapper, wire.decode(job.batch)) };
      } else {
        const { mapRequest } = await (requests ??= import('../collector/otlp-request.js'));
        reply = { id: job.id, request: mapRequest(mapper, job.request) };
      }
    } catch (error) {
      reply = { id: job.id, error: error instanceof Error ? error.message : String(error) };
    }
    // The rows' bytes move to the other thread (transferred: no copy, nothing on its heap).
    const chunk = chunkOf(reply);
    port.postMessage(reply, chunk ? [chunk.bytes.buffer as ArrayBuffer] : []);
  });
});

function chunkOf(reply: MappingReply): RowChunk | undefined {
  if ('mapped' in reply) return reply.mapped.chunk;
  if ('request' in reply && 'mapped' in reply.request) return reply.request.mapped.chunk;
  return undefined;
}
