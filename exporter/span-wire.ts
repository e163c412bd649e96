/**
 * The compact form in which export() hands AI spans to the mapping thread: one ArrayBuffer per
 * batch, transferred by postMessage (no structured clone of the spans), holding only what the
 * mapper reads. Ordinary spans are classified here and never leave the app's thread; prompt and
 * completion text never travels.
 *
 * Both threads build the same key table from the same options, so known attribute keys travel as
 * small integers; other keys the mapper reads (`genai_ledger.usage.*`) or may store (see
 * usage/stored-attributes.ts) as text.
 *
 * The buffer holds three sections: `numbers` float64 values, `words` uint16 words (the structure),
 * then the text: every string's UTF-16 code units, in order, as they are (exact for any JS string,
 * lone surrogates included), or one byte per code unit when all of them are ASCII (`ascii`, the
 * usual case: half the bytes, and the mapping thread's strings are one-byte strings, which its
 * serializer writes faster). In the words, a string is its length (a count: one
 * word below 0x8000, else two), a value is a string (its first word is below 0xA000, V8 strings
 * being shorter than 2^29) or a tag ≥ 0xFFF0. Numbers are read in the order their T_NUMBER tags
 * come. Per span: the length of its text (a count, always two words), start µs and end µs
 * (numbers), then words: traceId, spanId, parentSpanId, name, scope (values), the status code
 * (value), the first exception type (error spans only, else T_NULL), the resource index (count),
 * then key/value pairs up to K_END.
 */
import { Buffer } from 'node:buffer';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { firstString } from '../usage/attribute-read.js';
import { DEFAULT_ATTRIBUTION_KEYS, type AttributionKeys } from '../usage/attribution.js';
import { callOperation, isAggregate } from '../usage/classify.js';
import { KEYS, LEDGER_USAGE_PREFIX } from '../usage/conventions.js';
import { STATUS_ERROR, type Attributes, type AttributeValue, type SpanEvent, type SpanRecord } from '../usage/span-record.js';
import { StoredAttributes } from '../usage/stored-attributes.js';
import { hrTimeToMicros } from '../usage/time.js';

/** The mapper options that decide which attributes the mapper reads. */
export interface WireOptions {
  attribution?: Partial<AttributionKeys>;
  attributeAllowList?: readonly string[];
}

/** One export() call's AI spans, ready for postMessage (transferring `wireTransferList(batch)`). */
export interface WireBatch {
  /** `numbers` float64 values, `words` uint16 words, then the text (uint16 code units, or bytes when `ascii`). */
  buffer: ArrayBuffer;
  numbers: number;
  words: number;
  ascii: boolean;
  /** The batch's distinct resources, filtered like span attributes. */
  resources: Attributes[];
  /** Values that are not OTel attribute values (objects, nested arrays, bigint), cloned as before. Usually empty. */
  other: unknown[];
}

/** What encode() made of an export() call. */
export interface EncodedSpans {
  batch: WireBatch;
  /** AI spans in the batch. */
  sent: number;
  /** Spans that are not AI calls: counted, not sent. */
  skipped: number;
  /** Of those, the aggregates (classify.ts isAggregate). */
  aggregates: number;
  /** Spans that could not be read (counted, not sent) and the first reasons. */
  malformed: number;
  errors: string[];
}

/** What to transfer with a batch: `worker.postMessage({ id, batch }, wireTransferList(batch))`. */
export function wireTransferList(batch: WireBatch): ArrayBuffer[] {
  return [batch.buffer];
}

// Value tags, above any string's first word.
const T_NUMBER = 0xfff0;
const T_TRUE = 0xfff1;
const T_FALSE = 0xfff2;
const T_NULL = 0xfff3;
const T_UNDEFINED = 0xfff4;
const T_HOLE = 0xfff5;
const T_ARRAY = 0xfff6;
const T_OTHER = 0xfff7;
// Key words: an index into the key table (below K_TEXT), a text key, or the end of a span.
const K_TEXT = 0xfffe;
const K_END = 0xffff;
const MAX_KEY_INDEX = 0xffef;

