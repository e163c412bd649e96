import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import {
  decodeTraceRequest,
  MAX_REPORTED_ERRORS,
  OtlpDecodeError,
  type DecodedTraces,
  type OtlpEncoding,
} from '../../collector/otlp/decode.js';
import { ExportTraceServiceRequest, Span } from '../../collector/otlp/schema.js';
import type { SpanRecord } from '../../usage/span-record.js';
import {
  CHAT_ATTRIBUTES,
  hrToMicros,
  recordChatTrace,
  RESOURCE_ATTRIBUTES,
  SCOPE_NAME,
} from '../fixtures/otlp/sdk-spans.js';

const ENCODINGS: OtlpEncoding[] = ['protobuf', 'json'];
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const json = (o: unknown): Uint8Array => utf8(JSON.stringify(o));

/** What the decoder must produce for an SDK span (the in-process adapter's view of it). */
function expectedRecord(span: ReadableSpan): SpanRecord {
  const ctx = span.spanContext();
  return {
    traceId: ctx.traceId,
    spanId: ctx.spanId,
    parentSpanId: span.parentSpanContext?.spanId ?? '',
    name: span.name,
    startUnixMicros: hrToMicros(span.startTime),
    endUnixMicros: hrToMicros(span.endTime),
    attributes: span.attributes,
    resource: span.resource.attributes,
    scopeName: span.instrumentationScope.name,
    statusCode: span.status.code,
    statusMessage: span.status.message ?? '',
    events: span.events.map((e) => ({ name: e.name, attributes: e.attributes ?? {} })),
  };
}

function byId(decoded: DecodedTraces, spanId: string): SpanRecord {
  const found = decoded.spans.find((s) => s.spanId === spanId);
  if (!found) throw new Error(`span ${spanId} not decoded`);
  return found;
}

/** A minimal valid OTLP/JSON span; override fields per case. */
function jsonSpan(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    traceId: '5b8efff798038103d269b633813fc60c',
    spanId: 'eee19b7ec3c1b174',
    name: 'chat gpt-4o',
    startTimeUnixNano: '1767225600123456789',
    endTimeUnixNano: '1767225601000000999',
    ...over,
  };
}

function jsonRequest(spans: unknown[], resourceAttributes: unknown[] = []): Uint8Array {
  return json({
    resourceSpans: [
      { resource: { attributes: resourceAttributes }, scopeSpans: [{ scope: { name: 'scope-a' }, spans }] },
    ],
  });
}

