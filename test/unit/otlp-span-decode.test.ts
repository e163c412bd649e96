/**
 * The streaming walker's wire-level Span reader (collector/otlp/span-decode.ts) against the
 * reference walker (protobufjs decodes the whole request): random requests written field by field
 * with protobufjs's Writer (every AnyValue kind, nesting, repeated and merged fields, fields in any
 * order, unknown fields and known fields with another wire type, malformed ids and times, events,
 * statuses, links), then truncated and garbled copies of them; plus the recursion limit, invalid
 * UTF-8 and the key cache's edges.
 */
import { isDeepStrictEqual } from 'node:util';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { decodeProtobufTraces, decodeProtobufTracesWhole } from '../../collector/otlp/decode-protobuf.js';
import type { DecodedTraces } from '../../collector/otlp/common.js';
import { OtlpDecodeError } from '../../collector/otlp/errors.js';
import { otlpTraceRoot } from '../../collector/otlp/schema.js';

type Bytes = Uint8Array;
const Scope = otlpTraceRoot.lookupType('opentelemetry.proto.common.v1.InstrumentationScope');

const cat = (...parts: Bytes[]): Bytes => Buffer.concat(parts);
const tag = (field: number, wire: number): Bytes => protobuf.Writer.create().uint32((field << 3) | wire).finish();
const lenField = (field: number, bytes: Bytes): Bytes => protobuf.Writer.create().uint32((field << 3) | 2).bytes(bytes).finish();
const strField = (field: number, s: string): Bytes => lenField(field, Buffer.from(s, 'utf8'));
const varintField = (field: number, v: string): Bytes => protobuf.Writer.create().uint32(field << 3).int64(v).finish();
const fixed64Field = (field: number, v: bigint): Bytes =>
  protobuf.Writer.create().uint32((field << 3) | 1).fixed32(Number(v & 0xffffffffn)).fixed32(Number(v >> 32n)).finish();
const doubleField = (field: number, x: number): Bytes => protobuf.Writer.create().uint32((field << 3) | 1).double(x).finish();

/** Deterministic PRNG (mulberry32). */
function rng(seed: number) {
  let a = seed;
  const next = (): number => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number): number => Math.floor(next() * n);
  return {
    int,
    chance: (p: number): boolean => next() < p,
    pick: <T>(list: readonly T[]): T => list[int(list.length)]!,
    bytes: (n: number): Bytes => Uint8Array.from({ length: n }, () => int(256)),
    shuffle: <T>(list: T[]): T[] => {
      for (let i = list.length - 1; i > 0; i--) {
        const j = int(i + 1);
        [list[i], list[j]] = [list[j]!, list[i]!];
      }
      return list;
    },
  };
}
type Rng = ReturnType<typeof rng>;

const KEYS = [
  'gen_ai.request.model', 'gen_ai.usage.input_tokens', 'k', 'kk', 'k1', '', '__proto__', 'constructor', 'clé', '键', 'a"b\\c',
];
const CHARS = ['a', 'b', 'Z', '0', '.', ' ', '"', '\\', 'é', '中', '😀', '\n'];
const INTS = [
  '0', '1', '-1', '42', '4294967295', '4294967296', '-4294967296', '9007199254740991', '9007199254740992',
  '-9007199254740991', '-9007199254740992', '-9007199254740993', '9223372036854775807', '-9223372036854775808',
];
const DOUBLES = [0, -0, 1.5, -2.25, 1e21, 5e-324, NaN, Infinity, -Infinity];
const MAX_LENGTHS = [Infinity, 1, 2, 5, 16, 100];

function randomString(r: Rng): string {
  const n = r.chance(0.1) ? 40 + r.int(100) : r.int(12);
  let s = '';
  for (let i = 0; i < n; i++) s += r.pick(CHARS);
  return s;
}

function randomKey(r: Rng): string {
  return r.chance(0.7) ? r.pick(KEYS) : `key.${r.int(2000)}`;
}

/** A varint of 1..10 bytes (non-minimal encodings included), raw. */
function rawVarint(r: Rng): Bytes {
  const n = 1 + r.int(10);
  const out = r.bytes(n).map((b, i) => (i < n - 1 ? b | 0x80 : b & 0x7f));
  return out;
}

