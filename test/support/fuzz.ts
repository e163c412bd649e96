/**
 * Deterministic OTLP trace-body fuzzing: random and mutated ExportTraceServiceRequest bodies, in
 * protobuf and JSON, for the decoder + mapper fuzz test (test/faults/fuzz.test.ts) and for the
 * collector's HTTP fuzz test (POST each `FuzzBody.body` with `contentTypeOf(encoding)`).
 *
 * `fuzzBodies(seed, count)` yields the same sequence for the same seed. Each body says how many
 * spans it holds when that is known without decoding it (`spans`; generated bodies that were not
 * mutated at the byte level), so a consumer can check that every span is accounted for.
 *
 * What is generated: valid requests; ids of the wrong length, all zero, or non-hex; times zero,
 * inverted, negative, overflowing; token counts negative, huge, NaN/Infinity, strings, arrays;
 * huge strings; thousands of attributes; values nested deep (and, on the wire, far deeper than any
 * decoder should recurse); odd Unicode (lone surrogates, NUL, BOM, bidi overrides, emoji,
 * combining marks, `__proto__` keys); then, for JSON, values of the wrong type anywhere in the
 * tree; and, for both, byte-level mutations (truncation, bit flips, splices, duplicated ranges).
 */
import protobuf from 'protobufjs';
import { ExportTraceServiceRequest } from '../../collector/otlp/schema.js';

// ---------------------------------------------------------------------------------------------
// Random source

export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Integer in [0, n). */
  int(n: number): number;
  chance(p: number): boolean;
  pick<T>(items: readonly T[]): T;
}

/** mulberry32: small, fast, good enough for fuzzing, and identical on every platform. */
export function createRng(seed: number): Rng {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n) => Math.floor(next() * n),
    chance: (p) => next() < p,
    pick: <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T,
  };
}

// ---------------------------------------------------------------------------------------------
// Model (protobuf field names; int64 as bigint)

export type AnyValueModel =
  | { stringValue: string }
  | { intValue: bigint }
  | { doubleValue: number }
  | { boolValue: boolean }
  | { bytesValue: Uint8Array }
  | { arrayValue: { values: AnyValueModel[] } }
  | { kvlistValue: { values: KeyValueModel[] } }
  | Record<string, never>;

export interface KeyValueModel {
  key: string;
  value?: AnyValueModel;
}

export interface SpanModel {
  traceId: Uint8Array;
  spanId: Uint8Array;
  parentSpanId: Uint8Array;
  name: string;
  startTimeUnixNano: bigint;
  endTimeUnixNano: bigint;
  attributes: KeyValueModel[];
  events: Array<{ name: string; attributes: KeyValueModel[] }>;
  status?: { code: number; message: string };
}

export interface RequestModel {
  resourceSpans: Array<{
    resource?: { attributes: KeyValueModel[] };
    scopeSpans: Array<{ scope?: { name: string }; spans: SpanModel[] }>;
  }>;
}

export function countSpans(request: RequestModel): number {
  let n = 0;
  for (const rs of request.resourceSpans) for (const ss of rs.scopeSpans) n += ss.spans.length;
  return n;
}

// ---------------------------------------------------------------------------------------------
// Generation