// Key classes, besides an index into the key table.
const C_TEXT = -1;
const C_SKIP = -2;
/** Keys can be generated (`gen_ai.prompt.<n>.content`): the caches stop growing here. */
const MAX_CACHED_KEYS = 8192;
const MAX_KEY_NODES = 16384;
/** Children a node may have: keys that vary from span to span fall back to the Map, not a long scan. */
const MAX_KEY_CHILDREN = 8;

/** A node of the tree of attribute key sequences seen: `next` is its first child, `alt` its next sibling. */
interface KeyNode {
  readonly key: string;
  readonly c: number;
  next: KeyNode | undefined;
  readonly alt: KeyNode | undefined;
}

/** Scratch sizes: enough for a 512-span batch; a scratch grown past KEEP_* is dropped after its batch. */
const INITIAL_WORDS = 1 << 15;
const INITIAL_NUMBERS = 1 << 13;
const KEEP_WORDS = 1 << 20;
const KEEP_NUMBERS = 1 << 19;
/** Words a span's fixed part or one attribute (key, tag or length) may take at most. */
const SLACK = 20;

/**
 * The longest span text the decoder makes at once and slices: a slice keeps its span's text alive,
 * and the mapper caches some strings (models, providers), so this bounds what such a cache holds.
 */
const MAX_SLICED_TEXT = 512;

const MAX_ERRORS_KEPT = 10;
const NO_EVENTS: readonly SpanEvent[] = [];
/** Where array elements' `other` would go: they are primitives, so nothing does. */
const NO_OTHER: unknown[] = [];
const NO_BATCH: WireBatch = { buffer: new ArrayBuffer(0), numbers: 0, words: 0, ascii: true, resources: [], other: [] };

export class SpanWire {
  private readonly keys: readonly string[];
  private readonly keyClass = new Map<string, number>();
  /** What the mapper may copy into a row besides what it reads; undefined without an allow-list. */
  private readonly stored: StoredAttributes | undefined;
  private readonly resourceCache = new WeakMap<object, Attributes>();
  private readonly keyRoot: KeyNode = { key: '', c: C_SKIP, next: undefined, alt: undefined };
  private keyNodes = 0;
  private reader: WireReader | undefined;
  private encoding = false;
  private readonly options: WireOptions;
  // The batch being encoded: scratch reused across batches (the used part is copied out once), and
  // the text as one concatenation, written out by one native call (far cheaper than a JS loop per code unit).
  private words: Uint16Array = new Uint16Array(0);
  private nums: Float64Array = new Float64Array(0);
  private p = 0;
  private q = 0;
  private text = '';

  constructor(options: WireOptions = {}) {
    this.options = options;
    const attribution = { ...DEFAULT_ATTRIBUTION_KEYS, ...options.attribution };
    const allow = options.attributeAllowList ?? [];
    const stored = (this.stored = allow.length === 0 ? undefined : new StoredAttributes(allow, attribution));
    const keys = new Set<string>([
      ...Object.values(KEYS).flat(),
      ...Object.values(attribution).flat(),
      ...(stored ? allow.filter((k) => !k.endsWith('*') && stored.allows(k)) : []),
    ]);
    this.keys = [...keys];
    this.keys.forEach((k, i) => this.keyClass.set(k, i <= MAX_KEY_INDEX ? i : C_TEXT));
  }

  /** Classifies and packs an export() call's spans; never throws (an unreadable span is counted). */
  encode(spans: readonly ReadableSpan[]): EncodedSpans {
    // A span getter that ends spans can re-enter export() (the batch processor exports inline):
    // the scratch is in use, so that call packs with its own.
    if (this.encoding) return new SpanWire(this.options).encode(spans);
    this.encoding = true;
    try {
      return this.encodeBatch(spans);
    } finally {
      this.encoding = false;
    }
  }

