/**
 * Every span given to export() is a stored row or counted by reason: not an AI call, aggregate,
 * malformed, dropped before the store opened, dropped in flight to the mapping thread, conversion
 * failed. Counted in stats().notStored and in the `genai_ledger.spans.not_stored` OTel metric;
 * an export whose spans were lost in conversion is answered FAILED, never SUCCESS.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import type { Attributes } from '@opentelemetry/api';
import { GenAiLedgerExporter, type GenAiLedgerExporterOptions } from '../../exporter/span-exporter.js';
import { openTestStore, type TestStore } from '../support/store.js';

let store: TestStore;
beforeAll(async () => {
  store = await openTestStore();
});
afterAll(async () => store.close());

/** Finished SDK spans made by a real tracer. */
function spans(list: Array<[name: string, attributes: Attributes]>): ReadableSpan[] {
  const memory = new InMemorySpanExporter();
  const tracer = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(memory)] }).getTracer('test');
  for (const [name, attributes] of list) tracer.startSpan(name, { attributes }).end();
  return memory.getFinishedSpans() as ReadableSpan[];
}

const call = (model = 'gpt-4o'): [string, Attributes] => [`chat ${model}`, {
  'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'openai', 'gen_ai.request.model': model,
  'gen_ai.usage.input_tokens': 100, 'gen_ai.usage.output_tokens': 10,
}];
const ordinary: [string, Attributes] = ['GET /tickets', { 'http.request.method': 'GET' }];
const agent: [string, Attributes] = ['invoke_agent support', { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.usage.input_tokens': 100 }];
const notACount: [string, Attributes] = ['chat gpt-4o', { ...call()[1], 'gen_ai.usage.input_tokens': 1.5 }];

function exporterFor(options: GenAiLedgerExporterOptions = {}): GenAiLedgerExporter {
  return new GenAiLedgerExporter({ client: store.client, database: store.database, ...options });
}

const exported = (exporter: GenAiLedgerExporter, batch: ReadableSpan[]) =>
  new Promise<ExportResult>((resolve) => exporter.export(batch, resolve));

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 2000 && !condition(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(condition()).toBe(true);
}

const NOTHING_LOST = {
  not_ai_call: 0, aggregate: 0, malformed: 0, rows_dropped: 0, rows_rejected: 0,
  dropped_before_open: 0, dropped_in_flight: 0, refused: 0, conversion_failed: 0,
};

describe.each([['on the mapping thread', true], ["on the app's thread", false]])('every span accounted for, %s', (_, mappingThread) => {
  it('rows for calls; ordinary, aggregate and malformed spans counted apart', async () => {
    const exporter = exporterFor({ mappingThread });
    if (mappingThread) await until(() => exporter.stats()?.mappingThread === true);
    const batch = spans([call(), ordinary, agent, call('gpt-4o-mini'), ordinary, notACount, ordinary, call(), agent, ordinary]);
    expect((await exported(exporter, batch)).code).toBe(ExportResultCode.SUCCESS);
    await exporter.forceFlush();
    const stats = exporter.stats()!;
    expect(stats.rowsMapped).toBe(3);
    expect(stats.notStored).toEqual({ ...NOTHING_LOST, not_ai_call: 4, aggregate: 2, malformed: 1 });
    await exporter.shutdown();
  });
});

describe('spans lost on the way are counted by reason', () => {
  it('dropped before the store opened: what the pending buffer cannot hold', async () => {
    const exporter = exporterFor({ maxPendingSpans: 2 });
    const answer = await exported(exporter, spans([call(), call(), call(), call(), call()]));
    expect(answer.code).toBe(ExportResultCode.SUCCESS); // without a spool, answered at once; the drop is counted
    await exporter.forceFlush();
    expect(exporter.stats()).toMatchObject({ rowsMapped: 2, spansDroppedBeforeOpen: 3, notStored: { ...NOTHING_LOST, dropped_before_open: 3 } });
    await exporter.shutdown();
  });

  it('dropped in flight: more than maxSpansInFlight behind on the mapping thread', async () => {
    const exporter = exporterFor({ maxSpansInFlight: 2 });
    await until(() => exporter.stats()?.mappingThread === true);
    await exported(exporter, spans([call(), call(), call(), ordinary]));
    await exporter.forceFlush();
    expect(exporter.stats()).toMatchObject({ rowsMapped: 0, spansDroppedInFlight: 3, notStored: { ...NOTHING_LOST, not_ai_call: 1, dropped_in_flight: 3 } });
    await exporter.shutdown();
  });

  it('conversion failed: a span that cannot be read fails its export (FAILED), counted', async () => {
    const exporter = exporterFor({ mappingThread: false });
    await exporter.ready();
    const unreadable = Object.defineProperty(Object.create(spans([call()])[0]!) as object, 'attributes', { get: () => { throw new Error('span was recycled'); } });
    const answer = await exported(exporter, [...spans([call()]), unreadable as ReadableSpan]);
    expect(answer).toMatchObject({ code: ExportResultCode.FAILED, error: { message: 'span was recycled' } });
    expect(exporter.stats()).toMatchObject({ spansConversionFailed: 2, notStored: { ...NOTHING_LOST, conversion_failed: 2 } });
    await exporter.shutdown();
  });

  it('the same counts reach the OTel metric genai_ledger.spans.not_stored, by reason', async () => {
    const metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
    const reader = new PeriodicExportingMetricReader({ exporter: metricExporter, exportIntervalMillis: 3_600_000 });
    const meterProvider = new MeterProvider({ readers: [reader] });
    const exporter = exporterFor({ writer: { meter: meterProvider.getMeter('genai-ledger') } });
    await until(() => exporter.stats()?.mappingThread === true);
    await exported(exporter, spans([call(), ordinary, ordinary, agent, notACount]));
    await exporter.forceFlush();
    const { resourceMetrics } = await reader.collect();
    const metric = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).find((m) => m.descriptor.name === 'genai_ledger.spans.not_stored');
    const byReason = Object.fromEntries(metric!.dataPoints.map((p) => [p.attributes.reason, p.value]));
    expect(byReason).toEqual({ ...NOTHING_LOST, not_ai_call: 2, aggregate: 1, malformed: 1 });
    await exporter.shutdown();
    await meterProvider.shutdown();
  });
});