const ODD_STRINGS = [
  '', ' ', '\u0000', '\uFEFF', '\uD800', '\uDC00', 'a\uD83D', '\u202Eevil\u202C', '\u200D\u200B', '🚀🔥💸', 'e\u0301\u0301\u0301',
  'naïve ☕ 𝄞', '__proto__', 'constructor', 'toString', '\n\r\t', '"quoted"', '\\', '{"json":true}', 'NaN', '-1', '1e400',
  'ＦＵＬＬＷＩＤＴＨ', 'ق', '\u0085', '\u2028\u2029',
];
const AI_KEYS = [
  'gen_ai.operation.name', 'gen_ai.provider.name', 'gen_ai.system', 'gen_ai.request.model', 'gen_ai.response.model',
  'gen_ai.usage.input_tokens', 'gen_ai.usage.output_tokens', 'gen_ai.usage.prompt_tokens', 'gen_ai.usage.completion_tokens',
  'gen_ai.usage.cache_read.input_tokens', 'gen_ai.usage.cache_creation.input_tokens', 'gen_ai.usage.reasoning.output_tokens',
  'gen_ai.usage.total_tokens', 'gen_ai.usage.cost', 'llm.token_count.prompt', 'llm.token_count.completion', 'openinference.span.kind',
  'llm.request.type', 'ai.operationId', 'ai.usage.promptTokens', 'ai.model.id', 'genai_ledger.usage.credits', 'error.type',
  'genai_ledger.org_id', 'enduser.id', 'user.id', 'session.id', 'gen_ai.conversation.id',
];
const OPERATIONS = ['chat', 'embeddings', 'text_completion', 'generate_content', 'invoke_agent', 'execute_tool', 'LLM', 'bogus', ''];
const PROVIDERS = ['openai', 'anthropic', 'aws.bedrock', 'gcp.vertex_ai', 'azure.ai.openai', 'mistral_ai', 'Unknown', ''];
const MODELS = ['gpt-4o', 'gpt-4o-mini', 'claude-3-5-sonnet-20241022', 'o1', 'text-embedding-3-small', 'no-such-model', ''];
const NANOS_2026 = 1_767_225_600_000_000_000n;

function randomBytes(rng: Rng, n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = rng.int(256);
  return b;
}

function id(rng: Rng, length: number): Uint8Array {
  const r = rng.next();
  if (r < 0.9) return randomBytes(rng, length);
  if (r < 0.93) return new Uint8Array(length); // all zero
  return randomBytes(rng, rng.pick([0, 1, length - 1, length + 1, 32, 64]));
}

function randomString(rng: Rng, maxLength: number): string {
  const r = rng.next();
  if (r < 0.3) return rng.pick(ODD_STRINGS);
  if (r < 0.35) return rng.pick(ODD_STRINGS).repeat(1 + rng.int(50));
  const n = rng.int(maxLength + 1);
  let s = '';
  for (let i = 0; i < n; i++) {
    const c = rng.next();
    s += c < 0.8 ? String.fromCharCode(32 + rng.int(95)) : c < 0.95 ? String.fromCharCode(rng.int(0x3000)) : String.fromCharCode(0xd800 + rng.int(0x800));
  }
  return s;
}

function int64(rng: Rng): bigint {
  return rng.pick([
    0n, 1n, -1n, 42n, 1000n, 123_456n, -5n, 2n ** 31n, 2n ** 53n + 1n, 2n ** 63n - 1n, -(2n ** 63n), 10n ** 15n,
    BigInt(rng.int(1_000_000)),
  ]);
}

function tokenValue(rng: Rng): AnyValueModel {
  const r = rng.next();
  if (r < 0.4) return { intValue: BigInt(rng.int(100_000)) };
  if (r < 0.55) return { intValue: int64(rng) };
  if (r < 0.7) return { doubleValue: rng.pick([NaN, Infinity, -Infinity, -0, 0.5, 1e308, -1, 3.7, 2 ** 64]) };
  if (r < 0.8) return { stringValue: rng.pick(['12', '-3', 'abc', '', '1e5', '99999999999999999999', ' 7 ', 'NaN']) };
  if (r < 0.88) return { arrayValue: { values: [{ intValue: 5n }, { stringValue: 'x' }] } };
  if (r < 0.93) return { boolValue: rng.chance(0.5) };
  return {};
}

function anyValue(rng: Rng, depth: number, budget: { strings: number; maxNesting: number }): AnyValueModel {
  const r = rng.next();
  if (depth > 0 && r < 0.08) return { arrayValue: { values: Array.from({ length: rng.int(4) }, () => anyValue(rng, depth - 1, budget)) } };
  if (depth > 0 && r < 0.14) {
    return { kvlistValue: { values: Array.from({ length: rng.int(4) }, () => ({ key: randomString(rng, 8), value: anyValue(rng, depth - 1, budget) })) } };
  }
  if (r < 0.5) {
    if (budget.strings > 0 && rng.chance(0.01)) {
      const size = rng.pick([10_000, 100_000, 500_000]);
      budget.strings -= size;
      return { stringValue: 'x'.repeat(size) };
    }
    return { stringValue: randomString(rng, 40) };
  }
  if (r < 0.65) return { intValue: int64(rng) };
  if (r < 0.78) return { doubleValue: rng.pick([NaN, Infinity, -Infinity, -0, 1.5, 1e-300, 1e300, rng.next()]) };
  if (r < 0.88) return { boolValue: rng.chance(0.5) };
  if (r < 0.95) return { bytesValue: randomBytes(rng, rng.int(20)) };
  return {};
}