describe('SDK payloads round-trip (otlp-transformer serializers)', () => {
  const fixture = recordChatTrace();

  it.each(ENCODINGS)('%s: every span field matches the SDK span', (encoding) => {
    const decoded = decodeTraceRequest(encoding === 'json' ? fixture.json : fixture.protobuf, encoding);
    expect(decoded.rejected).toBe(0);
    expect(decoded.errors).toEqual([]);
    expect(decoded.spans).toHaveLength(fixture.spans.length);
    for (const span of fixture.spans) {
      expect(byId(decoded, span.spanContext().spanId)).toEqual(expectedRecord(span));
    }
  });

  it.each(ENCODINGS)('%s: ids, parent links and micro-second times are exact', (encoding) => {
    const decoded = decodeTraceRequest(encoding === 'json' ? fixture.json : fixture.protobuf, encoding);
    const root = decoded.spans.find((s) => s.name === 'invoke_agent planner')!;
    const chat = decoded.spans.find((s) => s.name === 'chat gpt-4o')!;
    expect(root.parentSpanId).toBe('');
    expect(chat.parentSpanId).toBe(root.spanId);
    expect(chat.traceId).toBe(root.traceId);
    expect(root.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(chat.spanId).toMatch(/^[0-9a-f]{16}$/);
    // startTime t(0, 123_456 ns) → …000123 µs; chat ends at 1250 ms + 1 ns → truncated to …250000 µs.
    expect(root.startUnixMicros).toBe(1_767_225_600_000_123);
    expect(chat.startUnixMicros).toBe(1_767_225_600_005_000);
    expect(chat.endUnixMicros).toBe(1_767_225_601_250_000);
    expect(root.endUnixMicros).toBe(1_767_225_602_000_000);
  });

  it.each(ENCODINGS)('%s: attributes of every type, resource, scope, status, events', (encoding) => {
    const decoded = decodeTraceRequest(encoding === 'json' ? fixture.json : fixture.protobuf, encoding);
    const chat = decoded.spans.find((s) => s.name === 'chat gpt-4o')!;
    expect(chat.attributes).toEqual(CHAT_ATTRIBUTES);
    expect(chat.attributes['test.int_array']).toEqual([1, -2, 3000000000]);
    expect(chat.attributes['test.holes']).toEqual(['a', null, 'c']);
    expect(chat.attributes['gen_ai.request.stream']).toBe(false);
    expect(chat.attributes['test.zero']).toBe(0);
    expect(chat.attributes['test.empty_string']).toBe('');
    expect(chat.resource).toEqual(RESOURCE_ATTRIBUTES);
    expect(chat.scopeName).toBe(SCOPE_NAME);
    expect(chat.statusCode).toBe(1);
    expect(chat.events).toEqual([
      { name: 'gen_ai.choice', attributes: { 'gen_ai.choice.index': 0, finish_reason: 'stop' } },
      { name: 'no-attributes', attributes: {} },
    ]);
    const failed = decoded.spans.find((s) => s.name === 'chat gpt-4o-mini')!;
    expect(failed.statusCode).toBe(2);
    expect(failed.statusMessage).toBe('429 Too Many Requests');
    expect(failed.endUnixMicros).toBe(failed.startUnixMicros);
  });

  it.each(ENCODINGS)('%s: one resource attribute map shared by all spans of a resource', (encoding) => {
    const decoded = decodeTraceRequest(encoding === 'json' ? fixture.json : fixture.protobuf, encoding);
    const [a, b, c] = decoded.spans;
    expect(a!.resource).toBe(b!.resource);
    expect(b!.resource).toBe(c!.resource);
  });

  it('protobuf and JSON decode to identical records', () => {
    const fromPb = decodeTraceRequest(fixture.protobuf, 'protobuf');
    const fromJson = decodeTraceRequest(fixture.json, 'json');
    expect(fromPb.spans).toEqual(fromJson.spans);
  });

  it('accepts a plain Uint8Array (not a Buffer) and a Uint8Array view with an offset', () => {
    const plain = new Uint8Array(fixture.protobuf);
    expect(decodeTraceRequest(plain, 'protobuf').spans).toHaveLength(3);
    const padded = new Uint8Array(plain.length + 7);
    padded.set(plain, 7);
    expect(decodeTraceRequest(padded.subarray(7), 'protobuf').spans).toHaveLength(3);
    const jsonPadded = new Uint8Array(fixture.json.length + 3);
    jsonPadded.set(fixture.json, 3);
    expect(decodeTraceRequest(jsonPadded.subarray(3), 'json').spans).toHaveLength(3);
  });

  it.each(ENCODINGS)('%s: maxAttributeValueLength truncates strings, also inside arrays', (encoding) => {
    const decoded = decodeTraceRequest(encoding === 'json' ? fixture.json : fixture.protobuf, encoding, {
      maxAttributeValueLength: 3,
    });
    const chat = decoded.spans.find((s) => s.name === 'chat gpt-4o')!;
    expect(chat.attributes['gen_ai.request.model']).toBe('gpt');
    expect(chat.attributes['gen_ai.response.finish_reasons']).toEqual(['sto', 'len']);
    expect(chat.attributes['gen_ai.usage.input_tokens']).toBe(1234);
    expect(chat.name).toBe('chat gpt-4o'); // names are not attribute values
    expect(chat.resource['service.name']).toBe('led');
  });
});

describe('hand-written OTLP/JSON', () => {
  it('accepts snake_case keys, enum names and numbers-as-numbers', () => {
    const body = json({
      resource_spans: [
        {
          resource: { attributes: [{ key: 'service.name', value: { string_value: 'snake' } }] },
          scope_spans: [
            {
              scope: { name: 'snake-scope' },
              spans: [
                {
                  trace_id: '5B8EFFF798038103D269B633813FC60C',
                  span_id: 'EEE19B7EC3C1B174',
                  parent_span_id: '00f067aa0ba902b7',
                  name: 'chat',
                  kind: 'SPAN_KIND_CLIENT',
                  start_time_unix_nano: 1767225600123456,
                  end_time_unix_nano: 1767225600999999000,
                  attributes: [
                    { key: 'i', value: { int_value: 42 } },
                    { key: 'd', value: { double_value: 0.5 } },
                    { key: 'b', value: { bool_value: true } },
                    { key: 'a', value: { array_value: { values: [{ int_value: '7' }, { string_value: 'x' }] } } },
                  ],
                  status: { code: 'STATUS_CODE_ERROR', message: 'boom' },
                  unknownField: { ignored: true },
                },
              ],
            },
          ],
        },
      ],
    });
    const { spans, rejected } = decodeTraceRequest(body, 'json');
    expect(rejected).toBe(0);
    expect(spans).toEqual([
      {
        traceId: '5b8efff798038103d269b633813fc60c',
        spanId: 'eee19b7ec3c1b174',
        parentSpanId: '00f067aa0ba902b7',
        name: 'chat',
        startUnixMicros: 1767225600123, // 1767225600123456 ns (a number) → µs
        endUnixMicros: 1767225600999999,
        attributes: { i: 42, d: 0.5, b: true, a: [7, 'x'] },
        resource: { 'service.name': 'snake' },
        scopeName: 'snake-scope',
        statusCode: 2,
        statusMessage: 'boom',
        events: [],
      },
    ]);
  });

  it.each([
    ['integer', 2, 2],
    ['decimal string', '1', 1],
    ['enum name', 'STATUS_CODE_OK', 1],
    ['unset name', 'STATUS_CODE_UNSET', 0],
    ['absent', undefined, 0],
    ['unknown integer reads as unset', 9, 0],
  ])('status.code as %s', (_label, code, want) => {
    const { spans } = decodeTraceRequest(jsonRequest([jsonSpan({ status: { code } })]), 'json');
    expect(spans[0]!.statusCode).toBe(want);
  });

  it('int64 beyond 2^53 stays an exact string; safe ones become numbers', () => {
    const body = jsonRequest([
      jsonSpan({
        attributes: [
          { key: 'big', value: { intValue: '9223372036854775807' } },
          { key: 'neg', value: { intValue: '-9007199254740993' } },
          { key: 'safe', value: { intValue: '9007199254740991' } },
          { key: 'num', value: { intValue: 12 } },
        ],
      }),
    ]);
    expect(decodeTraceRequest(body, 'json').spans[0]!.attributes).toEqual({
      big: '9223372036854775807',
      neg: '-9007199254740993',
      safe: 9007199254740991,
      num: 12,
    });
  });

  it('19-digit nanosecond strings convert without precision loss', () => {
    const body = jsonRequest([
      jsonSpan({ startTimeUnixNano: '1767225600123456999', endTimeUnixNano: '1767225600123457001' }),
    ]);
    const [span] = decodeTraceRequest(body, 'json').spans;
    expect(span!.startUnixMicros).toBe(1767225600123456);
    expect(span!.endUnixMicros).toBe(1767225600123457);
    // The naive conversion rounds up a microsecond here (doubles are 256 ns apart at this size).
    expect(Math.floor(Number('1767225600123456999') / 1000)).toBe(1767225600123457);
  });

  it('kvlistValue becomes a JSON string, bytesValue (base64) a hex string, doubles from strings', () => {
    const body = jsonRequest([
      jsonSpan({
        attributes: [
          {
            key: 'kv',
            value: {
              kvlistValue: {
                values: [
                  { key: 'n', value: { intValue: '1' } },
                  { key: 'list', value: { arrayValue: { values: [{ boolValue: false }, {}] } } },
                  { key: 'inner', value: { kvlistValue: { values: [{ key: 's', value: { stringValue: 'x' } }] } } },
                ],
              },
            },
          },
          { key: 'bytes', value: { bytesValue: Buffer.from([0xde, 0xad, 0xbe, 0xef]).toString('base64') } },
          { key: 'nan', value: { doubleValue: 'NaN' } },
          { key: 'inf', value: { doubleValue: '-Infinity' } },
          { key: 'nested', value: { arrayValue: { values: [{ arrayValue: { values: [{ intValue: 1 }] } }] } } },
          { key: 'empty', value: {} },
        ],
      }),
    ]);
    const attrs = decodeTraceRequest(body, 'json').spans[0]!.attributes;
    expect(attrs.kv).toBe('{"n":1,"list":[false,null],"inner":{"s":"x"}}');
    expect(attrs.bytes).toBe('deadbeef');
    expect(attrs.nan).toBeNaN();
    expect(attrs.inf).toBe(-Infinity);
    expect(attrs.nested).toEqual(['[1]']);
    expect('empty' in attrs).toBe(false);
  });

  it('truncation never splits a surrogate pair', () => {
    const body = jsonRequest([jsonSpan({ attributes: [{ key: 'emoji', value: { stringValue: '😀😀' } }] })]);
    expect(decodeTraceRequest(body, 'json', { maxAttributeValueLength: 3 }).spans[0]!.attributes.emoji).toBe('😀');
    expect(decodeTraceRequest(body, 'json', { maxAttributeValueLength: 1 }).spans[0]!.attributes.emoji).toBe('');
    expect(decodeTraceRequest(body, 'json', { maxAttributeValueLength: 4 }).spans[0]!.attributes.emoji).toBe('😀😀');
  });

  it('nested arrays are stringified once (no re-escaping per level)', () => {
    let value: Record<string, unknown> = { stringValue: 'leaf' };
    for (let i = 0; i < 25; i++) value = { arrayValue: { values: [value] } };
    const decoded = decodeTraceRequest(jsonRequest([jsonSpan({ attributes: [{ key: 'deep', value }] })]), 'json');
    expect(decoded.spans[0]!.attributes.deep).toEqual(['['.repeat(24) + '"leaf"' + ']'.repeat(24)]);
  });

  it('an attribute named __proto__ is an own property, not the prototype', () => {
    const body = jsonRequest([
      jsonSpan({ attributes: [{ key: '__proto__', value: { arrayValue: { values: [{ stringValue: 'x' }] } } }] }),
    ]);
    const attrs = decodeTraceRequest(body, 'json').spans[0]!.attributes;
    expect(Object.getPrototypeOf(attrs)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(attrs, '__proto__')?.value).toEqual(['x']);
  });

  it('empty request and empty containers decode to no spans', () => {
    for (const body of [{}, { resourceSpans: [] }, { resourceSpans: [{}] }, { resourceSpans: [{ scopeSpans: [{}] }] }]) {
      expect(decodeTraceRequest(json(body), 'json')).toEqual({ spans: [], rejected: 0, errors: [] });
    }
  });

  it('a UTF-8 byte-order mark is tolerated', () => {
    const body = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), jsonRequest([jsonSpan()])]);
    expect(decodeTraceRequest(body, 'json').spans).toHaveLength(1);
  });
});

