/**
 * Batching writer of usage rows into ClickHouse.
 *
 * Rows are serialized when enqueued, or arrive serialized as chunks (row-chunk.ts: UTF-8 bytes,
 * made and hashed on the exporter's mapping thread or read from a spool), so the queue holds bytes
 * rather than row objects and its size is exact. They are sent in batches of whole chunks, up to
 * `maxBatchRows` rows (a larger chunk is cut), as `INSERT ... FORMAT JSONCompactEachRow` through
 * `client.exec` with a body the writer builds itself (the fastest path measured, see serialize.ts),
 * one batch at a time, at least every `flushIntervalMs`.
 *
 * Delivery:
 * - Retryable failures (network, timeouts, too many parts, memory, overload; see errors.ts) are
 *   retried with exponential backoff and jitter, up to `retry.maxAttempts` attempts; then the
 *   batch is dropped and counted (`failedBatches`, `droppedRows`).
 * - Every attempt of a batch carries the same `insert_deduplication_token` (a sha256 of the
 *   batch's chunks, batchToken), so an attempt that actually landed before its response was lost
 *   is not written twice.
 *   (ai_usage enables that for the non-replicated engine with non_replicated_deduplication_window.)
 *   Duplicates that arrive any other way collapse in ai_usage itself (ReplacingMergeTree).
 * - A batch refused for a non-retryable, row-level reason (a value that does not parse) is split
 *   in halves recursively: good halves are written, single bad rows go to `onReject`. At most
 *   `maxSplitInserts` extra inserts are spent per batch; what is still failing then is rejected
 *   as a whole. Errors about the insert itself (unknown table, permissions) reject the batch.
 * - The queue is bounded by rows and bytes; overflow is dropped and counted, never buffered.
 * - Nothing throws into callers: enqueue returns how many rows it accepted, flush and shutdown
 *   always resolve.
 * - Optional per-enqueue outcome (`EnqueueOptions.onSettled`): once every row of one enqueue call
 *   is settled, the caller learns how many were written, rejected, failed or never accepted.
 *   Rows settle in queue order, so a FIFO of enqueue tickets attributes each settled run of rows.
 *   A `durable` enqueue (rows kept on disk by a spool until acknowledged) is not dropped when its
 *   insert fails: it is handed back (`returnedRows`), and so is a refusal of the whole insert
 *   (unknown table, permissions: a configuration problem that must not empty a spool into the
 *   dead-letter file); only rows ClickHouse refuses one by one are rejected.
 *
 * Self-metrics: the injectable `stats` object (plain counters, read it any time), OTel metrics
 * from `metrics.getMeter('genai-ledger')` (observable, so they cost nothing unless collected),
 * and `diag` warnings (rate limited) for drops and rejections.
 */
import { Readable } from 'node:stream';
import { diag, metrics, type BatchObservableResult, type Meter, type Observable } from '@opentelemetry/api';
import type { ClickHouseClient, ClickHouseSettings } from '@clickhouse/client';
import type { UsageRow } from '../../usage/usage-row.js';
import { classifyInsertError } from './errors.js';
import { batchToken, chunkOfLines, insertBody, linesOfChunk, splitChunk, type RowChunk } from '../../clickhouse/row-chunk.js';
import { insertStatement, parseRow, serializeRows } from '../../clickhouse/serialize.js';

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
/** Insert bodies up to this size are built in one buffer kept for the next batch (no fresh pages per insert). */
const KEEP_BODY_BYTES = 16 * 1024 * 1024;

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
  /** Serialized bytes held at most (UTF-8, a newline per row included); more are dropped. Default 64 MiB. */
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
  /** Rows of durable enqueues handed back unwritten (insert failed, queue full): kept by their spool, not lost. */
  returnedRows: number;
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
    returnedRows: 0,
    lastInsertLatencyMs: 0,
  };
}

/** What became of the rows of one enqueue call; reported once, when every row is settled. */
export interface EnqueueOutcome {
  /** Rows handed to enqueue. */
  rows: number;
  /** Acknowledged by ClickHouse. */
  written: number;
  /** Refused by ClickHouse row by row (or unserializable); handed to onReject. */
  rejected: number;
  /** Accepted, but the insert failed (retries exhausted; for durable rows also a refusal of the whole insert). */
  failed: number;
  /** Never accepted: the queue was full or the writer shut down. */
  dropped: number;
}