/** A value nested `depth` levels deep (arrays or kvlists). */
function nested(rng: Rng, depth: number): AnyValueModel {
  let v: AnyValueModel = { stringValue: 'leaf' };
  for (let i = 0; i < depth; i++) v = rng.chance(0.5) ? { arrayValue: { values: [v] } } : { kvlistValue: { values: [{ key: `k${i}`, value: v }] } };
  return v;
}

function attributes(rng: Rng, aiLikely: boolean, budget: { strings: number; maxNesting: number }): KeyValueModel[] {
  const out: KeyValueModel[] = [];
  if (aiLikely) {
    out.push({ key: 'gen_ai.operation.name', value: { stringValue: rng.pick(OPERATIONS) } });
    out.push({ key: rng.pick(['gen_ai.provider.name', 'gen_ai.system']), value: { stringValue: rng.pick(PROVIDERS) } });
    out.push({ key: 'gen_ai.request.model', value: { stringValue: rng.pick(MODELS) } });
    if (rng.chance(0.7)) out.push({ key: 'gen_ai.response.model', value: { stringValue: rng.pick(MODELS) } });
    out.push({ key: 'gen_ai.usage.input_tokens', value: tokenValue(rng) });
    out.push({ key: 'gen_ai.usage.output_tokens', value: tokenValue(rng) });
  }
  const extra = rng.chance(0.01) ? 2_000 + rng.int(3_000) : rng.int(8);
  for (let i = 0; i < extra; i++) {
    const key = rng.chance(0.4) ? rng.pick(AI_KEYS) : rng.chance(0.1) ? rng.pick(ODD_STRINGS) : `attr.${i}.${randomString(rng, 6)}`;
    const value = AI_KEYS.includes(key) && rng.chance(0.6) ? tokenValue(rng) : rng.chance(0.02) ? nested(rng, 5 + rng.int(budget.maxNesting - 4)) : anyValue(rng, 3, budget);
    out.push(rng.chance(0.03) ? { key } : { key, value });
  }
  return out;
}

function time(rng: Rng): [bigint, bigint] {
  const start = NANOS_2026 + BigInt(rng.int(1_000_000_000)) * 1000n + BigInt(rng.int(1000));
  const r = rng.next();
  if (r < 0.85) return [start, start + BigInt(rng.int(5_000_000_000))];
  if (r < 0.88) return [0n, start];
  if (r < 0.91) return [start, start - 1n]; // inverted
  if (r < 0.94) return [start, 0n];
  if (r < 0.97) return [2n ** 64n - 1n, 2n ** 64n - 1n]; // overflows microseconds
  return [start, start];
}

/**
 * A random request. `maxNesting`: deepest attribute value (the protobuf encoder refuses messages
 * nested beyond 100 levels, so protobuf bodies use ~25; wire-level depth is deeplyNestedProtobuf's job).
 */
