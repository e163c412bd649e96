/**
 * OTLP `Span` messages read straight from the wire into SpanRecords (the streaming walker's span
 * decoder), and the span validation shared with the protobufjs reference walker (`spanRecord`).
 *
 * The reader reproduces protobufjs's generated decoders field for field, so both walkers agree on
 * every input: a known field with another wire type is skipped like an unknown one
 * (`skipType(wireType, depth, field)`), singular fields keep the last occurrence, a repeated
 * KeyValue.value merges (protobufjs decodes into the same AnyValue: array values and kvlist
 * entries accumulate, the last member read gives the kind), nested messages check the recursion
 * limit before their bounds, and fields the walker ignores are still read (strings checked as
 * UTF-8, varints bounded to 10 bytes, links' attributes decoded). Unlike protobufjs it builds no
 * Span, KeyValue, AnyValue or Long objects: values are converted as they are read.
 */
import protobuf from 'protobufjs';
import type { AttributeValue, SpanEvent, SpanRecord } from '../../usage/span-record.js';
import {
  bitsNanosToMicros,
  bytesToHex,
  bytesToId,
  EMPTY_ATTRIBUTES,
  lastNanosRemainder,
  type PlainValue,
  ResultBuilder,
  setAttribute,
  truncate,
} from './common.js';

type Reader = protobuf.Reader;
type Attributes = Record<string, AttributeValue>;
type PlainObject = { [key: string]: PlainValue };

export const EMPTY_EVENTS: readonly SpanEvent[] = Object.freeze([]);
const EMPTY_BYTES = new Uint8Array(0);

/** protobufjs's bounds error, same text. */
export function indexOutOfRange(pos: number, length: number, len: number): RangeError {
  return new RangeError(`index out of range: ${pos} + ${length} > ${len}`);
}

// ---------------------------------------------------------------------------------------------
// Span fields → SpanRecord (shared with the reference walker)

/** A Span's fields as both walkers collect them; times are fixed64 nanos as uint32 halves. */
export class SpanFields {
  traceId: Uint8Array = EMPTY_BYTES;
  spanId: Uint8Array = EMPTY_BYTES;
  parentSpanId: Uint8Array = EMPTY_BYTES;
  name = '';
  startHi = 0;
  startLo = 0;
  endHi = 0;
  endLo = 0;
  attributes: Readonly<Attributes> = EMPTY_ATTRIBUTES;
  events: readonly SpanEvent[] = EMPTY_EVENTS;
  statusCode = 0;
  statusMessage = '';
}

/** Validates ids and times; the record, or null once the span is rejected through `out`. */
export function spanRecord(
  f: SpanFields,
  resource: SpanRecord['resource'],
  scopeName: string,
  out: ResultBuilder,
  index: number,
): SpanRecord | null {
  const traceId = bytesToId(f.traceId, 16);
  if (traceId === null) return reject(out, index, 'trace_id', f.traceId, 16);
  const spanId = bytesToId(f.spanId, 8);
  if (spanId === null) return reject(out, index, 'span_id', f.spanId, 8);
  let parentSpanId = '';
  const parent = f.parentSpanId;
  if (parent.length !== 0) {
    const id = bytesToId(parent, 8);
    // An all-zero parent is treated as "no parent" (some senders write zeros for roots).
    if (id !== null) parentSpanId = id;
    else if (parent.length !== 8) return reject(out, index, 'parent_span_id', parent, 8);
  }

  if (f.startHi === 0 && f.startLo === 0) {
    out.reject(`span ${index}: missing start_time_unix_nano`);
    return null;
  }
  const startMicros = bitsNanosToMicros(f.startHi, f.startLo);
  const startRem = lastNanosRemainder;
  const endMicros = bitsNanosToMicros(f.endHi, f.endLo);
  if (endMicros < startMicros || (endMicros === startMicros && lastNanosRemainder < startRem)) {
    out.reject(
      f.endHi === 0 && f.endLo === 0
        ? `span ${index}: missing end_time_unix_nano`
        : `span ${index}: end_time_unix_nano is before start_time_unix_nano`,
    );
    return null;
  }

  const code = f.statusCode;
  return {
    traceId,
    spanId,
    parentSpanId,
    name: f.name,
    startUnixMicros: startMicros,
    endUnixMicros: endMicros,
    attributes: f.attributes,
    resource,
    scopeName,
    statusCode: code === 1 || code === 2 ? code : 0,
    statusMessage: f.statusMessage,
    events: f.events,
  };
}

