/**
 * In-process path end to end: the real OTel Node SDK, the real `openai` SDK and
 * @opentelemetry/instrumentation-openai against the fake provider, through
 * BatchSpanProcessor(GenAiLedgerExporter) into the embedded ClickHouse.
 */
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { trace } from '@opentelemetry/api';
import { ExportResultCode } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import type { ClickHouseClient } from '@clickhouse/client';
import { generateSpans } from '../../bench/support/traffic.js';
import { refreshRollups } from '../../clickhouse/migrate.js';
import { clientRunner } from '../../clickhouse/query-runner.js';
import { runReport } from '../../clickhouse/report.js';
import { loadPriceBook, type PriceBook } from '../../pricing/index.js';
import { GenAiLedgerExporter } from '../../exporter/span-exporter.js';
import { recordUsage } from '../../instrumentation/record-usage.js';
import { UsageContextSpanProcessor, withUsageContext } from '../../instrumentation/usage-context.js';
import { installInstrumentation, openaiClient } from '../support/capture.js';
import { startFakeProvider, type FakeProvider } from '../support/fake-provider.js';
import { ensureContextManager } from '../support/otel-context.js';
import { deliveryCounts, miscounts } from '../support/delivery-counts.js';
import { openTestStore, queryOne, type TestStore } from '../support/store.js';

let fake: FakeProvider;
let store: TestStore;
const DAY_MS = 86_400_000;

beforeAll(async () => {
  ensureContextManager();
  fake = await startFakeProvider();
  store = await openTestStore();
});
afterAll(async () => {
  await fake.close();
  await store.close();
});

function totals(client: ClickHouseClient, relation: string) {
  return queryOne<{ calls: string; cost: string; input: string }>(client,
    `SELECT toString(sum(calls)) AS calls, toString(sum(cost)) AS cost, toString(sum(input)) AS input FROM (
       SELECT ${relation === 'ai_usage_exact' ? 'count()' : 'sum(calls)'} AS calls,
              ${relation === 'ai_usage_exact' ? 'sumOrDefault(cost_usd)' : 'sum(cost_usd)'} AS cost,
              sum(input_tokens) AS input
       FROM genai_ledger.${relation})`);
}

