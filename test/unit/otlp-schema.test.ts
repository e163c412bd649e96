import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { OTLP_TRACE_PROTOS } from '../../collector/otlp/proto/schema.js';
import { otlpTraceRoot } from '../../collector/otlp/schema.js';

const protoDir = new URL('../../collector/otlp/proto/', import.meta.url);

describe('embedded OTLP schema', () => {
  it.each(OTLP_TRACE_PROTOS.map(([importPath, source]) => [importPath, source] as const))(
    '%s matches its .proto file (regenerate: node collector/otlp/proto/embed.mjs)',
    (importPath, source) => {
      const file = importPath.split('/').pop()!;
      expect(source).toBe(readFileSync(new URL(file, protoDir), 'utf8'));
    },
  );

  // Field numbers and types as published in open-telemetry/opentelemetry-proto.
  const EXPECTED: Record<string, Record<string, [number, string, boolean?]>> = {
    'opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest': { resourceSpans: [1, 'opentelemetry.proto.trace.v1.ResourceSpans', true] },
    'opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse': {
      partialSuccess: [1, 'ExportTracePartialSuccess'],
    },
    'opentelemetry.proto.collector.trace.v1.ExportTracePartialSuccess': {
      rejectedSpans: [1, 'int64'],
      errorMessage: [2, 'string'],
    },
    'opentelemetry.proto.trace.v1.ResourceSpans': {
      resource: [1, 'opentelemetry.proto.resource.v1.Resource'],
      scopeSpans: [2, 'ScopeSpans', true],
      schemaUrl: [3, 'string'],
    },
    'opentelemetry.proto.trace.v1.ScopeSpans': {
      scope: [1, 'opentelemetry.proto.common.v1.InstrumentationScope'],
      spans: [2, 'Span', true],
      schemaUrl: [3, 'string'],
    },
    'opentelemetry.proto.trace.v1.Span': {
      traceId: [1, 'bytes'],
      spanId: [2, 'bytes'],
      traceState: [3, 'string'],
      parentSpanId: [4, 'bytes'],
      flags: [16, 'fixed32'],
      name: [5, 'string'],
      kind: [6, 'SpanKind'],
      startTimeUnixNano: [7, 'fixed64'],
      endTimeUnixNano: [8, 'fixed64'],
      attributes: [9, 'opentelemetry.proto.common.v1.KeyValue', true],
      droppedAttributesCount: [10, 'uint32'],
      events: [11, 'Event', true],
      droppedEventsCount: [12, 'uint32'],
      links: [13, 'Link', true],
      droppedLinksCount: [14, 'uint32'],
      status: [15, 'Status'],
    },
    'opentelemetry.proto.trace.v1.Span.Event': {
      timeUnixNano: [1, 'fixed64'],
      name: [2, 'string'],
      attributes: [3, 'opentelemetry.proto.common.v1.KeyValue', true],
      droppedAttributesCount: [4, 'uint32'],
    },
    'opentelemetry.proto.trace.v1.Span.Link': {
      traceId: [1, 'bytes'],
      spanId: [2, 'bytes'],
      traceState: [3, 'string'],
      attributes: [4, 'opentelemetry.proto.common.v1.KeyValue', true],
      droppedAttributesCount: [5, 'uint32'],
      flags: [6, 'fixed32'],
    },
    'opentelemetry.proto.trace.v1.Status': { message: [2, 'string'], code: [3, 'StatusCode'] },
    'opentelemetry.proto.common.v1.AnyValue': {
      stringValue: [1, 'string'],
      boolValue: [2, 'bool'],
      intValue: [3, 'int64'],
      doubleValue: [4, 'double'],
      arrayValue: [5, 'ArrayValue'],
      kvlistValue: [6, 'KeyValueList'],
      bytesValue: [7, 'bytes'],
    },
    'opentelemetry.proto.common.v1.ArrayValue': { values: [1, 'AnyValue', true] },
    'opentelemetry.proto.common.v1.KeyValueList': { values: [1, 'KeyValue', true] },
    'opentelemetry.proto.common.v1.KeyValue': { key: [1, 'string'], value: [2, 'AnyValue'] },
    'opentelemetry.proto.common.v1.InstrumentationScope': {
      name: [1, 'string'],
      version: [2, 'string'],
      attributes: [3, 'KeyValue', true],
      droppedAttributesCount: [4, 'uint32'],
    },
    'opentelemetry.proto.resource.v1.Resource': {
      attributes: [1, 'opentelemetry.proto.common.v1.KeyValue', true],
      droppedAttributesCount: [2, 'uint32'],
    },
  };

  it.each(Object.entries(EXPECTED))('%s has the upstream field numbers and types', (typeName, fields) => {
    const type = otlpTraceRoot.lookupType(typeName);
    const actual = Object.fromEntries(
      Object.values(type.fields).map((f) => [f.name, [f.id, f.type, ...(f.repeated ? [true] : [])]]),
    );
    expect(actual).toEqual(fields);
  });

  it('enums carry the upstream values', () => {
    expect(otlpTraceRoot.lookupEnum('opentelemetry.proto.trace.v1.Status.StatusCode').values).toEqual({
      STATUS_CODE_UNSET: 0,
      STATUS_CODE_OK: 1,
      STATUS_CODE_ERROR: 2,
    });
    expect(otlpTraceRoot.lookupEnum('opentelemetry.proto.trace.v1.Span.SpanKind').values).toEqual({
      SPAN_KIND_UNSPECIFIED: 0,
      SPAN_KIND_INTERNAL: 1,
      SPAN_KIND_SERVER: 2,
      SPAN_KIND_CLIENT: 3,
      SPAN_KIND_PRODUCER: 4,
      SPAN_KIND_CONSUMER: 5,
    });
  });
});
