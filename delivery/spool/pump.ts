/**
 * Feeds the BatchWriter from the spool, and commits spool records once ClickHouse has them.
 *
 * - Reads uncommitted records in order (Spool.next) while what it has handed to the writer and not
 *   yet seen settled stays within two of the writer's batches (and its queue bounds): memory is
 *   bounded by that, whatever the spool holds on disk.
 * - Each record goes to the writer as a durable enqueue (BatchWriter.enqueueChunk with
 *   `durable: true`): the writer reports per record how many rows were written, rejected (they
 *   are in the dead-letter file by then, through the writer's onReject), failed or not accepted.
 * - A record is committed only when every row is written or rejected. Otherwise (ClickHouse down
 *   beyond the writer's retries, the whole insert refused) the delivery failed: the pump stops
 *   feeding, waits for what is in flight to settle, backs off (retryInitialMs doubling up to
 *   retryMaxMs, ±20 % jitter), rewinds the cursor to the oldest uncommitted record and starts
 *   over. Records after the failed one that did land are committed and skipped; rows that landed
 *   in a batch that later failed are sent again and collapse in ai_usage (same span identity).
 * - A record larger than the writer's queue (written by an earlier run with other settings) is
 *   sent in slices of maxBatchRows, one after another.
 */
import { diag } from '@opentelemetry/api';
import type { BatchWriter, EnqueueOutcome } from '../writer/batch-writer.js';
import { splitChunk, type RowChunk } from '../../clickhouse/row-chunk.js';
import type { Spool, SpoolRecord } from './spool.js';

export const DEFAULT_PUMP_RETRY_INITIAL_MS = 1_000;
export const DEFAULT_PUMP_RETRY_MAX_MS = 30_000;

export interface SpoolPumpOptions {
  /**
   * Rows handed to the writer and not yet settled, at most. Default: two of the writer's batches
   * (one being inserted, the next one ready), at most its maxQueueRows. A backlog (after an outage,
   * at a restart) is read from the spool as the writer takes it, not all at once.
   */
  maxInFlightRows?: number;
  /** Record bytes handed to the writer and not yet settled, at most. Default (and at most): the writer's maxQueueBytes. */
  maxInFlightBytes?: number;
  /** Delay before sending again after a failed delivery; doubles per consecutive failure. Default 1 s. */
  retryInitialMs?: number;
  /** Longest such delay. Default 30 s. */
  retryMaxMs?: number;
  /** Random source for the jitter (tests). Default Math.random. */
  random?: () => number;
}

/** One record on its way: its parts' outcomes add up here. */
interface Delivery {
  record: SpoolRecord;
  /** Next row to send, and the rows from there on. */
  next: number;
  rest: RowChunk;
  /** Parts sent and not yet settled. */
  open: number;
  settled: number;
  failed: boolean;
  /** All parts were sent (a failure elsewhere may abandon the rest). */
  complete: boolean;
  abandoned: boolean;
}

interface Waiter {
  /** Resolve after a failure counted beyond this (−1: only when stopped and idle). */
  failures: number;
  resolve: () => void;
}

export class SpoolPump {
  readonly #spool: Spool;
  readonly #writer: BatchWriter;
  readonly #maxRows: number;
  readonly #maxBytes: number;
  readonly #sliceRows: number;
  readonly #retryInitialMs: number;
  readonly #retryMaxMs: number;
  readonly #random: () => number;

  #inFlightRows = 0;
  #inFlightBytes = 0;
  #inFlightParts = 0;
  #current: Delivery | undefined;
  #feeding = false;
  #failed = false;
  #failures = 0;
  #generation = 0;
  #rewindPending = false;
  #retryTimer: NodeJS.Timeout | undefined;
  #retryDelay: number;
  #stopped = false;
  #started = false;
  #waiters: Waiter[] = [];
  /** Highest (seq, ordinal) ever handed over: anything at or below it after a rewind is a redelivery. */
  #highSeq = -1;
  #highOrdinal = -1;