function reject(out: ResultBuilder, index: number, field: string, bytes: Uint8Array, length: number): null {
  const why = bytes.length === length ? 'all zeros' : `${bytes.length} bytes, expected ${length}`;
  out.reject(`span ${index}: invalid ${field} (${why})`);
  return null;
}

/** int64 halves (high signed) → number when exactly representable, else null. */
export function safeInt64(high: number, low: number): number | null {
  if (high >= -0x200000 && high < 0x200000) {
    const n = high * 4294967296 + (low >>> 0);
    if (n !== -9007199254740992) return n;
  }
  return null;
}

/** Sets a kvlist member on a plain object; `__proto__` becomes an own property, never the prototype. */
export function setPlain(o: PlainObject, key: string, value: PlainValue): void {
  if (key === '__proto__') Object.defineProperty(o, key, { value, enumerable: true, writable: true });
  else o[key] = value;
}

// ---------------------------------------------------------------------------------------------
// Wire reader. Message depths as protobufjs counts them when the walker decodes a Span on its own:
// Span 0; its attributes, events, links and status 1; an AnyValue one below its KeyValue, an
// ArrayValue / KeyValueList one below its AnyValue.

/**
 * Reads a nested message's length and narrows the reader to it, returning the enclosing limit
 * (restore with `reader.len = outer`). Same checks, order and errors as protobufjs's decoders.
 */
function enterMessage(reader: Reader, depth: number): number {
  const length = reader.size();
  if (depth > protobuf.Reader.recursionLimit) throw new Error('max depth exceeded');
  const end = reader.pos + length;
  if (end > reader.len) throw new RangeError('index out of range');
  const outer = reader.len;
  reader.len = end;
  return outer;
}

/** Steps over a fixed64 and returns its offset: read as two uint32 halves, no Long built. */
function fixed64At(reader: Reader): number {
  const pos = reader.pos;
  if (pos + 8 > reader.len) throw indexOutOfRange(pos, 8, reader.len);
  reader.pos = pos + 8;
  return pos;
}

function uint32le(buf: Uint8Array, pos: number): number {
  return (buf[pos]! | (buf[pos + 1]! << 8) | (buf[pos + 2]! << 16) | (buf[pos + 3]! << 24)) >>> 0;
}

/** A varint int64 → number or exact decimal string; bit layout and errors as protobufjs's readLongVarint. */
function readInt64(reader: Reader): number | string {
  const buf = reader.buf;
  const len = reader.len;
  let pos = reader.pos;
  let lo = 0;
  let hi = 0;
  for (let i = 0; i < 10; i++) {
    if (pos >= len) throw indexOutOfRange(pos, 1, len);
    const b = buf[pos++]!;
    const bits = b & 127;
    if (i < 4) lo |= bits << (i * 7);
    else if (i === 4) {
      lo |= bits << 28;
      hi = bits >> 4;
    } else hi |= bits << (i * 7 - 32);
    if (b < 128) {
      reader.pos = pos;
      return safeInt64(hi | 0, lo) ?? ((BigInt(hi | 0) << 32n) | BigInt(lo >>> 0)).toString();
    }
  }
  throw new Error('invalid varint encoding');
}

