/**
 * The streaming protobuf walker (envelope stepped with protobufjs's Reader, each Span decoded by
 * protobufjs) must agree with the reference walker (whole request decoded by protobufjs) on every
 * input: field order, repeated envelope fields, unknown fields, and corrupted bodies.
 */
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { decodeProtobufTraces, decodeProtobufTracesWhole } from '../../collector/otlp/decode-protobuf.js';
import { OtlpDecodeError } from '../../collector/otlp/errors.js';
import { otlpTraceRoot } from '../../collector/otlp/schema.js';
import { recordChatTrace } from '../fixtures/otlp/sdk-spans.js';

const ScopeSpans = otlpTraceRoot.lookupType('opentelemetry.proto.trace.v1.ScopeSpans');
const Resource = otlpTraceRoot.lookupType('opentelemetry.proto.resource.v1.Resource');
const Scope = otlpTraceRoot.lookupType('opentelemetry.proto.common.v1.InstrumentationScope');
const Span = otlpTraceRoot.lookupType('opentelemetry.proto.trace.v1.Span');

const enc = (type: protobuf.Type, obj: Record<string, unknown>): Uint8Array => type.encode(type.fromObject(obj)).finish();

/** A length-delimited field. */
function len(field: number, bytes: Uint8Array): Uint8Array {
  const w = protobuf.Writer.create();
  w.uint32((field << 3) | 2).bytes(bytes);
  return w.finish();
}

/** One unknown field of every wire type (varint, fixed64, length-delimited, group, fixed32). */
function unknownFields(): Uint8Array {
  const w = protobuf.Writer.create();
  w.uint32((90 << 3) | 0).uint64(123456789);
  w.uint32((91 << 3) | 1).fixed64(42);
  w.uint32((92 << 3) | 2).bytes(Buffer.from('ignored'));
  w.uint32((93 << 3) | 3).uint32((1 << 3) | 0).uint32(7).uint32((93 << 3) | 4);
  w.uint32((94 << 3) | 5).fixed32(9);
  return w.finish();
}

const cat = (...parts: Uint8Array[]): Uint8Array => Buffer.concat(parts);

function span(spanIdHex: string): Record<string, unknown> {
  return {
    traceId: Buffer.from('5b8efff798038103d269b633813fc60c', 'hex'),
    spanId: Buffer.from(spanIdHex, 'hex'),
    name: `span ${spanIdHex}`,
    startTimeUnixNano: '1767225600000000000',
    endTimeUnixNano: '1767225600500000000',
    attributes: [{ key: 'k', value: { stringValue: spanIdHex } }],
  };
}

const kv = (key: string, value: string): Record<string, unknown> => ({ key, value: { stringValue: value } });

function bothAgree(body: Uint8Array): ReturnType<typeof decodeProtobufTraces> {
  const streamed = decodeProtobufTraces(body, Infinity);
  expect(streamed).toEqual(decodeProtobufTracesWhole(body, Infinity));
  return streamed;
}

