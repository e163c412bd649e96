/**
 * Prompts and completions never reach ClickHouse: spans that carry them in every convention's
 * attribute names (and in events) go through the real SDK and GenAiLedgerExporter with an
 * allow-list that admits everything, then every stored column is searched for the content.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { GenAiLedgerExporter } from '../../exporter/span-exporter.js';
import { openTestStore, queryOne, queryRows, type TestStore } from '../support/store.js';

const SECRET = 'CONTENT-9f3a-MUST-NOT-BE-STORED';

/** Content as the instrumentations name it: OTel GenAI (current and deprecated), OpenLLMetry, OpenInference, the `ai` SDK. */
const CONTENT_ATTRIBUTES: Record<string, string> = {
  'gen_ai.input.messages': JSON.stringify([{ role: 'user', parts: [{ type: 'text', content: SECRET }] }]),
  'gen_ai.output.messages': JSON.stringify([{ role: 'assistant', parts: [{ type: 'text', content: SECRET }] }]),
  'gen_ai.system_instructions': SECRET,
  'gen_ai.prompt': SECRET,
  'gen_ai.completion': SECRET,
  'gen_ai.prompt.0.content': SECRET,
  'gen_ai.completion.0.content': SECRET,
  'llm.input_messages.0.message.content': SECRET,
  'llm.output_messages.0.message.content': SECRET,
  'input.value': SECRET,
  'output.value': SECRET,
  'ai.prompt': SECRET,
  'ai.prompt.messages': SECRET,
  'ai.response.text': SECRET,
  'ai.values': SECRET,
  'ai.embedding': SECRET,
};

let store: TestStore;
beforeAll(async () => {
  store = await openTestStore();
});
afterAll(async () => {
  await store.close();
});

describe('no content in the ledger', () => {
  it('stores the call, its allow-listed attributes, and none of its prompts or completions', async () => {
    const exporter = new GenAiLedgerExporter({ client: store.client, database: store.database, attributeAllowList: ['*'] });
    const provider = new NodeTracerProvider({ spanProcessors: [new BatchSpanProcessor(exporter, { scheduledDelayMillis: 10 })] });
    const tracer = provider.getTracer('no-content-test');
    for (const model of ['gpt-4o', 'claude-sonnet-4-5']) {
      const span = tracer.startSpan(`chat ${model}`, {
        attributes: {
          'gen_ai.operation.name': 'chat',
          'gen_ai.provider.name': model.startsWith('gpt') ? 'openai' : 'anthropic',
          'gen_ai.request.model': model,
          'gen_ai.usage.input_tokens': 100,
          'gen_ai.usage.output_tokens': 20,
          'app.tier': 'gold',
          ...CONTENT_ATTRIBUTES,
        },
      });
      span.addEvent('gen_ai.content.prompt', { 'gen_ai.prompt': SECRET });
      span.end();
    }
    await provider.forceFlush();
    await exporter.forceFlush();
    await provider.shutdown();

    const count = await queryOne<{ n: number }>(store.client, 'SELECT count() AS n FROM genai_ledger.ai_usage');
    expect(Number(count.n)).toBe(2);
    const rows = await queryRows<{ attributes: Record<string, string> }>(store.client, 'SELECT * FROM genai_ledger.ai_usage');
    // The allow-list really admitted attributes (so the absence below is not a no-op)...
    for (const row of rows) expect(row.attributes['app.tier']).toBe('gold');
    // ...but no column of any row holds the content, nor any content key.
    const stored = JSON.stringify(rows);
    expect(stored).not.toContain(SECRET);
    for (const key of Object.keys(CONTENT_ATTRIBUTES)) expect(rows.some((r) => key in r.attributes), key).toBe(false);
  });
});
