/**
 * The exporter's job on the mapping thread: span batches packed by export() (span-wire.ts),
 * unpacked there, mapped, priced and serialized (delivery/map-batch.ts). Registered by the
 * exporter when it starts the thread; this module is also what the thread loads.
 */
import type { MappedBatch } from '../delivery/ledger.js';
import { mapBatch } from '../delivery/map-batch.js';
import { moduleBeside, type CreateMappingJob, type JobRegistration } from '../delivery/mapping-job.js';
import type { MappingThread } from '../delivery/mapping-thread.js';
import { SpanWire, wireTransferList, type WireBatch } from './span-wire.js';

export const SPAN_BATCH_JOB: JobRegistration = { kind: 'span-batch', module: moduleBeside(import.meta.url, 'span-batch-job') };

/** Maps `spans` AI spans packed in `batch`; `done` is called once, with the mapped batch or the reason it was lost. */
export function submitSpanBatch(thread: Pick<MappingThread, 'submit'>, batch: WireBatch, spans: number, done: (outcome: MappedBatch | Error) => void): void {
  // The batch's buffer moves to the worker (no copy; detached here).
  thread.submit(SPAN_BATCH_JOB.kind, batch, wireTransferList(batch), spans, done);
}

export const createMappingJob: CreateMappingJob = (mapper, settings) => {
  const wire = new SpanWire(settings);
  return {
    run: (batch) => mapBatch(mapper, wire.decode(batch as WireBatch)),
    transfer: (mapped) => [(mapped as MappedBatch).chunk.bytes.buffer as ArrayBuffer],
  };
};
