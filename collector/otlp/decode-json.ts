/**
 * OTLP/JSON ExportTraceServiceRequest → SpanRecord[]: one JSON.parse, then a walk that type-checks
 * as it goes. Follows the OTLP/JSON rules: hex trace/span ids, int64 as decimal strings (numbers
 * accepted), enums as integers (names accepted), lowerCamelCase keys (snake_case accepted, as the
 * protobuf JSON mapping allows), unknown fields ignored.
 *
 * Failure policy: a body that is not JSON, or whose containers (resourceSpans, scopeSpans, spans)
 * are not arrays, is an OtlpDecodeError; a span with a bad field (id, time, attribute shape) is
 * rejected alone; a ResourceSpans whose resource attributes are malformed rejects its spans.
 */
import type { AttributeValue, SpanEvent, SpanRecord } from '../../usage/span-record.js';
import {
  EMPTY_ATTRIBUTES,
  hexToId,
  jsonNanosToMicros,
  lastNanosRemainder,
  MAX_VALUE_DEPTH,
  preview,
  ResultBuilder,
  setAttribute,
  SpanRejection,
  truncate,
  type DecodedTraces,
  type PlainValue,
} from './common.js';
import { OtlpDecodeError } from './errors.js';

type Json = Record<string, unknown>;

const EMPTY_EVENTS: readonly SpanEvent[] = Object.freeze([]);

export function decodeJsonTraces(body: Uint8Array, maxLength: number): DecodedTraces {
  const buffer = Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  let text = buffer.toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  let request: unknown;
  try {
    request = JSON.parse(text);
  } catch (err) {
    const detail = err instanceof Error ? err.message : String(err);
    throw new OtlpDecodeError(`invalid OTLP/JSON body: ${detail.split('\n', 1)[0]}`);
  }
  if (!isObject(request)) {
    throw new OtlpDecodeError(`invalid OTLP/JSON body: expected an ExportTraceServiceRequest object, got ${preview(request)}`);
  }

  const out = new ResultBuilder();
  const resourceSpans = listField(request, 'resourceSpans', 'resource_spans', 'resourceSpans');
  for (let r = 0; r < resourceSpans.length; r++) {
    const rs = resourceSpans[r];
    const where = `resourceSpans[${r}]`;
    if (!isObject(rs)) throw new OtlpDecodeError(`invalid OTLP/JSON body: ${where} is ${preview(rs)}, expected an object`);
    const scopeSpans = listField(rs, 'scopeSpans', 'scope_spans', `${where}.scopeSpans`);

    let resource: SpanRecord['resource'] = EMPTY_ATTRIBUTES;
    let resourceError: string | null = null;
    const res = rs.resource;
    if (res !== undefined && res !== null) {
      try {
        if (!isObject(res)) throw new SpanRejection(`resource is ${preview(res)}, expected an object`);
        const attrs = res.attributes;
        if (attrs !== undefined && attrs !== null) resource = jsonAttributes(attrs, maxLength, 'resource attributes');
      } catch (err) {
        if (!(err instanceof SpanRejection)) throw err;
        resourceError = err.reason;
      }
    }

    for (let s = 0; s < scopeSpans.length; s++) {
      const ss = scopeSpans[s];
      if (!isObject(ss)) {
        throw new OtlpDecodeError(`invalid OTLP/JSON body: ${where}.scopeSpans[${s}] is ${preview(ss)}, expected an object`);
      }
      const spans = listField(ss, 'spans', 'spans', `${where}.scopeSpans[${s}].spans`);
      if (resourceError !== null) {
        const first = out.next;
        out.next += spans.length;
        if (spans.length > 0) out.reject(`spans ${first}-${out.next - 1}: ${where}: ${resourceError}`, spans.length);
        continue;
      }
      const scope = ss.scope;
      let scopeName = '';
      if (isObject(scope) && typeof scope.name === 'string') scopeName = scope.name;
      for (let i = 0; i < spans.length; i++) {
        const index = out.next++;
        try {
          out.spans.push(jsonSpan(spans[i], resource, scopeName, maxLength));
        } catch (err) {
          if (!(err instanceof SpanRejection)) throw err;
          out.reject(`span ${index}: ${err.reason}`);
        }
      }
    }
  }
  return out.result();
}

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A repeated field: absent/null → [], array → itself, anything else → whole-body error. */
function listField(o: Json, camel: string, snake: string, where: string): readonly unknown[] {
  const v = o[camel] ?? o[snake];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new OtlpDecodeError(`invalid OTLP/JSON body: ${where} is ${preview(v)}, expected an array`);
  return v;
}

