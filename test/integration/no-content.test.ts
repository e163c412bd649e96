/**
 * Prompts and completions never reach ClickHouse. Real SDK spans carry content under every
 * convention's keys (test/support/content-attributes.ts), on the span, its resource and an event,
 * and go through every way into the store: the exporter mapping on the app's thread or on its
 * mapping thread (the span wire), and the collector decoding OTLP on its own thread or as its
 * mapping thread's job. With `*`, and with every content key named in the allow-list, every stored
 * column is searched for the content; the known non-content keys and a named key are stored.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExportResultCode } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { GenAiLedgerExporter } from '../../exporter/span-exporter.js';
import { decodeRequest, mapRequest } from '../../collector/otlp-request.js';
import { Ledger } from '../../delivery/ledger.js';
import { UsageMapper } from '../../usage/mapper.js';
import { CONTENT_KEYS, contentAttributes, NON_CONTENT_ATTRIBUTES, SECRET } from '../support/content-attributes.js';
import { openTestStore, queryRows, type TestStore } from '../support/store.js';

const CONTENT_KEY_LIST = Object.values(CONTENT_KEYS).flat();

let store: TestStore;
beforeAll(async () => {
  store = await openTestStore();
});
afterAll(async () => {
  await store.close();
});

/** Two AI calls made by the real SDK, with content everywhere an instrumentation may put it. */
function spansWithContent(): ReadableSpan[] {
  const memory = new InMemorySpanExporter();
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'no-content-test', 'langfuse.trace.input': SECRET, 'app.system_prompt': SECRET }),
    spanProcessors: [new SimpleSpanProcessor(memory)],
  });
  const tracer = provider.getTracer('no-content-test');
  for (const model of ['gpt-4o', 'claude-sonnet-4-5']) {
    const span = tracer.startSpan(`chat ${model}`, {
      attributes: {
        ...NON_CONTENT_ATTRIBUTES,
        ...contentAttributes(),
        'gen_ai.provider.name': model.startsWith('gpt') ? 'openai' : 'anthropic',
        'gen_ai.request.model': model,
        'gen_ai.usage.output_tokens': 20,
        'app.tier': 'gold',
      },
    });
    span.addEvent('gen_ai.content.prompt', { 'gen_ai.prompt': SECRET });
    span.end();
  }
  return memory.getFinishedSpans();
}

async function until(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function throughExporter(spans: ReadableSpan[], attributeAllowList: string[], mappingThread: boolean): Promise<void> {
  const exporter = new GenAiLedgerExporter({ client: store.client, database: store.database, attributeAllowList, mappingThread });
  if (mappingThread) await until(() => exporter.stats()?.mappingThread === true);
  else await exporter.ready();
  const code = await new Promise<ExportResultCode>((resolve) => exporter.export(spans, (result) => resolve(result.code)));
  expect(code).toBe(ExportResultCode.SUCCESS);
  await exporter.shutdown();
}

/**
 * The collector's two ways: OTLP/JSON decoded on its own thread, then mapped by the ledger; or
 * OTLP/protobuf prefiltered, decoded and mapped as the mapping thread's job does (mapRequest,
 * with a mapper made from the same options), the rows then handed to the ledger.
 */
async function throughCollector(spans: ReadableSpan[], attributeAllowList: string[], asThreadJob: boolean): Promise<void> {
  const ledger = await Ledger.open({ client: store.client, database: store.database, attributeAllowList });
  if (asThreadJob) {
    const job = { body: ProtobufTraceSerializer.serializeRequest(spans)!, encoding: 'protobuf', prefilter: true, org: undefined } as const;
    const outcome = mapRequest(new UsageMapper({ attributeAllowList, prices: ledger.prices }), job);
    if ('invalid' in outcome) throw new Error(`request not decoded: ${outcome.invalid}`);
    ledger.ingestMapped(outcome.mapped);
  } else {
    ledger.ingest(decodeRequest(JsonTraceSerializer.serializeRequest(spans)!, 'json', true).decoded.spans);
  }
  await ledger.flush();
  await ledger.close();
}

const PATHS = [
  ['exporter, mapping on the app thread', (spans: ReadableSpan[], allow: string[]) => throughExporter(spans, allow, false)],
  ['exporter, mapping thread (span wire)', (spans: ReadableSpan[], allow: string[]) => throughExporter(spans, allow, true)],
  ['collector, OTLP/JSON on its own thread', (spans: ReadableSpan[], allow: string[]) => throughCollector(spans, allow, false)],
  ['collector, OTLP/protobuf as the mapping thread\'s job', (spans: ReadableSpan[], allow: string[]) => throughCollector(spans, allow, true)],
] as const;

const ALLOW_LISTS = [
  ['*', ['*', 'app.tier']],
  ['every content key named', [...CONTENT_KEY_LIST, 'app.system_prompt', 'app.tier']],
] as const;

describe('no content in the ledger', () => {
  describe.each(PATHS)('%s', (_path, send) => {
    it.each(ALLOW_LISTS)('allow-list %s: the calls and their named and known keys are stored, no content', async (name, allow) => {
      const spans = spansWithContent();
      await send(spans, [...allow]);

      const rows = await queryRows<{ attributes: Record<string, string> }>(
        store.client, 'SELECT * FROM genai_ledger.ai_usage WHERE span_id IN {ids:Array(String)}', { ids: spans.map((s) => s.spanContext().spanId) },
      );
      expect(rows).toHaveLength(2);
      // The allow-list really admitted attributes (so the absences below are not a no-op)...
      for (const row of rows) {
        expect(row.attributes['app.tier']).toBe('gold');
        if (name === '*') expect(Object.keys(row.attributes)).toEqual(expect.arrayContaining(Object.keys(NON_CONTENT_ATTRIBUTES)));
      }
      // ...but no column of any row holds the content, nor any content key.
      expect(JSON.stringify(rows)).not.toContain(SECRET);
      for (const key of [...CONTENT_KEY_LIST, 'app.system_prompt']) expect(rows.some((r) => key in r.attributes), key).toBe(false);
    });
  });
});
