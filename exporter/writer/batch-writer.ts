/**
 * Batching writer of usage rows into ClickHouse.
 *
 * Rows are serialized when enqueued (exact queue size accounting, and the queue holds compact
 * strings rather than row objects), sent in batches of up to `maxBatchRows` as
 * `INSERT ... FORMAT JSONCompactEachRow` through `client.exec` with a body the writer builds
 * itself (the fastest path measured, see serialize.ts and test/integration/writer-bench.test.ts),
 * one batch at a time, at least every `flushIntervalMs`.
 *
 * Delivery:
 * - Retryable failures (network, timeouts, too many parts, memory, overload; see errors.ts) are
 *   retried with exponential backoff and jitter, up to `retry.maxAttempts` attempts; then the
 *   batch is dropped and counted (`failedBatches`, `droppedRows`).
 * - Every attempt of a batch carries the same `insert_deduplication_token` (sha256 of the batch
 *   body), so an attempt that actually landed before its response was lost is not written twice.
 *   (ai_usage enables that for the non-replicated engine with non_replicated_deduplication_window.)
 *   Duplicates that arrive any other way collapse in ai_usage itself (ReplacingMergeTree).
 * - A batch refused for a non-retryable, row-level reason (a value that does not parse) is split
 *   in halves recursively: good halves are written, single bad rows go to `onReject`. At most
 *   `maxSplitInserts` extra inserts are spent per batch; what is still failing then is rejected
 *   as a whole. Errors about the insert itself (unknown table, permissions) reject the batch.
 * - The queue is bounded by rows and bytes; overflow is dropped and counted, never buffered.
 * - Nothing throws into callers: enqueue returns how many rows it accepted, flush and shutdown
 *   always resolve.
 *
 * Self-metrics: the injectable `stats` object (plain counters, read it any time), OTel metrics
 * from `metrics.getMeter('genai-ledger')` (observable, so they cost nothing unless collected),
 * and `diag` warnings (rate limited) for drops and rejections.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { diag, metrics, type BatchObservableResult, type Meter, type Observable } from '@opentelemetry/api';
import type { ClickHouseClient, ClickHouseSettings } from '@clickhouse/client';
import type { UsageRow } from '../usage-row.js';
import { classifyInsertError } from './errors.js';
import { insertStatement, parseRow, serializeRow } from './serialize.js';

export const DEFAULT_TABLE = 'ai_usage';
export const DEFAULT_MAX_BATCH_ROWS = 10_000;
export const DEFAULT_FLUSH_INTERVAL_MS = 1_000;
export const DEFAULT_MAX_QUEUE_ROWS = 100_000;
export const DEFAULT_MAX_QUEUE_BYTES = 64 * 1024 * 1024;
export const DEFAULT_INSERT_TIMEOUT_MS = 30_000;
export const DEFAULT_MAX_SPLIT_INSERTS = 64;
export const DEFAULT_RETRY_INITIAL_BACKOFF_MS = 100;
export const DEFAULT_RETRY_MAX_BACKOFF_MS = 5_000;
export const DEFAULT_RETRY_BACKOFF_MULTIPLIER = 2;
export const DEFAULT_RETRY_JITTER = 0.2;
export const DEFAULT_RETRY_MAX_ATTEMPTS = 5;
const WARN_INTERVAL_MS = 10_000;

export interface RetryConfig {
  /** Delay before the first retry. Default 100 ms. */
  initialBackoffMs: number;
  /** Upper bound of a delay. Default 5 s. */
  maxBackoffMs: number;
  /** Growth of the delay per attempt. Default 2. */
  multiplier: number;
  /** Random spread of each delay, as a fraction: 0.2 = ±20 %. Default 0.2. */
  jitter: number;
  /** Attempts per batch, the first one included. Default 5. */
  maxAttempts: number;
}