/** An unknown field, or a field of `wires` (field → declared wire type) with another wire type. */
function noise(r: Rng, wires: Record<number, number>): Bytes {
  const known = Object.keys(wires).map(Number);
  const field = r.chance(0.5) && known.length > 0 ? r.pick(known) : 17 + r.int(2000);
  const wire = r.pick([0, 1, 2, 3, 5].filter((w) => w !== wires[field]));
  switch (wire) {
    case 0:
      return cat(tag(field, 0), rawVarint(r));
    case 1:
      return cat(tag(field, 1), r.bytes(8));
    case 2:
      return lenField(field, r.bytes(r.int(6)));
    case 3:
      return cat(tag(field, 3), varintField(1, '7'), lenField(2, r.bytes(3)), tag(field, 4));
    default:
      return cat(tag(field, 5), r.bytes(4));
  }
}

/** A message from its fields in random order, sometimes with noise and a repeated field. */
function message(r: Rng, fields: Bytes[], wires: Record<number, number>): Bytes {
  if (fields.length > 0 && r.chance(0.1)) fields.push(r.pick(fields));
  while (r.chance(0.2)) fields.push(noise(r, wires));
  return cat(...r.shuffle(fields));
}

const ANY_VALUE = { 1: 2, 2: 0, 3: 0, 4: 1, 5: 2, 6: 2, 7: 2 };
const KEY_VALUE = { 1: 2, 2: 2 };
const VALUES = { 1: 2 };

function anyValueMember(r: Rng, depth: number): Bytes {
  const kind = depth < 4 ? r.int(10) : r.int(7);
  switch (kind) {
    case 0:
    case 1:
      return strField(1, randomString(r));
    case 2:
      return r.chance(0.8) ? varintField(2, r.pick(['0', '1'])) : cat(tag(2, 0), rawVarint(r));
    case 3:
      return r.chance(0.8) ? varintField(3, r.chance(0.5) ? r.pick(INTS) : String(r.int(1e6) - 5e5)) : cat(tag(3, 0), rawVarint(r));
    case 4:
      return doubleField(4, r.pick(DOUBLES));
    case 5:
      return lenField(7, r.bytes(r.int(20)));
    case 6:
      return strField(1, r.pick(KEYS));
    case 7:
    case 8: {
      const items = Array.from({ length: r.int(4) }, () => lenField(1, anyValue(r, depth + 1)));
      return lenField(5, message(r, items, VALUES));
    }
    default: {
      const entries = Array.from({ length: r.int(4) }, () => lenField(1, keyValue(r, depth + 1)));
      return lenField(6, message(r, entries, VALUES));
    }
  }
}

/** AnyValue: usually one member; none (empty) or several (protobufjs keeps the last, merges arrays / kvlists). */
function anyValue(r: Rng, depth: number): Bytes {
  const members = r.chance(0.08) ? 0 : r.chance(0.85) ? 1 : 2 + r.int(2);
  return message(r, Array.from({ length: members }, () => anyValueMember(r, depth)), ANY_VALUE);
}

/** KeyValue: the value is sometimes missing or repeated (merged by protobufjs). */
function keyValue(r: Rng, depth: number): Bytes {
  const fields = [strField(1, randomKey(r))];
  const values = r.chance(0.05) ? 0 : r.chance(0.9) ? 1 : 2;
  for (let i = 0; i < values; i++) fields.push(lenField(2, anyValue(r, depth)));
  return message(r, fields, KEY_VALUE);
}

const attributes = (r: Rng, field: number, max: number): Bytes[] =>
  Array.from({ length: r.int(max + 1) }, () => lenField(field, keyValue(r, 0)));

function id(r: Rng, length: number): Bytes {
  const roll = r.int(20);
  if (roll === 0) return new Uint8Array(length); // all zeros
  if (roll === 1) return r.bytes(r.int(length + 4)); // wrong length (often)
  return r.bytes(length);
}

function times(r: Rng): Bytes[] {
  const start = 1_767_225_600_000_000_000n + BigInt(r.int(1e9)) * 1000n + BigInt(r.int(1000));
  const roll = r.int(12);
  if (roll === 0) return [fixed64Field(8, start)]; // no start
  if (roll === 1) return [fixed64Field(7, start)]; // no end
  if (roll === 2) return [fixed64Field(7, start), fixed64Field(8, start - 1n)]; // end 1 ns before start
  if (roll === 3) return [fixed64Field(7, start), fixed64Field(8, start)];
  if (roll === 4) return [fixed64Field(7, 0n), fixed64Field(8, start)]; // explicit zero start
  if (roll === 5) return [fixed64Field(7, BigInt(r.int(2000)) + 1n), fixed64Field(8, 2n ** 64n - 1n)];
  return [fixed64Field(7, start), fixed64Field(8, start + BigInt(r.int(1e9)))];
}

