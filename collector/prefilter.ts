/**
 * Skips ordinary spans before they are decoded. Most of a service's spans are not AI calls, and
 * fully decoding a span (every attribute value) costs far more than mapping it; so OTLP/protobuf
 * requests are first scanned at the wire level with protobufjs's Reader (the envelope as
 * decode-protobuf.ts walks it, then per span only the ids, times and attribute *keys*), and only
 * spans that may be AI calls are decoded.
 *
 * A span is kept when
 * - one of its attribute keys is one the classifier (usage/classify.ts `callOperation`) looks
 *   at: without any of them a span is never an AI call (CLASSIFIER_KEYS), or
 * - it looks malformed (ids of the wrong length or all zeros, start time missing, end before
 *   start, or anything unreadable): the real decoder then rejects it with its own reason, so
 *   partial_success counts exactly as if nothing had been skipped.
 * When every span is kept the original body is decoded as is; otherwise a smaller request with the
 * same envelopes (resource and scope fields copied byte for byte) and only the kept spans is built.
 * A body the scan cannot walk is handed to the decoder unchanged (which then reports it).
 */
import protobuf from 'protobufjs';
import { KEYS } from '../usage/conventions.js';

/** Every attribute key `callOperation` reads before it can answer "an AI call". */
export const CLASSIFIER_KEYS: readonly string[] = [
  KEYS.aiSdkOperationId,
  ...KEYS.operation,
  KEYS.openInferenceKind,
  KEYS.traceloopSpanKind,
  KEYS.traceloopRequestType,
  KEYS.langfuseObservationType,
  ...KEYS.requestModel,
  ...KEYS.responseModel,
];

/** The keys as UTF-8 bytes, by byte length: a key is compared only with keys of its length. */
const KEYS_BY_LENGTH: Array<Buffer[] | undefined> = [];
for (const key of new Set(CLASSIFIER_KEYS)) {
  const bytes = Buffer.from(key, 'utf8');
  (KEYS_BY_LENGTH[bytes.length] ??= []).push(bytes);
}

const LEN = 2;
const FIELD_1_LEN = (1 << 3) | LEN;
const FIELD_2_LEN = (2 << 3) | LEN;

export interface PrefilterResult {
  /** The request to decode: the original body, a smaller one, or null when no span needs decoding. */
  body: Uint8Array | null;
  /** Spans in the original request. */
  total: number;
  /** Spans left in `body`. */
  kept: number;
  /** Original index of each kept span (only when spans were dropped), to renumber decode errors. */
  keptIndex?: number[];
}

interface Slice {
  start: number;
  end: number;
}

interface ScopePart {
  scopes: Slice[];
  spans: Slice[];
}

interface ResourcePart {
  resources: Slice[];
  scopeSpans: ScopePart[];
}

class Unreadable extends Error {}

function asBuffer(body: Uint8Array): Buffer {
  return Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
}

/** Reads a length prefix; returns the field's [start, end) and leaves the reader at its start. */
function field(reader: protobuf.Reader): Slice {
  const length = reader.uint32();
  const start = reader.pos;
  const end = start + length;
  if (end > reader.len) throw new Unreadable();
  return { start, end };
}

export function prefilterProtobuf(body: Uint8Array): PrefilterResult {
  const buf = asBuffer(body);
  const resources: ResourcePart[] = [];
  let total = 0;
  const keptIndex: number[] = [];
  try {
    const reader = protobuf.Reader.create(buf);
    const scan = protobuf.Reader.create(buf);
    while (reader.pos < reader.len) {
      const tag = reader.uint32();
      if (tag !== FIELD_1_LEN) {
        reader.skipType(tag & 7);
        continue;
      }
      const rs = field(reader);
      const part: ResourcePart = { resources: [], scopeSpans: [] };
      resources.push(part);
      const outer = reader.len;
      reader.len = rs.end;
      while (reader.pos < reader.len) {
        const t = reader.uint32();
        if (t === FIELD_1_LEN) {
          const f = field(reader);
          part.resources.push(f);
          reader.pos = f.end;
        } else if (t === FIELD_2_LEN) {
          const ss = field(reader);
          const scope: ScopePart = { scopes: [], spans: [] };
          part.scopeSpans.push(scope);
          const outer2 = reader.len;
          reader.len = ss.end;
          while (reader.pos < reader.len) {
            const u = reader.uint32();
            if (u === FIELD_1_LEN) {
              const f = field(reader);
              scope.scopes.push(f);
              reader.pos = f.end;
            } else if (u === FIELD_2_LEN) {
              const span = field(reader);
              if (mayMatter(buf, scan, span)) {
                scope.spans.push(span);
                keptIndex.push(total);
              }
              total++;
              reader.pos = span.end;
            } else {
              reader.skipType(u & 7);
            }
          }
          reader.len = outer2;
        } else {
          reader.skipType(t & 7);
        }
      }
      reader.len = outer;
    }
  } catch {
    // Not walkable: let the decoder say what is wrong with it.
    return { body, total: 0, kept: 0 };
  }

  const kept = keptIndex.length;
  if (kept === total) return { body, total, kept };
  if (kept === 0) return { body: null, total, kept, keptIndex };

  const w = protobuf.Writer.create();
  for (const part of resources) {
    if (!part.scopeSpans.some((s) => s.spans.length > 0)) continue;
    w.uint32(FIELD_1_LEN).fork();
    for (const r of part.resources) w.uint32(FIELD_1_LEN).bytes(buf.subarray(r.start, r.end));
    for (const scope of part.scopeSpans) {
      if (scope.spans.length === 0) continue;
      w.uint32(FIELD_2_LEN).fork();
      for (const s of scope.scopes) w.uint32(FIELD_1_LEN).bytes(buf.subarray(s.start, s.end));
      for (const s of scope.spans) w.uint32(FIELD_2_LEN).bytes(buf.subarray(s.start, s.end));
      w.ldelim();
    }
    w.ldelim();
  }
  return { body: w.finish(), total, kept, keptIndex };
}