export function generateRequest(rng: Rng, options: { maxSpans?: number; maxNesting?: number } = {}): RequestModel {
  const budget = { strings: 600_000, maxNesting: Math.max(5, options.maxNesting ?? 60) };
  const maxSpans = options.maxSpans ?? 20;
  const resourceSpans: RequestModel['resourceSpans'] = [];
  const nResources = rng.chance(0.05) ? 0 : 1 + rng.int(3);
  for (let r = 0; r < nResources; r++) {
    const scopeSpans: RequestModel['resourceSpans'][number]['scopeSpans'] = [];
    const nScopes = 1 + rng.int(2);
    for (let s = 0; s < nScopes; s++) {
      const spans: SpanModel[] = [];
      const nSpans = rng.int(Math.max(1, Math.ceil(maxSpans / (nResources * nScopes))) + 1);
      for (let i = 0; i < nSpans; i++) {
        const [start, end] = time(rng);
        spans.push({
          traceId: id(rng, 16),
          spanId: id(rng, 8),
          parentSpanId: rng.chance(0.5) ? new Uint8Array(0) : id(rng, 8),
          name: rng.chance(0.8) ? `${rng.pick(OPERATIONS)} ${rng.pick(MODELS)}` : randomString(rng, 30),
          startTimeUnixNano: start,
          endTimeUnixNano: end,
          attributes: attributes(rng, rng.chance(0.7), budget),
          events: rng.chance(0.1) ? [{ name: rng.pick(['exception', 'log', '']), attributes: [{ key: 'exception.type', value: { stringValue: randomString(rng, 20) } }] }] : [],
          ...(rng.chance(0.3) ? { status: { code: rng.pick([0, 1, 2, 3, -1, 99]), message: randomString(rng, 20) } } : {}),
        });
      }
      scopeSpans.push({ ...(rng.chance(0.9) ? { scope: { name: rng.pick(['@opentelemetry/instrumentation-openai', 'openinference', randomString(rng, 10)]) } } : {}), spans });
    }
    resourceSpans.push({
      ...(rng.chance(0.9) ? { resource: { attributes: [{ key: 'service.name', value: { stringValue: randomString(rng, 12) } }, ...attributes(rng, false, budget).slice(0, 5)] } } : {}),
      scopeSpans,
    });
  }
  return { resourceSpans };
}

// ---------------------------------------------------------------------------------------------
// Encoding

