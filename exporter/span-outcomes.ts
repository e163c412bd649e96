/**
 * What became of every span export() was given, by reason, in one place: the counters behind
 * `stats()` and the `genai_ledger.spans.not_stored` OTel metric. A span that does not become a
 * stored row is counted here (or, past the mapping, in the ledger's own counters) before any
 * answer is given for it. Warnings about lost spans are rate-limited, one kind at a time.
 */
import { diag, metrics, type Meter, type ObservableResult } from '@opentelemetry/api';

/** Why spans the exporter was given did not reach the ledger. */
export interface LostSpans {
  /** Held while the store opened, past `maxPendingSpans`, or the store failed to open. */
  beforeOpen: number;
  /** Handed to the mapping thread past `maxSpansInFlight`, or lost with a failed thread. */
  inFlight: number;
  /** Refused by a full or failing spool (the export was answered FAILED). */
  refused: number;
  /** Could not be read or mapped (an exception; the export was answered FAILED). */
  conversionFailed: number;
}

/** One warning line per kind at most this often. */
const WARNING_INTERVAL_MS = 10_000;

export class SpanOutcomes {
  readonly lost: LostSpans = { beforeOpen: 0, inFlight: 0, refused: 0, conversionFailed: 0 };
  readonly #warnedAt = new Map<keyof LostSpans, number>();

  /** Counts `spans` lost for `reason`, with a rate-limited warning naming `why`. */
  lose(reason: keyof LostSpans, spans: number, why: string): void {
    this.lost[reason] += spans;
    const now = Date.now();
    if (now - (this.#warnedAt.get(reason) ?? 0) < WARNING_INTERVAL_MS) return;
    this.#warnedAt.set(reason, now);
    diag.warn(`genai-ledger: AI usage of ${spans} span(s) not recorded: ${why} (${reason}: ${this.lost[reason]} in all)`);
  }

  /**
   * Reports the spans not stored, by reason, as an observable counter; `fromLedger` adds the
   * ledger's own reasons (not an AI call, aggregate, malformed, rows dropped or rejected).
   * Returns the function that stops reporting.
   */
  observe(meter: Meter | undefined, fromLedger: () => Record<string, number>): () => void {
    const m = meter ?? metrics.getMeter('genai-ledger');
    const counter = m.createObservableCounter('genai_ledger.spans.not_stored', {
      description: 'Spans given to the exporter that did not become stored usage rows, by reason', unit: '{span}',
    });
    const report = (result: ObservableResult): void => {
      for (const [reason, value] of Object.entries({ ...fromLedger(), ...this.byReason() })) result.observe(value, { reason });
    };
    counter.addCallback(report);
    return () => counter.removeCallback(report);
  }

  /** The lost counts under their metric reasons. */
  byReason(): Record<string, number> {
    const { beforeOpen, inFlight, refused, conversionFailed } = this.lost;
    return { dropped_before_open: beforeOpen, dropped_in_flight: inFlight, refused, conversion_failed: conversionFailed };
  }
}