/**
 * True when the span may be an AI call (a classifier key among its attribute keys) or may be
 * malformed; false only for a well-formed span that is certainly not an AI call.
 */
function mayMatter(buf: Buffer, reader: protobuf.Reader, span: Slice): boolean {
  reader.pos = span.start;
  reader.len = span.end;
  let traceOk = false;
  let spanOk = false;
  let parentOk = true;
  let startLo = 0;
  let startHi = 0;
  let endLo = 0;
  let endHi = 0;
  let ai = false;
  try {
    while (reader.pos < reader.len) {
      const tag = reader.uint32();
      switch (tag) {
        case (1 << 3) | LEN: {
          const f = field(reader);
          traceOk = f.end - f.start === 16 && !allZero(buf, f);
          reader.pos = f.end;
          break;
        }
        case (2 << 3) | LEN: {
          const f = field(reader);
          spanOk = f.end - f.start === 8 && !allZero(buf, f);
          reader.pos = f.end;
          break;
        }
        case (4 << 3) | LEN: {
          const f = field(reader);
          parentOk = f.end - f.start === 0 || f.end - f.start === 8;
          reader.pos = f.end;
          break;
        }
        case (7 << 3) | 1: // fixed64 start_time_unix_nano
          if (reader.pos + 8 > reader.len) return true;
          startLo = buf.readUInt32LE(reader.pos);
          startHi = buf.readUInt32LE(reader.pos + 4);
          reader.pos += 8;
          break;
        case (8 << 3) | 1: // fixed64 end_time_unix_nano
          if (reader.pos + 8 > reader.len) return true;
          endLo = buf.readUInt32LE(reader.pos);
          endHi = buf.readUInt32LE(reader.pos + 4);
          reader.pos += 8;
          break;
        case (9 << 3) | LEN: {
          const length = reader.uint32();
          const end = reader.pos + length;
          if (end > reader.len) return true;
          if (!ai && keyIsClassifierKey(buf, reader, end)) ai = true;
          reader.pos = end;
          break;
        }
        default:
          reader.skipType(tag & 7);
      }
    }
  } catch {
    return true;
  }
  if (ai) return true;
  const startMissing = startLo === 0 && startHi === 0;
  const endBeforeStart = endHi < startHi || (endHi === startHi && endLo < startLo);
  return !traceOk || !spanOk || !parentOk || startMissing || endBeforeStart;
}

/** KeyValue { string key = 1; AnyValue value = 2; }: is the key one of CLASSIFIER_KEYS? (Bytes compared, no string made.) */
function keyIsClassifierKey(buf: Buffer, reader: protobuf.Reader, kvEnd: number): boolean {
  const outer = reader.len;
  reader.len = kvEnd;
  try {
    while (reader.pos < reader.len) {
      const tag = reader.uint32();
      if (tag === FIELD_1_LEN) {
        const length = reader.uint32();
        const start = reader.pos;
        if (start + length > kvEnd) throw new Unreadable();
        const candidates = KEYS_BY_LENGTH[length];
        if (candidates === undefined) return false;
        for (const key of candidates) {
          let i = 0;
          while (i < length && buf[start + i] === key[i]) i++;
          if (i === length) return true;
        }
        return false;
      }
      reader.skipType(tag & 7);
    }
    return false;
  } finally {
    reader.len = outer;
  }
}

function allZero(buf: Buffer, f: Slice): boolean {
  for (let i = f.start; i < f.end; i++) if (buf[i] !== 0) return false;
  return true;
}

/** `span 3: ...` (an index into the filtered request) → the span's index in the original request. */
export function renumberErrors(errors: string[], keptIndex: readonly number[] | undefined): string[] {
  if (!keptIndex) return errors;
  return errors.map((e) => e.replace(/^span (\d+):/, (whole, n: string) => {
    const original = keptIndex[Number(n)];
    return original === undefined ? whole : `span ${original}:`;
  }));
}
