/**
 * Prometheus text exposition (format 0.0.4) of the collector's own counters plus the ledger's
 * stats (read at scrape time, so they cost nothing in between). No client library: counters,
 * callback gauges/counters and one histogram are all the collector needs.
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { BudgetAlertStats } from '../delivery/budgets/alerts.js';
import type { BillingRefreshStats } from '../delivery/billing-refresher.js';
import type { LedgerStats } from '../delivery/ledger.js';

type Labels = Record<string, string>;

function labelText(labels: Labels | undefined): string {
  if (!labels) return '';
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`);
  return parts.length === 0 ? '' : `{${parts.join(',')}}`;
}

function num(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

interface Metric {
  render(out: string[]): void;
}

export class Counter implements Metric {
  readonly #values = new Map<string, number>();
  constructor(readonly name: string, readonly help: string) {}

  inc(labels?: Labels, by = 1): void {
    const key = labelText(labels);
    this.#values.set(key, (this.#values.get(key) ?? 0) + by);
  }

  get(labels?: Labels): number {
    return this.#values.get(labelText(labels)) ?? 0;
  }

  render(out: string[]): void {
    out.push(`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`);
    if (this.#values.size === 0) out.push(`${this.name} 0`);
    for (const [labels, value] of this.#values) out.push(`${this.name}${labels} ${num(value)}`);
  }
}

/** A gauge or counter whose value is read when scraped. */
export class Observed implements Metric {
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: 'gauge' | 'counter',
    readonly read: () => number,
  ) {}

  render(out: string[]): void {
    out.push(`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} ${this.type}`, `${this.name} ${num(this.read())}`);
  }
}

export class Histogram implements Metric {
  readonly #series = new Map<string, { labels: Labels | undefined; counts: number[]; sum: number; count: number }>();
  constructor(readonly name: string, readonly help: string, readonly buckets: readonly number[]) {}

  observe(value: number, labels?: Labels): void {
    const key = labelText(labels);
    let s = this.#series.get(key);
    if (!s) {
      s = { labels, counts: this.buckets.map(() => 0), sum: 0, count: 0 };
      this.#series.set(key, s);
    }
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]!) s.counts[i]!++;
    s.sum += value;
    s.count++;
  }

  render(out: string[]): void {
    out.push(`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`);
    for (const s of this.#series.values()) {
      this.buckets.forEach((le, i) => out.push(`${this.name}_bucket${labelText({ ...s.labels, le: num(le) })} ${s.counts[i]}`));
      out.push(`${this.name}_bucket${labelText({ ...s.labels, le: '+Inf' })} ${s.count}`);
      out.push(`${this.name}_sum${labelText(s.labels)} ${num(s.sum)}`, `${this.name}_count${labelText(s.labels)} ${s.count}`);
    }
  }
}

export class Registry {
  readonly #metrics: Metric[] = [];

  add<M extends Metric>(metric: M): M {
    this.#metrics.push(metric);
    return metric;
  }

  render(): string {
    const out: string[] = [];
    for (const metric of this.#metrics) metric.render(out);
    return `${out.join('\n')}\n`;
  }
}

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** The collector's metrics. `stats` is the ledger's live stats object. */
export class CollectorMetrics {
  readonly registry = new Registry();
  readonly requests: Counter;
  readonly requestDuration: Histogram;
  readonly spansReceived: Counter;
  readonly spansRejected: Counter;
  readonly spansPrefiltered: Counter;
  readonly refused: Counter;
  readonly queries: Counter;