export interface EnqueueOptions {
  /** Called once every row of this call is settled (never throws into the writer; errors are logged). */
  onSettled?: (outcome: EnqueueOutcome) => void;
  /**
   * The rows are kept elsewhere (an on-disk spool) until onSettled reports them written. Rows
   * whose insert fails, or which the queue cannot take, are handed back (`failed`/`dropped`,
   * counted in `returnedRows`, not in `droppedRows`), and a refusal of the whole insert (unknown
   * table, permissions) fails them instead of rejecting them. Default false.
   */
  durable?: boolean;
}

/** The writer's bounds, for a feeder that must never overflow its queue. */
export interface WriterCapacity {
  maxBatchRows: number;
  maxQueueRows: number;
  maxQueueBytes: number;
}

interface Ticket {
  /** Sequence numbers [start, end) of the accepted rows. */
  start: number;
  end: number;
  durable: boolean;
  outcome: EnqueueOutcome;
  onSettled: ((outcome: EnqueueOutcome) => void) | undefined;
}

type Settlement = 'written' | 'failed' | 'refused' | 'rejected';

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
  /** Reused for insert bodies; dropped when an attempt is abandoned (the engine may still be reading it). */
  #bodyScratch: Buffer | undefined;

  #queue: RowChunk[] = [];
  /** Rows accepted so far / rows whose fate is settled (written, rejected or dropped). */
  #acceptedSeq = 0;
  #settledSeq = 0;
  /** Rows attributed to their enqueue call so far (advances in queue order, within a batch). */
  #accountedSeq = 0;
  /** Enqueue calls that asked for their outcome, oldest first; #ticketHead is the first unsettled one. */
  #tickets: Ticket[] = [];
  #ticketHead = 0;
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
      if (this.stats.queuedRows > 0) {
        this.#sendUntil = Math.max(this.#sendUntil, this.#acceptedSeq);
        void this.#pump();
      }
    }, flushIntervalMs);
    this.#timer.unref();

    if (config.meter !== false) this.#registerMetrics(config.meter ?? metrics.getMeter('genai-ledger'));
  }

  /**
   * Queues rows; returns how many were accepted. The rest are counted as dropped (or, for a
   * durable enqueue, returned); a row that cannot be serialized is rejected. Never throws.
   * `options.onSettled` learns what became of them.
   */
  enqueue(rows: ReadonlyArray<UsageRow>, options?: EnqueueOptions): number {
    let serialized: ReturnType<typeof serializeRows>;
    try {
      serialized = serializeRows(rows);
    } catch (err) {
      diag.error('genai-ledger writer: enqueue failed', err);
      return 0;
    }
    const { lines, unserializable } = serialized;
    for (const { row, reason } of unserializable) this.#reject([row], new Error(reason));
    return this.#enqueueChunk(chunkOfLines(lines), options, unserializable.length);
  }

  /**
   * Queues rows already serialized as JSONCompactEachRow lines (serializeRow's output, no
   * newline). Same contract as enqueue.
   */
  enqueueLines(lines: ReadonlyArray<string>, options?: EnqueueOptions): number {
    return this.enqueueChunk(chunkOfLines(lines), options);
  }

  /**
   * Queues a chunk of serialized rows (made on the mapping thread, or read from a spool) as it
   * is: its bytes are what the insert sends. Same contract as enqueue.
   */
  enqueueChunk(chunk: RowChunk, options?: EnqueueOptions): number {
    return this.#enqueueChunk(chunk, options, 0);
  }

  /** `rejected`: rows of the same call its caller refused already (they count in the call's outcome). */
  #enqueueChunk(chunk: RowChunk, options: EnqueueOptions | undefined, rejected: number): number {
    let accepted = 0;
    const durable = options?.durable === true;
    const ticket: Ticket | undefined = options && (options.onSettled || durable)
      ? {
          start: this.#acceptedSeq,
          end: this.#acceptedSeq,
          durable,
          outcome: { rows: chunk.rows + rejected, written: 0, rejected, failed: 0, dropped: 0 },
          onSettled: options.onSettled,
        }
      : undefined;
    const refuse = (count: number, reason: string): void => {
      if (count <= 0) return;
      if (ticket) ticket.outcome.dropped += count;
      if (durable) this.stats.returnedRows += count;
      else this.#drop(count, reason);
    };
    try {
      if (this.#closed) {
        refuse(chunk.rows, 'the writer is shut down');
      } else if (chunk.rows > 0) {
        const s = this.stats;
        accepted = fittingRows(chunk, this.#maxQueueRows - s.queuedRows, this.#maxQueueBytes - s.queuedBytes);
        const kept = accepted === chunk.rows ? chunk : accepted > 0 ? splitChunk(chunk, accepted)[0] : undefined;
        if (kept) {
          this.#queue.push(kept);
          s.queuedRows += kept.rows;
          s.queuedBytes += kept.bytes.byteLength + 1;
        }
        refuse(chunk.rows - accepted, 'the queue is full');
      }
    } catch (err) {
      diag.error('genai-ledger writer: enqueue failed', err);
      if (ticket) {
        const o = ticket.outcome;
        o.dropped = Math.max(0, o.rows - accepted - o.rejected);
      }
    }
    this.#acceptedSeq += accepted;
    if (ticket) {
      ticket.end = this.#acceptedSeq;
      if (accepted > 0) this.#tickets.push(ticket);
      else queueMicrotask(() => this.#complete(ticket));
    }
    if (this.stats.queuedRows >= this.#maxBatchRows) void this.#pump();
    return accepted;
  }

  /** The writer's bounds (a feeder keeps what it has in flight within them). */
  get capacity(): WriterCapacity {
    return { maxBatchRows: this.#maxBatchRows, maxQueueRows: this.#maxQueueRows, maxQueueBytes: this.#maxQueueBytes };
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
      const s = this.stats;
      while (s.queuedRows > 0 && (s.queuedRows >= this.#maxBatchRows || this.#sendUntil > this.#settledSeq)) {
        const batch = new Batch(this.#takeBatch());
        const accountedBefore = this.#accountedSeq;
        try {
          await this.#write(batch, { budget: this.#maxSplitInserts });
        } catch (err) {
          // #write handles its own errors; this is a bug guard so rows are never left unsettled.
          diag.error('genai-ledger writer: unexpected error', err);
          const done = this.#accountedSeq - accountedBefore;
          this.#settleRows(batch.rows - done, () => batch.lines().slice(done), 'failed', toError(err), 'unexpected writer error');
        }
        this.#settledSeq += batch.rows;
        this.#settle();
      }
    } finally {
      this.#pumping = false;
      this.#settle();
    }
  }

  /** Whole chunks from the queue's head, up to maxBatchRows rows (a larger first chunk is cut). */
  #takeBatch(): RowChunk[] {
    const s = this.stats;
    const chunks: RowChunk[] = [];
    let rows = 0;
    while (this.#queue.length > 0) {
      let chunk = this.#queue[0]!;
      if (rows + chunk.rows > this.#maxBatchRows) {
        if (rows > 0) break;
        const [head, tail] = splitChunk(chunk, this.#maxBatchRows);
        this.#queue[0] = tail;
        s.queuedBytes -= head.bytes.byteLength + 1;
        chunk = head;
      } else {
        this.#queue.shift();
        s.queuedBytes -= chunk.bytes.byteLength + 1;
      }
      chunks.push(chunk);
      rows += chunk.rows;
    }
    s.queuedRows -= rows;
    return chunks;
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

  /** Writes a batch, splitting on row-level errors. Settles every row (written, rejected or dropped). */
  async #write(batch: Batch, split: { budget: number }): Promise<void> {
    const outcome = await this.#insertWithRetry(batch.chunks);
    if (outcome.ok) {
      this.stats.writtenRows += batch.rows;
      this.stats.writtenBatches++;
      this.#settleRows(batch.rows, () => [], 'written');
      return;
    }
    if (outcome.kind === 'retryable') {
      this.stats.failedBatches++;
      this.#settleRows(batch.rows, () => batch.lines(), 'failed', outcome.error, `insert failed after ${this.#retry.maxAttempts} attempts: ${outcome.error.message}`);
      return;
    }
    if (outcome.kind === 'batch') {
      this.#settleRows(batch.rows, () => batch.lines(), 'refused', outcome.error);
      return;
    }
    if (batch.rows === 1 || split.budget < 2) {
      this.#settleRows(batch.rows, () => batch.lines(), 'rejected', outcome.error);
      return;
    }
    split.budget -= 2;
    const lines = batch.lines();
    const middle = Math.ceil(lines.length / 2);
    await this.#write(new Batch([chunkOfLines(lines.slice(0, middle))]), split);
    await this.#write(new Batch([chunkOfLines(lines.slice(middle))]), split);
  }

  /**
   * Settles the next `count` rows in queue order (`lines` gives them, when they are rejected) and
   * attributes them to their enqueue tickets. `failed`: dropped, or returned when durable.
   * `refused` (the whole insert was refused): rejected, or returned when durable. `rejected`:
   * handed to onReject either way. onReject runs before the tickets completed by these rows are
   * reported.
   */
  #settleRows(count: number, lines: () => string[], kind: Settlement, error?: Error, reason?: string): void {
    let dropped = 0;
    let toReject: string[] | undefined;
    let all: string[] | undefined;
    let completed: Ticket[] | undefined;
    let i = 0;
    while (i < count) {
      const seq = this.#accountedSeq;
      const ticket = this.#tickets[this.#ticketHead];
      const inTicket = ticket !== undefined && ticket.start <= seq;
      const take = inTicket
        ? Math.min(count - i, ticket.end - seq)
        : Math.min(count - i, ticket ? ticket.start - seq : Infinity);
      const durable = inTicket && ticket.durable;
      const o = inTicket ? ticket.outcome : undefined;
      if (kind === 'written') {
        if (o) o.written += take;
      } else if (kind === 'rejected' || (kind === 'refused' && !durable)) {
        if (o) o.rejected += take;
        all ??= lines();
        (toReject ??= []).push(...all.slice(i, i + take));
      } else {
        // failed, or refused while durable: handed back (durable) or dropped.
        if (o) o.failed += take;
        if (durable) this.stats.returnedRows += take;
        else dropped += take;
      }
      this.#accountedSeq += take;
      i += take;
      if (inTicket && this.#accountedSeq >= ticket.end) {
        this.#ticketHead++;
        (completed ??= []).push(ticket);
      }
    }
    if (this.#ticketHead > 1024 && this.#ticketHead * 2 > this.#tickets.length) {
      this.#tickets = this.#tickets.slice(this.#ticketHead);
      this.#ticketHead = 0;
    }
    if (dropped > 0) this.#drop(dropped, reason ?? `insert failed: ${error?.message ?? 'unknown error'}`);
    if (toReject) this.#reject(toReject.map(safeParseRow), error ?? new Error('rejected'));
    if (completed) for (const ticket of completed) this.#complete(ticket);
  }

  #complete(ticket: Ticket): void {
    if (!ticket.onSettled) return;
    try {
      ticket.onSettled(ticket.outcome);
    } catch (err) {
      diag.error('genai-ledger writer: onSettled threw', err);
    }
  }

  async #insertWithRetry(chunks: readonly RowChunk[]): Promise<Outcome> {
    const body = insertBody(chunks, this.#bodyScratch);
    this.#bodyScratch = body.buffer.byteLength <= KEEP_BODY_BYTES ? Buffer.from(body.buffer) : undefined;
    // Same token on every attempt: an attempt that landed but lost its response is not written twice.
    const token = batchToken(chunks);
    const settings: ClickHouseSettings = {
      ...this.#settings,
      insert_deduplicate: 1,
      insert_deduplication_token: token,
      // The writer batches already; a synchronous insert is what makes its acknowledgement mean "stored".
      async_insert: 0,
      // ReplacingMergeTree's insert-time pass collapses duplicates within one insert only, about a
      // fifth of the engine's cost per row (bench/insert-format.ts); FINAL and the rollups, which
      // read through it, count a span once either way.
      optimize_on_insert: 0,
    };
    for (let attempt = 1; ; attempt++) {
      const started = performance.now();
      const timeout = AbortSignal.timeout(this.#insertTimeoutMs);
      try {
        const result = await this.#client.exec({
          query: this.#statement,
          values: Readable.from([body]),
          clickhouse_settings: settings,
          abort_signal: timeout,
        });
        await drain(result.stream);
        this.stats.lastInsertLatencyMs = performance.now() - started;
        return { ok: true };
      } catch (err) {
        this.stats.lastInsertLatencyMs = performance.now() - started;
        // An abandoned attempt may still be reading the body (chDB finishes an insert it started):
        // the next batch gets a buffer of its own. This batch's retries send the same bytes anyway.
        if (timeout.aborted) this.#bodyScratch = undefined;
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

/** One insert's chunks; their lines only when a batch must be split or its rows rejected. */
class Batch {
  readonly rows: number;
  #lines: string[] | undefined;
  constructor(readonly chunks: readonly RowChunk[]) {
    this.rows = chunks.reduce((n, c) => n + c.rows, 0);
  }
  lines(): string[] {
    return (this.#lines ??= this.chunks.flatMap(linesOfChunk));
  }
}

/** How many of the chunk's first rows fit in `rows` rows and `bytes` bytes (a newline each) of room. */
function fittingRows(chunk: RowChunk, rows: number, bytes: number): number {
  if (chunk.rows <= rows && chunk.bytes.byteLength + 1 <= bytes) return chunk.rows;
  const most = Math.min(chunk.rows, Math.max(0, rows));
  let fit = 0;
  for (let end = chunk.bytes.indexOf(0x0a); fit < most; end = chunk.bytes.indexOf(0x0a, end + 1)) {
    const size = (end < 0 ? chunk.bytes.byteLength : end) + 1;
    if (size > bytes) break;
    fit++;
    if (end < 0) break;
  }
  return fit;
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