export interface BatchWriterConfig {
  /** Target table, optionally `db.table`. Default 'ai_usage' in the client's database. */
  table?: string;
  /** Rows per insert. Default 10 000. */
  maxBatchRows?: number;
  /** Longest a row waits before its batch is sent. Default 1000 ms. */
  flushIntervalMs?: number;
  /** Rows held at most; more are dropped. Default 100 000. */
  maxQueueRows?: number;
  /** Serialized bytes held at most (UTF-16 length of the JSON lines); more are dropped. Default 64 MiB. */
  maxQueueBytes?: number;
  /** Per-attempt timeout of an insert; a timed-out attempt is retried. Default 30 s. */
  insertTimeoutMs?: number;
  retry?: Partial<RetryConfig>;
  /** Extra inserts a batch may spend isolating bad rows. Default 64. */
  maxSplitInserts?: number;
  /** Receives rows ClickHouse refused for a non-retryable reason. Default: diag.warn. They are counted either way. */
  onReject?: (rows: UsageRow[], error: Error) => void;
  /** Counters to update (injectable so a host can share or inspect them). Default: a fresh WriterStats. */
  stats?: WriterStats;
  /** Meter for the OTel self-metrics; false disables them. Default metrics.getMeter('genai-ledger'). */
  meter?: Meter | false;
  /** Extra settings sent with each insert. */
  clickhouseSettings?: ClickHouseSettings;
  /** Random source for the jitter (tests). Default Math.random. */
  random?: () => number;
}

export interface WriterStats {
  /** Rows waiting in the queue (not yet handed to an insert). */
  queuedRows: number;
  /** Serialized size of the queued rows. */
  queuedBytes: number;
  /** Rows written (acknowledged by ClickHouse). */
  writtenRows: number;
  /** Successful inserts. */
  writtenBatches: number;
  /** Batches that needed at least one retry. */
  retriedBatches: number;
  /** Batches given up after the last attempt (their rows count in droppedRows). */
  failedBatches: number;
  /** Rows lost: queue overflow, enqueue after shutdown, failed batches. */
  droppedRows: number;
  /** Rows refused by ClickHouse (or unserializable) and handed to onReject. */
  rejectedRows: number;
  /** Duration of the last insert attempt, ms. */
  lastInsertLatencyMs: number;
}

export function createWriterStats(): WriterStats {
  return {
    queuedRows: 0,
    queuedBytes: 0,
    writtenRows: 0,
    writtenBatches: 0,
    retriedBatches: 0,
    failedBatches: 0,
    droppedRows: 0,
    rejectedRows: 0,
    lastInsertLatencyMs: 0,
  };
}

/** The part of the client the writer uses; `ClickHouseClient` satisfies it (so can a test double). */
export type InsertClient = Pick<ClickHouseClient, 'exec'>;

type Outcome = { ok: true } | { ok: false; kind: 'retryable' | 'batch' | 'rows'; error: Error };

interface Waiter {
  seq: number;
  resolve: () => void;
}