function jsonSpan(span: unknown, resource: SpanRecord['resource'], scopeName: string, maxLength: number): SpanRecord {
  if (!isObject(span)) throw new SpanRejection(`span is ${preview(span)}, expected an object`);
  const rawTrace = span.traceId ?? span.trace_id;
  const traceId = hexToId(rawTrace, 32);
  if (traceId === null) throw new SpanRejection(`invalid trace_id ${preview(rawTrace)} (expected 32 hex chars, not all zero)`);
  const rawSpan = span.spanId ?? span.span_id;
  const spanId = hexToId(rawSpan, 16);
  if (spanId === null) throw new SpanRejection(`invalid span_id ${preview(rawSpan)} (expected 16 hex chars, not all zero)`);
  let parentSpanId = '';
  const rawParent = span.parentSpanId ?? span.parent_span_id;
  if (rawParent !== undefined && rawParent !== null && rawParent !== '') {
    const id = hexToId(rawParent, 16);
    if (id !== null) parentSpanId = id;
    else if (rawParent !== '0000000000000000') {
      throw new SpanRejection(`invalid parent_span_id ${preview(rawParent)} (expected 16 hex chars or empty)`);
    }
  }

  const name = span.name ?? '';
  if (typeof name !== 'string') throw new SpanRejection(`name is ${preview(name)}, expected a string`);

  const rawStart = span.startTimeUnixNano ?? span.start_time_unix_nano;
  const startMicros = jsonNanosToMicros(rawStart);
  const startRem = lastNanosRemainder;
  if (startMicros < 0 || (startMicros === 0 && startRem === 0)) {
    throw new SpanRejection(
      rawStart === undefined || rawStart === null || startMicros === 0
        ? 'missing start_time_unix_nano'
        : `invalid start_time_unix_nano ${preview(rawStart)} (expected decimal nanoseconds)`,
    );
  }
  const rawEnd = span.endTimeUnixNano ?? span.end_time_unix_nano;
  const endMicros = jsonNanosToMicros(rawEnd);
  if (endMicros < 0) {
    throw new SpanRejection(
      rawEnd === undefined || rawEnd === null
        ? 'missing end_time_unix_nano'
        : `invalid end_time_unix_nano ${preview(rawEnd)} (expected decimal nanoseconds)`,
    );
  }
  if (endMicros < startMicros || (endMicros === startMicros && lastNanosRemainder < startRem)) {
    throw new SpanRejection(
      endMicros === 0 && lastNanosRemainder === 0
        ? 'missing end_time_unix_nano'
        : 'end_time_unix_nano is before start_time_unix_nano',
    );
  }

  const rawAttrs = span.attributes;
  const attributes =
    rawAttrs === undefined || rawAttrs === null ? EMPTY_ATTRIBUTES : jsonAttributes(rawAttrs, maxLength, 'attributes');

  let statusCode = 0;
  let statusMessage = '';
  const status = span.status;
  if (status !== undefined && status !== null) {
    if (!isObject(status)) throw new SpanRejection(`status is ${preview(status)}, expected an object`);
    statusCode = statusCodeOf(status.code);
    const message = status.message ?? '';
    if (typeof message !== 'string') throw new SpanRejection(`status.message is ${preview(message)}, expected a string`);
    statusMessage = message;
  }

  let events = EMPTY_EVENTS;
  const rawEvents = span.events;
  if (rawEvents !== undefined && rawEvents !== null) {
    if (!Array.isArray(rawEvents)) throw new SpanRejection(`events is ${preview(rawEvents)}, expected an array`);
    if (rawEvents.length > 0) events = rawEvents.map((ev, i) => jsonEvent(ev, i, maxLength));
  }

  return {
    traceId,
    spanId,
    parentSpanId,
    name,
    startUnixMicros: startMicros,
    endUnixMicros: endMicros,
    attributes,
    resource,
    scopeName,
    statusCode,
    statusMessage,
    events,
  };
}

