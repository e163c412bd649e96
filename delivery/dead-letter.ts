/**
 * Rows ClickHouse refused (a value that does not parse, isolated by the writer's splitting) are
 * kept here instead of vanishing: a JSON Lines file, one `{rejected_at, reason, row}` per row,
 * so an operator can see why, fix the cause, and re-ingest them (the row is the usage row as the
 * writer tried to insert it).
 *
 * Bounded: `maxBytes` over the current file and `maxFiles` rotated ones (`<name>.1.jsonl`, ...,
 * oldest deleted). Rows whose file is rotated out are counted (`discardedRows`), and so are rows
 * that cannot be written at all (`lostRows`: disk error, or one entry larger than a file). Writes
 * are synchronous and, by default, fdatasync'd: rejections are rare, and a spool commits a record
 * only after its rejected rows are here. Never throws.
 */
import { closeSync, fdatasyncSync, mkdirSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { diag } from '@opentelemetry/api';
import type { UsageRow } from '../usage/usage-row.js';

export const DEAD_LETTER_FILE = 'dead-letter.jsonl';
export const DEFAULT_DEAD_LETTER_MAX_BYTES = 64 * 1024 * 1024;
export const DEFAULT_DEAD_LETTER_MAX_FILES = 1;
const MAX_REASON_LENGTH = 2_000;

export interface DeadLetterOptions {
  /** The file (JSON Lines). Rotated files sit next to it: `dead-letter.1.jsonl`, ... */
  path: string;
  /** Bytes over the current and the rotated files. Default 64 MiB. */
  maxBytes?: number;
  /** Rotated files kept (0: the current file is truncated when full). Default 1. */
  maxFiles?: number;
  /** fdatasync after each write. Default true. */
  sync?: boolean;
}

export interface DeadLetterStats {
  /** Rows written to the dead-letter file(s). */
  rows: number;
  bytes: number;
  rotations: number;
  /** Rows in rotated-out (deleted) files. */
  discardedRows: number;
  /** Rows that could not be written (I/O error, entry larger than a file). */
  lostRows: number;
  writeErrors: number;
}

/** One line of the file. */
export interface DeadLetterEntry {
  /** ISO 8601 UTC. */
  rejected_at: string;
  reason: string;
  row: UsageRow;
}

export function createDeadLetterStats(): DeadLetterStats {
  return { rows: 0, bytes: 0, rotations: 0, discardedRows: 0, lostRows: 0, writeErrors: 0 };
}

export class DeadLetterFile {
  readonly path: string;
  readonly stats: DeadLetterStats;
  readonly #maxFileBytes: number;
  readonly #maxFiles: number;
  readonly #sync: boolean;
  #fd: number | undefined;
  #size = 0;
  /** Rows in the current file (counted from its lines when an existing file is reopened). */
  #fileRows = 0;
  #closed = false;

  constructor(options: DeadLetterOptions, stats: DeadLetterStats = createDeadLetterStats()) {
    this.path = resolve(options.path);
    this.stats = stats;
    this.#maxFiles = Math.max(0, Math.floor(options.maxFiles ?? DEFAULT_DEAD_LETTER_MAX_FILES));
    const maxBytes = options.maxBytes !== undefined && options.maxBytes > 0 ? options.maxBytes : DEFAULT_DEAD_LETTER_MAX_BYTES;
    this.#maxFileBytes = Math.max(1024, Math.floor(maxBytes / (this.#maxFiles + 1)));
    this.#sync = options.sync ?? true;
  }

  /** Appends one entry per row; never throws (failures are counted and logged). */
  write(rows: readonly UsageRow[], reason: Error | string): void {
    if (rows.length === 0) return;
    if (this.#closed) {
      this.stats.lostRows += rows.length;
      return;
    }
    const rejectedAt = new Date().toISOString();
    const why = reasonText(reason);
    let chunk = '';
    let chunkRows = 0;
    let chunkBytes = 0;
    const flush = (): void => {
      if (chunkRows === 0) return;
      this.#append(chunk, chunkRows, chunkBytes);
      chunk = '';
      chunkRows = 0;
      chunkBytes = 0;
    };
    for (const row of rows) {
      let line: string;
      try {
        line = JSON.stringify({ rejected_at: rejectedAt, reason: why, row }) + '\n';
      } catch (err) {
        line = JSON.stringify({ rejected_at: rejectedAt, reason: `${why} (row not serializable: ${(err as Error).message})`, row: String(row) }) + '\n';
      }
      const bytes = Buffer.byteLength(line);
      if (bytes > this.#maxFileBytes) {
        this.stats.lostRows++;
        diag.warn(`genai-ledger dead letter: a rejected row of ${bytes} bytes exceeds the file bound; not kept`);
        continue;
      }
      if (chunkBytes + bytes > this.#maxFileBytes) flush();
      chunk += line;
      chunkRows++;
      chunkBytes += bytes;
    }
    flush();
  }

  #append(text: string, rows: number, bytes: number): void {
    try {
      this.#open();
      if (this.#size + bytes > this.#maxFileBytes) this.#rotate();
      this.#open();
      writeSync(this.#fd!, text);
      if (this.#sync) fdatasyncSync(this.#fd!);
      this.#size += bytes;
      this.#fileRows += rows;
      this.stats.rows += rows;
      this.stats.bytes += bytes;
    } catch (err) {
      this.stats.writeErrors++;
      this.stats.lostRows += rows;
      diag.error(`genai-ledger dead letter: cannot write ${this.path}: ${(err as Error).message}`);
      this.#closeFd();
    }
  }

  #open(): void {
    if (this.#fd !== undefined) return;
    mkdirSync(dirname(this.path), { recursive: true });
    this.#fd = openSync(this.path, 'a', 0o644);
    this.#size = statSync(this.path).size;
    this.#fileRows = this.#size > 0 ? countLines(this.path) : 0;
  }

  #rotate(): void {
    this.#closeFd();
    if (this.#maxFiles === 0) {
      this.stats.discardedRows += this.#fileRows;
      unlinkSync(this.path);
    } else {
      const oldest = rotatedPath(this.path, this.#maxFiles);
      try {
        this.stats.discardedRows += countLines(oldest);
        unlinkSync(oldest);
      } catch {
        // no such file yet
      }
      for (let i = this.#maxFiles - 1; i >= 1; i--) {
        try {
          renameSync(rotatedPath(this.path, i), rotatedPath(this.path, i + 1));
        } catch {
          // no such file yet
        }
      }
      renameSync(this.path, rotatedPath(this.path, 1));
    }
    this.stats.rotations++;
    this.#size = 0;
    this.#fileRows = 0;
  }

  #closeFd(): void {
    if (this.#fd === undefined) return;
    try {
      closeSync(this.#fd);
    } catch {
      // already closed
    }
    this.#fd = undefined;
  }

  close(): void {
    this.#closed = true;
    this.#closeFd();
  }
}

/** `dead-letter.jsonl` → `dead-letter.<n>.jsonl`. */
export function rotatedPath(path: string, n: number): string {
  const ext = extname(path);
  const base = basename(path, ext);
  return join(dirname(path), `${base}.${n}${ext}`);
}

/** The entries of a dead-letter file (oldest first); a torn last line is skipped. */
export function readDeadLetters(path: string): DeadLetterEntry[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return [];
  }
  const out: DeadLetterEntry[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    try {
      out.push(JSON.parse(line) as DeadLetterEntry);
    } catch {
      // torn line
    }
  }
  return out;
}

function countLines(path: string): number {
  try {
    const buf = readFileSync(path);
    let n = 0;
    for (let i = buf.indexOf(0x0a); i !== -1; i = buf.indexOf(0x0a, i + 1)) n++;
    return n;
  } catch {
    return 0;
  }
}

function reasonText(reason: Error | string): string {
  const text = typeof reason === 'string' ? reason : reason.message;
  return text.length > MAX_REASON_LENGTH ? `${text.slice(0, MAX_REASON_LENGTH)}…` : text;
}
