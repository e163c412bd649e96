/**
 * Back-pressure: a trace request is admitted only if the rows it can make fit in the writer's
 * queue *before* anything is ingested, so a request is accepted whole or refused whole (429 +
 * Retry-After, which OTLP clients retry) instead of being half-accepted and half-dropped.
 *
 * The rows a request can make are bounded by its spans that classify as AI calls (the mapper's own
 * first test, `callOperation`: a few attribute lookups per span, so ordinary spans cost next to
 * nothing). Byte room is estimated from the queue's current average row size.
 */
import { callOperation } from '../usage/classify.js';
import type { SpanRecord } from '../usage/span-record.js';

/** Serialized size assumed for a row when the queue is empty (UTF-8 bytes of a JSONCompactEachRow line). */
export const ASSUMED_ROW_BYTES = 1024;

export interface QueueLevels {
  readonly queuedRows: number;
  readonly queuedBytes: number;
}

export interface QueueCapacity {
  readonly rows: number;
  readonly bytes: number;
}

/** Spans of `spans` that are AI calls: an upper bound of the rows they map to. */
export function countAiCalls(spans: readonly SpanRecord[]): number {
  let n = 0;
  for (const span of spans) if (callOperation(span.attributes, span.name) !== undefined) n++;
  return n;
}

export class QueueAdmission {
  constructor(
    private readonly levels: QueueLevels,
    readonly capacity: QueueCapacity,
  ) {}

  #rowBytes(): number {
    const { queuedRows, queuedBytes } = this.levels;
    return queuedRows > 0 ? Math.max(64, queuedBytes / queuedRows) : ASSUMED_ROW_BYTES;
  }

  /** True when `rows` more rows fit in the queue now. */
  hasRoom(rows: number): boolean {
    if (rows === 0) return true;
    const { queuedRows, queuedBytes } = this.levels;
    return queuedRows + rows <= this.capacity.rows && queuedBytes + rows * this.#rowBytes() <= this.capacity.bytes;
  }

  /** Most rows an empty queue takes at once (for requests larger than the whole queue). */
  sliceRows(): number {
    return Math.max(1, Math.min(this.capacity.rows, Math.floor(this.capacity.bytes / this.#rowBytes())));
  }

  /** False when the request can never fit at once, even in an empty queue. */
  fitsEver(rows: number): boolean {
    return rows <= this.sliceRows();
  }
}

/**
 * Writes a burst's tail as soon as the traffic pauses instead of at the writer's next interval
 * tick: `idleMs` after the last request that enqueued rows, if no other came, the ledger is
 * flushed. Under steady traffic it never fires (the writer's own batching applies); a pause adds
 * at most one insert.
 */
export class IdleFlusher {
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly flush: () => Promise<void>,
    private readonly idleMs: number,
  ) {}

  /** Call after each request that enqueued rows. */
  touch(): void {
    if (this.idleMs <= 0) return;
    if (this.#timer) {
      this.#timer.refresh();
      return;
    }
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.flush();
    }, this.idleMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
