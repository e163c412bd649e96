/**
 * The app-side handle of the mapping thread (mapping-worker.ts): hands it the jobs an entrance
 * registered (mapping-job.ts: the exporter's packed span batches, the collector's OTLP request
 * bodies) and gets each back, its rows serialized to a chunk of bytes. It is `ready` once the
 * worker has loaded its price book and jobs (until then the entrance maps on its own thread, so
 * starting adds no delay). The worker
 * keeps the app alive only while batches are in flight. If it fails (it could not start, it crashed, a batch could not be read back),
 * every batch in flight is answered with the error and `failed` is set: the exporter then maps on
 * the app's thread. Nothing here throws into the caller.
 *
 * It only maps: the store's client stays on the app's thread, since the embedded engine (chDB)
 * is one per process and its native addon crashes the process when a worker that loaded it exits.
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { diag } from '@opentelemetry/api';
import type { LedgerOptions } from './ledger.js';
import type { JobRegistration } from './mapping-job.js';
import type { MappingReply, MappingRequest, MappingWorkerData } from './mapping-worker.js';
import type { LoadPriceBookOptions } from '../pricing/index.js';

/**
 * The mapping thread's default nice value (Linux): under CPU contention the app's threads run
 * first, and the mapping thread still gets about a tenth of a busy core (some 15k spans/s).
 */
export const DEFAULT_MAPPING_THREAD_NICE = 10;

/** A job's answer (its job's result), or the reason it was lost. */
type Outcome = unknown;

interface InFlight {
  spans: number;
  done: (outcome: Outcome) => void;
}

export class MappingThread {
  readonly #worker: Worker;
  readonly #inFlight = new Map<number, InFlight>();
  #nextId = 0;
  #spans = 0;
  #failure: Error | undefined;
  #ready = false;
  #closing = false;
  #idle: Array<() => void> = [];

  /**
   * Starts the worker with the entrance's `jobs` (`spawnWorker`: tests start stand-ins); undefined
   * when the price book cannot be loaded again there (one built in code).
   */
  static start(
    options: LedgerOptions & { mappingThreadNice?: number },
    jobs: JobRegistration[],
    spawnWorker: (data: MappingWorkerData) => Worker = spawn,
  ): MappingThread | undefined {
    const prices = priceBookOptions(options.prices);
    if (!prices) return undefined;
    const { attribution, attributeAllowList, maxAttributeLength, trustReportedCost, frameworkSpans } = options;
    const nice = options.mappingThreadNice ?? DEFAULT_MAPPING_THREAD_NICE;
    const mapper = { attribution, attributeAllowList, maxAttributeLength, trustReportedCost, frameworkSpans };
    return new MappingThread(spawnWorker({ mapper, prices, nice, jobs }));
  }

  private constructor(worker: Worker) {
    this.#worker = worker;
    worker.unref();
    worker.on('message', (reply: MappingReply) => this.#answer(reply));
    worker.on('error', (error) => this.#fail(error));
    worker.on('messageerror', (error) => this.#fail(error));
    worker.on('exit', (code) => this.#fail(new Error(`the mapping thread exited with code ${code}`)));
  }

  /** The worker has started and loaded its price book. */
  get ready(): boolean {
    return this.#ready;
  }

  /** Why the thread stopped working, once it has. */
  get failed(): Error | undefined {
    return this.#failure;
  }

  /** Spans handed over and not yet answered. */
  get spansInFlight(): number {
    return this.#spans;
  }

  /**
   * Runs a job of a registered `kind` on `payload` (`spans` counts it in flight; `transfer` lists
   * its buffers, which move to the worker and are detached here). `done` is called once, with the
   * job's result or the reason it was lost.
   */
  submit<R>(kind: string, payload: unknown, transfer: ArrayBuffer[], spans: number, done: (outcome: R | Error) => void): void {
    if (this.#failure) {
      done(this.#failure);
      return;
    }
    const id = this.#nextId++;
    try {
      this.#worker.postMessage({ id, kind, payload } satisfies MappingRequest, transfer);
    } catch (error) {
      done(error as Error); // a value that cannot be cloned: this job only
      return;
    }
    this.#inFlight.set(id, { spans, done: done as (outcome: Outcome) => void });
    if (this.#spans === 0) this.#worker.ref();
    this.#spans += spans;
  }

  /** Resolves once every batch handed over so far is answered. */
  drained(): Promise<void> {
    return this.#spans === 0 ? Promise.resolve() : new Promise((resolve) => this.#idle.push(resolve));
  }

  /** Answers what is in flight, then stops the worker. */
  async close(): Promise<void> {
    await this.drained();
    this.#closing = true;
    await this.#worker.terminate();
  }

  #answer(reply: MappingReply): void {
    if ('ready' in reply) {
      this.#ready = true;
      return;
    }
    const entry = this.#inFlight.get(reply.id);
    if (!entry) return;
    this.#inFlight.delete(reply.id);
    this.#release(entry.spans);
    settle(entry, 'error' in reply ? new Error(`the mapping thread failed a batch: ${reply.error}`) : reply.result);
  }

  #fail(error: Error): void {
    if (this.#closing || this.#failure) return;
    this.#failure = error;
    const lost = [...this.#inFlight.values()];
    this.#inFlight.clear();
    for (const entry of lost) {
      this.#release(entry.spans);
      settle(entry, error);
    }
    void this.#worker.terminate();
  }

  #release(spans: number): void {
    this.#spans -= spans;
    if (this.#spans > 0) return;
    this.#worker.unref();
    const idle = this.#idle;
    this.#idle = [];
    for (const resolve of idle) resolve();
  }
}

/** Runs a batch's callback from a worker event, where a throw would crash the app. */
function settle(entry: InFlight, outcome: Outcome): void {
  try {
    entry.done(outcome);
  } catch (error) {
    diag.error(`genai-ledger: handling a mapped batch failed: ${(error as Error).message}`);
  }
}

function priceBookOptions(prices: LedgerOptions['prices']): LoadPriceBookOptions | undefined {
  if (prices === undefined) return {};
  if (typeof prices === 'string') return { overridesFile: prices };
  return prices.loadOptions;
}

function spawn(workerData: MappingWorkerData): Worker {
  const here = import.meta.url;
  if (!here.endsWith('.ts')) return new Worker(new URL('./mapping-worker.js', here), { workerData });
  // From source (tests, benchmarks): the worker loads its TypeScript through tsx (a dev dependency).
  const tsx = pathToFileURL(createRequire(here).resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs')).href;
  const entry = new URL('./mapping-worker.ts', here).href;
  const boot = `const { tsImport } = await import(${JSON.stringify(tsx)}); await tsImport(${JSON.stringify(entry)}, import.meta.url);`;
  return new Worker(new URL(`data:text/javascript,${encodeURIComponent(boot)}`), { workerData, execArgv: [] });
}