function longOf(v: bigint): protobuf.Long | number {
  const u = BigInt.asUintN(64, v);
  return new protobuf.util.Long(Number(u & 0xffffffffn) | 0, Number(u >> 32n) | 0, true);
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** True when `s` holds an unpaired surrogate (not representable in UTF-8). */
export function hasLoneSurrogate(s: string): boolean {
  LONE_SURROGATE.lastIndex = 0;
  return LONE_SURROGATE.test(s);
}

/** `s` with unpaired surrogates replaced by U+FFFD (what String.prototype.toWellFormed does). */
export function wellFormed(s: string): string {
  return s.replace(LONE_SURROGATE, '\uFFFD');
}

/**
 * The request as OTLP/protobuf. Protobuf strings are UTF-8, which cannot hold an unpaired
 * surrogate; protobufjs would write one as invalid UTF-8 (the OTel JS SDK's serializer writes
 * U+FFFD instead). `wellFormed` (default true) does what the SDK does; false keeps the invalid
 * bytes (a body the decoder may refuse whole).
 */
export function encodeProtobuf(request: RequestModel, options: { wellFormed?: boolean } = {}): Uint8Array {
  const str = options.wellFormed === false ? (x: string): string => x : wellFormed;
  const pbValue = (v: AnyValueModel): Record<string, unknown> => {
    if ('intValue' in v) return { intValue: longOf(v.intValue) };
    if ('stringValue' in v) return { stringValue: str(v.stringValue) };
    if ('arrayValue' in v) return { arrayValue: { values: v.arrayValue.values.map(pbValue) } };
    if ('kvlistValue' in v) return { kvlistValue: { values: v.kvlistValue.values.map(pbKv) } };
    return v;
  };
  const pbKv = (kv: KeyValueModel): Record<string, unknown> =>
    kv.value === undefined ? { key: str(kv.key) } : { key: str(kv.key), value: pbValue(kv.value) };
  const message = {
    resourceSpans: request.resourceSpans.map((rs) => ({
      ...(rs.resource ? { resource: { attributes: rs.resource.attributes.map(pbKv) } } : {}),
      scopeSpans: rs.scopeSpans.map((ss) => ({
        ...(ss.scope ? { scope: { name: str(ss.scope.name) } } : {}),
        spans: ss.spans.map((s) => ({
          traceId: s.traceId,
          spanId: s.spanId,
          parentSpanId: s.parentSpanId,
          name: str(s.name),
          startTimeUnixNano: longOf(s.startTimeUnixNano),
          endTimeUnixNano: longOf(s.endTimeUnixNano),
          attributes: s.attributes.map(pbKv),
          events: s.events.map((e) => ({ name: str(e.name), attributes: e.attributes.map(pbKv) })),
          ...(s.status ? { status: { code: s.status.code, message: str(s.status.message) } } : {}),
        })),
      })),
    })),
  };
  return ExportTraceServiceRequest.encode(message).finish();
}

const hexOf = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function jsonValue(rng: Rng, v: AnyValueModel): unknown {
  if ('stringValue' in v) return { stringValue: v.stringValue };
  if ('intValue' in v) return { intValue: rng.chance(0.8) ? v.intValue.toString() : Number(v.intValue) };
  if ('doubleValue' in v) return { doubleValue: Number.isFinite(v.doubleValue) ? v.doubleValue : String(v.doubleValue) };
  if ('boolValue' in v) return { boolValue: v.boolValue };
  if ('bytesValue' in v) return { bytesValue: Buffer.from(v.bytesValue).toString('base64') };
  if ('arrayValue' in v) return { arrayValue: { values: v.arrayValue.values.map((x) => jsonValue(rng, x)) } };
  if ('kvlistValue' in v) return { kvlistValue: { values: v.kvlistValue.values.map((kv) => jsonKv(rng, kv)) } };
  return {};
}

function jsonKv(rng: Rng, kv: KeyValueModel): unknown {
  return kv.value === undefined ? { key: kv.key } : { key: kv.key, value: jsonValue(rng, kv.value) };
}

function jsonId(rng: Rng, b: Uint8Array): string {
  const h = hexOf(b);
  const r = rng.next();
  if (r < 0.9) return h;
  if (r < 0.93) return h.toUpperCase();
  if (r < 0.96) return h.slice(0, -1) + 'g';
  return h + '0';
}

/** The request as an OTLP/JSON object (hex ids, int64 as strings or numbers), before stringification. */
export function toJsonObject(rng: Rng, request: RequestModel): Record<string, unknown> {
  return {
    resourceSpans: request.resourceSpans.map((rs) => ({
      ...(rs.resource ? { resource: { attributes: rs.resource.attributes.map((kv) => jsonKv(rng, kv)) } } : {}),
      scopeSpans: rs.scopeSpans.map((ss) => ({
        ...(ss.scope ? { scope: ss.scope } : {}),
        spans: ss.spans.map((s) => ({
          traceId: jsonId(rng, s.traceId),
          spanId: jsonId(rng, s.spanId),
          ...(s.parentSpanId.length > 0 ? { parentSpanId: jsonId(rng, s.parentSpanId) } : {}),
          name: s.name,
          startTimeUnixNano: rng.chance(0.9) ? s.startTimeUnixNano.toString() : Number(s.startTimeUnixNano),
          endTimeUnixNano: rng.chance(0.9) ? s.endTimeUnixNano.toString() : Number(s.endTimeUnixNano),
          attributes: s.attributes.map((kv) => jsonKv(rng, kv)),
          ...(s.events.length > 0 ? { events: s.events.map((e) => ({ name: e.name, attributes: e.attributes.map((kv) => jsonKv(rng, kv)) })) } : {}),
          ...(s.status ? { status: s.status } : {}),
        })),
      })),
    })),
  };
}

const WRONG_TYPES: readonly unknown[] = [null, 0, -1, 1.5, 'x', '', true, false, [], {}, [1, 'a'], { a: 1 }, '1767225600000000000', 'NaN', 1e308];

/** Replaces a few random nodes of a JSON tree with values of the wrong type (in place). */
export function scrambleTypes(rng: Rng, root: unknown, replacements: number): void {
  for (let r = 0; r < replacements; r++) {
    let node: unknown = root;
    for (let depth = 0; depth < 12; depth++) {
      if (node === null || typeof node !== 'object') break;
      const keys = Array.isArray(node) ? node.map((_, i) => i) : Object.keys(node);
      if (keys.length === 0) break;
      const key = rng.pick(keys as Array<string | number>);
      const child = (node as Record<string | number, unknown>)[key];
      if (rng.chance(0.3) || child === null || typeof child !== 'object') {
        (node as Record<string | number, unknown>)[key] = structuredClone(rng.pick(WRONG_TYPES));
        break;
      }
      node = child;
    }
  }
}

/**
 * Spans a JSON request holds as the decoder's structure rules see them (containers must be
 * arrays or absent; resourceSpans/scopeSpans entries objects), or undefined if the body is not a
 * request at all (then the decoder must throw OtlpDecodeError).
 */
export function countJsonSpans(request: unknown): number | undefined {
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  const list = (o: Record<string, unknown>, camel: string, snake: string): unknown[] | undefined => {
    const v = o[camel] ?? o[snake];
    if (v === undefined || v === null) return [];
    return Array.isArray(v) ? v : undefined;
  };
  if (!isObject(request)) return undefined;
  const rss = list(request, 'resourceSpans', 'resource_spans');
  if (!rss) return undefined;
  let n = 0;
  for (const rs of rss) {
    if (!isObject(rs)) return undefined;
    const sss = list(rs, 'scopeSpans', 'scope_spans');
    if (!sss) return undefined;
    for (const ss of sss) {
      if (!isObject(ss)) return undefined;
      const spans = list(ss, 'spans', 'spans');
      if (!spans) return undefined;
      n += spans.length;
    }
  }
  return n;
}

// ---------------------------------------------------------------------------------------------
// Byte-level mutation and wire-level oddities

/** A copy of `bytes` with 1-4 random mutations. */
export function mutateBytes(rng: Rng, bytes: Uint8Array): Uint8Array {
  let b = Buffer.from(bytes);
  const n = 1 + rng.int(4);
  for (let i = 0; i < n; i++) {
    const r = rng.next();
    const at = b.length === 0 ? 0 : rng.int(b.length);
    if (r < 0.3) b = b.subarray(0, at); // truncate
    else if (r < 0.55 && b.length > 0) b[at] = b[at]! ^ (1 << rng.int(8)); // bit flip
    else if (r < 0.7 && b.length > 0) b[at] = rng.pick([0x00, 0xff, 0x7f, 0x80, 0x0a, 0x22, 0x7b, 0x5b]);
    else if (r < 0.8) b = Buffer.concat([b.subarray(0, at), Buffer.from(randomBytes(rng, 1 + rng.int(16))), b.subarray(at)]);
    else if (r < 0.9) {
      const len = rng.int(Math.min(64, b.length - at) + 1);
      b = Buffer.concat([b.subarray(0, at + len), b.subarray(at, at + len), b.subarray(at + len)]); // duplicate a range
    } else b = Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + rng.int(32)))]); // delete a range
  }
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

