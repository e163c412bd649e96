/**
 * A run of serialized usage rows as bytes: JSONCompactEachRow lines (serializeRow's output) in
 * UTF-8, joined by '\n', no trailing newline. It is what the writer queues, what an insert body is
 * made of and what a spool record holds, so rows cross threads (transferred, not copied) and reach
 * ClickHouse without ever being strings on the app's thread again. Lines never hold a raw '\n'
 * (JSON escapes it), so a line boundary is a newline byte.
 */
import { createHash } from 'node:crypto';

export interface RowChunk {
  readonly bytes: Uint8Array;
  readonly rows: number;
  /** sha256 (hex) of `bytes`, when its maker computed it (the mapping thread does, off the app's thread). */
  readonly digest?: string;
}

/** No rows (a batch whose spans made none). */
export const NO_ROWS: RowChunk = { bytes: new Uint8Array(0), rows: 0 };

const NEWLINE = 0x0a;
const encoder = new TextEncoder();

/**
 * Lines → a chunk whose bytes own their ArrayBuffer (TextEncoder's output: never a slice of
 * Buffer's shared pool), so it can be transferred to another thread.
 */
export function chunkOfLines(lines: readonly string[], withDigest = false): RowChunk {
  const bytes = encoder.encode(lines.join('\n'));
  return withDigest ? { bytes, rows: lines.length, digest: sha256(bytes) } : { bytes, rows: lines.length };
}

/** The chunk's lines (off the hot path: splitting a refused batch, dead letters). */
export function linesOfChunk(chunk: RowChunk): string[] {
  if (chunk.rows === 0) return [];
  return Buffer.from(chunk.bytes.buffer, chunk.bytes.byteOffset, chunk.bytes.byteLength).toString('utf8').split('\n');
}

/** The first `rows` rows and the rest (views on the same bytes, no copy). `rows` is within 1..chunk.rows - 1. */
export function splitChunk(chunk: RowChunk, rows: number): [RowChunk, RowChunk] {
  const { bytes } = chunk;
  let at = -1;
  for (let i = 0; i < rows && (i === 0 || at >= 0); i++) at = bytes.indexOf(NEWLINE, at + 1);
  if (at < 0) throw new Error(`a chunk of ${chunk.rows} rows has fewer lines than that`);
  return [
    { bytes: bytes.subarray(0, at), rows },
    { bytes: bytes.subarray(at + 1), rows: chunk.rows - rows },
  ];
}

/** Newlines in `bytes` + 1: the rows a chunk's bytes hold (a spool check). */
export function countLines(bytes: Uint8Array): number {
  let n = 1;
  for (let at = bytes.indexOf(NEWLINE); at >= 0; at = bytes.indexOf(NEWLINE, at + 1)) n++;
  return n;
}

/**
 * One insert body: the chunks' lines, each ended by '\n'. Written into `scratch` when it is large
 * enough, else into a new buffer with a quarter to spare (the next batch may be a little larger);
 * either way a view on a buffer of its own (never Buffer's shared pool), so it can be reused.
 */
export function insertBody(chunks: readonly RowChunk[], scratch?: Buffer): Buffer {
  let length = 0;
  for (const c of chunks) length += c.bytes.byteLength + 1;
  const into = scratch && scratch.byteLength >= length ? scratch : Buffer.allocUnsafeSlow(Math.ceil(length * 1.25));
  const body = into.subarray(0, length);
  let at = 0;
  for (const c of chunks) {
    body.set(c.bytes, at);
    at += c.bytes.byteLength;
    body[at++] = NEWLINE;
  }
  return body;
}

/**
 * The insert_deduplication_token of a batch: the same chunks give the same token, on every
 * attempt and after a restart that replays them. From the chunks' digests, so a batch of chunks
 * hashed on the mapping thread costs the app's thread only a hash of digests.
 */
export function batchToken(chunks: readonly RowChunk[]): string {
  if (chunks.length === 1) return chunks[0]!.digest ?? sha256(chunks[0]!.bytes);
  const hash = createHash('sha256');
  for (const c of chunks) hash.update(c.digest ?? sha256(c.bytes));
  return hash.digest('hex');
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
