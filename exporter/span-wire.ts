/**
 * The compact form in which export() hands AI spans to the mapping thread: one flat array per
 * batch (structured-cloned by postMessage) holding only what the mapper reads, so the app's thread
 * copies a few values per span and nothing else. Ordinary spans are classified here and never
 * leave the app's thread; prompt and completion text never travels.
 *
 * Both threads build the same key table from the same options, so known attribute keys travel as
 * small integers; keys matched by a prefix (`genai_ledger.usage.*`, allow-list prefixes) as text.
 * Per span: traceId, spanId, parentSpanId, name, start µs, end µs, scope, status code, the first
 * exception type (error spans only, else null), resource index, n, then n key/value pairs.
 */
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { firstString } from './attribute-read.js';
import { DEFAULT_ATTRIBUTION_KEYS, type AttributionKeys } from './attribution.js';
import { callOperation } from './classify.js';
import { CONTENT_KEY_PATTERN, KEYS, LEDGER_USAGE_PREFIX } from './conventions.js';
import { STATUS_ERROR, type Attributes, type AttributeValue, type SpanEvent, type SpanRecord } from './span-record.js';
import { hrTimeToMicros } from './time.js';

/** The mapper options that decide which attributes the mapper reads. */
export interface WireOptions {
  attribution?: Partial<AttributionKeys>;
  attributeAllowList?: readonly string[];
}

/** One export() call's AI spans, ready for postMessage. */
export interface WireBatch {
  data: unknown[];
  /** The batch's distinct resources, filtered like span attributes. */
  resources: Attributes[];
}

/** What encode() made of an export() call. */
export interface EncodedSpans {
  batch: WireBatch;
  /** AI spans in the batch. */
  sent: number;
  /** Ordinary spans (not AI calls): counted, not sent. */
  skipped: number;
  /** Spans that could not be read (counted, not sent) and the first reasons. */
  malformed: number;
  errors: string[];
}

const FIELDS = 11;
const MAX_ERRORS_KEPT = 10;
const NO_EVENTS: readonly SpanEvent[] = [];

export class SpanWire {
  private readonly keys: readonly string[];
  private readonly index: ReadonlyMap<string, number>;
  private readonly prefixes: readonly string[];
  private readonly resourceCache = new WeakMap<object, Attributes>();

  constructor(options: WireOptions = {}) {
    const attribution = { ...DEFAULT_ATTRIBUTION_KEYS, ...options.attribution };
    const allow = options.attributeAllowList ?? [];
    const keys = new Set<string>([
      ...Object.values(KEYS).flat(),
      ...Object.values(attribution).flat(),
      ...allow.filter((k) => !k.endsWith('*') && !CONTENT_KEY_PATTERN.test(k)),
    ]);
    this.keys = [...keys];
    this.index = new Map(this.keys.map((k, i) => [k, i]));
    this.prefixes = [LEDGER_USAGE_PREFIX, ...allow.filter((k) => k.endsWith('*')).map((k) => k.slice(0, -1))];
  }

  /** Classifies and packs an export() call's spans; never throws (an unreadable span is counted). */
  encode(spans: readonly ReadableSpan[]): EncodedSpans {
    const data: unknown[] = [];
    const resources: Attributes[] = [];
    const sources: object[] = [];
    const out: EncodedSpans = { batch: { data, resources }, sent: 0, skipped: 0, malformed: 0, errors: [] };
    for (const span of spans) {
      const start = data.length;
      try {
        const attrs = span.attributes;
        if (callOperation(attrs, span.name) === undefined) {
          out.skipped++;
          continue;
        }
        const context = span.spanContext();
        const resource = span.resource.attributes;
        let r = sources.indexOf(resource);
        if (r < 0) {
          r = sources.push(resource) - 1;
          resources.push(this.resourceOf(resource));
        }
        data.push(
          context.traceId, context.spanId, span.parentSpanContext?.spanId ?? '', span.name,
          hrTimeToMicros(span.startTime), hrTimeToMicros(span.endTime), span.instrumentationScope.name,
          span.status.code, span.status.code === STATUS_ERROR ? exceptionType(span) : null, r, 0,
        );
        data[start + FIELDS - 1] = this.pushAttributes(attrs, data);
        out.sent++;
      } catch (error) {
        data.length = start;
        out.malformed++;
        if (out.errors.length < MAX_ERRORS_KEPT) out.errors.push(`span ${spanIdOf(span)}: ${(error as Error)?.message ?? String(error)}`);
      }
    }
    return out;
  }

  /** The spans of a batch, as the mapper reads them (on the mapping thread). */
  decode(batch: WireBatch): SpanRecord[] {
    const { data, resources } = batch;
    const records: SpanRecord[] = [];
    for (let i = 0; i < data.length;) {
      const exception = data[i + 8] as string | null;
      const n = data[i + 10] as number;
      const attributes: Record<string, AttributeValue> = {};
      for (let j = i + FIELDS, end = j + 2 * n; j < end; j += 2) {
        const key = data[j] as number | string;
        attributes[typeof key === 'number' ? this.keys[key]! : key] = data[j + 1] as AttributeValue;
      }
      records.push({
        traceId: data[i] as string,
        spanId: data[i + 1] as string,
        parentSpanId: data[i + 2] as string,
        name: data[i + 3] as string,
        startUnixMicros: data[i + 4] as number,
        endUnixMicros: data[i + 5] as number,
        scopeName: data[i + 6] as string,
        statusCode: data[i + 7] as number,
        statusMessage: '',
        events: exception === null ? NO_EVENTS : [{ name: 'exception', attributes: { 'exception.type': exception } }],
        resource: resources[data[i + 9] as number]!,
        attributes,
      });
      i += FIELDS + 2 * n;
    }
    return records;
  }

  /** Appends the attributes the mapper may read as key/value pairs; returns how many. */
  private pushAttributes(attrs: Attributes, data: unknown[]): number {
    let n = 0;
    for (const key in attrs) {
      const value = attrs[key];
      if (value === undefined) continue;
      const i = this.index.get(key);
      if (i !== undefined) data.push(i, value);
      else if (this.prefixed(key)) data.push(key, value);
      else continue;
      n++;
    }
    return n;
  }

  private prefixed(key: string): boolean {
    for (const prefix of this.prefixes) if (key.startsWith(prefix)) return !CONTENT_KEY_PATTERN.test(key);
    return false;
  }

  private resourceOf(attrs: Attributes): Attributes {
    let filtered = this.resourceCache.get(attrs);
    if (!filtered) {
      const out: Record<string, AttributeValue> = {};
      for (const key in attrs) {
        const value = attrs[key];
        if (value !== undefined && (this.index.has(key) || this.prefixed(key))) out[key] = value;
      }
      this.resourceCache.set(attrs, (filtered = out));
    }
    return filtered;
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