describe('GenAiLedgerExporter with the real SDK and instrumentation', () => {
  const captured = new InMemorySpanExporter();
  let exporter: GenAiLedgerExporter;
  let provider: NodeTracerProvider;

  it('writes one exact row per AI call, attributed through withUsageContext', async () => {
    exporter = new GenAiLedgerExporter({ client: store.client, database: store.database });
    provider = new NodeTracerProvider({
      resource: resourceFromAttributes({ 'service.name': 'support-api', 'deployment.environment.name': 'prod' }),
      spanProcessors: [
        new UsageContextSpanProcessor(),
        new BatchSpanProcessor(exporter, { scheduledDelayMillis: 20 }),
        new SimpleSpanProcessor(captured),
      ],
    });
    trace.setGlobalTracerProvider(provider);
    const uninstall = await installInstrumentation('otel-openai', provider, { notes: [] });
    const openai = openaiClient({ url: fake.url });
    try {
      await withUsageContext({ orgId: 'acme', userId: 'u1', feature: 'support-bot' }, async () => {
        for (let i = 0; i < 3; i++) {
          await openai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
        }
        await withUsageContext({ feature: 'search', conversationId: 'c-9' }, () =>
          openai.embeddings.create({ model: 'text-embedding-3-small', input: 'hello' }));
      });
      // A credit-billed call no instrumentation covers, priced by nothing yet: kept, unpriced.
      recordUsage({ provider: 'firecrawl', model: 'scrape', operation: 'scrape', units: { credits: 5 }, orgId: 'globex', durationMs: 120 });
    } finally {
      uninstall();
    }
    // BatchSpanProcessor.forceFlush() hands spans to the exporter but does not flush it.
    await provider.forceFlush();
    await exporter.forceFlush();

    const rows = await store.client.query({
      query: `SELECT org_id, user_id, feature, conversation_id, operation, request_model, input_tokens, output_tokens,
                     toString(cost_usd) AS cost, usage_details FROM genai_ledger.ai_usage_exact ORDER BY operation, feature`,
      format: 'JSONEachRow',
    }).then((r) => r.json<Record<string, unknown>>());
    expect(rows).toEqual([
      ...Array(3).fill({ org_id: 'acme', user_id: 'u1', feature: 'support-bot', conversation_id: '', operation: 'chat', request_model: 'gpt-4o', input_tokens: 1200, output_tokens: 300, cost: '0.006', usage_details: {} }),
      { org_id: 'acme', user_id: 'u1', feature: 'search', conversation_id: 'c-9', operation: 'embeddings', request_model: 'text-embedding-3-small', input_tokens: 50, output_tokens: 0, cost: '0.000001', usage_details: {} },
      { org_id: 'globex', user_id: '', feature: '', conversation_id: '', operation: 'scrape', request_model: 'scrape', input_tokens: 0, output_tokens: 0, cost: null, usage_details: { credits: 5 } },
    ]);
    expect(exporter.stats()).toMatchObject({ rowsMapped: 5, rowsUnpriced: 1, spansMalformed: 0, droppedRows: 0, writtenRows: 5 });
  });

  it('counts a span delivered twice once: in ai_usage_exact, the rollups and report', async () => {
    const spans = captured.getFinishedSpans();
    expect(spans).toHaveLength(5);
    const before = await totals(store.client, 'ai_usage_exact');
    expect(before).toEqual({ calls: '5', cost: '0.018001', input: '3650' });

    // The app retries its export; a replay arrives again in a different batch. Merges held, so the
    // raw table shows what was stored again.
    await store.client.command({ query: 'SYSTEM STOP MERGES genai_ledger.ai_usage' });
    for (const batch of [spans, spans.slice(0, 2), spans.slice(3)]) {
      const result = await new Promise<number>((resolve) => exporter.export(batch as ReadableSpan[], (r) => resolve(r.code)));
      expect(result).toBe(ExportResultCode.SUCCESS);
    }
    await exporter.forceFlush();
    expect(exporter.stats()?.writtenRows).toBe(5 + 5 + 2 + 2);

    expect(await totals(store.client, 'ai_usage_exact')).toEqual(before);
    await refreshRollups(store.client, { database: 'genai_ledger' });
    expect(await totals(store.client, 'ai_usage_hourly_exact')).toEqual(before);
    expect(await totals(store.client, 'ai_usage_daily_exact')).toEqual(before);
    // Stored again: the 4 spans re-sent in other batches, and the whole retry unless it made an insert
    // identical to the first (dropped then by its dedup token). Every rollup still counts 5 calls.
    const counts = await deliveryCounts(clientRunner(store.client));
    expect(counts.distinct).toBe(5);
    expect(counts.duplicates).toBeGreaterThanOrEqual(4);
    expect(miscounts(counts)).toEqual([]);
    await store.client.command({ query: 'SYSTEM START MERGES genai_ledger.ai_usage' });

    const now = Date.now();
    const report = await runReport(clientRunner(store.client), { by: ['org_id'], fromMs: now - DAY_MS, toMs: now + DAY_MS, database: 'genai_ledger' });
    expect(report.map((r) => [r.org_id, r.calls, r.input_tokens, r.cost_usd])).toEqual([
      ['acme', 4, 3650, '0.018001'],
      ['globex', 1, 0, '0'],
    ]);
  });

  it('flushes everything on shutdown', async () => {
    const tracer = provider.getTracer('hand-made');
    for (let i = 0; i < 25; i++) {
      tracer.startSpan('chat gpt-4o-mini', { attributes: {
        'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'openai', 'gen_ai.request.model': 'gpt-4o-mini',
        'gen_ai.usage.input_tokens': 1000, 'gen_ai.usage.output_tokens': 100, 'tenant.id': 'shutdown-co',
      } }).end();
    }
    await provider.shutdown();
    const row = await queryOne<{ n: string; cost: string }>(store.client,
      "SELECT toString(count()) AS n, toString(sum(cost_usd)) AS cost FROM genai_ledger.ai_usage_exact WHERE org_id = 'shutdown-co'");
    // 25 × (1000 × 0.15 + 100 × 0.6) per Mtok
    expect(row).toEqual({ n: '25', cost: '0.00525' });
    const late = await new Promise<number>((resolve) => exporter.export([], (r) => resolve(r.code)));
    expect(late).toBe(ExportResultCode.FAILED);
  });
});

describe('when ClickHouse is unreachable', () => {
  it('never throws into the app and keeps its calls fast; drops are counted', async () => {
    // A fault-injecting connection: every insert hangs until the writer's timeout aborts it.
    const hanging = {
      exec: ({ abort_signal }: { abort_signal: AbortSignal }) => new Promise((_, reject) => {
        abort_signal.addEventListener('abort', () => reject(new Error('Timeout error.')));
      }),
      close: async () => undefined,
    } as unknown as ClickHouseClient;
    const exporter = new GenAiLedgerExporter({
      client: hanging, migrate: false,
      writer: { insertTimeoutMs: 50, retry: { maxAttempts: 2, initialBackoffMs: 5, maxBackoffMs: 10 }, flushIntervalMs: 10 },
    });
    const provider = new NodeTracerProvider({ spanProcessors: [new BatchSpanProcessor(exporter, { scheduledDelayMillis: 5 })] });
    const uninstall = await installInstrumentation('otel-openai', provider, { notes: [] });
    const openai = openaiClient({ url: fake.url });
    const latencies: number[] = [];
    try {
      for (let i = 0; i < 20; i++) {
        const start = performance.now();
        await openai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
        latencies.push(performance.now() - start);
        await new Promise((r) => setTimeout(r, 10)); // let the processor export between calls
      }
    } finally {
      uninstall();
    }
    await provider.shutdown();
    // Each call is a loopback round trip; a call waiting on ClickHouse would take ≥ 50 ms.
    latencies.sort((a, b) => a - b);
    expect(latencies[Math.floor(latencies.length / 2)]).toBeLessThan(50);
    expect(exporter.stats()).toMatchObject({ rowsMapped: 20, writtenRows: 0, droppedRows: 20 });
  });
});

