/**
 * The exporter reads ReadableSpans of both SDK lines alike: the same spans (same ids, times,
 * attributes, events, resource) made by OpenTelemetry JS 2.x (this repository's sdk-trace-base) and
 * by 3.x (@opentelemetry/sdk-trace of test/fixtures/otel3-app, with its api 1.10) give the same
 * SpanRecords through exporter/readable-span.ts, the same packed wire through exporter/span-wire.ts
 * and the same rows. The fields read (spanContext(), parentSpanContext, instrumentationScope,
 * resource.attributes, status, events, startTime/endTime) have one shape in both lines (1.x's
 * parentSpanId and instrumentationLibrary are gone from both), so the readers need no second path.
 * 3.x is loaded only where it runs (Node >= 22.15).
 */
import { describe, expect, it } from 'vitest';
import type { Attributes, Context, ContextAPI, SpanKind, TraceAPI, Tracer } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type IdGenerator, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import * as api2 from '@opentelemetry/api';
import type { SpanExporter as SpanExporter3 } from '../fixtures/otel3-app/node_modules/@opentelemetry/sdk-trace/dist/index.cjs';
import { GenAiLedgerExporter } from '../../exporter/span-exporter.js';
import { fromReadableSpan } from '../../exporter/readable-span.js';
import { SpanWire, wireTransferList } from '../../exporter/span-wire.js';
import { loadPriceBook } from '../../pricing/index.js';
import { supportProblem } from '../../instrumentation/support.js';
import { UsageMapper } from '../../usage/mapper.js';
import { appRequire, loadOtel3, versionOf } from '../support/otel3-app.js';

// Checked by `npm run typecheck` (CI): a TypeScript app on 3.x hands the exporter to 3.x's processors.
void (GenAiLedgerExporter.prototype satisfies SpanExporter3);

// The 3.x line declares Node >= 22.15: loaded and run where the support check says it can.
const RUNS = supportProblem({ node: process.versions.node, packages: { '@opentelemetry/sdk-trace': versionOf('@opentelemetry/sdk-trace') } }) === undefined;

/** Fixed span and trace ids, so both lines make identical spans. */
function idGenerator(): IdGenerator {
  let n = 0;
  return {
    generateTraceId: () => '4bf92f3577b34da6a3ce929d0e0e4736',
    generateSpanId: () => (++n).toString(16).padStart(16, '0'),
  };
}

const T0 = 1_767_225_600; // 2026-01-01T00:00:00Z
const RESOURCE = { 'service.name': 'support-api', 'deployment.environment.name': 'prod' };
const CLIENT = 2 as SpanKind;
/** One error for both lines, so their exception events carry the same stack. */
const FAILURE = Object.assign(new Error('500 The server had an error'), { name: 'InternalServerError' });

/** An agent span, its chat call (cache and reasoning counts), a failed call with an exception event, and an ordinary span. */
function makeSpans(tracer: Tracer, trace: Pick<TraceAPI, 'setSpan'>, root: Context): void {
  const agent = tracer.startSpan('invoke_agent support', { attributes: { 'gen_ai.operation.name': 'invoke_agent' }, startTime: [T0, 0] }, root);
  const inside = trace.setSpan(root, agent);
  const chat: Attributes = {
    'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'openai', 'gen_ai.request.model': 'gpt-4o',
    'gen_ai.response.model': 'gpt-4o-2024-08-06', 'gen_ai.usage.input_tokens': 1200, 'gen_ai.usage.output_tokens': 300,
    'gen_ai.usage.cache_read.input_tokens': 1024, 'gen_ai.conversation.id': 'c-9',
  };
  tracer.startSpan('chat gpt-4o', { kind: CLIENT, attributes: chat, startTime: [T0, 100_000_000] }, inside).end([T0, 600_000_000]);
  const failed = tracer.startSpan('chat fail-model', { kind: CLIENT, attributes: { ...chat, 'gen_ai.request.model': 'fail-model', 'gen_ai.response.model': undefined, 'gen_ai.usage.input_tokens': undefined, 'gen_ai.usage.output_tokens': undefined, 'gen_ai.usage.cache_read.input_tokens': undefined }, startTime: [T0, 700_000_000] }, inside);
  failed.recordException(FAILURE, [T0, 800_000_000]);
  failed.setStatus({ code: 2, message: '500 The server had an error' });
  failed.end([T0, 800_000_000]);
  tracer.startSpan('GET /tickets', { startTime: [T0, 0] }, root).end([T0, 900_000_000]);
  agent.end([T0, 950_000_000]);
}

