/** Helpers shared by the protobuf and JSON OTLP trace walkers. */
import type { AttributeValue, SpanRecord } from '../../usage/span-record.js';

export type OtlpEncoding = 'protobuf' | 'json';

export interface DecodeOptions {
  /** String attribute values (also inside arrays, and kvlist/bytes renderings) are cut to this many UTF-16 units. */
  readonly maxAttributeValueLength?: number;
}

export interface DecodedTraces {
  spans: SpanRecord[];
  /** Spans present in the request but dropped as malformed. */
  rejected: number;
  /** The first few rejection reasons, e.g. `span 3: invalid span_id`. */
  errors: string[];
}

/** How many rejection reasons a result keeps. */
export const MAX_REPORTED_ERRORS = 10;

/** Nesting allowed inside one attribute value (arrays / kvlists of arrays ...). */
export const MAX_VALUE_DEPTH = 32;

/** Thrown inside a span's conversion; caught by the walker, which rejects that span only. */
export class SpanRejection {
  constructor(readonly reason: string) {}
}

/** Accumulates the walk's result; `next` numbers spans across the whole request (0-based). */
export class ResultBuilder implements DecodedTraces {
  spans: SpanRecord[] = [];
  rejected = 0;
  errors: string[] = [];
  next = 0;

  reject(reason: string, count = 1): void {
    this.rejected += count;
    if (this.errors.length < MAX_REPORTED_ERRORS) this.errors.push(reason);
  }

  result(): DecodedTraces {
    return { spans: this.spans, rejected: this.rejected, errors: this.errors };
  }
}

/** A frozen empty attribute map shared by spans/resources without attributes. */
export const EMPTY_ATTRIBUTES: Readonly<Record<string, AttributeValue>> = Object.freeze({});

// ---------------------------------------------------------------------------------------------
// Ids

const HEX: string[] = [];
for (let i = 0; i < 256; i++) HEX.push((i < 16 ? '0' : '') + i.toString(16));

/** Lowercase hex of `bytes` when it has exactly `length` bytes and is not all zeros, else null. */
export function bytesToId(bytes: Uint8Array | null | undefined, length: number): string | null {
  if (!bytes || bytes.length !== length) return null;
  let s = '';
  let any = 0;
  for (let i = 0; i < length; i++) {
    const b = bytes[i]!;
    any |= b;
    s += HEX[b];
  }
  return any === 0 ? null : s;
}

/** Lowercase hex of arbitrary bytes (bytesValue attributes). */
export function bytesToHex(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += HEX[bytes[i]!];
  return s;
}

const LOWER_HEX = /^[0-9a-f]+$/;
const ANY_HEX = /^[0-9a-fA-F]+$/;
const ZERO_TRACE_ID = '0'.repeat(32);
const ZERO_SPAN_ID = '0'.repeat(16);

/** An OTLP/JSON hex id normalised to lowercase; null when not `hexLength` hex chars or all zeros. */
export function hexToId(value: unknown, hexLength: 32 | 16): string | null {
  if (typeof value !== 'string' || value.length !== hexLength) return null;
  let id = value;
  if (!LOWER_HEX.test(id)) {
    if (!ANY_HEX.test(id)) return null;
    id = id.toLowerCase();
  }
  return id === (hexLength === 32 ? ZERO_TRACE_ID : ZERO_SPAN_ID) ? null : id;
}

/** Short, printable rendering of a bad input value for an error message. */
export function preview(value: unknown): string {
  let s: string;
  if (typeof value === 'string') s = JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value);
  else if (value === null || typeof value !== 'object') s = String(value);
  else s = Array.isArray(value) ? 'an array' : 'an object';
  return s;
}

// ---------------------------------------------------------------------------------------------
// Time: nanoseconds → microseconds, exact for any time before year 2255.

/**
 * Sub-microsecond remainder (0..999) of the last nanosecond value converted by a `*NanosToMicros`
 * helper. Lets the walker compare end < start at nanosecond precision without allocating a pair.
 */
export let lastNanosRemainder = 0;

/**
 * Unsigned 64-bit nanos given as two uint32 halves → micros.
 * hi·2^32 + lo = hi·4294967·1000 + (hi·296 + lo): both parts stay far below 2^53.
 */
export function bitsNanosToMicros(hi: number, lo: number): number {
  const rest = hi * 296 + lo;
  const restMicros = Math.floor(rest / 1000);
  lastNanosRemainder = rest - restMicros * 1000;
  return hi * 4294967 + restMicros;
}

const DIGITS = /^[0-9]+$/;

/**
 * OTLP/JSON fixed64 nanos (decimal string, or a number) → micros; -1 when missing or malformed.
 * Strings are sliced, never parsed whole, so 19-digit values keep their precision.
 */
export function jsonNanosToMicros(value: unknown): number {
  if (typeof value === 'string') {
    const n = value.length;
    if (n === 0 || !DIGITS.test(value)) return -1;
    if (n <= 3) {
      lastNanosRemainder = Number(value);
      return 0;
    }
    lastNanosRemainder = Number(value.slice(n - 3));
    return Number(value.slice(0, n - 3));
  }
  if (typeof value === 'number') {
    if (!(value >= 0) || !Number.isFinite(value)) return -1;
    const micros = Math.floor(value / 1000);
    lastNanosRemainder = Number.isSafeInteger(value) ? value - micros * 1000 : 0;
    return micros;
  }
  return -1;
}

// ---------------------------------------------------------------------------------------------
// Values

/** Cuts `s` to `max` UTF-16 units without leaving half a surrogate pair. */
export function truncate(s: string, max: number): string {
  if (s.length <= max) return s;
  let end = max;
  const c = s.charCodeAt(end - 1);
  if (c >= 0xd800 && c <= 0xdbff) end--;
  return s.slice(0, end);
}

/** Sets `key` on a plain attribute map; `__proto__` is defined as an own property, never as the prototype. */
export function setAttribute(target: Record<string, AttributeValue>, key: string, value: AttributeValue): void {
  if (key === '__proto__') {
    Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    target[key] = value;
  }
}

/** A JSON-able view of a nested value (kvlist members / nested arrays), stringified by the caller. */
export type PlainValue = string | number | boolean | null | PlainValue[] | { [key: string]: PlainValue };
