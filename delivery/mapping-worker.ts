/**
 * The mapping thread (a worker_threads worker, started by mapping-thread.ts): maps and prices
 * spans (UsageMapper, with a price book loaded here from the same options), and runs the jobs the
 * entrances registered (mapping-job.ts), each answering with its rows serialized to a chunk that
 * moves back without a copy. It loads every registered job module before it says it is ready.
 * It never logs: a failed job is answered with the error, and a failure to start surfaces as the
 * worker's 'error' event.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { UsageMapper } from '../usage/mapper.js';
import { loadPriceBook, type LoadPriceBookOptions } from '../pricing/index.js';
import type { CreateMappingJob, JobRegistration, MappingJob, MappingSettings } from './mapping-job.js';
import { niceThisThread } from './thread-priority.js';

export interface MappingWorkerData {
  mapper: MappingSettings;
  prices: LoadPriceBookOptions;
  /** This thread's nice value (Linux); 0 leaves it at the app's priority. */
  nice: number;
  jobs: JobRegistration[];
}

export interface MappingRequest {
  id: number;
  kind: string;
  payload: unknown;
}

/** `ready` once the price book and the jobs are loaded, then one answer per job. */
export type MappingReply = { ready: true } | { id: number; result: unknown } | { id: number; error: string };

const { mapper: settings, prices, nice, jobs } = workerData as MappingWorkerData;
if (nice !== 0) niceThisThread(nice);
const port = parentPort!;
const loaded = loadPriceBook(prices).then(async (book) => {
  const mapper = new UsageMapper({ ...settings, prices: book });
  const byKind = new Map<string, MappingJob>();
  for (const { kind, module } of jobs) {
    const { createMappingJob } = (await import(module)) as { createMappingJob: CreateMappingJob };
    byKind.set(kind, createMappingJob(mapper, settings));
  }
  return byKind;
});
void loaded.then(() => port.postMessage({ ready: true } satisfies MappingReply));

port.on('message', ({ id, kind, payload }: MappingRequest) => {
  void loaded.then((byKind) => {
    const job = byKind.get(kind);
    let reply: MappingReply;
    let transfer: ArrayBuffer[] = [];
    try {
      if (!job) throw new Error(`no job of kind '${kind}' was registered`);
      const result = job.run(payload);
      transfer = job.transfer(result);
      reply = { id, result };
    } catch (error) {
      reply = { id, error: error instanceof Error ? error.message : String(error) };
    }
    port.postMessage(reply, transfer);
  });
});