  constructor(
    stats: () => LedgerStats | undefined,
    queueCapacity: { rows: number; bytes: number },
    options: { spool?: boolean; storeWaiting?: () => boolean; budgetAlerts?: () => BudgetAlertStats | undefined; billing?: BillingRefreshStats } = {},
  ) {
    const r = this.registry;
    const p = 'genai_ledger_';
    const stat = (read: (s: LedgerStats) => number) => () => {
      const s = stats();
      return s ? read(s) : 0;
    };
    this.requests = r.add(new Counter(`${p}http_requests_total`, 'HTTP requests answered, by route and status code.'));
    this.requestDuration = r.add(new Histogram(`${p}http_request_duration_seconds`, 'Time to answer an HTTP request, by route.',
      [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]));
    this.spansReceived = r.add(new Counter(`${p}spans_received_total`, 'Spans received in OTLP trace requests (AI or not, malformed included).'));
    this.spansRejected = r.add(new Counter(`${p}spans_rejected_total`, 'Spans rejected as malformed (reported as partial_success), by stage: decode or map.'));
    this.refused = r.add(new Counter(`${p}requests_refused_total`, 'Trace requests refused, by reason: queue_full, spool_full, spool_error, draining, unauthorized, too_large, bad_request, unsupported.'));
    this.queries = r.add(new Counter(`${p}queries_total`, 'Query endpoint requests, by outcome: ok, refused, error, unauthorized.'));
    this.spansPrefiltered = new Counter(`${p}spans_prefiltered_total`, 'Ordinary spans dropped before decoding (no attribute an AI call has).');
    r.add(this.spansPrefiltered);
    r.add(new Observed(`${p}spans_skipped_total`, 'Spans that are not AI calls (or are aggregates of them), skipped (prefiltered ones included).', 'counter',
      () => (stats()?.spansSkipped ?? 0) + this.spansPrefiltered.get()));
    r.add(new Observed(`${p}spans_aggregate_total`, 'Of the skipped spans, the aggregates of AI calls (agent, workflow, step, tool, the ai SDK\'s outer spans).', 'counter',
      stat((s) => s.spansAggregate)));
    r.add(new Observed(`${p}rows_mapped_total`, 'Usage rows made from AI spans.', 'counter', stat((s) => s.rowsMapped)));
    r.add(new Observed(`${p}rows_unpriced_total`, 'Usage rows without a known price.', 'counter', stat((s) => s.rowsUnpriced)));
    r.add(new Observed(`${p}rows_written_total`, 'Usage rows written to ClickHouse.', 'counter', stat((s) => s.writtenRows)));
    r.add(new Observed(`${p}rows_dropped_total`, 'Usage rows lost: queue overflow, insert failed after retries, after shutdown.', 'counter', stat((s) => s.droppedRows)));
    r.add(new Observed(`${p}rows_rejected_total`, 'Usage rows ClickHouse refused (bad values).', 'counter', stat((s) => s.rejectedRows)));
    r.add(new Observed(`${p}queue_rows`, 'Usage rows waiting to be written.', 'gauge', stat((s) => s.queuedRows)));
    r.add(new Observed(`${p}queue_bytes`, 'Serialized size of the rows waiting to be written.', 'gauge', stat((s) => s.queuedBytes)));
    r.add(new Observed(`${p}queue_capacity_rows`, 'Rows the queue holds at most.', 'gauge', () => queueCapacity.rows));
    r.add(new Observed(`${p}queue_capacity_bytes`, 'Serialized bytes the queue holds at most.', 'gauge', () => queueCapacity.bytes));
    r.add(new Observed(`${p}insert_batches_total`, 'Successful inserts.', 'counter', stat((s) => s.writtenBatches)));
    r.add(new Observed(`${p}insert_retried_batches_total`, 'Inserts that failed at least once and were retried.', 'counter', stat((s) => s.retriedBatches)));
    r.add(new Observed(`${p}insert_failed_batches_total`, 'Inserts given up after the last retry (insert errors).', 'counter', stat((s) => s.failedBatches)));
    r.add(new Observed(`${p}insert_last_duration_seconds`, 'Duration of the last insert attempt.', 'gauge', stat((s) => s.lastInsertLatencyMs / 1000)));
    const alerts = options.budgetAlerts;
    if (alerts) {
      const al = (read: (s: BudgetAlertStats) => number) => () => {
        const s = alerts();
        return s ? read(s) : 0;
      };
      r.add(new Observed(`${p}budget_alerts_sent_total`, 'Budget alerts this collector delivered (2xx from the webhook, or logged without one).', 'counter', al((s) => s.sent)));
      r.add(new Observed(`${p}budget_alert_failed_attempts_total`, 'Webhook attempts that did not get a 2xx (retried with backoff).', 'counter', al((s) => s.failedAttempts)));
      r.add(new Observed(`${p}budget_alerts_pending`, 'Budget alerts won by this collector and not delivered yet.', 'gauge', al((s) => s.pending)));
      r.add(new Observed(`${p}budget_refresh_errors_total`, 'Reads of budget spend that failed (tried again at the next poll).', 'counter', al((s) => s.refreshErrors)));
    }
    const billing = options.billing;
    if (billing) {
      r.add(new Observed(`${p}billing_refreshes_total`, 'Refreshes of billed_daily that completed (--rates).', 'counter', () => billing.refreshes));
      r.add(new Observed(`${p}billing_refresh_failures_total`, 'Refreshes of billed_daily (or rate-card syncs) that failed; tried again at the next tick.', 'counter', () => billing.failures));
      r.add(new Observed(`${p}billing_last_success_timestamp_seconds`, 'Unix time of the last successful refresh of billed_daily (0: none yet).', 'gauge', () => billing.lastSuccessMs / 1000));
      r.add(new Observed(`${p}billing_days_rebilled_total`, 'UTC days re-billed by the refreshes.', 'counter', () => billing.daysRebilled));
    }
    if (options.spool) {
      const sp = (read: (s: NonNullable<LedgerStats['spool']>) => number) => () => {
        const s = stats()?.spool;
        return s ? read(s) : 0;
      };
      const dl = (read: (s: NonNullable<LedgerStats['deadLetter']>) => number) => () => {
        const s = stats()?.deadLetter;
        return s ? read(s) : 0;
      };
      const waiting = options.storeWaiting;
      if (waiting) r.add(new Observed(`${p}store_waiting`, '1 while the store is not set up (unreachable since the start: migrations, price sync); requests are spooled meanwhile.', 'gauge', () => (waiting() ? 1 : 0)));
      r.add(new Observed(`${p}spool_used_bytes`, 'Bytes of spool segment files held (rows acknowledged and not yet all committed).', 'gauge', sp((s) => s.usedBytes)));
      r.add(new Observed(`${p}spool_max_bytes`, 'Spool size at most (--spool-max-bytes).', 'gauge', sp((s) => s.maxBytes)));
      r.add(new Observed(`${p}spool_pending_rows`, 'Rows acknowledged (fsync\'d in the spool) and not yet committed to ClickHouse.', 'gauge', sp((s) => s.pendingRows)));
      r.add(new Observed(`${p}spool_appended_rows_total`, 'Rows appended to the spool (acknowledged).', 'counter', sp((s) => s.appendedRows)));
      r.add(new Observed(`${p}spool_committed_rows_total`, 'Spooled rows settled in ClickHouse (written or dead-lettered).', 'counter', sp((s) => s.committedRows)));
      r.add(new Observed(`${p}spool_full_rejected_rows_total`, 'Rows refused because the spool was full (their requests got 503 or 413).', 'counter', sp((s) => s.fullRejectedRows)));
      r.add(new Observed(`${p}spool_failed_deliveries_total`, 'Deliveries from the spool that did not land (ClickHouse down); the rows stay and are sent again.', 'counter', sp((s) => s.failedDeliveries)));
      r.add(new Observed(`${p}spool_corrupt_records_total`, 'Invalid spool records found (torn tails, CRC mismatches): cut or skipped, never replayed.', 'counter', sp((s) => s.corruptRecords)));
      r.add(new Observed(`${p}spool_recovered_rows_total`, 'Uncommitted rows found in the spool at start (replayed).', 'counter', sp((s) => s.recoveredRows)));
      r.add(new Observed(`${p}spool_write_errors_total`, 'Spool write or fsync failures (their requests got 503).', 'counter', sp((s) => s.writeErrors)));
      r.add(new Observed(`${p}dead_letter_rows_total`, 'Rows ClickHouse refused, kept in the dead-letter file.', 'counter', dl((s) => s.rows)));
      r.add(new Observed(`${p}dead_letter_lost_rows_total`, 'Refused rows that could not be written to the dead-letter file.', 'counter', dl((s) => s.lostRows)));
    }
    // Event-loop delay (what every answer waits on the loop), over the window since the previous scrape.
    this.#loopDelay = monitorEventLoopDelay({ resolution: 10 });
    this.#loopDelay.enable();
    r.add(new Observed('nodejs_eventloop_delay_max_seconds', 'Longest event-loop delay since the previous scrape (10 ms resolution).', 'gauge',
      () => this.#loopWindow().max));
    r.add(new Observed('nodejs_eventloop_delay_p99_seconds', '99th percentile of the event-loop delay since the previous scrape.', 'gauge',
      () => this.#loopWindow().p99));
    const started = Date.now() / 1000;
    r.add(new Observed('process_start_time_seconds', 'Start time of the process, Unix seconds.', 'gauge', () => started));
    r.add(new Observed('process_resident_memory_bytes', 'Resident memory size in bytes.', 'gauge', () => process.memoryUsage.rss()));
  }

  readonly #loopDelay: IntervalHistogram;
  #loopSnapshot: { max: number; p99: number } | undefined;

  /** The delay histogram's window, read once per scrape (both gauges), then reset. */
  #loopWindow(): { max: number; p99: number } {
    if (!this.#loopSnapshot) {
      const h = this.#loopDelay;
      const resolutionNs = 10e6;
      // The histogram measures delay plus the sampling interval: subtract it.
      const max = h.count > 0 ? Math.max(0, h.max - resolutionNs) / 1e9 : 0;
      const p99 = h.count > 0 ? Math.max(0, h.percentile(99) - resolutionNs) / 1e9 : 0;
      this.#loopSnapshot = { max, p99 };
    }
    return this.#loopSnapshot;
  }

  render(): string {
    const text = this.registry.render();
    if (this.#loopSnapshot) {
      this.#loopSnapshot = undefined;
      this.#loopDelay.reset();
    }
    return text;
  }

  /** Stops the event-loop delay sampling. */
  close(): void {
    this.#loopDelay.disable();
  }
}
