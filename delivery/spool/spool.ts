/**
 * The write-ahead spool: a bounded, on-disk queue of usage rows (format.ts has the bytes).
 *
 * - `append(chunk)` stores the rows (a RowChunk: JSONCompactEachRow lines as bytes, what the
 *   writer inserts as is) as one or more records and resolves once they are written and fdatasync'd. Group commit:
 *   appends arriving while a group is being written and synced wait for the next group, which
 *   takes them all with one write and one fsync (so fsync cost is shared by concurrent callers).
 *   A new segment's directory entry is fsync'd too before anything in it is acknowledged; past an
 *   eighth of a segment the next one is made ahead (created, header written, file and directory
 *   synced: a "spare"), so rolling over adds nothing to an acknowledgement. A spare left by a
 *   crash holds no record and is removed at the next open.
 * - Bounded: segment bytes on disk (plus appends being written, plus the header of a segment an
 *   append may start) never exceed `maxBytes`; an append that would is refused at once with
 *   SpoolFullError. Nothing ever blocks on space. (A spare's 16-byte header is not counted.)
 * - Reading: `next()` walks the uncommitted records in append order (a cursor); `commit(record)`
 *   marks one done (an ack entry, see format.ts); a segment is deleted once sealed and fully
 *   committed. Ack entries and deletions are written in the background, in order (settled()
 *   waits for them): the event loop never waits on the disk. `rewind()` moves the cursor back to
 *   the oldest uncommitted record (after a failed delivery). Only records already fsync'd are
 *   ever read.
 * - Recovery (`Spool.open`): every segment is scanned and CRC-checked; a segment is cut at its
 *   first invalid record that cannot be skipped (a torn tail after a crash is the normal case;
 *   it was never acknowledged). The cut is counted (`corruptRecords`, `truncatedBytes`) and never
 *   throws. Uncommitted records are then read again by the cursor: replayed.
 * - Memory: a few numbers per record (offset, length, rows, committed flag); payloads are read
 *   back from disk (the page cache, usually) one record at a time by the cursor.
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, unlinkSync } from 'node:fs';
import { open, unlink, type FileHandle } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { diag, metrics, type BatchObservableResult, type Meter, type Observable } from '@opentelemetry/api';
import { SpoolClosedError, SpoolFullError, SpoolWriteError } from './errors.js';
import {
  ackEntry,
  ackName,
  checkRecord,
  decodeChunk,
  encodeRecord,
  MAX_RECORD_BYTES,
  parseSpoolFileName,
  PAYLOAD_PREFIX_BYTES,
  readAckEntries,
  readSegmentHeader,
  RECORD_HEADER_BYTES,
  SEGMENT_HEADER_BYTES,
  segmentHeader,
  segmentName,
} from './format.js';
import { chunkOfLines, splitChunk, type RowChunk } from '../../clickhouse/row-chunk.js';
import { acquireLock, releaseLock } from './lock.js';

export const DEFAULT_SPOOL_MAX_BYTES = 1024 * 1024 * 1024;
export const DEFAULT_MAX_SEGMENT_BYTES = 64 * 1024 * 1024;
export const DEFAULT_MAX_RECORD_ROWS = 10_000;
export const DEFAULT_MAX_RECORD_BYTES = 16 * 1024 * 1024;
const MIN_SEGMENT_BYTES = 4096;
const SCAN_CHUNK_BYTES = 4 * 1024 * 1024;
/** Diagnostics: GENAI_LEDGER_SPOOL_DEBUG=1 logs every group commit over 15 ms, by phase, on stderr (bench/soak --trace). */
const DEBUG_SLOW_GROUPS = process.env.GENAI_LEDGER_SPOOL_DEBUG === '1';

export interface SpoolOptions {
  /** The spool directory (created if missing). One process at a time (a LOCK file). */
  dir: string;
  /** Segment bytes held at most; appends beyond are refused with SpoolFullError. Default 1 GiB. */
  maxBytes?: number;
  /** A new segment is started when the current one would grow past this. Default maxBytes / 8, at most 64 MiB. */
  segmentBytes?: number;
  /** Rows per record at most (larger appends become several records). Default 10 000. */
  maxRecordRows?: number;
  /** Payload bytes per record at most (a single larger row still gets its own record). Default 16 MiB. */
  maxRecordBytes?: number;
  /** false skips fsync: acknowledgements then survive a process crash but not a power loss (tests, benchmarks). Default true. */
  fsync?: boolean;
  /** Meter for the OTel self-metrics; false disables them. Default metrics.getMeter('genai-ledger'). */
  meter?: Meter | false;
  /** Counters to update. Default: a fresh SpoolStats. */
  stats?: SpoolStats;
}