  private encodeBatch(spans: readonly ReadableSpan[]): EncodedSpans {
    const resources: Attributes[] = [];
    const sources: object[] = [];
    const other: unknown[] = [];
    const errors: string[] = [];
    let sent = 0;
    let skipped = 0;
    let aggregates = 0;
    let malformed = 0;
    if (this.words.length === 0) {
      this.words = new Uint16Array(INITIAL_WORDS);
      this.nums = new Float64Array(INITIAL_NUMBERS);
    }
    this.p = 0;
    this.q = 0;
    this.text = '';
    for (let s = 0; s < spans.length; s++) {
      const span = spans[s]!;
      const p0 = this.p;
      const q0 = this.q;
      const text0 = this.text;
      const other0 = other.length;
      try {
        const attrs = span.attributes;
        if (callOperation(attrs, span.name) === undefined) {
          skipped++;
          if (isAggregate(attrs)) aggregates++;
          continue;
        }
        const resource = span.resource.attributes;
        let r = sources.indexOf(resource);
        if (r < 0) {
          r = sources.push(resource) - 1;
          resources.push(this.resourceOf(resource));
        }
        this.putSpan(span, attrs, r, other);
        sent++;
      } catch (error) {
        this.p = p0;
        this.q = q0;
        this.text = text0;
        other.length = other0;
        malformed++;
        if (errors.length < MAX_ERRORS_KEPT) errors.push(`span ${spanIdOf(span)}: ${(error as Error)?.message ?? String(error)}`);
      }
    }
    const { p, q, text } = this;
    this.text = '';
    const buffer = new ArrayBuffer(q * 8 + p * 2 + text.length * 2);
    new Float64Array(buffer, 0, q).set(this.nums.subarray(0, q));
    new Uint16Array(buffer, q * 8, p).set(this.words.subarray(0, p));
    // As UTF-8 first: as many bytes as code units means every one is ASCII (any other code unit,
    // lone surrogates included, takes more). Room is there for UTF-16, which takes over otherwise.
    let ascii = true;
    if (text.length > 0) {
      const region = Buffer.from(buffer, q * 8 + p * 2);
      if (region.write(text, 'utf8') !== text.length) {
        region.write(text, 'utf16le');
        ascii = false;
      }
    }
    if (this.words.length > KEEP_WORDS) this.words = new Uint16Array(INITIAL_WORDS);
    if (this.nums.length > KEEP_NUMBERS) this.nums = new Float64Array(INITIAL_NUMBERS);
    return { batch: { buffer, numbers: q, words: p, ascii, resources, other }, sent, skipped, aggregates, malformed, errors };
  }

  /** The spans of a batch, as the mapper reads them (on the mapping thread). */
  decode(batch: WireBatch): SpanRecord[] {
    const reader = (this.reader ??= new WireReader());
    reader.reset(batch);
    const { resources } = batch;
    const keys = this.keys;
    const words = reader.words;
    const records: SpanRecord[] = [];
    while (reader.p < words.length) {
      reader.span();
      const startUnixMicros = reader.number();
      const endUnixMicros = reader.number();
      const traceId = reader.value() as string;
      const spanId = reader.value() as string;
      const parentSpanId = reader.value() as string;
      const name = reader.value() as string;
      const scopeName = reader.value() as string;
      const statusCode = reader.value() as number;
      const exception = reader.value() as string | null;
      const resource = resources[reader.count()]!;
      const attributes: Record<string, AttributeValue> = {};
      for (let key = words[reader.p++]!; key !== K_END; key = words[reader.p++]!) {
        attributes[key === K_TEXT ? reader.string() : keys[key]!] = reader.value() as AttributeValue;
      }
      records.push({
        traceId, spanId, parentSpanId, name, startUnixMicros, endUnixMicros, scopeName, statusCode,
        statusMessage: '',
        events: exception === null ? NO_EVENTS : [{ name: 'exception', attributes: { 'exception.type': exception } }],
        resource, attributes,
      });
    }
    reader.reset(NO_BATCH); // not to hold the batch until the next one
    return records;
  }