/** Reads a Span message into its record (null when rejected through `out`). */
export function readSpan(
  reader: Reader,
  resource: SpanRecord['resource'],
  scopeName: string,
  maxLength: number,
  out: ResultBuilder,
  index: number,
): SpanRecord | null {
  const outer = enterMessage(reader, 0);
  const f = new SpanFields();
  let attributes: Attributes | null = null;
  let events: SpanEvent[] | null = null;
  while (reader.pos < reader.len) {
    const tag = reader.tag();
    switch (tag) {
      case (1 << 3) | 2: // trace_id
        f.traceId = reader.bytes();
        break;
      case (2 << 3) | 2: // span_id
        f.spanId = reader.bytes();
        break;
      case (4 << 3) | 2: // parent_span_id
        f.parentSpanId = reader.bytes();
        break;
      case (5 << 3) | 2: // name
        f.name = reader.stringVerify();
        break;
      case (7 << 3) | 1: {
        // start_time_unix_nano
        const at = fixed64At(reader);
        f.startLo = uint32le(reader.buf, at);
        f.startHi = uint32le(reader.buf, at + 4);
        break;
      }
      case (8 << 3) | 1: {
        // end_time_unix_nano
        const at = fixed64At(reader);
        f.endLo = uint32le(reader.buf, at);
        f.endHi = uint32le(reader.buf, at + 4);
        break;
      }
      case (9 << 3) | 2: // attributes
        readKeyValue(reader, 1, (attributes ??= {}), ATTRIBUTE, maxLength);
        break;
      case (11 << 3) | 2: // events
        (events ??= []).push(readEvent(reader, maxLength));
        break;
      case (15 << 3) | 2: // status (merged)
        readStatus(reader, f);
        break;
      case (13 << 3) | 2: // links: read for their errors only
        readLink(reader);
        break;
      case (3 << 3) | 2: // trace_state
        reader.stringVerify();
        break;
      case (6 << 3) | 0: // kind
      case (10 << 3) | 0: // dropped_attributes_count
      case (12 << 3) | 0: // dropped_events_count
      case (14 << 3) | 0: // dropped_links_count
        reader.uint32();
        break;
      default: // flags (fixed32), unknown fields, known fields with another wire type
        reader.skipType(tag & 7, 0, tag >>> 3);
    }
  }
  reader.len = outer;
  if (attributes !== null) f.attributes = attributes;
  if (events !== null) f.events = events;
  return spanRecord(f, resource, scopeName, out, index);
}

/** Span.Event: only name and attributes are kept. */
function readEvent(reader: Reader, maxLength: number): SpanEvent {
  const outer = enterMessage(reader, 1);
  let name = '';
  let attributes: Attributes | null = null;
  while (reader.pos < reader.len) {
    const tag = reader.tag();
    if (tag === ((2 << 3) | 2)) name = reader.stringVerify();
    else if (tag === ((3 << 3) | 2)) readKeyValue(reader, 2, (attributes ??= {}), ATTRIBUTE, maxLength);
    else if (tag === ((4 << 3) | 0)) reader.uint32(); // dropped_attributes_count
    else reader.skipType(tag & 7, 1, tag >>> 3); // time_unix_nano (fixed64: bounds as skip(8)), unknown
  }
  reader.len = outer;
  return { name, attributes: attributes ?? EMPTY_ATTRIBUTES };
}

/** Status: message = 2, code = 3; a repeated status merges into the same fields. */
function readStatus(reader: Reader, f: SpanFields): void {
  const outer = enterMessage(reader, 1);
  while (reader.pos < reader.len) {
    const tag = reader.tag();
    if (tag === ((2 << 3) | 2)) f.statusMessage = reader.stringVerify();
    else if (tag === ((3 << 3) | 0)) f.statusCode = reader.int32();
    else reader.skipType(tag & 7, 1, tag >>> 3);
  }
  reader.len = outer;
}

