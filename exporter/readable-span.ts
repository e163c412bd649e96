import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import type { SpanRecord } from '../usage/span-record.js';
import { hrTimeToMicros } from '../usage/time.js';

/** Adapts an SDK span without copying its attribute maps (the in-process hot path). */
export function fromReadableSpan(span: ReadableSpan): SpanRecord {
  const context = span.spanContext();
  return {
    traceId: context.traceId,
    spanId: context.spanId,
    parentSpanId: span.parentSpanContext?.spanId ?? '',
    name: span.name,
    startUnixMicros: hrTimeToMicros(span.startTime),
    endUnixMicros: hrTimeToMicros(span.endTime),
    attributes: span.attributes,
    resource: span.resource.attributes,
    scopeName: span.instrumentationScope.name,
    statusCode: span.status.code,
    statusMessage: span.status.message ?? '',
    events: span.events,
  };
}