export interface SpoolStats {
  /** Bytes of segment files held (acknowledged records, committed or not, plus headers). */
  usedBytes: number;
  maxBytes: number;
  segments: number;
  /** Records / rows acknowledged and not yet committed (waiting for ClickHouse). */
  pendingRecords: number;
  pendingRows: number;
  appendedRecords: number;
  appendedRows: number;
  committedRecords: number;
  committedRows: number;
  /** Appends refused because the spool was full, and their rows. */
  fullRejections: number;
  fullRejectedRows: number;
  /** Uncommitted records found at open (replayed). */
  recoveredRecords: number;
  recoveredRows: number;
  /** Invalid records found (torn tails, CRC mismatches): cut or skipped, never replayed. */
  corruptRecords: number;
  /** Bytes cut off segment tails (or set aside) by recovery. */
  truncatedBytes: number;
  /** Groups whose write or fsync failed (their appends were refused). */
  writeErrors: number;
  /** Ack entries that could not be written (the record is sent again after a restart; harmless). */
  ackErrors: number;
  /** Write+fsync groups, and the duration of the last one (ms). */
  groupCommits: number;
  lastGroupCommitMs: number;
  /** Records the pump handed to the writer, and those it had to hand again after a failed delivery. */
  deliveredRecords: number;
  redeliveredRecords: number;
  /** Deliveries that did not land (ClickHouse down, retries exhausted); the records stay and are sent again. */
  failedDeliveries: number;
  /** Rows handed to the writer and not yet settled. */
  inFlightRows: number;
}

export function createSpoolStats(): SpoolStats {
  return {
    usedBytes: 0, maxBytes: 0, segments: 0, pendingRecords: 0, pendingRows: 0,
    appendedRecords: 0, appendedRows: 0, committedRecords: 0, committedRows: 0,
    fullRejections: 0, fullRejectedRows: 0, recoveredRecords: 0, recoveredRows: 0,
    corruptRecords: 0, truncatedBytes: 0, writeErrors: 0, ackErrors: 0,
    groupCommits: 0, lastGroupCommitMs: 0,
    deliveredRecords: 0, redeliveredRecords: 0, failedDeliveries: 0, inFlightRows: 0,
  };
}

/** What one append stored. */
export interface AppendResult {
  records: number;
  rows: number;
  bytes: number;
}

/** A record read back by the cursor; pass it to commit() once its rows are settled. */
export interface SpoolRecord {
  readonly seq: number;
  readonly ordinal: number;
  readonly offset: number;
  readonly rows: number;
  /** Encoded size (header included). */
  readonly bytes: number;
  readonly chunk: RowChunk;
}

interface Pending {
  records: Array<{ buf: Buffer; rows: number }>;
  rows: number;
  bytes: number;
  resolve: (result: AppendResult) => void;
  reject: (error: Error) => void;
}

class Segment {
  readonly offsets: number[] = [];
  readonly lengths: number[] = [];
  readonly rows: number[] = [];
  committed = new Uint8Array(64);
  committedCount = 0;
  /** No record below this ordinal is uncommitted. */
  firstUncommitted = 0;
  /** End of the last acknowledged record (the file may be longer while a group is being written). */
  size = 0;
  sealed = false;
  deleted = false;
  needsDirSync = false;
  writer: FileHandle | undefined;
  reader: FileHandle | undefined;
  ack: FileHandle | undefined;
  /** Ack entries not yet written to the ack file (see Spool#scheduleAcks). */
  ackPending: Buffer[] = [];

  constructor(
    readonly seq: number,
    readonly path: string,
    readonly ackPath: string,
  ) {}

  get count(): number {
    return this.offsets.length;
  }

  push(offset: number, length: number, rows: number): void {
    if (this.offsets.length >= this.committed.length) {
      const grown = new Uint8Array(this.committed.length * 2);
      grown.set(this.committed);
      this.committed = grown;
    }
    this.offsets.push(offset);
    this.lengths.push(length);
    this.rows.push(rows);
  }

  isCommitted(ordinal: number): boolean {
    return this.committed[ordinal] === 1;
  }

  markCommitted(ordinal: number): void {
    this.committed[ordinal] = 1;
    this.committedCount++;
    while (this.firstUncommitted < this.count && this.committed[this.firstUncommitted] === 1) this.firstUncommitted++;
  }

  get fullyCommitted(): boolean {
    return this.committedCount === this.count;
  }

  /** Ordinal of the record at `offset`, or -1. */
  ordinalAt(offset: number): number {
    let lo = 0;
    let hi = this.offsets.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const v = this.offsets[mid]!;
      if (v === offset) return mid;
      if (v < offset) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }
}

export class Spool {
  readonly dir: string;
  readonly stats: SpoolStats;
  readonly maxBytes: number;
  readonly segmentBytes: number;
  readonly maxRecordRows: number;
  readonly maxRecordBytes: number;
  readonly #fsync: boolean;

  #segments: Segment[] = [];
  readonly #bySeq = new Map<number, Segment>();
  #active: Segment | undefined;
  #nextSeq = 1;
  #rollRequested = false;
  #pending: Pending[] = [];
  #pendingBytes = 0;
  #flushing = false;
  #flushDone: Promise<void> = Promise.resolve();
  #closed = false;
  #closing: Promise<void> | undefined;
  #cursorSeq = 0;
  #cursorOrdinal = 0;
  #reading = false;
  #listeners: Array<() => void> = [];
  /** The next segment, created and synced ahead of need (off the acknowledgement path). */
  #spare: Promise<Segment | undefined> | undefined;
  /** Background file work (ack entries, deletions), one job at a time, in order. */
  #ioTail: Promise<void> = Promise.resolve();
  #ioJobs = 0;
  #ackDirty = new Set<Segment>();
  #ackScheduled = false;
  #meter: Meter | undefined;
  #observables: Observable[] = [];
  #observe = (result: BatchObservableResult): void => this.#observeMetrics(result);