describe('on the mapping thread', () => {
  /** A client that keeps every insert body (no store needed). */
  function capturingClient() {
    const lines: string[] = [];
    const client = {
      exec: async ({ values }: { values: AsyncIterable<unknown> }) => {
        for await (const chunk of values) lines.push(...String(chunk).split('\n').filter((l) => l !== ''));
        return { stream: Readable.from([]) };
      },
      close: async () => undefined,
    } as unknown as ClickHouseClient;
    return { client, lines };
  }
  const options = { migrate: false, writer: { meter: false as const, flushIntervalMs: 20 } };
  const exportAll = (exporter: GenAiLedgerExporter, spans: ReadableSpan[]) => {
    const codes: number[] = [];
    for (let i = 0; i < spans.length; i += 512) exporter.export(spans.slice(i, i + 512), (r) => codes.push(r.code));
    return codes;
  };
  async function until(condition: () => boolean): Promise<void> {
    const deadline = Date.now() + 20_000;
    while (!condition()) {
      if (Date.now() > deadline) throw new Error('timed out');
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  it('writes the same rows as mapping on the app thread; forceFlush and shutdown deliver everything', async () => {
    const spans = generateSpans({ spans: 6000, aiShare: 0.6, seed: 12 });
    const threaded = capturingClient();
    const exporter = new GenAiLedgerExporter({ ...options, client: threaded.client });
    await until(() => exporter.stats()?.mappingThread === true);
    expect(exportAll(exporter, spans.slice(0, 4000)).every((c) => c === ExportResultCode.SUCCESS)).toBe(true);
    expect(exporter.stats()!.spansInFlight).toBeGreaterThan(0);
    await exporter.forceFlush();
    expect(exporter.stats()).toMatchObject({ spansReceived: 4000, spansInFlight: 0, spansDroppedInFlight: 0, droppedRows: 0 });
    exportAll(exporter, spans.slice(4000));
    await exporter.shutdown();

    const inThread = capturingClient();
    const reference = new GenAiLedgerExporter({ ...options, client: inThread.client, mappingThread: false });
    await reference.ready();
    exportAll(reference, spans);
    await reference.shutdown();
    expect(reference.stats()!.mappingThread).toBe(false);
    expect(threaded.lines.length).toBeGreaterThan(3000);
    expect([...threaded.lines].sort()).toEqual([...inThread.lines].sort());
    const { mappingThread: _a, lastInsertLatencyMs: _b, writtenBatches: _c, ...counts } = exporter.stats()!;
    const { mappingThread: _d, lastInsertLatencyMs: _e, writtenBatches: _f, ...expected } = reference.stats()!;
    expect(counts).toEqual(expected);
  });

  it('drops and counts what the mapping thread is too far behind to take, without failing the export', async () => {
    const { client, lines } = capturingClient();
    const exporter = new GenAiLedgerExporter({ ...options, client, maxSpansInFlight: 1 });
    await until(() => exporter.stats()?.mappingThread === true);
    const spans = generateSpans({ spans: 1000, aiShare: 1, seed: 13 });
    expect(exportAll(exporter, spans).every((c) => c === ExportResultCode.SUCCESS)).toBe(true);
    await exporter.shutdown();
    const stats = exporter.stats()!;
    expect(stats.spansDroppedInFlight).toBeGreaterThan(0);
    expect(stats.spansReceived + stats.spansDroppedInFlight).toBe(spans.length);
    expect(lines).toHaveLength(0);
  });

  it('maps on the app thread when the mapping thread cannot start', async () => {
    const book = await loadPriceBook();
    const prices = Object.create(book, { loadOptions: { value: { overridesFile: '/nonexistent/prices.yaml' } } }) as PriceBook;
    const { client, lines } = capturingClient();
    const exporter = new GenAiLedgerExporter({ ...options, client, prices });
    await exporter.ready();
    const spans = generateSpans({ spans: 600, aiShare: 1, seed: 14 });
    exportAll(exporter, spans);
    await new Promise((r) => setTimeout(r, 1500)); // the worker fails to load its price book meanwhile
    exportAll(exporter, spans);
    await exporter.shutdown();
    expect(exporter.stats()).toMatchObject({ mappingThread: false, spansReceived: 1200, spansDroppedInFlight: 0, droppedRows: 0 });
    expect(lines.length).toBe(exporter.stats()!.rowsMapped);
  });
});