function jsonEvent(ev: unknown, i: number, maxLength: number): SpanEvent {
  if (!isObject(ev)) throw new SpanRejection(`events[${i}] is ${preview(ev)}, expected an object`);
  const name = ev.name ?? '';
  if (typeof name !== 'string') throw new SpanRejection(`events[${i}].name is ${preview(name)}, expected a string`);
  const attrs = ev.attributes;
  return {
    name,
    attributes: attrs === undefined || attrs === null ? EMPTY_ATTRIBUTES : jsonAttributes(attrs, maxLength, `events[${i}].attributes`),
  };
}

const STATUS_CODES: Readonly<Record<string, number>> = {
  STATUS_CODE_UNSET: 0,
  STATUS_CODE_OK: 1,
  STATUS_CODE_ERROR: 2,
  UNSET: 0,
  OK: 1,
  ERROR: 2,
};

/** Status.code: integer (or its decimal string) or enum name; values outside 0..2 read as UNSET. */
function statusCodeOf(code: unknown): number {
  if (code === undefined || code === null) return 0;
  if (typeof code === 'number') return code === 1 || code === 2 ? code : 0;
  if (typeof code === 'string') {
    const named = STATUS_CODES[code];
    if (named !== undefined && Object.prototype.hasOwnProperty.call(STATUS_CODES, code)) return named;
    const n = Number(code);
    if (code !== '' && Number.isInteger(n)) return n === 1 || n === 2 ? n : 0;
  }
  throw new SpanRejection(`invalid status.code ${preview(code)}`);
}

function jsonAttributes(list: unknown, maxLength: number, where: string): Record<string, AttributeValue> {
  if (!Array.isArray(list)) throw new SpanRejection(`${where} is ${preview(list)}, expected an array of KeyValue`);
  const attrs: Record<string, AttributeValue> = {};
  for (let i = 0; i < list.length; i++) {
    const kv: unknown = list[i];
    if (!isObject(kv) || typeof kv.key !== 'string') {
      throw new SpanRejection(`${where}[${i}] is not a KeyValue with a string key`);
    }
    const av = kv.value;
    if (av === undefined || av === null) continue; // empty value: attribute dropped
    const value = jsonValue(av, maxLength, kv.key);
    if (value !== undefined) setAttribute(attrs, kv.key, value);
  }
  return attrs;
}

const INT_STRING = /^-?[0-9]+$/;

function badValue(key: string, member: string, v: unknown): SpanRejection {
  return new SpanRejection(`attribute ${preview(key)}: ${member} ${preview(v)} is not valid`);
}

/** int64 (decimal string or number) → number when exact, else the decimal string. */
function jsonInt(v: unknown, key: string): number | string {
  if (typeof v === 'number') {
    if (Number.isInteger(v)) return v;
  } else if (typeof v === 'string' && INT_STRING.test(v)) {
    const n = Number(v);
    return Number.isSafeInteger(n) ? n : v;
  }
  throw badValue(key, 'intValue', v);
}

function jsonDouble(v: unknown, key: string): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string') {
    // Proto JSON mapping writes NaN/Infinity as strings; numbers-as-strings are also allowed.
    if (v === 'NaN') return NaN;
    if (v === 'Infinity') return Infinity;
    if (v === '-Infinity') return -Infinity;
    const n = Number(v);
    if (v.trim() !== '' && !Number.isNaN(n)) return n;
  }
  throw badValue(key, 'doubleValue', v);
}

function jsonBytes(v: unknown, key: string): string {
  if (typeof v !== 'string') throw badValue(key, 'bytesValue', v);
  // Proto JSON mapping: bytes are base64 (standard or URL-safe alphabet).
  return Buffer.from(v, 'base64').toString('hex');
}

/**
 * AnyValue → AttributeValue; undefined for an empty AnyValue. Checks lowerCamelCase members first,
 * snake_case only when none matched.
 */