describe('malformed spans are rejected alone, with a reason', () => {
  it.each<[string, Record<string, unknown>, RegExp]>([
    ['invalid hex trace id', { traceId: 'zz8efff798038103d269b633813fc60c' }, /^span 1: invalid trace_id/],
    ['short trace id', { traceId: '5b8efff7' }, /^span 1: invalid trace_id/],
    ['base64 trace id', { traceId: 'W47/95gDgQPSabYzgT/GDA==' }, /^span 1: invalid trace_id/],
    ['all-zero trace id', { traceId: '0'.repeat(32) }, /^span 1: invalid trace_id/],
    ['missing span id', { spanId: undefined }, /^span 1: invalid span_id/],
    ['all-zero span id', { spanId: '0000000000000000' }, /^span 1: invalid span_id/],
    ['non-hex span id', { spanId: 'xyz19b7ec3c1b174' }, /^span 1: invalid span_id "xyz19b7ec3c1b174"/],
    ['bad parent id', { parentSpanId: 'abc' }, /^span 1: invalid parent_span_id/],
    ['missing start time', { startTimeUnixNano: undefined }, /^span 1: missing start_time_unix_nano/],
    ['zero start time', { startTimeUnixNano: '0' }, /^span 1: missing start_time_unix_nano/],
    ['garbage start time', { startTimeUnixNano: '12:00' }, /^span 1: invalid start_time_unix_nano/],
    ['end before start', { endTimeUnixNano: '1767225600123456788' }, /^span 1: end_time_unix_nano is before/],
    ['missing end time', { endTimeUnixNano: undefined }, /^span 1: missing end_time_unix_nano/],
    ['attributes not an array', { attributes: { key: 'a' } }, /^span 1: attributes is an object, expected an array/],
    ['attribute without key', { attributes: [{ value: { stringValue: 'x' } }] }, /^span 1: attributes\[0\] is not a KeyValue/],
    ['attribute value not an object', { attributes: [{ key: 'k', value: 'x' }] }, /^span 1: attribute "k": value is "x"/],
    ['stringValue of wrong type', { attributes: [{ key: 'k', value: { stringValue: 5 } }] }, /stringValue 5 is not valid/],
    ['intValue not an integer', { attributes: [{ key: 'k', value: { intValue: '1.5' } }] }, /intValue "1.5" is not valid/],
    ['boolValue as string', { attributes: [{ key: 'k', value: { boolValue: 'true' } }] }, /boolValue "true" is not valid/],
    ['arrayValue.values not an array', { attributes: [{ key: 'k', value: { arrayValue: { values: 3 } } }] }, /values is not an array/],
    ['events not an array', { events: 'x' }, /^span 1: events is "x", expected an array/],
    ['event attributes not an array', { events: [{ name: 'e', attributes: 1 }] }, /^span 1: events\[0\]\.attributes is 1/],
    ['status not an object', { status: 2 }, /^span 1: status is 2/],
    ['unknown status name', { status: { code: 'BROKEN' } }, /^span 1: invalid status.code "BROKEN"/],
    ['name not a string', { name: 7 }, /^span 1: name is 7/],
  ])('%s', (_label, override, reason) => {
    const body = jsonRequest([
      jsonSpan({ spanId: '1111111111111111' }),
      jsonSpan(override),
      jsonSpan({ spanId: '3333333333333333' }),
    ]);
    const decoded = decodeTraceRequest(body, 'json');
    expect(decoded.rejected).toBe(1);
    expect(decoded.spans.map((s) => s.spanId)).toEqual(['1111111111111111', '3333333333333333']);
    expect(decoded.errors).toHaveLength(1);
    expect(decoded.errors[0]).toMatch(reason);
  });

  it('a span that is not an object is rejected', () => {
    const decoded = decodeTraceRequest(jsonRequest([42, jsonSpan()]), 'json');
    expect(decoded.rejected).toBe(1);
    expect(decoded.errors[0]).toBe('span 0: span is 42, expected an object');
    expect(decoded.spans).toHaveLength(1);
  });

  it('an all-zero parent id reads as a root span', () => {
    const decoded = decodeTraceRequest(jsonRequest([jsonSpan({ parentSpanId: '0000000000000000' })]), 'json');
    expect(decoded.rejected).toBe(0);
    expect(decoded.spans[0]!.parentSpanId).toBe('');
  });

  it('end == start and sub-microsecond end > start are accepted; end < start by 1 ns is not', () => {
    const ok = decodeTraceRequest(
      jsonRequest([
        jsonSpan({ endTimeUnixNano: '1767225600123456789' }),
        jsonSpan({ endTimeUnixNano: '1767225600123456790' }),
      ]),
      'json',
    );
    expect(ok.rejected).toBe(0);
    const bad = decodeTraceRequest(jsonRequest([jsonSpan({ endTimeUnixNano: '1767225600123456788' })]), 'json');
    expect(bad.rejected).toBe(1);
  });

  it('malformed resource attributes reject that resource’s spans and keep other resources', () => {
    const body = json({
      resourceSpans: [
        { resource: { attributes: 'nope' }, scopeSpans: [{ spans: [jsonSpan(), jsonSpan()] }] },
        { resource: { attributes: [] }, scopeSpans: [{ spans: [jsonSpan({ spanId: '4444444444444444' })] }] },
      ],
    });
    const decoded = decodeTraceRequest(body, 'json');
    expect(decoded.rejected).toBe(2);
    expect(decoded.spans.map((s) => s.spanId)).toEqual(['4444444444444444']);
    expect(decoded.errors[0]).toBe(
      'spans 0-1: resourceSpans[0]: resource attributes is "nope", expected an array of KeyValue',
    );
  });

  it(`keeps only the first ${MAX_REPORTED_ERRORS} reasons but counts every rejection`, () => {
    const bad = Array.from({ length: 25 }, () => jsonSpan({ spanId: 'bad' }));
    const decoded = decodeTraceRequest(jsonRequest([...bad, jsonSpan()]), 'json');
    expect(decoded.rejected).toBe(25);
    expect(decoded.errors).toHaveLength(MAX_REPORTED_ERRORS);
    expect(decoded.spans).toHaveLength(1);
  });

  it('an attribute nested deeper than the limit rejects its span instead of overflowing the stack', () => {
    const depth = 20_000;
    const value = '{"kvlistValue":{"values":[{"key":"k","value":'.repeat(depth) + '{"stringValue":"leaf"}' + '}]}}'.repeat(depth);
    const span = JSON.stringify(jsonSpan({ attributes: '@' })).replace('"@"', `[{"key":"deep","value":${value}}]`);
    const decoded = decodeTraceRequest(utf8(`{"resourceSpans":[{"scopeSpans":[{"spans":[${span}]}]}]}`), 'json');
    expect(decoded.rejected).toBe(1);
    expect(decoded.errors[0]).toMatch(/nested deeper than/);
  });
});