function spans2x(): ReadableSpan[] {
  const memory = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ idGenerator: idGenerator(), resource: resourceFromAttributes(RESOURCE), spanProcessors: [new SimpleSpanProcessor(memory)] });
  makeSpans(provider.getTracer('genai-test', '1.0.0'), api2.trace, api2.ROOT_CONTEXT);
  return memory.getFinishedSpans();
}

function spans3x(): ReadableSpan[] {
  const otel = loadOtel3();
  const api3 = appRequire('@opentelemetry/api') as { trace: TraceAPI; context: ContextAPI; ROOT_CONTEXT: Context };
  const memory = new otel.InMemorySpanExporter();
  const provider = new (otel.BasicTracerProvider as unknown as new (c: object) => { getTracer(n: string, v: string): Tracer })(
    { idGenerator: idGenerator(), resource: otel.resourceFromAttributes(RESOURCE), spanProcessors: [new otel.SimpleSpanProcessor({ exporter: memory })] });
  makeSpans(provider.getTracer('genai-test', '1.0.0'), api3.trace, api3.ROOT_CONTEXT);
  return memory.getFinishedSpans();
}

const prices = await loadPriceBook();

/** Packed on the app's thread (ordinary spans and aggregates set aside there), moved, unpacked. */
function viaWire(spans: ReadableSpan[]) {
  const { batch, skipped, aggregates } = new SpanWire().encode(spans);
  return { skipped, aggregates, records: new SpanWire().decode(structuredClone(batch, { transfer: wireTransferList(batch) })) };
}

describe('ReadableSpans of OpenTelemetry JS 2.x and 3.x read alike', () => {
  it.runIf(RUNS)(`sdk-trace ${versionOf('@opentelemetry/sdk-trace')} spans: the same records, wire and rows as sdk-trace-base 2.x`, () => {
    const two = spans2x();
    const three = spans3x();
    expect(three.map((s) => s.name)).toEqual(['chat gpt-4o', 'chat fail-model', 'GET /tickets', 'invoke_agent support']);
    expect(three.map((s) => s.name)).toEqual(two.map((s) => s.name));

    const records = three.map(fromReadableSpan);
    expect(records).toEqual(two.map(fromReadableSpan));
    expect(records[0]).toMatchObject({
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '0000000000000002', parentSpanId: '0000000000000001',
      scopeName: 'genai-test', resource: RESOURCE, statusCode: 0, startUnixMicros: T0 * 1e6 + 100_000, endUnixMicros: T0 * 1e6 + 600_000,
    });
    expect(records[1]).toMatchObject({ statusCode: 2, statusMessage: '500 The server had an error' });
    expect(records[1]!.events[0]).toMatchObject({ name: 'exception', attributes: { 'exception.type': 'InternalServerError' } });
    expect(records[3]!.parentSpanId).toBe('');

    const mapper = new UsageMapper({ prices });
    const direct = mapper.mapAll(records);
    expect(direct.rows.map((r) => [r.request_model, r.input_tokens, r.cache_read_tokens, r.cost_usd, r.error_type])).toEqual([
      // gpt-4o: 176 × $2.50 + 1024 × $1.25 + 300 × $10 per 1M tokens = 440 + 1280 + 3000 µ$ (openai.com/api/pricing)
      ['gpt-4o', 1200, 1024, '0.00472', ''],
      ['fail-model', 0, 0, null, 'InternalServerError'],
    ]);
    const wire = viaWire(three);
    expect(wire).toMatchObject({ skipped: direct.skipped, aggregates: direct.aggregates });
    expect(mapper.mapAll(wire.records).rows).toEqual(direct.rows);
    expect(new UsageMapper({ prices }).mapAll(two.map(fromReadableSpan))).toEqual(direct);
  });
});
