import { context, diag } from '@opentelemetry/api';
import { ExportResultCode, suppressTracing, type ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import { Ledger, type LedgerOptions, type LedgerStats } from './ledger.js';
import { fromReadableSpan } from './readable-span.js';

export interface GenAiLedgerExporterOptions extends LedgerOptions {
  /** Spans held while the store opens (prices load, migrations run); more are dropped and counted. Default 10 000. */
  maxPendingSpans?: number;
}

export const DEFAULT_MAX_PENDING_SPANS = 10_000;

export interface ExporterStats extends LedgerStats {
  /** Spans dropped before the store was open (pending buffer full, or the store failed to open). */
  spansDroppedBeforeOpen: number;
  /** With a spool: spans of exports answered FAILED because the spool was full or could not be written. */
  spansRefused: number;
}

/**
 * An OTel `SpanExporter` that writes one usage row per AI call to ClickHouse. `export()` maps and
 * enqueues, then reports success at once: ClickHouse's speed never reaches the app, and nothing
 * throws into it. The ledger's own I/O runs with tracing suppressed, so it makes no spans.
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
  private readonly durable: boolean;
  /** Spans of durable exports waiting for the store to open. */
  private waitingDurable = 0;
  private refused = 0;
  private lastRefusalWarning = 0;
  private stopped = false;

  constructor(options: GenAiLedgerExporterOptions = {}) {
    this.maxPending = options.maxPendingSpans ?? DEFAULT_MAX_PENDING_SPANS;
    this.durable = options.spool !== undefined;
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
    await ledger?.flush();
  }

  async shutdown(): Promise<void> {
    this.stopped = true;
    const ledger = await this.opening;
    await ledger?.close();
  }

  /** Self-metrics: what was received, mapped, written, retried and dropped. */
  stats(): ExporterStats | undefined {
    return this.ledger && { ...this.ledger.stats, spansDroppedBeforeOpen: this.droppedBeforeOpen, spansRefused: this.refused };
  }

  /** Resolves once the store is open (false when it failed to open). */
  async ready(): Promise<boolean> {
    return (await this.opening) !== undefined;
  }

  private ingest(spans: ReadableSpan[]): void {
    context.with(suppressTracing(context.active()), () => {
      const result = this.ledger!.ingest(spans.map(fromReadableSpan));
      if (result.malformed > 0) diag.warn(`genai-ledger: skipped ${result.malformed} malformed span(s): ${result.errors[0]}`);
    });
  }

  /** Spool mode: SUCCESS once the rows are fsync'd; FAILED (counted) when the spool refuses them. */
  private exportDurable(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    let records;
    try {
      records = spans.map(fromReadableSpan);
    } catch (error) {
      diag.warn(`genai-ledger: export failed: ${(error as Error).message}`);
      resultCallback({ code: ExportResultCode.SUCCESS });
      return;
    }
    const deliver = (ledger: Ledger): void => {
      context
        .with(suppressTracing(context.active()), () => ledger.ingestDurable(records))
        .then(
          (result) => {
            if (result.malformed > 0) diag.warn(`genai-ledger: skipped ${result.malformed} malformed span(s): ${result.errors[0]}`);
            resultCallback({ code: ExportResultCode.SUCCESS });
          },
          (error: unknown) => {
            this.refused += spans.length;
            const now = Date.now();
            if (now - this.lastRefusalWarning > 10_000) {
              this.lastRefusalWarning = now;
              diag.warn(`genai-ledger: AI usage of ${spans.length} span(s) not recorded: ${(error as Error).message} (total refused ${this.refused})`);
            }
            resultCallback({ code: ExportResultCode.FAILED, error: error as Error });
          },
        );
    };
    if (this.ledger) {
      deliver(this.ledger);
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
        deliver(ledger);
        return;
      }
      this.droppedBeforeOpen += spans.length;
      resultCallback({ code: ExportResultCode.FAILED, error: new Error('genai-ledger: the store failed to open') });
    });
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