  constructor(spool: Spool, writer: BatchWriter, options: SpoolPumpOptions = {}) {
    this.#spool = spool;
    this.#writer = writer;
    const capacity = writer.capacity;
    this.#maxRows = Math.min(capacity.maxQueueRows, positive(options.maxInFlightRows, 2 * capacity.maxBatchRows));
    this.#maxBytes = Math.min(capacity.maxQueueBytes, positive(options.maxInFlightBytes, capacity.maxQueueBytes));
    this.#sliceRows = Math.max(1, Math.min(capacity.maxBatchRows, Math.floor(this.#maxRows / 2)));
    this.#retryInitialMs = positive(options.retryInitialMs, DEFAULT_PUMP_RETRY_INITIAL_MS);
    this.#retryMaxMs = Math.max(this.#retryInitialMs, positive(options.retryMaxMs, DEFAULT_PUMP_RETRY_MAX_MS));
    this.#retryDelay = this.#retryInitialMs;
    this.#random = options.random ?? Math.random;
  }

  /** Starts replaying what the spool holds, and follows new appends. */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    this.#spool.onAppend(() => this.kick());
    this.kick();
  }

  /** A delivery failed and the pump is waiting to send again. */
  get backingOff(): boolean {
    return this.#failed;
  }

  kick(): void {
    if (!this.#started || this.#feeding || this.#failed || this.#stopped) return;
    void this.#feed();
  }

  /**
   * Resolves once everything acknowledged before the call has been handed to the writer and
   * settled, or a delivery failed meanwhile (the records stay in the spool). Cuts a retry backoff
   * short. Before start() (the store is not ready), at once. Never rejects.
   */
  flush(): Promise<void> {
    if (!this.#started) return Promise.resolve();
    if (this.#failed && this.#retryTimer && this.#inFlightParts === 0) {
      clearTimeout(this.#retryTimer);
      this.#retryTimer = undefined;
      this.#retryNow();
    }
    return new Promise<void>((resolve) => {
      this.#waiters.push({ failures: this.#failures, resolve });
      this.kick();
      this.#checkWaiters();
    });
  }

  /**
   * Stops feeding and waits for what is in flight to settle. With `drain` (default), first tries
   * once to deliver everything, unless the pump is backing off after a failure. Never rejects.
   */
  async close(options: { drain?: boolean } = {}): Promise<void> {
    if ((options.drain ?? true) && !this.#stopped && !this.#failed) await this.flush();
    this.#stopped = true;
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    await new Promise<void>((resolve) => {
      this.#waiters.push({ failures: -1, resolve });
      this.#checkWaiters();
    });
  }

  async #feed(): Promise<void> {
    this.#feeding = true;
    try {
      while (!this.#stopped && !this.#failed) {
        if (this.#rewindPending) {
          this.#rewindPending = false;
          this.#current = undefined;
          this.#spool.rewind();
        }
        if (!this.#current) {
          if (this.#inFlightParts > 0 && (this.#inFlightRows >= this.#maxRows || this.#inFlightBytes >= this.#maxBytes)) break;
          const generation = this.#generation;
          const record = await this.#spool.next();
          if (!record) break;
          if (generation !== this.#generation || this.#stopped || this.#failed) continue; // rewound meanwhile: re-read later
          this.#current = { record, next: 0, rest: record.chunk, open: 0, settled: 0, failed: false, complete: false, abandoned: false };
        }
        if (!this.#sendParts(this.#current)) break;
        this.#current = undefined;
      }
    } catch (err) {
      diag.error(`genai-ledger spool: cannot read the spool: ${(err as Error).message}`);
      this.#current = undefined;
      this.#noteFailure();
      if (this.#inFlightParts === 0) this.#scheduleRetry();
    } finally {
      this.#feeding = false;
    }
    if (this.#waiters.length > 0 && this.#inFlightParts > 0) void this.#writer.flush();
    this.#checkWaiters();
  }

  /** Sends what fits of a delivery; true once all of it is sent. */
  #sendParts(d: Delivery): boolean {
    const { record } = d;
    const whole = record.rows <= this.#maxRows && record.bytes <= this.#maxBytes;
    const step = whole ? record.rows : this.#sliceRows;
    while (d.next < record.rows) {
      const rows = Math.min(step, record.rows - d.next);
      const bytes = Math.ceil((record.bytes * rows) / record.rows);
      const fits = this.#inFlightRows + rows <= this.#maxRows && this.#inFlightBytes + bytes <= this.#maxBytes;
      if (!fits && this.#inFlightParts > 0) return false;
      if (d.next === 0) this.#countDelivery(record);
      let part = d.rest;
      if (rows < part.rows) [part, d.rest] = splitChunk(part, rows);
      d.next += rows;
      d.open++;
      this.#inFlightParts++;
      this.#inFlightRows += rows;
      this.#inFlightBytes += bytes;
      this.#spool.stats.inFlightRows = this.#inFlightRows;
      this.#writer.enqueueChunk(part, { durable: true, onSettled: (outcome) => this.#settled(d, rows, bytes, outcome) });
    }
    d.complete = true;
    return true;
  }

  #countDelivery(record: SpoolRecord): void {
    const s = this.#spool.stats;
    s.deliveredRecords++;
    if (record.seq < this.#highSeq || (record.seq === this.#highSeq && record.ordinal <= this.#highOrdinal)) {
      s.redeliveredRecords++;
    } else {
      this.#highSeq = record.seq;
      this.#highOrdinal = record.ordinal;
    }
  }

  #settled(d: Delivery, rows: number, bytes: number, outcome: EnqueueOutcome): void {
    this.#inFlightParts--;
    this.#inFlightRows -= rows;
    this.#inFlightBytes -= bytes;
    this.#spool.stats.inFlightRows = this.#inFlightRows;
    d.open--;
    d.settled += rows;
    if (outcome.written + outcome.rejected !== outcome.rows) d.failed = true;
    if (d.failed && !d.abandoned) {
      d.abandoned = true;
      if (this.#current === d) this.#current = undefined;
      this.#spool.stats.failedDeliveries++;
      this.#noteFailure();
    } else if (d.complete && d.open === 0 && !d.failed && d.settled === d.record.rows) {
      this.#spool.commit(d.record);
      this.#retryDelay = this.#retryInitialMs;
    }
    if (this.#failed) {
      if (this.#inFlightParts === 0) this.#scheduleRetry();
    } else {
      this.kick();
    }
    this.#checkWaiters();
  }

  #noteFailure(): void {
    if (!this.#failed) this.#failures++;
    this.#failed = true;
    if (this.#current) this.#current.abandoned = true;
    this.#current = undefined;
  }

  #scheduleRetry(): void {
    if (this.#retryTimer || this.#stopped) return;
    const delay = this.#retryDelay * (1 + 0.2 * (2 * this.#random() - 1));
    this.#retryDelay = Math.min(this.#retryMaxMs, this.#retryDelay * 2);
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      this.#retryNow();
    }, delay);
    this.#retryTimer.unref();
    this.#checkWaiters();
  }

  #retryNow(): void {
    this.#failed = false;
    this.#generation++;
    this.#rewindPending = true;
    this.kick();
  }

  #checkWaiters(): void {
    if (this.#waiters.length === 0) return;
    const idle = this.#inFlightParts === 0 && !this.#feeding;
    const remaining: Waiter[] = [];
    for (const w of this.#waiters) {
      const done = idle && (this.#stopped || (w.failures >= 0 && (this.#failures > w.failures || (!this.#failed && !this.#rewindPending && this.#spool.caughtUp()))));
      if (done) w.resolve();
      else remaining.push(w);
    }
    this.#waiters = remaining;
  }
}

function positive(value: number | undefined, fallback: number): number {
  return value !== undefined && Number.isFinite(value) && value > 0 ? Math.floor(value) : fallback;
}
