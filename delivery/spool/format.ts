/**
 * The spool's on-disk format (version 1). All integers little-endian.
 *
 * Segment file `<seq>.wal` (seq: 16 decimal digits, increasing, never reused while files exist):
 *   header  16 bytes   "GLSPOOL1" (8 ASCII bytes) | u64 seq
 *   record  8 + n      u32 n = payload length | u32 crc32(payload) | payload
 *   payload n bytes    u32 rows | the rows as JSONCompactEachRow lines (serializeRow's output,
 *                      what the writer inserts as is), UTF-8, joined by '\n', no trailing newline
 *                      (a RowChunk's bytes, clickhouse/row-chunk.ts)
 * Records are appended in groups, each group written then fdatasync'd before any of its appends
 * is acknowledged. A record is valid iff its whole extent is in the file, 4 ≤ n ≤ MAX_RECORD_BYTES,
 * its CRC matches and it holds `rows` ≥ 1 lines; recovery cuts a segment at its first invalid
 * record (a torn tail after a crash: the group was never acknowledged). A zero-filled tail fails
 * the CRC (crc32 of four zero bytes is not 0).
 *
 * Ack file `<seq>.ack` (checkpoint of a segment): 8-byte entries, u32 offset of a committed
 * record | u32 (offset XOR 0xFFFFFFFF). Appended without fsync: a lost entry only means the
 * record is sent again after a power loss, and ai_usage collapses the duplicate. An entry that
 * does not check, or names no record, is ignored. A segment whose records are all committed is
 * deleted (segment first, then its ack file); an ack file without a segment is deleted at open.
 *
 * Lock file `LOCK`: `PID: <pid>` of the holder, which keeps it open under an OS lock (see lock.ts).
 */
import { countLines, type RowChunk } from '../../clickhouse/row-chunk.js';
import { crc32 } from './crc32.js';

export const SEGMENT_MAGIC = Buffer.from('GLSPOOL1', 'latin1');
export const SEGMENT_HEADER_BYTES = 16;
export const RECORD_HEADER_BYTES = 8;
/** Payload bytes before the lines (the row count). */
export const PAYLOAD_PREFIX_BYTES = 4;
/** Largest payload recovery accepts (a sanity bound on the length field). */
export const MAX_RECORD_BYTES = 512 * 1024 * 1024;
export const ACK_ENTRY_BYTES = 8;

const SEGMENT_NAME = /^(\d{16})\.wal$/;
const ACK_NAME = /^(\d{16})\.ack$/;

export function segmentName(seq: number): string {
  return `${String(seq).padStart(16, '0')}.wal`;
}

export function ackName(seq: number): string {
  return `${String(seq).padStart(16, '0')}.ack`;
}

/** The sequence number of a segment (`kind: 'wal'`) or ack (`'ack'`) file name, else undefined. */
export function parseSpoolFileName(name: string): { kind: 'wal' | 'ack'; seq: number } | undefined {
  let m = SEGMENT_NAME.exec(name);
  if (m) return { kind: 'wal', seq: Number(m[1]) };
  m = ACK_NAME.exec(name);
  if (m) return { kind: 'ack', seq: Number(m[1]) };
  return undefined;
}

export function segmentHeader(seq: number): Buffer {
  const header = Buffer.alloc(SEGMENT_HEADER_BYTES);
  SEGMENT_MAGIC.copy(header, 0);
  header.writeBigUInt64LE(BigInt(seq), 8);
  return header;
}

/** The segment's seq if `header` is a valid segment header, else undefined. */
export function readSegmentHeader(header: Buffer): number | undefined {
  if (header.length < SEGMENT_HEADER_BYTES) return undefined;
  if (!header.subarray(0, 8).equals(SEGMENT_MAGIC)) return undefined;
  const seq = header.readBigUInt64LE(8);
  return seq <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(seq) : undefined;
}

/** One record: header + payload, ready to append. */
export function encodeRecord(chunk: RowChunk): Buffer {
  const n = PAYLOAD_PREFIX_BYTES + chunk.bytes.byteLength;
  const buf = Buffer.allocUnsafe(RECORD_HEADER_BYTES + n);
  buf.writeUInt32LE(n, 0);
  buf.writeUInt32LE(chunk.rows, RECORD_HEADER_BYTES);
  buf.set(chunk.bytes, RECORD_HEADER_BYTES + PAYLOAD_PREFIX_BYTES);
  buf.writeUInt32LE(crc32(buf.subarray(RECORD_HEADER_BYTES)), 4);
  return buf;
}

export type RecordCheck =
  | { ok: true; length: number; rows: number }
  | { ok: false; reason: string };

/**
 * Checks the record starting at `buf[0]` (`buf` may extend past it). `ok` gives the record's total
 * length (header included) and row count; the lines are not split (see decodeLines).
 */
export function checkRecord(buf: Buffer, available = buf.length): RecordCheck {
  if (available < RECORD_HEADER_BYTES) return { ok: false, reason: `torn record header (${available} bytes)` };
  const n = buf.readUInt32LE(0);
  if (n < PAYLOAD_PREFIX_BYTES + 1 || n > MAX_RECORD_BYTES) return { ok: false, reason: `invalid record length ${n}` };
  if (available < RECORD_HEADER_BYTES + n) return { ok: false, reason: `torn record (${available - RECORD_HEADER_BYTES} of ${n} payload bytes)` };
  const payload = buf.subarray(RECORD_HEADER_BYTES, RECORD_HEADER_BYTES + n);
  const expected = buf.readUInt32LE(4);
  const actual = crc32(payload);
  if (actual !== expected) return { ok: false, reason: `record CRC mismatch (stored ${hex(expected)}, computed ${hex(actual)})` };
  const rows = payload.readUInt32LE(0);
  if (rows < 1) return { ok: false, reason: 'record with no rows' };
  return { ok: true, length: RECORD_HEADER_BYTES + n, rows };
}

/** The rows of a checked record (`buf` starts at the record header; a view, no copy); undefined if they are not `rows` lines. */
export function decodeChunk(buf: Buffer, length: number, rows: number): RowChunk | undefined {
  const bytes = buf.subarray(RECORD_HEADER_BYTES + PAYLOAD_PREFIX_BYTES, length);
  return countLines(bytes) === rows ? { bytes, rows } : undefined;
}

export function ackEntry(offset: number): Buffer {
  const b = Buffer.allocUnsafe(ACK_ENTRY_BYTES);
  b.writeUInt32LE(offset >>> 0, 0);
  b.writeUInt32LE((offset ^ 0xffffffff) >>> 0, 4);
  return b;
}

/** Offsets named by the valid entries of an ack file's content. */
export function readAckEntries(buf: Buffer): number[] {
  const out: number[] = [];
  for (let i = 0; i + ACK_ENTRY_BYTES <= buf.length; i += ACK_ENTRY_BYTES) {
    const offset = buf.readUInt32LE(i);
    if (((offset ^ 0xffffffff) >>> 0) === buf.readUInt32LE(i + 4)) out.push(offset);
  }
  return out;
}

function hex(n: number): string {
  return n.toString(16).padStart(8, '0');
}