function toError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export class BatchWriter {
  readonly stats: WriterStats;
  readonly #client: InsertClient;
  readonly #table: string;
  readonly #statement: string;
  readonly #maxBatchRows: number;
  readonly #maxQueueRows: number;
  readonly #maxQueueBytes: number;
  readonly #insertTimeoutMs: number;
  readonly #maxSplitInserts: number;
  readonly #retry: RetryConfig;
  readonly #onReject: ((rows: UsageRow[], error: Error) => void) | undefined;
  readonly #settings: ClickHouseSettings;
  readonly #random: () => number;

  #queue: string[] = [];
  /** Rows accepted so far / rows whose fate is settled (written, rejected or dropped). */
  #acceptedSeq = 0;
  #settledSeq = 0;
  /** Send partial batches until this many rows are settled (flush, timer, shutdown). */
  #sendUntil = 0;
  #waiters: Waiter[] = [];
  #pumping = false;
  #closed = false;
  #shutdown: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #lastWarn = new Map<string, number>();
  #meter: Meter | undefined;
  #observables: Observable[] = [];
  #observe = (result: BatchObservableResult): void => this.#observeMetrics(result);

  constructor(client: InsertClient, config: BatchWriterConfig = {}) {
    this.#client = client;
    this.#table = config.table ?? DEFAULT_TABLE;
    this.#statement = insertStatement(this.#table);
    this.#maxBatchRows = positive(config.maxBatchRows, DEFAULT_MAX_BATCH_ROWS);
    this.#maxQueueRows = positive(config.maxQueueRows, DEFAULT_MAX_QUEUE_ROWS);
    this.#maxQueueBytes = positive(config.maxQueueBytes, DEFAULT_MAX_QUEUE_BYTES);
    this.#insertTimeoutMs = positive(config.insertTimeoutMs, DEFAULT_INSERT_TIMEOUT_MS);
    this.#maxSplitInserts = Math.max(0, config.maxSplitInserts ?? DEFAULT_MAX_SPLIT_INSERTS);
    this.#retry = {
      initialBackoffMs: Math.max(0, config.retry?.initialBackoffMs ?? DEFAULT_RETRY_INITIAL_BACKOFF_MS),
      maxBackoffMs: Math.max(0, config.retry?.maxBackoffMs ?? DEFAULT_RETRY_MAX_BACKOFF_MS),
      multiplier: Math.max(1, config.retry?.multiplier ?? DEFAULT_RETRY_BACKOFF_MULTIPLIER),
      jitter: Math.min(1, Math.max(0, config.retry?.jitter ?? DEFAULT_RETRY_JITTER)),
      maxAttempts: positive(config.retry?.maxAttempts, DEFAULT_RETRY_MAX_ATTEMPTS),
    };
    this.#onReject = config.onReject;
    this.#settings = { ...config.clickhouseSettings };
    this.#random = config.random ?? Math.random;
    this.stats = config.stats ?? createWriterStats();

    const flushIntervalMs = positive(config.flushIntervalMs, DEFAULT_FLUSH_INTERVAL_MS);
    this.#timer = setInterval(() => {
      if (this.#queue.length > 0) {
        this.#sendUntil = Math.max(this.#sendUntil, this.#acceptedSeq);
        void this.#pump();
      }
    }, flushIntervalMs);
    this.#timer.unref();

    if (config.meter !== false) this.#registerMetrics(config.meter ?? metrics.getMeter('genai-ledger'));
  }

  /** Queues rows; returns how many were accepted. The rest are counted as dropped. Never throws. */
  enqueue(rows: ReadonlyArray<UsageRow>): number {
    let accepted = 0;
    try {
      if (this.#closed) {
        this.#drop(rows.length, 'the writer is shut down');
        return 0;
      }
      let i = 0;
      for (; i < rows.length; i++) {
        if (this.#queue.length >= this.#maxQueueRows) break;
        const row = rows[i] as UsageRow;
        let line: string;
        try {
          line = serializeRow(row);
        } catch (err) {
          this.#reject([row], toError(err));
          continue;
        }
        if (this.stats.queuedBytes + line.length + 1 > this.#maxQueueBytes) break;
        this.#queue.push(line);
        this.stats.queuedBytes += line.length + 1;
        accepted++;
      }
      if (i < rows.length) this.#drop(rows.length - i, 'the queue is full');
    } catch (err) {
      diag.error('genai-ledger writer: enqueue failed', err);
    }
    this.#acceptedSeq += accepted;
    this.stats.queuedRows = this.#queue.length;
    if (this.#queue.length >= this.#maxBatchRows) void this.#pump();
    return accepted;
  }

  /** Resolves when every row enqueued before the call is written, rejected or dropped. Never rejects. */
  flush(): Promise<void> {
    const target = this.#acceptedSeq;
    if (this.#settledSeq >= target) return Promise.resolve();
    this.#sendUntil = Math.max(this.#sendUntil, target);
    const done = new Promise<void>((resolve) => this.#waiters.push({ seq: target, resolve }));
    void this.#pump();
    return done;
  }

  /** Stops accepting rows, flushes what is queued, unregisters the metrics. Idempotent, never rejects. */
  shutdown(): Promise<void> {
    this.#shutdown ??= (async () => {
      this.#closed = true;
      if (this.#timer) clearInterval(this.#timer);
      this.#timer = undefined;
      await this.flush();
      if (this.#meter && this.#observables.length > 0) {
        this.#meter.removeBatchObservableCallback(this.#observe, this.#observables);
      }
    })().catch((err) => diag.error('genai-ledger writer: shutdown failed', err));
    return this.#shutdown;
  }

  async #pump(): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (this.#queue.length > 0 && (this.#queue.length >= this.#maxBatchRows || this.#sendUntil > this.#settledSeq)) {
        const lines = this.#queue.splice(0, this.#maxBatchRows);
        let bytes = 0;
        for (const line of lines) bytes += line.length + 1;
        this.stats.queuedBytes -= bytes;
        this.stats.queuedRows = this.#queue.length;
        try {
          await this.#write(lines, { budget: this.#maxSplitInserts });
        } catch (err) {
          // #write handles its own errors; this is a bug guard so rows are never left unsettled.
          diag.error('genai-ledger writer: unexpected error', err);
          this.#drop(lines.length, 'unexpected writer error');
        }
        this.#settledSeq += lines.length;
        this.#settle();
      }
    } finally {
      this.#pumping = false;
      this.#settle();
    }
  }

  #settle(): void {
    if (this.#waiters.length === 0) return;
    const remaining: Waiter[] = [];
    for (const waiter of this.#waiters) {
      if (this.#settledSeq >= waiter.seq) waiter.resolve();
      else remaining.push(waiter);
    }
    this.#waiters = remaining;
  }

  /** Writes lines, splitting on row-level errors. Settles every line (written, rejected or dropped). */
  async #write(lines: string[], split: { budget: number }): Promise<void> {
    const outcome = await this.#insertWithRetry(lines);
    if (outcome.ok) {
      this.stats.writtenRows += lines.length;
      this.stats.writtenBatches++;
      return;
    }
    if (outcome.kind === 'retryable') {
      this.stats.failedBatches++;
      this.#drop(lines.length, `insert failed after ${this.#retry.maxAttempts} attempts: ${outcome.error.message}`);
      return;
    }
    if (outcome.kind === 'batch' || lines.length === 1 || split.budget < 2) {
      this.#reject(lines.map(safeParseRow), outcome.error);
      return;
    }
    split.budget -= 2;
    const middle = Math.ceil(lines.length / 2);
    await this.#write(lines.slice(0, middle), split);
    await this.#write(lines.slice(middle), split);
  }

  async #insertWithRetry(lines: string[]): Promise<Outcome> {
    const body = lines.join('\n') + '\n';
    // Same token on every attempt: an attempt that landed but lost its response is not written twice.
    const token = createHash('sha256').update(body).digest('hex');
    const settings: ClickHouseSettings = {
      ...this.#settings,
      insert_deduplicate: 1,
      insert_deduplication_token: token,
      // The writer batches already; a synchronous insert is what makes its acknowledgement mean "stored".
      async_insert: 0,
    };
    for (let attempt = 1; ; attempt++) {
      const started = performance.now();
      try {
        const result = await this.#client.exec({
          query: this.#statement,
          values: Readable.from([body]),
          clickhouse_settings: settings,
          abort_signal: AbortSignal.timeout(this.#insertTimeoutMs),
        });
        await drain(result.stream);
        this.stats.lastInsertLatencyMs = performance.now() - started;
        return { ok: true };
      } catch (err) {
        this.stats.lastInsertLatencyMs = performance.now() - started;
        const error = toError(err);
        const kind = classifyInsertError(err);
        if (kind !== 'retryable') return { ok: false, kind, error };
        if (attempt >= this.#retry.maxAttempts) return { ok: false, kind, error };
        if (attempt === 1) this.stats.retriedBatches++;
        await sleep(this.#backoff(attempt));
      }
    }
  }

  /** Delay before retry number `attempt` (1-based). */
  #backoff(attempt: number): number {
    const { initialBackoffMs, maxBackoffMs, multiplier, jitter } = this.#retry;
    const base = Math.min(maxBackoffMs, initialBackoffMs * multiplier ** (attempt - 1));
    return Math.max(0, base * (1 + jitter * (2 * this.#random() - 1)));
  }

  #drop(count: number, reason: string): void {
    if (count <= 0) return;
    this.stats.droppedRows += count;
    this.#warn(`drop:${reason.slice(0, 40)}`, `genai-ledger writer: dropped ${count} usage rows: ${reason} (total dropped ${this.stats.droppedRows})`);
  }

  #reject(rows: UsageRow[], error: Error): void {
    this.stats.rejectedRows += rows.length;
    if (this.#onReject) {
      try {
        this.#onReject(rows, error);
      } catch (err) {
        diag.error('genai-ledger writer: onReject threw', err);
      }
      return;
    }
    this.#warn('reject', `genai-ledger writer: ClickHouse rejected ${rows.length} usage rows: ${error.message} (total rejected ${this.stats.rejectedRows})`);
  }

  /** diag.warn, at most once per WARN_INTERVAL_MS per kind of message. */
  #warn(key: string, message: string): void {
    const now = Date.now();
    const last = this.#lastWarn.get(key);
    if (last !== undefined && now - last < WARN_INTERVAL_MS) return;
    this.#lastWarn.set(key, now);
    diag.warn(message);
  }

  #instruments:
    | {
        queuedRows: Observable;
        queuedBytes: Observable;
        writtenRows: Observable;
        droppedRows: Observable;
        rejectedRows: Observable;
        retriedBatches: Observable;
        failedBatches: Observable;
        lastInsertLatency: Observable;
      }
    | undefined;

  #registerMetrics(meter: Meter): void {
    try {
      const prefix = 'genai_ledger.writer';
      const instruments = {
        queuedRows: meter.createObservableGauge(`${prefix}.queue.rows`, { description: 'Usage rows waiting to be written', unit: '{row}' }),
        queuedBytes: meter.createObservableGauge(`${prefix}.queue.size`, { description: 'Serialized size of the queued usage rows', unit: 'By' }),
        writtenRows: meter.createObservableCounter(`${prefix}.rows.written`, { description: 'Usage rows written to ClickHouse', unit: '{row}' }),
        droppedRows: meter.createObservableCounter(`${prefix}.rows.dropped`, { description: 'Usage rows dropped (queue full, shut down, insert failed)', unit: '{row}' }),
        rejectedRows: meter.createObservableCounter(`${prefix}.rows.rejected`, { description: 'Usage rows refused by ClickHouse', unit: '{row}' }),
        retriedBatches: meter.createObservableCounter(`${prefix}.batches.retried`, { description: 'Inserts that needed a retry', unit: '{batch}' }),
        failedBatches: meter.createObservableCounter(`${prefix}.batches.failed`, { description: 'Inserts given up after the last retry', unit: '{batch}' }),
        lastInsertLatency: meter.createObservableGauge(`${prefix}.insert.duration`, { description: 'Duration of the last insert attempt', unit: 'ms' }),
      };
      this.#instruments = instruments;
      this.#observables = Object.values(instruments);
      meter.addBatchObservableCallback(this.#observe, this.#observables);
      this.#meter = meter;
    } catch (err) {
      diag.warn('genai-ledger writer: cannot register metrics', err);
    }
  }

  #observeMetrics(result: BatchObservableResult): void {
    const i = this.#instruments;
    if (!i) return;
    const s = this.stats;
    result.observe(i.queuedRows, s.queuedRows);
    result.observe(i.queuedBytes, s.queuedBytes);
    result.observe(i.writtenRows, s.writtenRows);
    result.observe(i.droppedRows, s.droppedRows);
    result.observe(i.rejectedRows, s.rejectedRows);
    result.observe(i.retriedBatches, s.retriedBatches);
    result.observe(i.failedBatches, s.failedBatches);
    result.observe(i.lastInsertLatency, s.lastInsertLatencyMs);
  }
}

function positive(value: number | undefined, fallback: number): number {
  return value !== undefined && Number.isFinite(value) && value > 0 ? value : fallback;
}

function safeParseRow(line: string): UsageRow {
  try {
    return parseRow(line);
  } catch {
    return { raw: line } as unknown as UsageRow;
  }
}

/** Consumes an exec response so the HTTP socket goes back to the keep-alive pool. */
function drain(stream: NodeJS.ReadableStream): Promise<void> {
  return new Promise((resolve, reject) => {
    stream.on('end', resolve);
    stream.on('close', resolve);
    stream.on('error', reject);
    stream.resume();
  });
}
