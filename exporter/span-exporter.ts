import { context, diag } from '@opentelemetry/api';
import { ExportResultCode, suppressTracing, type ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import { Ledger, type IngestResult, type LedgerOptions, type LedgerStats, type MappedBatch } from '../delivery/ledger.js';
import { MappingThread } from '../delivery/mapping-thread.js';
import { fromReadableSpan } from './readable-span.js';
import { SPAN_BATCH_JOB, submitSpanBatch } from './span-batch-job.js';
import { SpanWire } from './span-wire.js';
import { NO_ROWS } from '../clickhouse/row-chunk.js';

export interface GenAiLedgerExporterOptions extends LedgerOptions {
  /** Spans held while the store opens (prices load, migrations run); more are dropped and counted. Default 10 000. */
  maxPendingSpans?: number;
  /**
   * Map, price and serialize on a worker thread: export() then only classifies the spans and
   * copies what the mapper reads. Default true. Mapping stays on the app's thread while the worker
   * starts, after it failed, and when `prices` is a price book made in code rather than by loadPriceBook.
   */
  mappingThread?: boolean;
  /** Spans handed to the mapping thread and not yet mapped, at most; more are dropped and counted. Default 100 000. */
  maxSpansInFlight?: number;
  /**
   * The mapping thread's nice value on Linux (0 to 19; elsewhere ignored). Default 10: when the
   * CPUs are busy, the app's threads run before the ledger's mapping; 0 runs it at the app's priority.
   */
  mappingThreadNice?: number;
}

export const DEFAULT_MAX_PENDING_SPANS = 10_000;
export const DEFAULT_MAX_SPANS_IN_FLIGHT = 100_000;

export interface ExporterStats extends LedgerStats {
  /** Spans dropped before the store was open (pending buffer full, or the store failed to open). */
  spansDroppedBeforeOpen: number;
  /** With a spool: spans of exports answered FAILED because the spool was full or could not be written. */
  spansRefused: number;
  /** Whether spans are mapped on the mapping thread now (not while it starts, after it failed, or when off). */
  mappingThread: boolean;
  /** Spans handed to the mapping thread, not yet mapped. */
  spansInFlight: number;
  /** Spans the mapping thread did not map (it was maxSpansInFlight behind, or failed with them). */
  spansDroppedInFlight: number;
}

/**
 * An OTel `SpanExporter` that writes one usage row per AI call to ClickHouse. `export()` sets
 * ordinary spans aside, packs what the mapper reads of the AI spans (span-wire.ts) for the mapping
 * thread, which maps, prices and serializes them (mapping-thread.ts), then reports success at once;
 * the rows come back as bytes (a transferred chunk) to the writer (the store's client stays on the app's thread).
 * ClickHouse's speed never reaches the app, and nothing throws into it. The ledger's own I/O runs
 * with tracing suppressed, so it makes no spans.
 *
 * With `spool` (a directory), `export()` reports success only once the batch's rows are fsync'd
 * in the spool (about a millisecond or a few, shared by concurrent exports), so an exported span
 * survives ClickHouse outages and the process being killed. A full spool (or a failed write)
 * answers FAILED with the error: the batch processor logs it and moves on; the drop is counted
 * (`spansRefused`, and the spool's `fullRejectedRows`). Nothing blocks the app or throws into it.
 */
export class GenAiLedgerExporter implements SpanExporter {
  private ledger: Ledger | undefined;
  private readonly opening: Promise<Ledger | undefined>;
  private pending: ReadableSpan[][] = [];
  private pendingCount = 0;
  private droppedBeforeOpen = 0;
  private readonly maxPending: number;
  private readonly thread: MappingThread | undefined;
  private readonly wire: SpanWire;
  private readonly maxInFlight: number;
  private droppedInFlight = 0;
  private lastThreadWarning = 0;
  private threadFailureReported = false;
  private readonly durable: boolean;
  /** Spans of durable exports waiting for the store to open. */
  private waitingDurable = 0;
  private refused = 0;
  private lastRefusalWarning = 0;
  private stopped = false;

  constructor(options: GenAiLedgerExporterOptions = {}) {
    this.maxPending = options.maxPendingSpans ?? DEFAULT_MAX_PENDING_SPANS;
    this.durable = options.spool !== undefined;
    this.maxInFlight = options.maxSpansInFlight ?? DEFAULT_MAX_SPANS_IN_FLIGHT;
    this.wire = new SpanWire(options);
    this.thread = options.mappingThread === false ? undefined : startThread(options);
    this.opening = context.with(suppressTracing(context.active()), () => Ledger.open(options)).then(
      (ledger) => {
        this.ledger = ledger;
        for (const batch of this.pending) this.ingest(batch);
        this.pending = [];
        this.pendingCount = 0;
        return ledger;
      },
      (error: unknown) => {
        diag.error(`genai-ledger: cannot open the store, AI usage is not recorded: ${(error as Error).message}`);
        this.droppedBeforeOpen += this.pendingCount;
        this.pending = [];
        this.pendingCount = 0;
        void this.thread?.close();
        return undefined;
      },
    );
  }

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    if (this.stopped) {
      resultCallback({ code: ExportResultCode.FAILED, error: new Error('genai-ledger exporter is shut down') });
      return;
    }
    if (this.durable) {
      this.exportDurable(spans, resultCallback);
      return;
    }
    try {
      if (this.ledger) this.ingest(spans);
      else this.hold(spans);
    } catch (error) {
      diag.warn(`genai-ledger: export failed: ${(error as Error).message}`);
    }
    resultCallback({ code: ExportResultCode.SUCCESS });
  }

  async forceFlush(): Promise<void> {
    const ledger = await this.opening;
    await this.thread?.drained();
    await ledger?.flush();
  }

  async shutdown(): Promise<void> {
    this.stopped = true;
    const ledger = await this.opening;
    await this.thread?.close();
    await ledger?.close();
  }

  /** Self-metrics: what was received, mapped, written, retried and dropped. */
  stats(): ExporterStats | undefined {
    return this.ledger && {
      ...this.ledger.stats, spansDroppedBeforeOpen: this.droppedBeforeOpen, spansRefused: this.refused,
      mappingThread: this.thread?.ready === true && !this.thread.failed,
      spansInFlight: this.thread?.spansInFlight ?? 0, spansDroppedInFlight: this.droppedInFlight,
    };
  }

  /** Resolves once the store is open (false when it failed to open). */
  async ready(): Promise<boolean> {
    return (await this.opening) !== undefined;
  }

  // No closure that outlives export() may hold the spans: a batch in flight to the mapping thread
  // would keep them alive past young-generation collections (promoted, then collected by full GCs
  // on the app's thread). Hence the callbacks below take counts, never the span array.
  private ingest(spans: ReadableSpan[]): void {
    if (this.threadWorks()) this.offload(spans, this.queueMapped);
    else this.ingestHere(this.ledger!, spans);
  }

  /** A mapped batch comes back: its rows go to the writer. */
  private readonly queueMapped = (batch: MappedBatch, lost?: { spans: number; error: Error }): void => {
    const ledger = this.ledger!;
    // Answers arrive from the worker's events: the ledger's I/O (an insert it starts) must make no spans either.
    context.with(suppressTracing(context.active()), () => warnMalformed(ledger.ingestMapped(batch)));
    if (lost) this.dropInFlight(lost);
  };

  private ingestHere(ledger: Ledger, spans: ReadableSpan[]): void {
    context.with(suppressTracing(context.active()), () => warnMalformed(ledger.ingest(spans.map(fromReadableSpan))));
  }

  private threadWorks(): boolean {
    const failure = this.thread?.failed;
    if (failure && !this.threadFailureReported) {
      this.threadFailureReported = true;
      diag.error(`genai-ledger: the mapping thread failed, mapping on the app's thread from now on: ${failure.message}`);
    }
    return this.thread !== undefined && this.thread.ready && !failure;
  }

  /**
   * Packs the spans for the mapping thread. `done` is called once, with the batch's counts and
   * rows (the spans that never left this thread included), and the AI spans lost on the way, if any.
   */
  private offload(spans: ReadableSpan[], done: (batch: MappedBatch, lost?: { spans: number; error: Error }) => void): void {
    const encoded = this.wire.encode(spans);
    const local: MappedBatch = {
      spans: spans.length - encoded.sent, skipped: encoded.skipped, malformed: encoded.malformed, unpriced: 0,
      errors: encoded.errors, chunk: NO_ROWS, unserializable: [],
    };
    const thread = this.thread!;
    if (encoded.sent === 0) {
      done(local);
    } else if (thread.spansInFlight + encoded.sent > this.maxInFlight) {
      done(local, { spans: encoded.sent, error: new Error(`the mapping thread is ${thread.spansInFlight} spans behind`) });
    } else {
      submitSpanBatch(thread, encoded.batch, encoded.sent, (outcome) => {
        if (outcome instanceof Error) done(local, { spans: encoded.sent, error: outcome });
        else done(merge(local, outcome));
      });
    }
  }

  private dropInFlight(lost: { spans: number; error: Error }): void {
    this.droppedInFlight += lost.spans;
    const now = Date.now();
    if (now - this.lastThreadWarning > 10_000) {
      this.lastThreadWarning = now;
      diag.warn(`genai-ledger: AI usage of ${lost.spans} span(s) not recorded: ${lost.error.message} (total ${this.droppedInFlight})`);
    }
  }

  /** Spool mode: SUCCESS once the rows are fsync'd; FAILED (counted) when the spool refuses them. */
  private exportDurable(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    if (this.ledger) {
      this.deliverDurable(this.ledger, spans, resultCallback);
      return;
    }
    if (this.waitingDurable + spans.length > this.maxPending) {
      this.droppedBeforeOpen += spans.length;
      resultCallback({ code: ExportResultCode.FAILED, error: new Error('genai-ledger: the store is still opening and the pending buffer is full') });
      return;
    }
    this.waitingDurable += spans.length;
    void this.opening.then((ledger) => {
      this.waitingDurable -= spans.length;
      if (ledger) {
        this.deliverDurable(ledger, spans, resultCallback);
        return;
      }
      this.droppedBeforeOpen += spans.length;
      resultCallback({ code: ExportResultCode.FAILED, error: new Error('genai-ledger: the store failed to open') });
    });
  }

  private deliverDurable(ledger: Ledger, spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    if (this.threadWorks()) {
      this.offload(spans, this.spoolMapped(ledger, spans.length, resultCallback));
      return;
    }
    let records;
    try {
      records = spans.map(fromReadableSpan);
    } catch (error) {
      diag.warn(`genai-ledger: export failed: ${(error as Error).message}`);
      resultCallback({ code: ExportResultCode.SUCCESS });
      return;
    }
    this.settleDurable(context.with(suppressTracing(context.active()), () => ledger.ingestDurable(records)), spans.length, resultCallback);
  }

  /** Spools a mapped batch once it comes back (a closure over counts only, see ingest). */
  private spoolMapped(ledger: Ledger, count: number, resultCallback: (result: ExportResult) => void): (batch: MappedBatch, lost?: { spans: number; error: Error }) => void {
    return (batch, lost) => {
      const stored = context.with(suppressTracing(context.active()), () => ledger.ingestMappedDurable(batch));
      this.settleDurable(lost ? stored.then(() => Promise.reject(lost.error)) : stored, count, resultCallback);
    };
  }

  private settleDurable(stored: Promise<IngestResult>, count: number, resultCallback: (result: ExportResult) => void): void {
    stored.then(
      (result) => {
        warnMalformed(result);
        resultCallback({ code: ExportResultCode.SUCCESS });
      },
      (error: unknown) => {
        this.refused += count;
        const now = Date.now();
        if (now - this.lastRefusalWarning > 10_000) {
          this.lastRefusalWarning = now;
          diag.warn(`genai-ledger: AI usage of ${count} span(s) not recorded: ${(error as Error).message} (total refused ${this.refused})`);
        }
        resultCallback({ code: ExportResultCode.FAILED, error: error as Error });
      },
    );
  }

  private hold(spans: ReadableSpan[]): void {
    const room = this.maxPending - this.pendingCount;
    const kept = spans.length <= room ? spans : spans.slice(0, Math.max(0, room));
    this.droppedBeforeOpen += spans.length - kept.length;
    if (kept.length > 0) {
      this.pending.push(kept);
      this.pendingCount += kept.length;
    }
  }
}

function startThread(options: GenAiLedgerExporterOptions): MappingThread | undefined {
  try {
    return MappingThread.start(options, [SPAN_BATCH_JOB]);
  } catch (error) {
    diag.warn(`genai-ledger: no mapping thread, mapping on the app's thread: ${(error as Error).message}`);
    return undefined;
  }
}

/** A mapped batch's counts and rows, with those of its spans that never left the app's thread. */
function merge(local: MappedBatch, mapped: MappedBatch): MappedBatch {
  return {
    spans: local.spans + mapped.spans, skipped: local.skipped + mapped.skipped, malformed: local.malformed + mapped.malformed,
    unpriced: mapped.unpriced, errors: [...local.errors, ...mapped.errors].slice(0, 10), chunk: mapped.chunk,
    unserializable: mapped.unserializable,
  };
}

function warnMalformed(result: IngestResult): void {
  if (result.malformed > 0) diag.warn(`genai-ledger: skipped ${result.malformed} malformed span(s): ${result.errors[0]}`);
}