describe('streaming protobuf walker = whole-request walker', () => {
  it('on the SDK payload', () => {
    const { protobuf: body } = recordChatTrace();
    expect(bothAgree(body).spans).toHaveLength(3);
  });

  it('resource after scope_spans, scope after spans', () => {
    const scopeSpans = cat(
      len(2, enc(Span, span('1111111111111111'))),
      len(2, enc(Span, span('2222222222222222'))),
      len(1, enc(Scope, { name: 'late-scope' })),
    );
    const resourceSpans = cat(len(2, scopeSpans), len(1, enc(Resource, { attributes: [kv('service.name', 'late')] })));
    const decoded = bothAgree(len(1, resourceSpans));
    expect(decoded.spans.map((s) => [s.spanId, s.scopeName, s.resource])).toEqual([
      ['1111111111111111', 'late-scope', { 'service.name': 'late' }],
      ['2222222222222222', 'late-scope', { 'service.name': 'late' }],
    ]);
  });

  it('a repeated resource field is merged (attributes appended), last scope name wins', () => {
    const scopeSpans = cat(
      len(1, enc(Scope, { name: 'first' })),
      len(2, enc(Span, span('1111111111111111'))),
      len(1, enc(Scope, { name: 'second' })),
    );
    const resourceSpans = cat(
      len(1, enc(Resource, { attributes: [kv('a', '1')] })),
      len(2, scopeSpans),
      len(1, enc(Resource, { attributes: [kv('b', '2'), kv('a', '3')] })),
    );
    const decoded = bothAgree(len(1, resourceSpans));
    expect(decoded.spans[0]!.resource).toEqual({ a: '3', b: '2' });
    expect(decoded.spans[0]!.scopeName).toBe('second');
  });

  it('unknown fields of every wire type are skipped at every envelope level', () => {
    const scopeSpans = cat(unknownFields(), len(2, enc(Span, span('1111111111111111'))), unknownFields());
    const resourceSpans = cat(unknownFields(), len(2, scopeSpans), unknownFields());
    const decoded = bothAgree(cat(unknownFields(), len(1, resourceSpans), unknownFields(), len(1, resourceSpans)));
    expect(decoded.spans.map((s) => s.spanId)).toEqual(['1111111111111111', '1111111111111111']);
  });

  it('span indexes in reasons count across resources and scopes', () => {
    const bad = { ...span('0000000000000000') };
    const rs = (spans: Record<string, unknown>[]): Uint8Array =>
      len(1, len(2, cat(...spans.map((s) => len(2, enc(Span, s))))));
    const decoded = bothAgree(cat(rs([span('1111111111111111'), bad]), rs([bad, span('2222222222222222')])));
    expect(decoded.errors).toEqual(['span 1: invalid span_id (all zeros)', 'span 2: invalid span_id (all zeros)']);
    expect(decoded.rejected).toBe(2);
  });

  it('a length running past its enclosing message is an error, not a misread', () => {
    // ScopeSpans claims 3 bytes but the span inside claims more: must not read into the next field.
    const spanBytes = enc(Span, span('1111111111111111'));
    const inner = len(2, spanBytes);
    const truncatedScope = cat(Buffer.from([0x12, 3]), inner.subarray(0, 3), inner.subarray(3));
    expect(() => decodeProtobufTraces(len(1, truncatedScope), Infinity)).toThrow(OtlpDecodeError);
    expect(() => decodeProtobufTracesWhole(len(1, truncatedScope), Infinity)).toThrow(OtlpDecodeError);
  });

  it('on 600 randomly corrupted payloads: same spans, or both throw OtlpDecodeError', () => {
    const { protobuf: original } = recordChatTrace();
    let seed = 0x5eed;
    const random = (): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x80000000;
    };
    let threw = 0;
    let decodedSome = 0;
    for (let i = 0; i < 600; i++) {
      const body = Buffer.from(original);
      const flips = 1 + Math.floor(random() * 3);
      for (let f = 0; f < flips; f++) body[Math.floor(random() * body.length)] = Math.floor(random() * 256);
      let streamed: unknown;
      let whole: unknown;
      try {
        streamed = decodeProtobufTraces(body, Infinity);
      } catch (err) {
        streamed = err;
      }
      try {
        whole = decodeProtobufTracesWhole(body, Infinity);
      } catch (err) {
        whole = err;
      }
      if (streamed instanceof Error || whole instanceof Error) {
        expect(streamed, `iteration ${i}`).toBeInstanceOf(OtlpDecodeError);
        expect(whole, `iteration ${i}`).toBeInstanceOf(OtlpDecodeError);
        threw++;
      } else {
        expect(streamed, `iteration ${i}`).toEqual(whole);
        decodedSome++;
      }
    }
    // Both outcomes must actually have been exercised.
    expect(threw).toBeGreaterThan(50);
    expect(decodedSome).toBeGreaterThan(50);
  });
});