  private constructor(dir: string, options: SpoolOptions) {
    this.dir = dir;
    this.maxBytes = positive(options.maxBytes, DEFAULT_SPOOL_MAX_BYTES);
    this.segmentBytes = Math.max(
      MIN_SEGMENT_BYTES,
      Math.min(positive(options.segmentBytes, Math.min(DEFAULT_MAX_SEGMENT_BYTES, Math.floor(this.maxBytes / 8))), 1024 * 1024 * 1024),
    );
    this.maxRecordRows = positive(options.maxRecordRows, DEFAULT_MAX_RECORD_ROWS);
    this.maxRecordBytes = Math.min(positive(options.maxRecordBytes, DEFAULT_MAX_RECORD_BYTES), MAX_RECORD_BYTES);
    this.#fsync = options.fsync ?? true;
    this.stats = options.stats ?? createSpoolStats();
    this.stats.maxBytes = this.maxBytes;
  }

  /** Opens (creating if needed) and recovers the spool in `options.dir`. Throws SpoolLockedError if another process holds it. */
  static async open(options: SpoolOptions): Promise<Spool> {
    const dir = resolve(options.dir);
    mkdirSync(dir, { recursive: true });
    acquireLock(dir);
    const spool = new Spool(dir, options);
    try {
      await spool.#recover();
    } catch (err) {
      await spool.#closeHandles();
      releaseLock(dir);
      throw err;
    }
    if (options.meter !== false) spool.#registerMetrics(options.meter ?? metrics.getMeter('genai-ledger'));
    return spool;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Called after every group commit (new records can be read). */
  onAppend(listener: () => void): void {
    this.#listeners.push(listener);
  }

  /** True when `bytes` more would fit now (with room for the header of a segment it may start). */
  hasRoom(bytes: number): boolean {
    return this.stats.usedBytes + this.#pendingBytes + bytes + SEGMENT_HEADER_BYTES <= this.maxBytes;
  }

  /** Appends waiting for their group commit. */
  get appending(): boolean {
    return this.#pending.length > 0 || this.#flushing;
  }

  /**
   * Appends rows (a chunk, or JSONCompactEachRow lines); resolves once they are on disk
   * (fdatasync'd). Rejects with SpoolFullError (nothing stored), SpoolClosedError, or
   * SpoolWriteError (the write or fsync failed; nothing acknowledged). See submit() for the
   * synchronous form.
   */
  append(rows: RowChunk | readonly string[]): Promise<AppendResult> {
    try {
      return this.submit(rows);
    } catch (err) {
      return Promise.reject(err as Error);
    }
  }

  /**
   * append(), but SpoolFullError and SpoolClosedError are thrown synchronously (nothing queued),
   * so a caller knows at once whether the rows were taken.
   */
  submit(rows: RowChunk | readonly string[]): Promise<AppendResult> {
    if (this.#closed) throw new SpoolClosedError();
    const chunk = 'bytes' in rows ? rows : chunkOfLines(rows);
    if (chunk.rows === 0) return Promise.resolve({ records: 0, rows: 0, bytes: 0 });
    const records = this.#encode(chunk);
    let bytes = 0;
    for (const r of records) bytes += r.buf.length;
    if (!this.hasRoom(bytes)) {
      this.stats.fullRejections++;
      this.stats.fullRejectedRows += chunk.rows;
      throw new SpoolFullError(this.stats.usedBytes + this.#pendingBytes, this.maxBytes, bytes + SEGMENT_HEADER_BYTES);
    }
    this.#pendingBytes += bytes;
    const done = new Promise<AppendResult>((resolve, reject) => {
      this.#pending.push({ records, rows: chunk.rows, bytes, resolve, reject });
    });
    this.#startFlusher();
    return done;
  }

  /** A chunk → records of at most maxRecordRows rows and (unless one row is larger) maxRecordBytes payload bytes. */
  #encode(chunk: RowChunk): Array<{ buf: Buffer; rows: number }> {
    const out: Array<{ buf: Buffer; rows: number }> = [];
    const encodePart = (part: RowChunk): void => {
      if (part.rows > this.maxRecordRows || (PAYLOAD_PREFIX_BYTES + part.bytes.byteLength > this.maxRecordBytes && part.rows > 1)) {
        const half = part.rows > this.maxRecordRows ? this.maxRecordRows : Math.ceil(part.rows / 2);
        const [head, tail] = splitChunk(part, half);
        encodePart(head);
        encodePart(tail);
        return;
      }
      const buf = encodeRecord(part);
      if (buf.length - RECORD_HEADER_BYTES > MAX_RECORD_BYTES) throw new RangeError(`a usage row of ${buf.length} bytes is too large to spool`);
      out.push({ buf, rows: part.rows });
    };
    encodePart(chunk);
    return out;
  }

  #startFlusher(): void {
    if (this.#flushing) return;
    this.#flushing = true;
    this.#flushDone = this.#flushLoop();
  }

  async #flushLoop(): Promise<void> {
    try {
      // Let appends made in the same tick join the first group.
      await Promise.resolve();
      while (this.#pending.length > 0) {
        // One group: everything waiting, up to about a segment's worth.
        let take = 0;
        let bytes = 0;
        while (take < this.#pending.length && (take === 0 || bytes + this.#pending[take]!.bytes <= this.segmentBytes)) {
          bytes += this.#pending[take]!.bytes;
          take++;
        }
        const group = this.#pending.splice(0, take);
        await this.#writeGroup(group, bytes);
      }
    } catch (err) {
      diag.error('genai-ledger spool: unexpected flush error', err);
    } finally {
      this.#flushing = false;
    }
  }

  async #writeGroup(group: Pending[], bytes: number): Promise<void> {
    const started = performance.now();
    let seg = this.#active;
    if (seg && (this.#rollRequested || (seg.size > SEGMENT_HEADER_BYTES && seg.size + bytes > this.segmentBytes))) {
      this.#seal(seg);
      seg = undefined;
    }
    this.#rollRequested = false;
    try {
      // Phase ends (diagnostics): segment ready, written, fdatasync'd, directory synced.
      const t: number[] = [started];
      const rolled = !seg;
      seg ??= await this.#nextSegment();
      t.push(performance.now());
      const buffers: Buffer[] = [];
      for (const p of group) for (const r of p.records) buffers.push(r.buf);
      await writeAll(seg.writer!, buffers, seg.size);
      t.push(performance.now());
      if (this.#fsync) {
        await seg.writer!.datasync();
        t.push(performance.now());
        if (seg.needsDirSync) await syncDirectory(this.dir);
        t.push(performance.now());
      }
      if (DEBUG_SLOW_GROUPS && t[t.length - 1]! - started > 15) {
        const phases = t.slice(1).map((x, i) => Math.round((x - t[i]!) * 10) / 10);
        process.stderr.write(`TRACE group ${JSON.stringify({ t: Date.now(), rolled, appends: group.length, bytes, phases })}\n`);
      }
      seg.needsDirSync = false;
    } catch (err) {
      this.#pendingBytes -= bytes;
      if (err instanceof SpoolFullError) {
        // No room for one more segment header (several groups each starting a segment): refused, never acknowledged.
        this.stats.fullRejections += group.length;
        for (const p of group) this.stats.fullRejectedRows += p.rows;
        for (const p of group) p.reject(err);
        return;
      }
      this.stats.writeErrors++;
      const error = new SpoolWriteError(`cannot write the spool ${this.dir}: ${(err as Error).message}`, { cause: err });
      diag.error(`genai-ledger spool: ${error.message}`);
      for (const p of group) p.reject(error);
      if (seg) {
        // The file may hold part of the group: cut it back, and write the next group elsewhere.
        await seg.writer?.truncate(seg.size).catch(() => undefined);
        this.#seal(seg);
      }
      return;
    }
    let offset = seg.size;
    const s = this.stats;
    for (const p of group) {
      for (const r of p.records) {
        seg.push(offset, r.buf.length, r.rows);
        offset += r.buf.length;
      }
      s.appendedRecords += p.records.length;
      s.appendedRows += p.rows;
      s.pendingRecords += p.records.length;
      s.pendingRows += p.rows;
    }
    seg.size = offset;
    this.#pendingBytes -= bytes;
    s.usedBytes += bytes;
    s.groupCommits++;
    s.lastGroupCommitMs = performance.now() - started;
    // Past an eighth of a segment, get the next one ready (created, header written, file and
    // directory synced) so that rolling over costs the acknowledgement path nothing.
    if (seg.size >= this.segmentBytes / 8) this.#prepareSpare();
    for (const p of group) p.resolve({ records: p.records.length, rows: p.rows, bytes: p.bytes });
    for (const listener of this.#listeners) {
      try {
        listener();
      } catch (err) {
        diag.error('genai-ledger spool: append listener threw', err);
      }
    }
  }

  /** The spare segment if one is ready (or being made), else a new one; made active. */
  async #nextSegment(): Promise<Segment> {
    const used = this.stats.usedBytes + this.#pendingBytes;
    if (used + SEGMENT_HEADER_BYTES > this.maxBytes) throw new SpoolFullError(used, this.maxBytes, SEGMENT_HEADER_BYTES);
    const spare = this.#spare;
    this.#spare = undefined;
    const seg = (spare ? await spare : undefined) ?? await this.#newSegmentFile(false);
    this.#segments.push(seg);
    this.#bySeq.set(seg.seq, seg);
    this.#active = seg;
    this.stats.usedBytes += SEGMENT_HEADER_BYTES;
    this.stats.segments = this.#segments.length;
    return seg;
  }

