/**
 * Where export()'s spans are mapped: on the mapping thread (packed by span-wire.ts, answered as a
 * mapped batch of serialized rows) or on the app's thread (converted to span records, which the
 * ledger maps). One interface; the thread stage falls back to the local one while its worker
 * starts and after it failed, so a batch is always mapped somewhere or counted as lost.
 */
import { diag } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import type { MappedBatch } from '../delivery/ledger.js';
import type { MappingThread } from '../delivery/mapping-thread.js';
import { NO_ROWS } from '../clickhouse/row-chunk.js';
import type { SpanRecord } from '../usage/span-record.js';
import { fromReadableSpan } from './readable-span.js';
import { submitSpanBatch } from './span-batch-job.js';
import type { SpanWire } from './span-wire.js';

/** A stage's output: records the ledger maps, or a batch mapped elsewhere. */
export type StageOutput = { records: SpanRecord[] } | { mapped: MappedBatch };

/** Spans of a batch that never reached the ledger, and why. */
export interface LostInFlight {
  spans: number;
  error: Error;
}

/** Called once per batch, with what reached the ledger and what was lost on the way. */
export type StageDone = (output: StageOutput, lost?: LostInFlight) => void;

export interface MappingStage {
  /** Throws only when the spans cannot be read at all (the caller counts them as conversion failed). */
  map(spans: ReadableSpan[], done: StageDone): void;
  /** Whether batches go to the mapping thread now. */
  readonly offThread: boolean;
  /** Spans handed over and not answered yet. */
  readonly inFlight: number;
  /** Resolves once every batch handed over is answered. */
  drained(): Promise<void>;
  close(): Promise<void>;
}

/** On the app's thread: span records, mapped by the ledger. */
export const localMapping: MappingStage = {
  map: (spans, done) => done({ records: spans.map(fromReadableSpan) }),
  offThread: false,
  inFlight: 0,
  drained: () => Promise.resolve(),
  close: () => Promise.resolve(),
};

/** On the mapping thread, at most `maxInFlight` spans behind; locally while it cannot take them. */
export class ThreadMapping implements MappingStage {
  readonly #thread: MappingThread;
  readonly #wire: SpanWire;
  readonly #maxInFlight: number;
  #failureReported = false;

  constructor(thread: MappingThread, wire: SpanWire, maxInFlight: number) {
    this.#thread = thread;
    this.#wire = wire;
    this.#maxInFlight = maxInFlight;
  }

  get offThread(): boolean {
    const failure = this.#thread.failed;
    if (failure && !this.#failureReported) {
      this.#failureReported = true;
      diag.error(`genai-ledger: the mapping thread failed, mapping on the app's thread from now on: ${failure.message}`);
    }
    return this.#thread.ready && !failure;
  }

  get inFlight(): number {
    return this.#thread.spansInFlight;
  }

  // No closure that outlives map() may hold the spans: a batch in flight to the mapping thread
  // would keep them alive past young-generation collections (promoted, then collected by full GCs
  // on the app's thread). Hence the callbacks below take counts, never the span array.
  map(spans: ReadableSpan[], done: StageDone): void {
    if (!this.offThread) {
      localMapping.map(spans, done);
      return;
    }
    const encoded = this.#wire.encode(spans);
    // The spans that never leave this thread: the ordinary and malformed ones.
    const local: MappedBatch = {
      spans: spans.length - encoded.sent, skipped: encoded.skipped, aggregates: encoded.aggregates, malformed: encoded.malformed, unpriced: 0,
      errors: encoded.errors, chunk: NO_ROWS, unserializable: [],
    };
    const thread = this.#thread;
    if (encoded.sent === 0) {
      done({ mapped: local });
    } else if (thread.spansInFlight + encoded.sent > this.#maxInFlight) {
      done({ mapped: local }, { spans: encoded.sent, error: new Error(`the mapping thread is ${thread.spansInFlight} spans behind`) });
    } else {
      submitSpanBatch(thread, encoded.batch, encoded.sent, (outcome) => {
        if (outcome instanceof Error) done({ mapped: local }, { spans: encoded.sent, error: outcome });
        else done({ mapped: merge(local, outcome) });
      });
    }
  }

  drained(): Promise<void> {
    return this.#thread.drained();
  }

  close(): Promise<void> {
    return this.#thread.close();
  }
}

/** A mapped batch's counts and rows, with those of its spans that never left the app's thread. */
function merge(local: MappedBatch, mapped: MappedBatch): MappedBatch {
  return {
    spans: local.spans + mapped.spans, skipped: local.skipped + mapped.skipped, aggregates: local.aggregates + mapped.aggregates,
    malformed: local.malformed + mapped.malformed,
    unpriced: mapped.unpriced, errors: [...local.errors, ...mapped.errors].slice(0, 10), chunk: mapped.chunk,
    unserializable: mapped.unserializable,
  };
}