describe('protobuf: malformed spans and bodies', () => {
  const id = (hex: string): Buffer => Buffer.from(hex, 'hex');
  const TRACE = id('5b8efff798038103d269b633813fc60c');
  function pbSpan(over: Record<string, unknown> = {}): Record<string, unknown> {
    return {
      traceId: TRACE,
      spanId: id('eee19b7ec3c1b174'),
      name: 'chat',
      startTimeUnixNano: '1767225600123456789',
      endTimeUnixNano: '1767225601000000000',
      ...over,
    };
  }
  function pbRequest(spans: Record<string, unknown>[], resourceAttributes: unknown[] = []): Uint8Array {
    const message = ExportTraceServiceRequest.fromObject({
      resourceSpans: [{ resource: { attributes: resourceAttributes }, scopeSpans: [{ scope: { name: 's' }, spans }] }],
    });
    return ExportTraceServiceRequest.encode(message).finish();
  }

  it.each<[string, Record<string, unknown>, string]>([
    ['short trace id', { traceId: id('5b8e') }, 'span 1: invalid trace_id (2 bytes, expected 16)'],
    ['missing trace id', { traceId: Buffer.alloc(0) }, 'span 1: invalid trace_id (0 bytes, expected 16)'],
    ['all-zero trace id', { traceId: Buffer.alloc(16) }, 'span 1: invalid trace_id (all zeros)'],
    ['all-zero span id', { spanId: Buffer.alloc(8) }, 'span 1: invalid span_id (all zeros)'],
    ['long span id', { spanId: Buffer.alloc(9, 1) }, 'span 1: invalid span_id (9 bytes, expected 8)'],
    ['bad parent id', { parentSpanId: Buffer.alloc(4, 1) }, 'span 1: invalid parent_span_id (4 bytes, expected 8)'],
    ['missing start', { startTimeUnixNano: 0 }, 'span 1: missing start_time_unix_nano'],
    ['missing end', { endTimeUnixNano: 0 }, 'span 1: missing end_time_unix_nano'],
    ['end before start by 1 ns', { endTimeUnixNano: '1767225600123456788' }, 'span 1: end_time_unix_nano is before start_time_unix_nano'],
  ])('%s', (_label, override, reason) => {
    const body = pbRequest([pbSpan({ spanId: id('1111111111111111') }), pbSpan(override), pbSpan({ spanId: id('3333333333333333') })]);
    const decoded = decodeTraceRequest(body, 'protobuf');
    expect(decoded.rejected).toBe(1);
    expect(decoded.errors).toEqual([reason]);
    expect(decoded.spans.map((s) => s.spanId)).toEqual(['1111111111111111', '3333333333333333']);
  });

  it('int64 / bytes / kvlist / empty values, and exact nanos → micros', () => {
    const body = pbRequest([
      pbSpan({
        startTimeUnixNano: '1767225600123456789',
        endTimeUnixNano: '1767225600123456789',
        attributes: [
          { key: 'max', value: { intValue: '9223372036854775807' } },
          { key: 'min', value: { intValue: '-9223372036854775808' } },
          { key: 'unsafe', value: { intValue: '9007199254740992' } },
          { key: 'safe', value: { intValue: '-9007199254740991' } },
          { key: 'tokens', value: { intValue: 1234 } },
          { key: 'zero', value: { intValue: 0 } },
          { key: 'dzero', value: { doubleValue: 0 } },
          { key: 'f', value: { boolValue: false } },
          { key: 's', value: { stringValue: '' } },
          { key: 'bytes', value: { bytesValue: Buffer.from([0, 1, 0xab]) } },
          { key: 'nobytes', value: { bytesValue: Buffer.alloc(0) } },
          {
            key: 'kv',
            value: { kvlistValue: { values: [{ key: 'a', value: { intValue: 1 } }, { key: 'b', value: { arrayValue: { values: [{ stringValue: 'x' }] } } }] } },
          },
          { key: 'arr', value: { arrayValue: { values: [{ intValue: 1 }, {}, { kvlistValue: { values: [] } }, { bytesValue: Buffer.from([255]) }] } } },
          { key: 'empty', value: {} },
          { key: 'novalue' },
        ],
      }),
    ]);
    const [span] = decodeTraceRequest(body, 'protobuf').spans;
    expect(span!.startUnixMicros).toBe(1767225600123456);
    expect(span!.endUnixMicros).toBe(1767225600123456);
    expect(span!.attributes).toEqual({
      max: '9223372036854775807',
      min: '-9223372036854775808',
      unsafe: '9007199254740992',
      safe: -9007199254740991,
      tokens: 1234,
      zero: 0,
      dzero: 0,
      f: false,
      s: '',
      bytes: '0001ab',
      nobytes: '',
      kv: '{"a":1,"b":["x"]}',
      arr: [1, null, '{}', 'ff'],
    });
  });

  it('resource attributes, scope name and status come through; empty resource is {}', () => {
    const body = ExportTraceServiceRequest.encode(
      ExportTraceServiceRequest.fromObject({
        resourceSpans: [
          {
            resource: { attributes: [{ key: 'service.name', value: { stringValue: 'svc' } }] },
            scopeSpans: [{ scope: { name: 'sc' }, spans: [pbSpan({ status: { code: 2, message: 'bad' } })] }],
          },
          { scopeSpans: [{ spans: [pbSpan({ spanId: id('2222222222222222') })] }] },
        ],
      }),
    ).finish();
    const { spans } = decodeTraceRequest(body, 'protobuf');
    expect(spans[0]).toMatchObject({ resource: { 'service.name': 'svc' }, scopeName: 'sc', statusCode: 2, statusMessage: 'bad' });
    expect(spans[1]).toMatchObject({ resource: {}, scopeName: '', statusCode: 0, statusMessage: '' });
  });

  it.each<[string, string]>([
    ['empty', ''],
    ['ASCII', 'gen_ai.request.model'],
    ['ASCII with DEL and NUL', 'a\u007f\u0000b'],
    ['latin-1', 'héllo wörld'],
    ['CJK', '模型名称'],
    ['emoji (4-byte UTF-8)', 'chat 🤖 ok'],
    ['a byte-order mark is kept', '\ufeffbom'],
    ['long, non-ASCII at the end', `${'x'.repeat(300)}é`],
  ])('strings decode exactly: %s', (_label, text) => {
    const body = pbRequest([pbSpan({ name: text, attributes: [{ key: text || 'k', value: { stringValue: text } }] })]);
    const [span] = decodeTraceRequest(body, 'protobuf').spans;
    expect(span!.name).toBe(text);
    expect(span!.attributes).toEqual({ [text || 'k']: text });
  });

  it.each<[string, number[]]>([
    ['a lone continuation byte', [0x61, 0x80]],
    ['a truncated 2-byte sequence', [0xc3]],
    ['an overlong encoding', [0xc0, 0xaf]],
    ['an encoded surrogate', [0xed, 0xa0, 0x80]],
    ['beyond U+10FFFF', [0xf4, 0x90, 0x80, 0x80]],
  ])('invalid UTF-8 in a string (%s) → OtlpDecodeError', (_label, bytes) => {
    const marker = 'MARKER-MARKER';
    const body = Buffer.from(pbRequest([pbSpan({ name: marker })]));
    const at = body.indexOf(marker);
    // Same length: the marker's first bytes become the invalid ones, the rest stays ASCII.
    Buffer.from(bytes).copy(body, at);
    expect(() => decodeTraceRequest(body, 'protobuf')).toThrow(OtlpDecodeError);
    expect(() => decodeTraceRequest(body, 'protobuf')).toThrow(/not valid for encoding utf-8/);
  });

  it('AnyValue nesting beyond protobufjs\'s recursion limit → OtlpDecodeError (no stack overflow)', () => {
    // Written with protobufjs's Writer: fromObject/encode refuse such depth themselves.
    const field = (n: number, bytes: Uint8Array): Uint8Array => protobuf.Writer.create().uint32((n << 3) | 2).bytes(bytes).finish();
    const deepSpan = (levels: number): Uint8Array => {
      let value = protobuf.Writer.create().uint32((1 << 3) | 2).string('leaf').finish(); // AnyValue.string_value
      for (let i = 0; i < levels; i++) value = field(5, field(1, value)); // AnyValue.array_value.values[0]
      const keyValue = Buffer.concat([protobuf.Writer.create().uint32((1 << 3) | 2).string('deep').finish(), field(2, value)]);
      const spanBytes = Buffer.concat([Span.encode(Span.fromObject(pbSpan())).finish(), field(9, keyValue)]);
      return field(1, field(2, field(2, spanBytes)));
    };
    expect(() => decodeTraceRequest(deepSpan(150), 'protobuf')).toThrow(OtlpDecodeError);
    expect(() => decodeTraceRequest(deepSpan(150), 'protobuf')).toThrow(/max depth exceeded/);
    // 40 levels is fine: the nested arrays come back as JSON text.
    const ok = decodeTraceRequest(deepSpan(40), 'protobuf');
    expect(ok.spans[0]!.attributes.deep).toEqual(['['.repeat(39) + '"leaf"' + ']'.repeat(39)]);
  });

  it('an empty body is a valid empty request', () => {
    expect(decodeTraceRequest(new Uint8Array(0), 'protobuf')).toEqual({ spans: [], rejected: 0, errors: [] });
  });

  it.each([1, 10, 100, 1000])('truncated protobuf (cut at %i bytes) → OtlpDecodeError', (cut) => {
    const { protobuf } = recordChatTrace();
    expect(protobuf.length).toBeGreaterThan(cut + 1);
    expect(() => decodeTraceRequest(protobuf.subarray(0, protobuf.length - cut), 'protobuf')).toThrow(OtlpDecodeError);
  });

  it('the error message is one line and names the format', () => {
    const { protobuf } = recordChatTrace();
    try {
      decodeTraceRequest(protobuf.subarray(0, 50), 'protobuf');
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(OtlpDecodeError);
      expect((err as Error).message).toMatch(/^invalid OTLP\/protobuf ExportTraceServiceRequest: /);
      expect((err as Error).message).not.toContain('\n');
    }
  });

  it('JSON bytes sent as protobuf → OtlpDecodeError', () => {
    expect(() => decodeTraceRequest(jsonRequest([jsonSpan()]), 'protobuf')).toThrow(OtlpDecodeError);
  });
});