/** Span.Link, read as protobufjs reads it (UTF-8, varints, nested attributes) and dropped. */
function readLink(reader: Reader): void {
  const outer = enterMessage(reader, 1);
  while (reader.pos < reader.len) {
    const tag = reader.tag();
    if (tag === ((3 << 3) | 2)) reader.stringVerify(); // trace_state
    else if (tag === ((4 << 3) | 2)) readKeyValue(reader, 2, {}, ATTRIBUTE, Infinity);
    else if (tag === ((5 << 3) | 0)) reader.uint32(); // dropped_attributes_count
    else reader.skipType(tag & 7, 1, tag >>> 3); // ids (bytes: bounds as skip), flags, unknown
  }
  reader.len = outer;
}

// ---------------------------------------------------------------------------------------------
// KeyValue / AnyValue

/**
 * Where an AnyValue sits, which decides its conversion (as pbValue / pbArray / pbPlain do):
 * an attribute's value, a member of an attribute's array, or inside a nested array / kvlist
 * (kept whole, stringified once by the enclosing member).
 */
const ATTRIBUTE = 0;
const ELEMENT = 1;
const NESTED = 2;
type Context = typeof ATTRIBUTE | typeof ELEMENT | typeof NESTED;

const NONE = 0;
const TEXT = 1; // string or bytes (hex): both cut to maxLength
const SCALAR = 2; // bool, int64, double
const ARRAY = 3;
const KVLIST = 4;

/** One AnyValue being read, merged across repeated fields: the last member read gives the kind. */
class AnyValueState {
  kind = NONE;
  scalar: string | number | boolean = '';
  items: PlainValue[] | null = null;
  entries: PlainObject | null = null;
}

/**
 * One state per message depth: at a depth only one AnyValue is open at a time (siblings are read
 * one after another, nested values are deeper), so none is allocated per value.
 */
const states: AnyValueState[] = [];

function freshState(depth: number): AnyValueState {
  const s = (states[depth] ??= new AnyValueState());
  s.kind = NONE;
  s.items = null;
  s.entries = null;
  return s;
}

/** KeyValue into `target`: an attribute map (empty values dropped) or a kvlist's plain object. */
function readKeyValue(reader: Reader, depth: number, target: Attributes | PlainObject, context: Context, maxLength: number): void {
  const outer = enterMessage(reader, depth);
  const state = freshState(depth + 1);
  let key = '';
  while (reader.pos < reader.len) {
    const tag = reader.tag();
    if (tag === ((1 << 3) | 2)) key = readKey(reader);
    else if (tag === ((2 << 3) | 2)) readAnyValue(reader, depth + 1, state, context, maxLength);
    else reader.skipType(tag & 7, depth, tag >>> 3);
  }
  reader.len = outer;
  const value = valueOf(state, context, maxLength);
  if (context !== ATTRIBUTE) setPlain(target as PlainObject, key, value as PlainValue);
  else if (value !== undefined) setAttribute(target as Attributes, key, value as AttributeValue);
}

/** Slots in the key cache (a power of two). */
const KEY_SLOTS = 512;
const keyCache: string[] = new Array<string>(KEY_SLOTS).fill('');

/**
 * A KeyValue's key. The same keys come in every span: an ASCII key whose bytes equal the cached
 * key in its slot is returned as that string, already internalized as a property name (no slice,
 * no garbage, no string-table lookup when it is stored); measured ~1.2x on the walker. Any other
 * key is read by `stringVerify` (UTF-8 checked, same errors), and cached if ASCII.
 */
function readKey(reader: Reader): string {
  const at = reader.pos;
  const length = reader.uint32();
  const start = reader.pos;
  const end = start + length;
  if (end <= reader.len) {
    const slot = asciiSlot(reader.buf, start, end);
    if (slot >= 0) {
      const cached = keyCache[slot]!;
      if (cached.length === length && sameAscii(cached, reader.buf, start)) {
        reader.pos = end;
        return cached;
      }
      reader.pos = at;
      return (keyCache[slot] = reader.stringVerify());
    }
  }
  reader.pos = at;
  return reader.stringVerify();
}