  /** Packs one AI span: the hot path, positions kept in locals. */
  private putSpan(span: ReadableSpan, attrs: Attributes, r: number, other: unknown[]): void {
    const context = span.spanContext();
    const traceId = context.traceId;
    const spanId = context.spanId;
    const parentSpanId = span.parentSpanContext?.spanId ?? '';
    const name = span.name;
    const scope = span.instrumentationScope.name;
    const code = span.status.code;
    const exception = code === STATUS_ERROR ? exceptionType(span) : null;
    let q = this.q;
    let nums = this.nums.length - q >= 3 ? this.nums : this.growNumbers(q, q + 3);
    nums[q++] = hrTimeToMicros(span.startTime);
    nums[q++] = hrTimeToMicros(span.endTime);
    let p = this.p;
    let words = this.words.length - p >= SLACK ? this.words : this.growWords(p, p + SLACK);
    let text = this.text;
    // The span's text length goes first (two words, filled in at the end): the decoder makes the
    // span's text with one call and slices its strings from it.
    const textAt = text.length;
    const spanAt = p;
    p += 2;
    if (
      typeof traceId === 'string' && typeof spanId === 'string' && typeof parentSpanId === 'string' &&
      typeof name === 'string' && typeof scope === 'string' && typeof code === 'number'
    ) {
      p = putCount(words, p, traceId.length);
      p = putCount(words, p, spanId.length);
      p = putCount(words, p, parentSpanId.length);
      p = putCount(words, p, name.length);
      p = putCount(words, p, scope.length);
      text = text + traceId + spanId + parentSpanId + name + scope;
      words[p++] = T_NUMBER;
      nums[q++] = code;
      if (exception === null) words[p++] = T_NULL;
      else {
        p = putCount(words, p, exception.length);
        text += exception;
      }
      p = putCount(words, p, r);
    } else {
      // Not what the SDK makes: carried as they are, as the structured clone did.
      this.p = p;
      this.q = q;
      this.text = text;
      for (const value of [traceId, spanId, parentSpanId, name, scope, code, exception]) this.value(value, other);
      this.count(r);
      ({ p, q, text, words, nums } = this);
    }
    // One instrumentation's attribute objects repeat their key order: walking the tree of key
    // sequences seen costs a pointer compare per key where a Map lookup hashes.
    let node: KeyNode | undefined = this.keyRoot;
    for (const key in attrs) {
      let c: number;
      if (node !== undefined) {
        let child: KeyNode | undefined = node.next;
        let siblings = 0;
        for (; child !== undefined && child.key !== key; siblings++) child = child.alt;
        node = child ?? this.addKeyNode(node, key, siblings);
        c = node === undefined ? this.classOf(key) : node.c;
      } else {
        c = this.classOf(key);
      }
      if (c === C_SKIP) continue;
      const value = attrs[key];
      if (value === undefined) continue;
      if (words.length - p < SLACK) words = this.growWords(p, p + SLACK);
      if (c === C_TEXT) {
        words[p++] = K_TEXT;
        p = putCount(words, p, key.length);
        text += key;
      } else {
        words[p++] = c;
      }
      if (typeof value === 'string') {
        p = putCount(words, p, value.length);
        text += value;
      } else if (typeof value === 'number') {
        words[p++] = T_NUMBER;
        if (q === nums.length) nums = this.growNumbers(q, q + 1);
        nums[q++] = value;
      } else if (typeof value === 'boolean') {
        words[p++] = value ? T_TRUE : T_FALSE;
      } else {
        this.p = p;
        this.q = q;
        this.text = text;
        this.value(value, other);
        ({ p, q, text, words, nums } = this);
      }
    }
    if (p === words.length) words = this.growWords(p, p + 1);
    words[p++] = K_END;
    const spanText = text.length - textAt;
    words[spanAt] = 0x8000 | (spanText >>> 16);
    words[spanAt + 1] = spanText & 0xffff;
    this.p = p;
    this.q = q;
    this.text = text;
  }