describe('undecodable JSON bodies → OtlpDecodeError', () => {
  it.each<[string, string, RegExp]>([
    ['not JSON', 'resourceSpans: []', /^invalid OTLP\/JSON body: /],
    ['truncated JSON', '{"resourceSpans": [', /^invalid OTLP\/JSON body: /],
    ['empty body', '', /^invalid OTLP\/JSON body: /],
    ['a JSON array', '[]', /expected an ExportTraceServiceRequest object, got an array/],
    ['a JSON string', '"x"', /got "x"/],
    ['null', 'null', /got null/],
    ['resourceSpans not an array', '{"resourceSpans": {}}', /resourceSpans is an object, expected an array/],
    ['resourceSpans entry not an object', '{"resourceSpans": [1]}', /resourceSpans\[0\] is 1, expected an object/],
    ['scopeSpans not an array', '{"resourceSpans": [{"scopeSpans": "x"}]}', /resourceSpans\[0\]\.scopeSpans is "x"/],
    ['spans not an array', '{"resourceSpans": [{"scopeSpans": [{"spans": 5}]}]}', /scopeSpans\[0\]\.spans is 5/],
  ])('%s', (_label, text, message) => {
    expect(() => decodeTraceRequest(utf8(text), 'json')).toThrow(OtlpDecodeError);
    expect(() => decodeTraceRequest(utf8(text), 'json')).toThrow(message);
  });

  it('protobuf bytes sent as JSON → OtlpDecodeError', () => {
    expect(() => decodeTraceRequest(recordChatTrace().protobuf, 'json')).toThrow(OtlpDecodeError);
  });
});