/** The cache slot of ASCII bytes (FNV-1a), or -1 if a byte is not ASCII. */
function asciiSlot(buf: Uint8Array, start: number, end: number): number {
  let hash = 0x811c9dc5;
  for (let i = start; i < end; i++) {
    const b = buf[i]!;
    if (b >= 0x80) return -1;
    hash = Math.imul(hash ^ b, 0x01000193);
  }
  return hash & (KEY_SLOTS - 1);
}

function sameAscii(s: string, buf: Uint8Array, start: number): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) !== buf[start + i]) return false;
  return true;
}

function readAnyValue(reader: Reader, depth: number, s: AnyValueState, context: Context, maxLength: number): void {
  const outer = enterMessage(reader, depth);
  while (reader.pos < reader.len) {
    const tag = reader.tag();
    switch (tag) {
      case (1 << 3) | 2: // string_value
        s.scalar = reader.stringVerify();
        s.kind = TEXT;
        break;
      case (2 << 3) | 0: // bool_value
        s.scalar = reader.bool();
        s.kind = SCALAR;
        break;
      case (3 << 3) | 0: // int_value
        s.scalar = readInt64(reader);
        s.kind = SCALAR;
        break;
      case (4 << 3) | 1: // double_value
        s.scalar = reader.double();
        s.kind = SCALAR;
        break;
      case (5 << 3) | 2: // array_value: members of an attribute's array are cut, deeper ones kept whole
        if (context === ATTRIBUTE) readArray(reader, depth + 1, (s.items ??= []), ELEMENT, maxLength);
        else readArray(reader, depth + 1, (s.items ??= []), NESTED, Infinity);
        s.kind = ARRAY;
        break;
      case (6 << 3) | 2: // kvlist_value
        readKvlist(reader, depth + 1, (s.entries ??= {}));
        s.kind = KVLIST;
        break;
      case (7 << 3) | 2: // bytes_value
        s.scalar = bytesToHex(reader.bytes());
        s.kind = TEXT;
        break;
      default:
        reader.skipType(tag & 7, depth, tag >>> 3);
    }
  }
  reader.len = outer;
}

/** ArrayValue: values = 1, each converted for `context`; an empty one is null. */
function readArray(reader: Reader, depth: number, items: PlainValue[], context: Context, maxLength: number): void {
  const outer = enterMessage(reader, depth);
  while (reader.pos < reader.len) {
    const tag = reader.tag();
    if (tag === ((1 << 3) | 2)) {
      const state = freshState(depth + 1);
      readAnyValue(reader, depth + 1, state, context, maxLength);
      items.push(valueOf(state, context, maxLength) as PlainValue);
    } else {
      reader.skipType(tag & 7, depth, tag >>> 3);
    }
  }
  reader.len = outer;
}

/** KeyValueList: values = 1, members kept whole. */
function readKvlist(reader: Reader, depth: number, entries: PlainObject): void {
  const outer = enterMessage(reader, depth);
  while (reader.pos < reader.len) {
    const tag = reader.tag();
    if (tag === ((1 << 3) | 2)) readKeyValue(reader, depth + 1, entries, NESTED, Infinity);
    else reader.skipType(tag & 7, depth, tag >>> 3);
  }
  reader.len = outer;
}

/** The read AnyValue converted for its context; an empty one is undefined for an attribute (dropped), else null. */
function valueOf(s: AnyValueState, context: Context, maxLength: number): AttributeValue | PlainValue | undefined {
  switch (s.kind) {
    case TEXT:
      return truncate(s.scalar as string, maxLength);
    case SCALAR:
      return s.scalar;
    case ARRAY:
      return context === ELEMENT ? truncate(JSON.stringify(s.items), maxLength) : s.items;
    case KVLIST:
      return context === NESTED ? s.entries : truncate(JSON.stringify(s.entries), maxLength);
    default:
      return context === ATTRIBUTE ? undefined : null;
  }
}