  /** Packs any value at this.p / this.q (the slow path: arrays, other values, odd fixed fields). */
  private value(value: unknown, other: unknown[]): void {
    if (typeof value === 'string') {
      this.count(value.length);
      this.text += value;
    } else if (typeof value === 'number') {
      this.word(T_NUMBER);
      if (this.q === this.nums.length) this.growNumbers(this.q, this.q + 1);
      this.nums[this.q++] = value;
    } else if (typeof value === 'boolean') this.word(value ? T_TRUE : T_FALSE);
    else if (value === null) this.word(T_NULL);
    else if (value === undefined) this.word(T_UNDEFINED);
    else if (!Array.isArray(value) || !this.array(value)) {
      this.word(T_OTHER);
      this.count(other.push(value) - 1);
    }
  }

  /** Packs an array of primitives; false (nothing packed) when an element is anything else. */
  private array(array: readonly unknown[]): boolean {
    const { p, q, text } = this;
    this.word(T_ARRAY);
    this.count(array.length);
    for (let i = 0; i < array.length; i++) {
      const item = array[i];
      if (item === undefined && !(i in array)) this.word(T_HOLE);
      else if (typeof item === 'string' || typeof item === 'number' || typeof item === 'boolean' || item == null) this.value(item, NO_OTHER);
      else {
        this.p = p;
        this.q = q;
        this.text = text;
        return false;
      }
    }
    return true;
  }

  /** A new child of `parent` for `key`, or undefined once the tree or the node is full. */
  private addKeyNode(parent: KeyNode, key: string, siblings: number): KeyNode | undefined {
    if (this.keyNodes >= MAX_KEY_NODES || siblings >= MAX_KEY_CHILDREN) return undefined;
    this.keyNodes++;
    return (parent.next = { key, c: this.classOf(key), next: undefined, alt: parent.next });
  }

  private classOf(key: string): number {
    let c = this.keyClass.get(key);
    if (c === undefined) {
      c = this.travels(key) ? C_TEXT : C_SKIP;
      if (this.keyClass.size < MAX_CACHED_KEYS) this.keyClass.set(key, c);
    }
    return c;
  }

  private count(n: number): void {
    if (this.words.length - this.p < 2) this.growWords(this.p, this.p + 2);
    this.p = putCount(this.words, this.p, n);
  }

  private word(w: number): void {
    if (this.p === this.words.length) this.growWords(this.p, this.p + 1);
    this.words[this.p++] = w;
  }

  /** Room for `min` words, keeping the first `used`. */
  private growWords(used: number, min: number): Uint16Array {
    const grown = new Uint16Array(Math.max(min, this.words.length * 2));
    grown.set(this.words.subarray(0, used));
    return (this.words = grown);
  }

  /** Room for `min` numbers, keeping the first `used`. */
  private growNumbers(used: number, min: number): Float64Array {
    const grown = new Float64Array(Math.max(min, this.nums.length * 2));
    grown.set(this.nums.subarray(0, used));
    return (this.nums = grown);
  }

  /** A key outside the key table travels when the mapper reads it (billed units) or may store it. */
  private travels(key: string): boolean {
    return key.startsWith(LEDGER_USAGE_PREFIX) || this.stored?.allows(key) === true;
  }

  private resourceOf(attrs: Attributes): Attributes {
    let filtered = this.resourceCache.get(attrs);
    if (!filtered) {
      const out: Record<string, AttributeValue> = {};
      for (const key in attrs) {
        const value = attrs[key];
        if (value !== undefined && this.classOf(key) !== C_SKIP) out[key] = value;
      }
      this.resourceCache.set(attrs, (filtered = out));
    }
    return filtered;
  }
}