describe('JSON type-substitution fuzz: never anything but a result or OtlpDecodeError', () => {
  const fixture = recordChatTrace();
  const original: unknown = JSON.parse(Buffer.from(fixture.json).toString('utf8'));
  const REPLACEMENTS: unknown[] = [
    null, 0, -1, 1.5, '', 'x', 'zz', true, [], {}, [1], { a: 1 }, '12345678901234567890',
    { stringValue: 1 }, { intValue: 'x' }, { arrayValue: 5 }, { kvlistValue: { values: [1] } }, [{}], [null],
  ];

  function paths(node: unknown, prefix: Array<string | number>, out: Array<Array<string | number>>): void {
    out.push(prefix);
    if (Array.isArray(node)) node.forEach((v, i) => paths(v, [...prefix, i], out));
    else if (node && typeof node === 'object') for (const [k, v] of Object.entries(node)) paths(v, [...prefix, k], out);
  }
  const allPaths: Array<Array<string | number>> = [];
  paths(original, [], allPaths);

  it('1500 mutations', () => {
    let seed = 42;
    const random = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const outcomes = { errors: 0, results: 0, rejections: 0 };
    for (let i = 0; i < 1500; i++) {
      const copy = structuredClone(original) as Record<string | number, unknown>;
      const mutations = 1 + random(2);
      for (let m = 0; m < mutations; m++) {
        const path = allPaths[1 + random(allPaths.length - 1)]!;
        let parent: Record<string | number, unknown> | undefined = copy;
        for (const step of path.slice(0, -1)) parent = parent?.[step] as Record<string | number, unknown> | undefined;
        if (parent && typeof parent === 'object') parent[path[path.length - 1]!] = REPLACEMENTS[random(REPLACEMENTS.length)];
      }
      let decoded: DecodedTraces;
      try {
        decoded = decodeTraceRequest(json(copy), 'json');
      } catch (err) {
        expect(err, `iteration ${i}`).toBeInstanceOf(OtlpDecodeError);
        outcomes.errors++;
        continue;
      }
      outcomes.results++;
      if (decoded.rejected > 0) outcomes.rejections++;
      expect(decoded.errors.length).toBeLessThanOrEqual(Math.min(decoded.rejected, MAX_REPORTED_ERRORS));
      expect(decoded.errors.length > 0).toBe(decoded.rejected > 0);
      for (const s of decoded.spans) {
        expect(s.traceId).toMatch(/^[0-9a-f]{32}$/);
        expect(s.spanId).toMatch(/^[0-9a-f]{16}$/);
        expect(s.parentSpanId).toMatch(/^([0-9a-f]{16})?$/);
        expect(typeof s.name).toBe('string');
        expect(s.endUnixMicros).toBeGreaterThanOrEqual(s.startUnixMicros);
        expect([0, 1, 2]).toContain(s.statusCode);
        for (const attrs of [s.attributes, s.resource, ...s.events.map((e) => e.attributes)]) {
          for (const v of Object.values(attrs ?? {}) as unknown[]) {
            const ok = (x: unknown): boolean => ['string', 'number', 'boolean'].includes(typeof x);
            expect(ok(v) || (Array.isArray(v) && v.every((x: unknown) => x === null || ok(x))), `iteration ${i}: ${String(v)}`).toBe(true);
          }
        }
      }
    }
    expect(outcomes.errors).toBeGreaterThan(0);
    expect(outcomes.rejections).toBeGreaterThan(100);
    expect(outcomes.results).toBeGreaterThan(500);
  });
});
