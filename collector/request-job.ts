/**
 * The collector's job on the mapping thread: a whole OTLP request body, prefiltered, decoded,
 * mapped, priced and serialized there (otlp-request.ts). Registered by the collector when it
 * starts the thread; this module is also what the thread loads.
 */
import { moduleBeside, type CreateMappingJob, type JobRegistration } from '../delivery/mapping-job.js';
import type { MappingThread } from '../delivery/mapping-thread.js';
import { mapRequest, type RequestJob, type RequestOutcome } from './otlp-request.js';

export const OTLP_REQUEST_JOB: JobRegistration = { kind: 'otlp-request', module: moduleBeside(import.meta.url, 'request-job') };

/**
 * Decodes and maps a request on the thread (counted as one span in flight); `done` is called
 * once. The body moves to the worker: a body sharing its memory (Buffer's pool) is copied first.
 */
export function submitRequest(thread: Pick<MappingThread, 'submit'>, job: RequestJob, done: (outcome: RequestOutcome | Error) => void): void {
  const { body } = job;
  const owned = body.byteOffset === 0 && body.byteLength === body.buffer.byteLength ? body : new Uint8Array(body);
  thread.submit(OTLP_REQUEST_JOB.kind, { ...job, body: owned }, [owned.buffer as ArrayBuffer], 1, done);
}

export const createMappingJob: CreateMappingJob = (mapper) => ({
  run: (job) => mapRequest(mapper, job as RequestJob),
  transfer: (outcome) => ('mapped' in (outcome as RequestOutcome) ? [(outcome as { mapped: { chunk: { bytes: Uint8Array } } }).mapped.chunk.bytes.buffer as ArrayBuffer] : []),
});
