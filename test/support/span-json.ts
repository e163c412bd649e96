/**
 * JSON form of captured spans (test/fixtures/captured/*.json) and the way back to ReadableSpan.
 *
 * A fixture file is `CapturedSpan[]`, ordered by start time. `kind` is the numeric SpanKind
 * (0 INTERNAL, 1 SERVER, 2 CLIENT, 3 PRODUCER, 4 CONSUMER); `status.code` the numeric SpanStatusCode
 * (0 UNSET, 1 OK, 2 ERROR); times are HrTime `[seconds, nanoseconds]`.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { TraceFlags, type Attributes, type HrTime, type SpanContext, type SpanKind, type SpanStatus } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';

export interface CapturedSpan {
  name: string;
  kind: SpanKind;
  scopeName: string;
  scopeVersion?: string;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  startTime: HrTime;
  endTime: HrTime;
  status: SpanStatus;
  attributes: Attributes;
  resourceAttributes: Attributes;
  events: Array<{ name: string; attributes: Attributes }>;
}

export const CAPTURED_FIXTURES_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/captured');

export function toCapturedSpan(span: ReadableSpan): CapturedSpan {
  const ctx = span.spanContext();
  const scopeVersion = span.instrumentationScope.version;
  const parentSpanId = span.parentSpanContext?.spanId;
  return {
    name: span.name,
    kind: span.kind,
    scopeName: span.instrumentationScope.name,
    ...(scopeVersion !== undefined ? { scopeVersion } : {}),
    traceId: ctx.traceId,
    spanId: ctx.spanId,
    ...(parentSpanId ? { parentSpanId } : {}),
    startTime: span.startTime,
    endTime: span.endTime,
    status: { ...span.status },
    attributes: { ...span.attributes },
    resourceAttributes: { ...span.resource.attributes },
    events: span.events.map((e) => ({ name: e.name, attributes: { ...(e.attributes ?? {}) } })),
  };
}

function hrDuration(start: HrTime, end: HrTime): HrTime {
  let s = end[0] - start[0];
  let ns = end[1] - start[1];
  if (ns < 0) {
    s -= 1;
    ns += 1_000_000_000;
  }
  return [s, ns];
}

/** Rebuilds a ReadableSpan (as an exporter would receive it) from its fixture JSON. */
export function fromCapturedSpan(c: CapturedSpan): ReadableSpan {
  const spanContext: SpanContext = { traceId: c.traceId, spanId: c.spanId, traceFlags: TraceFlags.SAMPLED };
  const parentSpanContext: SpanContext | undefined = c.parentSpanId
    ? { traceId: c.traceId, spanId: c.parentSpanId, traceFlags: TraceFlags.SAMPLED }
    : undefined;
  return {
    name: c.name,
    kind: c.kind,
    spanContext: () => spanContext,
    parentSpanContext,
    startTime: c.startTime,
    endTime: c.endTime,
    status: c.status,
    attributes: c.attributes,
    links: [],
    events: c.events.map((e) => ({ name: e.name, attributes: e.attributes, time: c.endTime })),
    duration: hrDuration(c.startTime, c.endTime),
    ended: true,
    resource: resourceFromAttributes(c.resourceAttributes),
    instrumentationScope: c.scopeVersion !== undefined ? { name: c.scopeName, version: c.scopeVersion } : { name: c.scopeName },
    droppedAttributesCount: 0,
    droppedEventsCount: 0,
    droppedLinksCount: 0,
  };
}

export function fixturePath(id: string): string {
  return path.join(CAPTURED_FIXTURES_DIR, `${id}.json`);
}

/** Reads `test/fixtures/captured/<id>.json` (e.g. `ai-sdk-generateText-openai`). */
export function readCapturedFixture(id: string): CapturedSpan[] {
  return JSON.parse(readFileSync(fixturePath(id), 'utf8')) as CapturedSpan[];
}

/** Reads a fixture and rebuilds ReadableSpans from it, ready to feed an exporter / mapper. */
export function loadCapturedSpans(id: string): ReadableSpan[] {
  return readCapturedFixture(id).map(fromCapturedSpan);
}