const SPAN = { 1: 2, 2: 2, 3: 2, 4: 2, 5: 2, 6: 0, 7: 1, 8: 1, 9: 2, 10: 0, 11: 2, 12: 0, 13: 2, 14: 0, 15: 2, 16: 5 };
const EVENT = { 1: 1, 2: 2, 3: 2, 4: 0 };
const STATUS = { 2: 2, 3: 0 };
const LINK = { 1: 2, 2: 2, 3: 2, 4: 2, 5: 0, 6: 5 };

function event(r: Rng): Bytes {
  const fields = [fixed64Field(1, BigInt(r.int(1e9))), ...attributes(r, 3, 3)];
  if (r.chance(0.8)) fields.push(strField(2, randomString(r)));
  if (r.chance(0.2)) fields.push(varintField(4, String(r.int(5))));
  return message(r, fields, EVENT);
}

function status(r: Rng): Bytes {
  const fields: Bytes[] = [];
  if (r.chance(0.8)) fields.push(varintField(3, r.pick(['0', '1', '2', '3', '-1', '4294967297'])));
  if (r.chance(0.5)) fields.push(strField(2, randomString(r)));
  return message(r, fields, STATUS);
}

function link(r: Rng): Bytes {
  const fields = [lenField(1, r.bytes(16)), lenField(2, r.bytes(8)), ...attributes(r, 4, 2)];
  if (r.chance(0.3)) fields.push(strField(3, 'k=v'), varintField(5, '1'), cat(tag(6, 5), r.bytes(4)));
  return message(r, fields, LINK);
}

function span(r: Rng): Bytes {
  const fields = [lenField(1, id(r, 16)), lenField(2, id(r, 8)), ...times(r), ...attributes(r, 9, 15)];
  if (r.chance(0.5)) fields.push(lenField(4, r.chance(0.1) ? new Uint8Array(0) : id(r, 8)));
  if (r.chance(0.9)) fields.push(strField(5, randomString(r)));
  for (let n = r.chance(0.3) ? 1 + r.int(3) : 0; n > 0; n--) fields.push(lenField(11, event(r)));
  for (let n = r.chance(0.6) ? 1 + r.int(2) : 0; n > 0; n--) fields.push(lenField(15, status(r)));
  for (let n = r.chance(0.2) ? 1 + r.int(2) : 0; n > 0; n--) fields.push(lenField(13, link(r)));
  if (r.chance(0.3)) fields.push(strField(3, 'vendor=1'), varintField(6, '3'), cat(tag(16, 5), r.bytes(4)));
  if (r.chance(0.2)) fields.push(varintField(10, '1'), varintField(12, '2'), varintField(14, '3'));
  return message(r, fields, SPAN);
}

function request(r: Rng): Bytes {
  const resourceSpans = Array.from({ length: 1 + r.int(3) }, () => {
    const scopeSpans = Array.from({ length: 1 + r.int(2) }, () =>
      lenField(2, cat(lenField(1, Scope.encode({ name: `scope-${r.int(3)}` }).finish()), ...Array.from({ length: r.int(6) }, () => lenField(2, span(r))))),
    );
    return lenField(1, cat(lenField(1, cat(...attributes(r, 1, 3))), ...scopeSpans));
  });
  return cat(...resourceSpans);
}

function decodeBoth(body: Bytes, maxLength: number): [DecodedTraces | Error, DecodedTraces | Error] {
  const run = (decode: typeof decodeProtobufTraces): DecodedTraces | Error => {
    try {
      return decode(body, maxLength);
    } catch (err) {
      return err as Error;
    }
  };
  return [run(decodeProtobufTraces), run(decodeProtobufTracesWhole)];
}

/**
 * Strict deep equality (prototypes, -0, NaN). Not vitest's toStrictEqual: it compares
 * `a.constructor`, here an attribute named "constructor" (distinct arrays in the two results).
 */
function expectSame(actual: unknown, expected: unknown, label: string): void {
  if (isDeepStrictEqual(actual, expected)) return;
  expect(actual, label).toEqual(expected);
  expect.fail(`${label}: results differ`);
}

