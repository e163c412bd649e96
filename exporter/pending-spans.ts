/**
 * Spans export() is given while the store opens (prices load, migrations run): at most `max`
 * held, delivered once it is open. With a spool their answers wait with them; without one a batch
 * is answered at once and what does not fit is dropped (and counted by the caller).
 */
import type { ExportResult } from '@opentelemetry/core';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';

export interface HeldBatch {
  spans: ReadableSpan[];
  /** The export's answer, when it waits for the delivery (spool). */
  answer?: (result: ExportResult) => void;
}

export class PendingSpans {
  readonly #max: number;
  #held: HeldBatch[] = [];
  #count = 0;

  constructor(max: number) {
    this.#max = max;
  }

  /** Holds what fits: all of a batch that waits for its answer, or else its first spans. Returns the spans held. */
  hold(batch: HeldBatch): number {
    const room = Math.max(0, this.#max - this.#count);
    const spans = batch.answer || batch.spans.length <= room ? batch.spans : batch.spans.slice(0, room);
    if (spans.length === 0 || spans.length > room) return 0;
    this.#held.push({ ...batch, spans });
    this.#count += spans.length;
    return spans.length;
  }

  /** Everything held, in order, and empties the buffer. */
  take(): HeldBatch[] {
    const held = this.#held;
    this.#held = [];
    this.#count = 0;
    return held;
  }
}