/** A count (lengths, indexes, below 2^31): one word below 0x8000, else two. The caller made room for two. */
function putCount(words: Uint16Array, p: number, n: number): number {
  if (n < 0x8000) words[p++] = n;
  else {
    words[p++] = 0x8000 | (n >>> 16);
    words[p++] = n & 0xffff;
  }
  return p;
}

/** Reads a batch's sections in order (the mapping thread's side). */
class WireReader {
  p = 0;
  private q = 0;
  private t = 0;
  words: Uint16Array = new Uint16Array(0);
  private nums: Float64Array = new Float64Array(0);
  private bytes: Buffer = Buffer.alloc(0);
  /** Bytes per code unit of the text: 1 (ASCII) or 2 (UTF-16). */
  private width = 2;
  private encoding: 'latin1' | 'utf16le' = 'utf16le';
  private other: unknown[] = [];
  private spanText = '';
  private spanAt = 0;
  private sliced = false;

  reset({ buffer, numbers, words, ascii, other }: WireBatch): void {
    this.width = ascii ? 1 : 2;
    this.encoding = ascii ? 'latin1' : 'utf16le';
    this.nums = new Float64Array(buffer, 0, numbers);
    this.words = new Uint16Array(buffer, numbers * 8, words);
    this.bytes = Buffer.from(buffer, numbers * 8 + words * 2);
    this.other = other;
    this.p = 0;
    this.q = 0;
    this.t = 0;
    this.spanText = '';
  }

  /**
   * Starts a span: its text is made by one native call and its strings are slices of it (V8
   * copies short ones), far cheaper than one call per string. A long text (a big allow-listed
   * value) is read string by string instead, so that no slice keeps much alive.
   */
  span(): void {
    const n = this.count();
    this.spanAt = this.t;
    this.sliced = n <= MAX_SLICED_TEXT;
    this.spanText = this.sliced ? this.bytes.toString(this.encoding, this.width * this.t, this.width * (this.t + n)) : '';
  }

  number(): number {
    return this.nums[this.q++]!;
  }

  count(): number {
    const w = this.words[this.p++]!;
    return w < 0x8000 ? w : ((w & 0x7fff) << 16) | this.words[this.p++]!;
  }

  string(): string {
    const n = this.count();
    const a = this.t;
    this.t = a + n;
    if (this.sliced) return this.spanText.slice(a - this.spanAt, a - this.spanAt + n);
    return n === 0 ? '' : this.bytes.toString(this.encoding, this.width * a, this.width * (a + n));
  }

  value(): unknown {
    const w = this.words[this.p]!;
    if (w < T_NUMBER) return this.string();
    this.p++;
    switch (w) {
      case T_NUMBER: return this.number();
      case T_TRUE: return true;
      case T_FALSE: return false;
      case T_NULL: return null;
      case T_UNDEFINED: return undefined;
      case T_ARRAY: {
        const array = new Array<unknown>(this.count());
        for (let i = 0; i < array.length; i++) {
          if (this.words[this.p] === T_HOLE) this.p++;
          else array[i] = this.value();
        }
        return array;
      }
      case T_OTHER: return this.other[this.count()];
      default: throw new Error(`span-wire: unknown tag ${w}`);
    }
  }
}

/** The mapper's fallback error type: the first exception event's `exception.type`, else null. */
function exceptionType(span: ReadableSpan): string | null {
  for (const event of span.events) {
    if (event.name !== 'exception' || !event.attributes) continue;
    const type = firstString(event.attributes as Attributes, ['exception.type']);
    if (type !== undefined) return type;
  }
  return null;
}

function spanIdOf(span: ReadableSpan): string {
  try {
    return span.spanContext().spanId;
  } catch {
    return 'undefined';
  }
}