describe('wire-level span reader = protobufjs decode + conversion', () => {
  it('on 1500 random requests: same spans, rejections and reasons', () => {
    const r = rng(0x0da7a);
    let spans = 0;
    const reasons = new Set<string>();
    const kinds = new Set<string>();
    for (let i = 0; i < 1500; i++) {
      const body = request(r);
      const maxLength = r.pick(MAX_LENGTHS);
      const streamed = decodeProtobufTraces(body, maxLength);
      expectSame(streamed, decodeProtobufTracesWhole(body, maxLength), `request ${i}`);
      spans += streamed.spans.length;
      for (const e of streamed.errors) reasons.add(e.replace(/^span \d+: /, '').replace(/ \(.*/, ''));
      for (const s of streamed.spans) for (const v of Object.values(s.attributes)) kinds.add(Array.isArray(v) ? 'array' : typeof v);
    }
    // Every outcome was exercised.
    expect(spans).toBeGreaterThan(2000);
    expect([...reasons].sort()).toEqual([
      'end_time_unix_nano is before start_time_unix_nano',
      'invalid parent_span_id',
      'invalid span_id',
      'invalid trace_id',
      'missing end_time_unix_nano',
      'missing start_time_unix_nano',
    ]);
    expect([...kinds].sort()).toEqual(['array', 'boolean', 'number', 'string']);
  });

  it('on truncated and garbled requests: same result, or both throw OtlpDecodeError', () => {
    const r = rng(0xbad);
    let threw = 0;
    for (let i = 0; i < 1500; i++) {
      const body = Buffer.from(request(r));
      if (body.length < 2) continue;
      const garbled = r.chance(0.3) ? body.subarray(0, 1 + r.int(body.length - 1)) : body;
      for (let f = r.chance(0.3) ? 0 : 1 + r.int(3); f > 0; f--) garbled[r.int(garbled.length)] = r.int(256);
      const [streamed, whole] = decodeBoth(garbled, r.pick(MAX_LENGTHS));
      if (streamed instanceof Error || whole instanceof Error) {
        expect(streamed, `request ${i}`).toBeInstanceOf(OtlpDecodeError);
        expect(whole, `request ${i}`).toBeInstanceOf(OtlpDecodeError);
        threw++;
      } else {
        expectSame(streamed, whole, `request ${i}`);
      }
    }
    expect(threw).toBeGreaterThan(300);
    expect(threw).toBeLessThan(1400);
  });

  it('int64 values at every boundary: number when exact, else the exact decimal', () => {
    const values = [...INTS, '-9007199254740993', '9007199254740993', '-2', '18014398509481984'];
    const kvs = values.map((v, i) => lenField(9, cat(strField(1, `i${i}`), lenField(2, varintField(3, v)))));
    const spanBytes = cat(lenField(1, Buffer.alloc(16, 1)), lenField(2, Buffer.alloc(8, 2)), fixed64Field(7, 5n), fixed64Field(8, 6n), ...kvs);
    const [streamed] = decodeBoth(lenField(1, lenField(2, lenField(2, spanBytes))), Infinity);
    const got = Object.values((streamed as DecodedTraces).spans[0]!.attributes);
    expect(got).toEqual(values.map((v) => (Number.isSafeInteger(Number(v)) ? Number(v) : BigInt(v).toString())));
    expectSame(streamed, decodeProtobufTracesWhole(lenField(1, lenField(2, lenField(2, spanBytes))), Infinity), 'int64');
  });
});

describe('wire-level span reader: limits and errors', () => {
  const base = cat(lenField(1, Buffer.alloc(16, 1)), lenField(2, Buffer.alloc(8, 2)), fixed64Field(7, 5n), fixed64Field(8, 6n));
  const request1 = (spanBytes: Bytes): Bytes => lenField(1, lenField(2, lenField(2, spanBytes)));
  const nested = (levels: number, kvlist: boolean): Bytes => {
    let value = strField(1, 'leaf');
    for (let i = 0; i < levels; i++) value = kvlist ? lenField(6, lenField(1, cat(strField(1, 'k'), lenField(2, value)))) : lenField(5, lenField(1, value));
    return cat(strField(1, 'deep'), lenField(2, value));
  };

  // Span at depth 0 (decoded on its own), as protobufjs's Span.decode counted: limits unchanged.
  it.each<[string, number, (kv: Bytes) => Bytes, boolean]>([
    ['span attribute, arrays', 49, (kv) => lenField(9, kv), false],
    ['event attribute, arrays', 48, (kv) => lenField(11, lenField(3, kv)), false],
    ['link attribute, arrays', 48, (kv) => lenField(13, lenField(4, kv)), false],
    ['span attribute, kvlists', 32, (kv) => lenField(9, kv), true],
    ['event attribute, kvlists', 32, (kv) => lenField(11, lenField(3, kv)), true],
  ])('recursion limit: %s nest %i levels deep at most', (_label, deepest, place, kvlist) => {
    expect(() => decodeProtobufTraces(request1(cat(base, place(nested(deepest, kvlist)))), Infinity)).not.toThrow();
    expect(() => decodeProtobufTraces(request1(cat(base, place(nested(deepest + 1, kvlist)))), Infinity)).toThrow(
      new OtlpDecodeError('invalid OTLP/protobuf ExportTraceServiceRequest: max depth exceeded'),
    );
  });

  it('recursion limit: nested unknown groups', () => {
    const groups = (n: number): Bytes => (n === 0 ? new Uint8Array(0) : cat(tag(20, 3), groups(n - 1), tag(20, 4)));
    expect(() => decodeProtobufTraces(request1(cat(base, groups(101))), Infinity)).not.toThrow();
    expect(() => decodeProtobufTraces(request1(cat(base, groups(102))), Infinity)).toThrow(/max depth exceeded/);
  });

  it.each<[string, (bad: Bytes) => Bytes]>([
    ['span name', (bad) => lenField(5, bad)],
    ['trace_state', (bad) => lenField(3, bad)],
    ['attribute key (ASCII prefix)', (bad) => lenField(9, cat(lenField(1, bad), lenField(2, strField(1, 'v'))))],
    ['attribute value', (bad) => lenField(9, cat(strField(1, 'k'), lenField(2, lenField(1, bad))))],
    ['kvlist member key', (bad) => lenField(9, cat(strField(1, 'k'), lenField(2, lenField(6, lenField(1, lenField(1, bad))))))],
    ['event name', (bad) => lenField(11, lenField(2, bad))],
    ['status message', (bad) => lenField(15, lenField(2, bad))],
    ['link trace_state', (bad) => lenField(13, lenField(3, bad))],
    ['link attribute value', (bad) => lenField(13, lenField(4, cat(strField(1, 'k'), lenField(2, lenField(1, bad)))))],
  ])('invalid UTF-8 in a %s → OtlpDecodeError', (_label, place) => {
    const body = request1(cat(base, place(Buffer.from([0x6b, 0x65, 0x79, 0xc3]))));
    expect(() => decodeProtobufTraces(body, Infinity)).toThrow(/^invalid OTLP\/protobuf ExportTraceServiceRequest: The encoded data was not valid for encoding utf-8$/);
    expect(() => decodeProtobufTracesWhole(body, Infinity)).toThrow(OtlpDecodeError);
  });

  it('a cached key is never read past its KeyValue', () => {
    const attribute = (key: string): Bytes => lenField(9, cat(strField(1, key), lenField(2, strField(1, 'v'))));
    const good = request1(cat(base, attribute('gen_ai.request.model')));
    expect(decodeProtobufTraces(good, Infinity).spans[0]!.attributes).toEqual({ 'gen_ai.request.model': 'v' });
    // A KeyValue 5 bytes long whose key claims 20: the key's bytes follow, outside the KeyValue.
    const keyBytes = strField(1, 'gen_ai.request.model');
    const cut = cat(tag(9, 2), Uint8Array.of(5), keyBytes);
    expect(() => decodeProtobufTraces(request1(cat(base, cut)), Infinity)).toThrow(OtlpDecodeError);
    expect(() => decodeProtobufTracesWhole(request1(cat(base, cut)), Infinity)).toThrow(OtlpDecodeError);
  });

  it('keys sharing a cache slot or a prefix keep their own text', () => {
    const keys = Array.from({ length: 3000 }, (_, i) => `k${i}`);
    const spanBytes = cat(base, ...keys.map((k) => lenField(9, cat(strField(1, k), lenField(2, strField(1, k))))));
    for (let round = 0; round < 2; round++) {
      const { attributes } = decodeProtobufTraces(request1(spanBytes), Infinity).spans[0]!;
      expect(Object.keys(attributes)).toEqual(keys);
      expect(Object.entries(attributes).every(([k, v]) => k === v)).toBe(true);
    }
  });
});