function varint(n: number): number[] {
  const out: number[] = [];
  let v = n;
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
}

function field(fieldNumber: number, payload: Uint8Array | number[]): Buffer {
  return Buffer.concat([Buffer.from(varint((fieldNumber << 3) | 2)), Buffer.from(varint(payload.length)), Buffer.from(payload)]);
}

function fixed64(fieldNumber: number, value: bigint): Buffer {
  const b = Buffer.alloc(9);
  b[0] = (fieldNumber << 3) | 1;
  b.writeBigUInt64LE(value, 1);
  return b;
}

/**
 * A protobuf request whose one span has an attribute value nested `depth` levels deep on the wire
 * (arrays of arrays ...): far beyond what the generated encoder would build, to check the decoder
 * fails cleanly (OtlpDecodeError) or rejects the span, never overflowing into something else.
 */
export function deeplyNestedProtobuf(depth: number): Uint8Array {
  // AnyValue { array_value (5): ArrayValue { values (1): AnyValue { ... } } }, written back to
  // front into one buffer (each level prepends a tag and a length).
  const leaf = field(1, Buffer.from('leaf')); // AnyValue.string_value
  const buf = Buffer.allocUnsafe(leaf.length + depth * 12);
  let pos = buf.length - leaf.length;
  leaf.copy(buf, pos);
  const prepend = (tag: number, length: number): void => {
    const v = varint(length);
    pos -= v.length;
    for (let i = 0; i < v.length; i++) buf[pos + i] = v[i]!;
    buf[--pos] = tag;
  };
  for (let i = 0; i < depth; i++) {
    prepend(0x0a, buf.length - pos); // ArrayValue.values (1)
    prepend(0x2a, buf.length - pos); // AnyValue.array_value (5)
  }
  const value = buf.subarray(pos);
  const kv = Buffer.concat([field(1, Buffer.from('deep')), field(2, value)]);
  const span = Buffer.concat([
    field(1, new Uint8Array(16).fill(1)), // trace_id
    field(2, new Uint8Array(8).fill(2)), // span_id
    field(5, Buffer.from('chat deep')), // name
    fixed64(7, NANOS_2026), // start_time_unix_nano
    fixed64(8, NANOS_2026 + 1000n), // end_time_unix_nano
    field(9, kv), // attributes
  ]);
  const request = field(1, field(2, field(2, span))); // resource_spans { scope_spans { spans } }
  return new Uint8Array(request.buffer, request.byteOffset, request.byteLength);
}