  #prepareSpare(): void {
    if (this.#spare || this.#closed) return;
    this.#spare = this.#newSegmentFile(true).catch((err: unknown) => {
      diag.warn(`genai-ledger spool: cannot prepare the next segment (it will be made when needed): ${(err as Error).message}`);
      return undefined;
    });
  }

  /**
   * A new segment file holding its header. `synced`: the file and the directory entry are synced
   * now (a spare); otherwise the first group written to it syncs the directory (needsDirSync).
   * An empty segment left by a crash is removed at the next open.
   */
  async #newSegmentFile(synced: boolean): Promise<Segment> {
    const seq = this.#nextSeq++;
    const seg = new Segment(seq, join(this.dir, segmentName(seq)), join(this.dir, ackName(seq)));
    seg.writer = await open(seg.path, 'wx', 0o644);
    try {
      await seg.writer.write(segmentHeader(seq), 0, SEGMENT_HEADER_BYTES, 0);
      if (synced && this.#fsync) {
        await seg.writer.datasync();
        await syncDirectory(this.dir);
      }
    } catch (err) {
      await seg.writer.close().catch(() => undefined);
      try {
        unlinkSync(seg.path);
      } catch {
        // nothing to remove
      }
      throw err;
    }
    seg.size = SEGMENT_HEADER_BYTES;
    seg.needsDirSync = !synced;
    return seg;
  }

  /** No more appends go to `seg`; deleted at once if nothing in it is waiting. */
  #seal(seg: Segment): void {
    seg.sealed = true;
    if (this.#active === seg) this.#active = undefined;
    const writer = seg.writer;
    seg.writer = undefined;
    void writer?.close().catch(() => undefined);
    if (seg.fullyCommitted) this.#deleteSegment(seg);
  }

  #deleteSegment(seg: Segment): void {
    if (seg.deleted) return;
    seg.deleted = true;
    this.#segments = this.#segments.filter((s) => s !== seg);
    this.#bySeq.delete(seg.seq);
    if (this.#active === seg) this.#active = undefined;
    this.stats.usedBytes -= seg.size;
    this.stats.segments = this.#segments.length;
    seg.ackPending = [];
    // The files go in the background, after any ack write of this segment still queued.
    this.#io(async () => {
      const handles = [seg.writer, seg.reader, seg.ack];
      seg.writer = seg.reader = seg.ack = undefined;
      for (const h of handles) await h?.close().catch(() => undefined);
      // Segment first: a leftover ack file alone is harmless (deleted at the next open).
      for (const path of [seg.path, seg.ackPath]) {
        try {
          await unlink(path);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') diag.warn(`genai-ledger spool: cannot delete ${path}: ${(err as Error).message}`);
        }
      }
    });
  }

  /** Runs `job` after every background file job queued before it. */
  #io(job: () => Promise<void>): void {
    this.#ioJobs++;
    this.#ioTail = this.#ioTail.then(job).catch((err: unknown) => {
      diag.error('genai-ledger spool: background file job failed', err);
    }).finally(() => {
      this.#ioJobs--;
    });
  }

  /** Resolves once the background file work (ack entries, deletions) queued so far is done. */
  async settled(): Promise<void> {
    while (this.#ioJobs > 0) await this.#ioTail;
  }

  /** Writes the ack entries of committed records (appended, never fsync'd: see format.ts). */
  #scheduleAcks(seg: Segment): void {
    this.#ackDirty.add(seg);
    if (this.#ackScheduled) return;
    this.#ackScheduled = true;
    this.#io(async () => {
      this.#ackScheduled = false;
      const segs = [...this.#ackDirty];
      this.#ackDirty.clear();
      for (const seg of segs) {
        if (seg.deleted || seg.ackPending.length === 0) continue;
        const entries = seg.ackPending;
        seg.ackPending = [];
        try {
          seg.ack ??= await open(seg.ackPath, 'a', 0o644);
          const buf = entries.length === 1 ? entries[0]! : Buffer.concat(entries);
          let written = 0;
          while (written < buf.length) {
            const { bytesWritten } = await seg.ack.write(buf, written, buf.length - written);
            if (bytesWritten <= 0) throw new Error('short write');
            written += bytesWritten;
          }
        } catch (err) {
          this.stats.ackErrors += entries.length;
          diag.warn(`genai-ledger spool: cannot write ${seg.ackPath} (the records will be sent again after a restart): ${(err as Error).message}`);
        }
      }
    });
  }

  /**
   * The next uncommitted record after the cursor, read from disk; undefined when the cursor has
   * reached the end of what is acknowledged. One call at a time.
   */
  async next(): Promise<SpoolRecord | undefined> {
    if (this.#reading) throw new Error('Spool.next() called concurrently');
    this.#reading = true;
    try {
      for (;;) {
        if (this.#closed && this.#closing) return undefined;
        const seg = this.#segments.find((s) => s.seq >= this.#cursorSeq);
        if (!seg) return undefined;
        if (seg.seq !== this.#cursorSeq) {
          this.#cursorSeq = seg.seq;
          this.#cursorOrdinal = 0;
        }
        let ordinal = Math.max(this.#cursorOrdinal, seg.firstUncommitted);
        while (ordinal < seg.count && seg.isCommitted(ordinal)) ordinal++;
        if (ordinal >= seg.count) {
          this.#cursorOrdinal = ordinal;
          if (!seg.sealed) return undefined;
          this.#cursorSeq = seg.seq + 1;
          this.#cursorOrdinal = 0;
          continue;
        }
        this.#cursorOrdinal = ordinal + 1;
        const offset = seg.offsets[ordinal]!;
        const length = seg.lengths[ordinal]!;
        const rows = seg.rows[ordinal]!;
        const chunk = await this.#readRecord(seg, offset, length, rows);
        if (chunk === undefined) {
          // Corrupted on disk since it was checked: counted, and committed so it is not retried forever.
          if (!seg.deleted && !seg.isCommitted(ordinal)) this.commit({ seq: seg.seq, ordinal, rows });
          continue;
        }
        return { seq: seg.seq, ordinal, offset, rows, bytes: length, chunk };
      }
    } finally {
      this.#reading = false;
    }
  }

  async #readRecord(seg: Segment, offset: number, length: number, rows: number): Promise<RowChunk | undefined> {
    try {
      seg.reader ??= await open(seg.path, 'r');
      const buf = Buffer.allocUnsafe(length);
      let read = 0;
      while (read < length) {
        const { bytesRead } = await seg.reader.read(buf, read, length - read, offset + read);
        if (bytesRead === 0) break;
        read += bytesRead;
      }
      const check = checkRecord(buf, read);
      const chunk = check.ok && check.length === length && check.rows === rows ? decodeChunk(buf, length, rows) : undefined;
      if (!chunk) {
        this.stats.corruptRecords++;
        diag.error(`genai-ledger spool: record at ${seg.path}:${offset} is unreadable (${check.ok ? 'unexpected shape' : check.reason}); its ${rows} rows are lost`);
      }
      return chunk;
    } catch (err) {
      // An I/O error is not corruption: leave the record for a later attempt.
      throw new SpoolWriteError(`cannot read the spool ${seg.path}: ${(err as Error).message}`, { cause: err });
    }
  }

  /** Moves the cursor back to the oldest uncommitted record (only while nothing read is in flight). */
  rewind(): void {
    this.#cursorSeq = 0;
    this.#cursorOrdinal = 0;
  }

  /** True when the cursor has read every acknowledged record and no append is on its way. */
  caughtUp(): boolean {
    if (this.appending) return false;
    for (const seg of this.#segments) {
      if (seg.seq < this.#cursorSeq) continue;
      const from = seg.seq === this.#cursorSeq ? Math.max(this.#cursorOrdinal, seg.firstUncommitted) : seg.firstUncommitted;
      for (let i = from; i < seg.count; i++) if (!seg.isCommitted(i)) return false;
    }
    return true;
  }

  /** Marks a record done: its rows are in ClickHouse (or in the dead-letter file). Idempotent. */
  commit(record: Pick<SpoolRecord, 'seq' | 'ordinal'> & { rows?: number }): void {
    const seg = this.#bySeq.get(record.seq);
    if (!seg || record.ordinal >= seg.count || seg.isCommitted(record.ordinal)) return;
    seg.markCommitted(record.ordinal);
    const rows = seg.rows[record.ordinal]!;
    const s = this.stats;
    s.committedRecords++;
    s.committedRows += rows;
    s.pendingRecords--;
    s.pendingRows -= rows;
    if (seg.sealed && seg.fullyCommitted) {
      // The whole segment goes: no ack entry needed.
      this.#deleteSegment(seg);
      return;
    }
    seg.ackPending.push(ackEntry(seg.offsets[record.ordinal]!));
    this.#scheduleAcks(seg);
    // The active segment, all committed and big enough: the next group starts a new one (and this one goes).
    if (seg.fullyCommitted && seg.size >= this.segmentBytes / 4) this.#rollRequested = true;
  }

  /** Waits for appends in progress, then releases everything. Uncommitted records stay for the next open. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#closed = true;
      while (this.#flushing) await this.#flushDone;
      const active = this.#active;
      if (active && active.fullyCommitted) this.#deleteSegment(active);
      const spare = this.#spare ? await this.#spare : undefined;
      this.#spare = undefined;
      if (spare) {
        await spare.writer?.close().catch(() => undefined);
        spare.writer = undefined;
        await unlink(spare.path).catch(() => undefined);
      }
      await this.settled();
      await this.#closeHandles();
      if (this.#meter && this.#observables.length > 0) this.#meter.removeBatchObservableCallback(this.#observe, this.#observables);
      releaseLock(this.dir);
    })();
    return this.#closing;
  }

  async #closeHandles(): Promise<void> {
    for (const seg of this.#segments) {
      await seg.writer?.close().catch(() => undefined);
      await seg.reader?.close().catch(() => undefined);
      await seg.ack?.close().catch(() => undefined);
      seg.writer = seg.reader = seg.ack = undefined;
    }
    this.#active = undefined;
  }

  // ---------------------------------------------------------------------------------------------
  // Recovery

  async #recover(): Promise<void> {
    const segSeqs: number[] = [];
    const ackSeqs = new Set<number>();
    let maxSeq = 0;
    for (const name of readdirSync(this.dir)) {
      const parsed = parseSpoolFileName(name);
      if (!parsed) continue;
      maxSeq = Math.max(maxSeq, parsed.seq);
      if (parsed.kind === 'wal') segSeqs.push(parsed.seq);
      else ackSeqs.add(parsed.seq);
    }
    this.#nextSeq = maxSeq + 1;
    segSeqs.sort((a, b) => a - b);
    const s = this.stats;
    for (const seq of segSeqs) {
      const seg = new Segment(seq, join(this.dir, segmentName(seq)), join(this.dir, ackName(seq)));
      seg.sealed = true;
      const usable = await this.#scanSegment(seg);
      if (!usable) continue;
      if (ackSeqs.has(seq)) this.#applyAcks(seg);
      if (seg.count === 0 || seg.fullyCommitted) {
        this.#deleteFiles(seg);
        continue;
      }
      this.#segments.push(seg);
      this.#bySeq.set(seq, seg);
      s.usedBytes += seg.size;
      for (let i = 0; i < seg.count; i++) {
        if (seg.isCommitted(i)) continue;
        s.recoveredRecords++;
        s.recoveredRows += seg.rows[i]!;
      }
    }
    // Ack files whose segment is gone.
    for (const seq of ackSeqs) {
      if (this.#bySeq.has(seq)) continue;
      try {
        unlinkSync(join(this.dir, ackName(seq)));
      } catch {
        // already gone
      }
    }
    s.segments = this.#segments.length;
    s.pendingRecords += s.recoveredRecords;
    s.pendingRows += s.recoveredRows;
    if (s.recoveredRecords > 0 || s.corruptRecords > 0) {
      diag.info(`genai-ledger spool: ${s.recoveredRecords} records (${s.recoveredRows} rows) to replay from ${this.dir}; ${s.corruptRecords} corrupt records dropped`);
    }
  }

  /**
   * Reads a segment's records into `seg` (offsets, lengths, rows), checking each; cuts the file at
   * the first invalid record that cannot be skipped. False when the file is not a usable segment
   * (removed, or set aside as `<name>.corrupt`).
   */
  async #scanSegment(seg: Segment): Promise<boolean> {
    const s = this.stats;
    const fh = await open(seg.path, 'r+');
    try {
      const fileSize = (await fh.stat()).size;
      const header = Buffer.alloc(SEGMENT_HEADER_BYTES);
      const { bytesRead } = await fh.read(header, 0, SEGMENT_HEADER_BYTES, 0);
      if (bytesRead < SEGMENT_HEADER_BYTES) {
        // Created, then the process died before its first group was synced: nothing acknowledged.
        await fh.close();
        this.#deleteFiles(seg);
        if (fileSize > 0) {
          s.corruptRecords++;
          s.truncatedBytes += fileSize;
        }
        return false;
      }
      if (readSegmentHeader(header) !== seg.seq) {
        await fh.close();
        s.corruptRecords++;
        s.truncatedBytes += fileSize;
        diag.error(`genai-ledger spool: ${seg.path} is not a spool segment (bad header); set aside as ${seg.path}.corrupt`);
        renameSync(seg.path, `${seg.path}.corrupt`);
        return false;
      }
      const reader = new ChunkReader(fh, fileSize);
      let offset = SEGMENT_HEADER_BYTES;
      while (offset < fileSize) {
        const check = await reader.check(offset);
        if (check.ok) {
          seg.push(offset, check.length, check.rows);
          offset += check.length;
          continue;
        }
        // A complete record with a bad CRC, followed by a valid record (or the end): skip just it.
        const skip = await reader.skippable(offset);
        s.corruptRecords++;
        if (skip !== undefined) {
          diag.error(`genai-ledger spool: skipped a corrupt record in ${seg.path} at ${offset} (${check.reason})`);
          offset += skip;
          continue;
        }
        diag.warn(`genai-ledger spool: cut ${seg.path} at ${offset} (${check.reason}; ${fileSize - offset} bytes)`);
        s.truncatedBytes += fileSize - offset;
        await fh.truncate(offset);
        if (this.#fsync) await fh.datasync();
        break;
      }
      seg.size = offset;
      return true;
    } finally {
      await fh.close().catch(() => undefined);
    }
  }

  #applyAcks(seg: Segment): void {
    let buf: Buffer;
    try {
      buf = readFileSync(seg.ackPath);
    } catch {
      return;
    }
    for (const offset of readAckEntries(buf)) {
      const ordinal = seg.ordinalAt(offset);
      if (ordinal >= 0 && !seg.isCommitted(ordinal)) seg.markCommitted(ordinal);
    }
  }

  #deleteFiles(seg: Segment): void {
    for (const path of [seg.path, seg.ackPath]) {
      try {
        unlinkSync(path);
      } catch {
        // already gone
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Metrics

  #instruments: Record<'used' | 'pendingRows' | 'appended' | 'committed' | 'full' | 'corrupt' | 'writeErrors' | 'redelivered' | 'groupCommit', Observable> | undefined;

  #registerMetrics(meter: Meter): void {
    try {
      const p = 'genai_ledger.spool';
      const instruments = {
        used: meter.createObservableGauge(`${p}.size`, { description: 'Bytes held by the spool', unit: 'By' }),
        pendingRows: meter.createObservableGauge(`${p}.rows.pending`, { description: 'Spooled usage rows not yet in ClickHouse', unit: '{row}' }),
        appended: meter.createObservableCounter(`${p}.rows.appended`, { description: 'Usage rows acknowledged into the spool', unit: '{row}' }),
        committed: meter.createObservableCounter(`${p}.rows.committed`, { description: 'Spooled usage rows settled (written or dead-lettered)', unit: '{row}' }),
        full: meter.createObservableCounter(`${p}.rows.refused`, { description: 'Usage rows refused because the spool was full', unit: '{row}' }),
        corrupt: meter.createObservableCounter(`${p}.records.corrupt`, { description: 'Invalid spool records dropped at recovery', unit: '{record}' }),
        writeErrors: meter.createObservableCounter(`${p}.write.errors`, { description: 'Spool group commits that failed', unit: '{group}' }),
        redelivered: meter.createObservableCounter(`${p}.records.redelivered`, { description: 'Spool records sent again after a failed delivery', unit: '{record}' }),
        groupCommit: meter.createObservableGauge(`${p}.commit.duration`, { description: 'Duration of the last write+fsync group', unit: 'ms' }),
      };
      this.#instruments = instruments;
      this.#observables = Object.values(instruments);
      meter.addBatchObservableCallback(this.#observe, this.#observables);
      this.#meter = meter;
    } catch (err) {
      diag.warn('genai-ledger spool: cannot register metrics', err);
    }
  }

  #observeMetrics(result: BatchObservableResult): void {
    const i = this.#instruments;
    if (!i) return;
    const s = this.stats;
    result.observe(i.used, s.usedBytes);
    result.observe(i.pendingRows, s.pendingRows);
    result.observe(i.appended, s.appendedRows);
    result.observe(i.committed, s.committedRows);
    result.observe(i.full, s.fullRejectedRows);
    result.observe(i.corrupt, s.corruptRecords);
    result.observe(i.writeErrors, s.writeErrors);
    result.observe(i.redelivered, s.redeliveredRecords);
    result.observe(i.groupCommit, s.lastGroupCommitMs);
  }
}

/** Sequential record checks over a file through a window of SCAN_CHUNK_BYTES. */
class ChunkReader {
  #buf = Buffer.alloc(0);
  #start = 0;

  constructor(
    private readonly fh: FileHandle,
    private readonly size: number,
  ) {}

  /** The bytes [offset, offset + length) (fewer at the end of the file). */
  async window(offset: number, length: number): Promise<Buffer> {
    const end = Math.min(this.size, offset + length);
    if (offset >= this.#start && end <= this.#start + this.#buf.length) {
      return this.#buf.subarray(offset - this.#start, end - this.#start);
    }
    const want = Math.min(this.size - offset, Math.max(length, SCAN_CHUNK_BYTES));
    const buf = Buffer.allocUnsafe(Math.max(0, want));
    let read = 0;
    while (read < want) {
      const { bytesRead } = await this.fh.read(buf, read, want - read, offset + read);
      if (bytesRead === 0) break;
      read += bytesRead;
    }
    this.#buf = buf.subarray(0, read);
    this.#start = offset;
    return this.#buf.subarray(0, Math.min(read, end - offset));
  }

  async check(offset: number): Promise<ReturnType<typeof checkRecord>> {
    const head = await this.window(offset, RECORD_HEADER_BYTES);
    if (head.length < RECORD_HEADER_BYTES) return checkRecord(head, head.length);
    const n = head.readUInt32LE(0);
    const total = n <= MAX_RECORD_BYTES ? RECORD_HEADER_BYTES + n : RECORD_HEADER_BYTES;
    const buf = await this.window(offset, total);
    return checkRecord(buf, buf.length);
  }

  /**
   * The length of the invalid record at `offset` if skipping it is safe: its length field is
   * plausible, it lies wholly in the file, and the next record is valid (or it ends the file
   * exactly, which a torn write cannot produce with a CRC mismatch... but a bit flip can).
   */
  async skippable(offset: number): Promise<number | undefined> {
    const head = await this.window(offset, RECORD_HEADER_BYTES);
    if (head.length < RECORD_HEADER_BYTES) return undefined;
    const n = head.readUInt32LE(0);
    if (n < PAYLOAD_PREFIX_BYTES + 1 || n > MAX_RECORD_BYTES) return undefined;
    const next = offset + RECORD_HEADER_BYTES + n;
    if (next > this.size) return undefined;
    if (next === this.size) return undefined; // the last record: treat as a torn tail, cut it
    const check = await this.check(next);
    return check.ok ? RECORD_HEADER_BYTES + n : undefined;
  }
}

async function writeAll(fh: FileHandle, buffers: Buffer[], position: number): Promise<void> {
  let pos = position;
  let bufs = buffers;
  while (bufs.length > 0) {
    const { bytesWritten } = await fh.writev(bufs.length > 512 ? bufs.slice(0, 512) : bufs, pos);
    if (bytesWritten <= 0) throw new Error('short write');
    pos += bytesWritten;
    let left = bytesWritten;
    let i = 0;
    while (i < bufs.length && left >= bufs[i]!.length) {
      left -= bufs[i]!.length;
      i++;
    }
    bufs = bufs.slice(i);
    if (left > 0 && bufs.length > 0) bufs[0] = bufs[0]!.subarray(left);
  }
}

async function syncDirectory(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

function positive(value: number | undefined, fallback: number): number {
  return value !== undefined && Number.isFinite(value) && value > 0 ? Math.floor(value) : fallback;
}
