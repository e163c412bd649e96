/**
 * An OTel `SpanExporter` that writes one usage row per AI call to ClickHouse, composed of parts
 * (as the OTel JS export delegate is):
 *   pending-spans.ts  spans held while the store opens
 *   mapping-stage.ts  where spans are mapped: the mapping thread, or the app's thread
 *   row-sink.ts       where rows go: the ledger's writer queue, or its write-ahead spool
 *   span-outcomes.ts  every span not stored, counted by reason (stats(), OTel metrics)
 *   with `budgets`, budget alerts (delivery/budgets/alerting.ts), started once the store is set up
 *   with `rates`, billed_daily kept current (delivery/billing-refresher.ts), likewise
 *
 * `export()` sets ordinary spans aside, packs what the mapper reads of the AI spans for the
 * mapping thread (which maps, prices and serializes them) and answers SUCCESS at once; the rows
 * come back as bytes to the writer (the store's client stays on the app's thread). With `spool`,
 * the answer waits until the rows are fsync'd, and a full or failing spool answers FAILED. Any
 * span that does not become a row is counted before an answer is given. Nothing blocks the app or
 * throws into it.
 */
import { context, diag } from '@opentelemetry/api';
import { ExportResultCode, suppressTracing, type ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import { budgetAlertSettings, diagAlertingLog, startBudgetAlerting, type BudgetAlerting, type BudgetAlertingOptions } from '../delivery/budgets/alerting.js';
import type { BudgetAlertStats } from '../delivery/budgets/alerts.js';
import { BillingRefresher, rateCardsOption, type BillingOptions, type BillingRefreshStats } from '../delivery/billing-refresher.js';
import { Ledger, type IngestResult, type LedgerOptions, type LedgerStats } from '../delivery/ledger.js';
import { MappingThread } from '../delivery/mapping-thread.js';
import { localMapping, ThreadMapping, type LostInFlight, type MappingStage, type StageOutput } from './mapping-stage.js';
import { PendingSpans, type HeldBatch } from './pending-spans.js';
import { ledgerSink, type RowSink } from './row-sink.js';
import { SPAN_BATCH_JOB } from './span-batch-job.js';
import { SpanOutcomes } from './span-outcomes.js';
import { SpanWire } from './span-wire.js';

/**
 * With `budgets` (or GENAI_LEDGER_BUDGETS), budget alerts fire from this process as its rows are
 * written, once per budget × period × threshold across processes sharing the store: POSTed to
 * `alertWebhook` (GENAI_LEDGER_ALERT_WEBHOOK), signed with `alertWebhookSecret`
 * (GENAI_LEDGER_ALERT_WEBHOOK_SECRET), or logged on `diag` without a webhook.
 */
export interface GenAiLedgerExporterOptions extends LedgerOptions, BudgetAlertingOptions, BillingOptions {
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
  /** Spans that could not be read or mapped (an exception; their export was answered FAILED). */
  spansConversionFailed: number;
  /** Whether spans are mapped on the mapping thread now (not while it starts, after it failed, or when off). */
  mappingThread: boolean;
  /** Spans handed to the mapping thread, not yet mapped. */
  spansInFlight: number;
  /** Spans the mapping thread did not map (it was maxSpansInFlight behind, or failed with them). */
  spansDroppedInFlight: number;
  /** Every span given to export() that is not a stored row, by reason (rows dropped or rejected after mapping included). */
  notStored: Record<string, number>;
  /** The budget alerts' counters, once they run (with `budgets`). */
  budgetAlerts?: BudgetAlertStats;
  /** The billing refresh's counters (with `rates`). */
  billing?: BillingRefreshStats;
}

const SHUT_DOWN: ExportResult = { code: ExportResultCode.FAILED, error: new Error('genai-ledger exporter is shut down') };
const SUCCESS: ExportResult = { code: ExportResultCode.SUCCESS };

export class GenAiLedgerExporter implements SpanExporter {
  readonly #outcomes = new SpanOutcomes();
  readonly #stage: MappingStage;
  readonly #pending: PendingSpans;
  readonly #opening: Promise<Ledger | undefined>;
  readonly #stopObserving: () => void;
  #ledger: Ledger | undefined;
  #sink: RowSink | undefined;
  readonly #durable: boolean;
  #alerting: BudgetAlerting | undefined;
  #billing: BillingRefresher | undefined;
  #stopped = false;

  /** Throws a one-line error for budgets or rate cards with an error, or a webhook that is not an http(s) URL (configuration). */
  constructor(options: GenAiLedgerExporterOptions = {}) {
    const alertSettings = budgetAlertSettings(options);
    const rateCards = rateCardsOption(options);
    this.#pending = new PendingSpans(options.maxPendingSpans ?? DEFAULT_MAX_PENDING_SPANS);
    this.#durable = options.spool !== undefined;
    this.#stage = mappingStage(options);
    const meter = options.writer?.meter;
    this.#stopObserving = meter === false ? () => undefined : this.#outcomes.observe(meter, () => this.#ledgerReasons());
    this.#opening = context.with(suppressTracing(context.active()), () => Ledger.open(options)).then(
      (ledger) => {
        this.#ledger = ledger;
        this.#sink = ledgerSink(ledger);
        if (alertSettings) {
          // Their store reads and webhook POSTs are the ledger's own I/O: never traced.
          this.#alerting = context.with(suppressTracing(context.active()), () => startBudgetAlerting(alertSettings, ledger, diagAlertingLog));
        }
        if (rateCards) {
          this.#billing = context.with(suppressTracing(context.active()), () => BillingRefresher.forLedger(ledger, {
            cards: rateCards, ...(options.billingRefreshMs !== undefined ? { intervalMs: options.billingRefreshMs } : {}),
            ...(options.ttlDays !== undefined ? { ttlDays: options.ttlDays } : {}),
          }));
        }
        for (const held of this.#pending.take()) this.#deliver(held.spans, held.answer);
        return ledger;
      },
      (error: unknown) => {
        diag.error(`genai-ledger: cannot open the store, AI usage is not recorded: ${(error as Error).message}`);
        for (const held of this.#pending.take()) {
          this.#outcomes.lose('beforeOpen', held.spans.length, 'the store failed to open');
          held.answer?.({ code: ExportResultCode.FAILED, error: new Error('genai-ledger: the store failed to open') });
        }
        void this.#stage.close();
        return undefined;
      },
    );
  }

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    if (this.#stopped) resultCallback(SHUT_DOWN);
    else if (this.#sink?.durable) this.#deliver(spans, resultCallback);
    else if (this.#sink) this.#deliver(spans, undefined, resultCallback);
    else this.#hold(spans, resultCallback);
  }

  async forceFlush(): Promise<void> {
    const ledger = await this.#opening;
    await this.#stage.drained();
    await ledger?.flush();
  }

  async shutdown(): Promise<void> {
    this.#stopped = true;
    const ledger = await this.#opening;
    await this.#alerting?.close();
    await this.#billing?.close();
    await this.#stage.close();
    await ledger?.close();
    this.#stopObserving();
  }

  /** Self-metrics: what was received, mapped, written, retried and dropped. */
  stats(): ExporterStats | undefined {
    const ledger = this.#ledger;
    if (!ledger) return undefined;
    const { beforeOpen, inFlight, refused, conversionFailed } = this.#outcomes.lost;
    const alerts = this.#alerting?.stats();
    return {
      ...ledger.stats, spansDroppedBeforeOpen: beforeOpen, spansRefused: refused, spansConversionFailed: conversionFailed,
      mappingThread: this.#stage.offThread, spansInFlight: this.#stage.inFlight, spansDroppedInFlight: inFlight,
      notStored: { ...this.#ledgerReasons(), ...this.#outcomes.byReason() },
      ...(alerts ? { budgetAlerts: { ...alerts } } : {}),
      ...(this.#billing ? { billing: { ...this.#billing.stats } } : {}),
    };
  }

  /** Resolves once the store is open (false when it failed to open). */
  async ready(): Promise<boolean> {
    return (await this.#opening) !== undefined;
  }

  /**
   * Maps the spans and hands their rows to the sink. `answer`, when given, is called once the
   * rows are delivered (spool); `now`, when given, at once after mapping was handed the spans.
   */
  #deliver(spans: ReadableSpan[], answer?: (result: ExportResult) => void, now?: (result: ExportResult) => void): void {
    const count = spans.length;
    try {
      this.#stage.map(spans, (output, lost) => this.#store(output, lost, count, answer));
    } catch (error) {
      this.#outcomes.lose('conversionFailed', count, (error as Error).message);
      (answer ?? now)?.({ code: ExportResultCode.FAILED, error: error as Error });
      return;
    }
    now?.(SUCCESS);
  }

  /** A batch's output reaches the sink; the spans lost on the way are counted. */
  #store(output: StageOutput, lost: LostInFlight | undefined, count: number, answer?: (result: ExportResult) => void): void {
    if (lost) this.#outcomes.lose('inFlight', lost.spans, lost.error.message);
    let result: IngestResult | Promise<IngestResult>;
    try {
      result = this.#sink!.deliver(output);
    } catch (error) {
      this.#outcomes.lose('conversionFailed', count - (lost?.spans ?? 0), (error as Error).message);
      answer?.({ code: ExportResultCode.FAILED, error: error as Error });
      return;
    }
    if (!answer) {
      warnMalformed(result as IngestResult);
      return;
    }
    Promise.resolve(result).then(
      (stored) => {
        warnMalformed(stored);
        answer(lost ? { code: ExportResultCode.FAILED, error: lost.error } : SUCCESS);
      },
      (error: unknown) => {
        this.#outcomes.lose('refused', count, (error as Error).message);
        answer({ code: ExportResultCode.FAILED, error: error as Error });
      },
    );
  }

  /** Before the store is open: held (a spool's answer waits with them), or dropped and counted. */
  #hold(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    const batch: HeldBatch = this.#durable ? { spans, answer: resultCallback } : { spans };
    const held = this.#pending.hold(batch);
    if (held < spans.length) this.#outcomes.lose('beforeOpen', spans.length - held, 'the store is still opening and the pending buffer is full');
    if (batch.answer && held === 0) {
      resultCallback({ code: ExportResultCode.FAILED, error: new Error('genai-ledger: the store is still opening and the pending buffer is full') });
    } else if (!batch.answer) {
      resultCallback(SUCCESS);
    }
  }

  /** The ledger's reasons a span is not a stored row. */
  #ledgerReasons(): Record<string, number> {
    const s = this.#ledger?.stats;
    if (!s) return {};
    return {
      not_ai_call: s.spansSkipped - s.spansAggregate, aggregate: s.spansAggregate, malformed: s.spansMalformed,
      rows_dropped: s.droppedRows, rows_rejected: s.rejectedRows,
    };
  }
}

function mappingStage(options: GenAiLedgerExporterOptions): MappingStage {
  if (options.mappingThread === false) return localMapping;
  try {
    const thread = MappingThread.start(options, [SPAN_BATCH_JOB]);
    return thread ? new ThreadMapping(thread, new SpanWire(options), options.maxSpansInFlight ?? DEFAULT_MAX_SPANS_IN_FLIGHT) : localMapping;
  } catch (error) {
    diag.warn(`genai-ledger: no mapping thread, mapping on the app's thread: ${(error as Error).message}`);
    return localMapping;
  }
}

function warnMalformed(result: IngestResult): void {
  if (result.malformed > 0) diag.warn(`genai-ledger: skipped ${result.malformed} malformed span(s): ${result.errors[0]}`);
}