/** A protobuf envelope claiming a huge length (or garbage tags) right at the start. */
export function wireGarbage(rng: Rng): Uint8Array {
  const kinds: Array<() => number[]> = [
    () => [0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f], // resource_spans of ~4 GiB
    () => [0x0a, ...varint(10), 0x12, ...varint(1 << 30)], // scope_spans length beyond the body
    () => [0x08, 0x96, 0x01], // field 1 with the varint wire type
    () => [0x0b, 0x0c], // groups
    () => [0x0f], // wire type 7
    () => Array.from(randomBytes(rng, 1 + rng.int(64))),
    () => [0x0a, 0x00, 0x0a, 0x00, 0x0a, 0x02, 0x12, 0x00], // empty messages
  ];
  return Uint8Array.from(rng.pick(kinds)());
}

// ---------------------------------------------------------------------------------------------
// The body stream

export type FuzzEncoding = 'protobuf' | 'json';

export interface FuzzBody {
  encoding: FuzzEncoding;
  body: Uint8Array;
  /** How the body was made (for failure reports). */
  kind: 'valid' | 'invalid-utf8' | 'json-types' | 'mutated' | 'json-text' | 'deep' | 'wire-garbage';
  /** Spans in the request when known without decoding (unmutated generated bodies). */
  spans?: number;
}

export function contentTypeOf(encoding: FuzzEncoding): string {
  return encoding === 'json' ? 'application/json' : 'application/x-protobuf';
}

/** One body, deterministic in (seed, index). */
export function fuzzBody(seed: number, index: number): FuzzBody {
  const rng = createRng((seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0);
  const encoding: FuzzEncoding = rng.chance(0.5) ? 'protobuf' : 'json';
  const r = rng.next();
  if (r < 0.02) return { encoding: 'protobuf', kind: 'deep', body: deeplyNestedProtobuf(rng.pick([100, 1_000, 20_000, 200_000])) };
  if (r < 0.06) return { encoding: 'protobuf', kind: 'wire-garbage', body: wireGarbage(rng) };
  if (r < 0.09) {
    const text = rng.pick(['', '{', '[]', 'null', '{"resourceSpans":{}}', '{"resourceSpans":[1]}', 'NaN', '{"resourceSpans":[{"scopeSpans":[{"spans":"no"}]}]}', '\uFEFF{}', '{"resourceSpans":[]}garbage']);
    return { encoding: 'json', kind: 'json-text', body: Buffer.from(text) };
  }
  const request = generateRequest(rng, { maxNesting: encoding === 'protobuf' ? 25 : 60 });
  const spans = countSpans(request);
  if (encoding === 'protobuf') {
    if (rng.chance(0.05)) return { encoding, kind: 'invalid-utf8', body: encodeProtobuf(request, { wellFormed: false }), spans };
    const body = encodeProtobuf(request);
    if (rng.chance(0.35)) return { encoding, kind: 'mutated', body: mutateBytes(rng, body) };
    return { encoding, kind: 'valid', body, spans };
  }
  const obj = toJsonObject(rng, request);
  if (rng.chance(0.35)) {
    scrambleTypes(rng, obj, 1 + rng.int(6));
    return { encoding, kind: 'json-types', body: Buffer.from(JSON.stringify(obj)) };
  }
  const body = Buffer.from(JSON.stringify(obj));
  if (rng.chance(0.3)) return { encoding, kind: 'mutated', body: mutateBytes(rng, body) };
  return { encoding, kind: 'valid', body, spans };
}

export function* fuzzBodies(seed: number, count: number): Generator<FuzzBody & { index: number }> {
  for (let i = 0; i < count; i++) yield { ...fuzzBody(seed, i), index: i };
}