function jsonValue(av: unknown, maxLength: number, key: string): AttributeValue | undefined {
  if (!isObject(av)) throw new SpanRejection(`attribute ${preview(key)}: value is ${preview(av)}, expected an AnyValue object`);
  let v: unknown;
  if ((v = av.stringValue) !== undefined && v !== null) {
    if (typeof v !== 'string') throw badValue(key, 'stringValue', v);
    return v.length > maxLength ? truncate(v, maxLength) : v;
  }
  if ((v = av.intValue) !== undefined && v !== null) return jsonInt(v, key);
  if ((v = av.doubleValue) !== undefined && v !== null) return jsonDouble(v, key);
  if ((v = av.boolValue) !== undefined && v !== null) {
    if (typeof v !== 'boolean') throw badValue(key, 'boolValue', v);
    return v;
  }
  if ((v = av.arrayValue) !== undefined && v !== null) return jsonArray(v, maxLength, key);
  if ((v = av.kvlistValue) !== undefined && v !== null) {
    return truncate(JSON.stringify(jsonKvlistPlain(v, key, 1)), maxLength);
  }
  if ((v = av.bytesValue) !== undefined && v !== null) return truncate(jsonBytes(v, key), maxLength);
  // snake_case spelling of the same members
  if ((v = av.string_value) !== undefined && v !== null) return jsonValue({ stringValue: v }, maxLength, key);
  if ((v = av.int_value) !== undefined && v !== null) return jsonInt(v, key);
  if ((v = av.double_value) !== undefined && v !== null) return jsonDouble(v, key);
  if ((v = av.bool_value) !== undefined && v !== null) return jsonValue({ boolValue: v }, maxLength, key);
  if ((v = av.array_value) !== undefined && v !== null) return jsonArray(v, maxLength, key);
  if ((v = av.kvlist_value) !== undefined && v !== null) {
    return truncate(JSON.stringify(jsonKvlistPlain(v, key, 1)), maxLength);
  }
  if ((v = av.bytes_value) !== undefined && v !== null) return truncate(jsonBytes(v, key), maxLength);
  return undefined;
}

function valuesOf(container: unknown, key: string, member: string): unknown[] {
  if (!isObject(container)) throw badValue(key, member, container);
  const values = container.values;
  if (values === undefined || values === null) return [];
  if (!Array.isArray(values)) throw new SpanRejection(`attribute ${preview(key)}: ${member}.values is not an array`);
  return values;
}

function jsonArray(container: unknown, maxLength: number, key: string): Array<string | number | boolean | null> {
  const values = valuesOf(container, key, 'arrayValue');
  const out: Array<string | number | boolean | null> = new Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const el = values[i];
    if (el === null || el === undefined) {
      out[i] = null;
      continue;
    }
    if (!isObject(el)) throw badValue(key, `arrayValue.values[${i}]`, el);
    if (el.arrayValue != null || el.array_value != null || el.kvlistValue != null || el.kvlist_value != null) {
      out[i] = truncate(JSON.stringify(jsonPlain(el, key, 1)), maxLength);
      continue;
    }
    const v = jsonValue(el, maxLength, key);
    out[i] = v === undefined ? null : (v as string | number | boolean);
  }
  return out;
}

function jsonPlain(av: unknown, key: string, depth: number): PlainValue {
  if (depth > MAX_VALUE_DEPTH) throw new SpanRejection(`attribute ${preview(key)}: value nested deeper than ${MAX_VALUE_DEPTH}`);
  if (av === null || av === undefined) return null;
  if (!isObject(av)) throw badValue(key, 'value', av);
  const arr = av.arrayValue ?? av.array_value;
  if (arr !== undefined && arr !== null) return valuesOf(arr, key, 'arrayValue').map((el) => jsonPlain(el, key, depth + 1));
  const kvlist = av.kvlistValue ?? av.kvlist_value;
  if (kvlist !== undefined && kvlist !== null) return jsonKvlistPlain(kvlist, key, depth + 1);
  const v = jsonValue(av, Infinity, key);
  return v === undefined ? null : (v as PlainValue);
}

function jsonKvlistPlain(container: unknown, key: string, depth: number): { [k: string]: PlainValue } {
  if (depth > MAX_VALUE_DEPTH) throw new SpanRejection(`attribute ${preview(key)}: value nested deeper than ${MAX_VALUE_DEPTH}`);
  const values = valuesOf(container, key, 'kvlistValue');
  const o: { [k: string]: PlainValue } = {};
  for (const kv of values) {
    if (!isObject(kv) || typeof kv.key !== 'string') {
      throw new SpanRejection(`attribute ${preview(key)}: kvlistValue entry is not a KeyValue with a string key`);
    }
    const v = jsonPlain(kv.value, key, depth + 1);
    if (kv.key === '__proto__') Object.defineProperty(o, kv.key, { value: v, enumerable: true, writable: true });
    else o[kv.key] = v;
  }
  return o;
}
