/**
 * The `ai` SDK 7 (installed as `ai7`, next to the `ai` 6 the rest of the suite runs) with its current
 * OpenTelemetry integration `@ai-sdk/otel` (`telemetry: { integrations: new OpenTelemetry() }`) and
 * `@ai-sdk/openai` 4 (as `ai-sdk-openai4`), against the fake OpenAI API: one row per model call;
 * the `invoke_agent`, `agent_step`, `execute_tool` spans and the embed operation span make none.
 *
 * They need Node ≥ 22 (their `engines`), so these tests run on Node 22+ only (CI runs the suite on
 * 22 and 24; locally: the Node 22 binary of .ci, see the README of test/fixtures/captured).
 *
 * Fake usage: chat/responses prompt 1200 (cached 1024 included), completion 300; embeddings 50.
 * Published prices (openai.com/api/pricing), per 1M tokens: gpt-4o input $2.50, cached input $1.25,
 * output $10; text-embedding-3-small $0.02.
 *   gpt-4o: 176 × 2.50 + 1024 × 1.25 + 300 × 10 = 440 + 1280 + 3000 = 4720 µ$ = $0.00472
 *   embedding: 50 × 0.02 = 1 µ$ = $0.000001
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { startFakeProvider, type FakeProvider } from '../support/fake-provider.js';
import { PROMPT_MARKER } from '../support/capture.js';
import { captureSpans } from '../support/span-capture.js';
import { installedVersion, mapSpans } from '../support/conformance-rows.js';

// ai 7, @ai-sdk/otel and @ai-sdk/openai 4 declare Node >= 22.
const NODE_22 = Number(process.versions.node.split('.')[0]) >= 22;
const VERSIONS = { ai: installedVersion('ai7'), otel: installedVersion('@ai-sdk/otel'), openai: installedVersion('ai-sdk-openai4') };

const GPT4O = {
  provider: 'openai', operation: 'chat', request_model: 'gpt-4o', response_model: 'gpt-4o-2024-08-06', priced_model: 'openai/gpt-4o',
  input_tokens: 1200, cache_read_tokens: 1024, output_tokens: 300, cost_usd: '0.00472', error_type: '', instrumentation: 'gen_ai',
};

let fake: FakeProvider;
beforeAll(async () => {
  fake = await startFakeProvider();
});
afterAll(() => fake.close());

/** Runs `call` with the SDK's telemetry routed to the capture's provider (per call, nothing global). */
async function capture(call: (sdk: { ai: typeof import('ai7'); openai: ReturnType<typeof import('ai-sdk-openai4').createOpenAI>; telemetry: object }) => Promise<unknown>) {
  const ai = await import('ai7');
  const { createOpenAI } = await import('ai-sdk-openai4');
  const { OpenTelemetry } = await import('@ai-sdk/otel');
  const openai = createOpenAI({ baseURL: `${fake.url}/v1`, apiKey: 'sk-test' });
  const { spans, error } = await captureSpans(
    () => () => {},
    (provider: NodeTracerProvider) =>
      call({
        ai,
        openai,
        // The integration's default tracer is trace.getTracer('gen_ai'): the same scope name here.
        telemetry: { isEnabled: true, functionId: 'support-bot', integrations: new OpenTelemetry({ tracer: provider.getTracer('gen_ai') }) },
      }),
  );
  return { spans, error };
}

const operations = (spans: readonly ReadableSpan[]) => spans.map((s) => s.attributes['gen_ai.operation.name']);

describe(`ai ${VERSIONS.ai} + @ai-sdk/otel ${VERSIONS.otel} + @ai-sdk/openai ${VERSIONS.openai}`, () => {
  it.runIf(NODE_22)('generateText (Responses API): invoke_agent → step → one chat row', async () => {
    const { spans, error } = await capture(({ ai, openai, telemetry }) =>
      ai.generateText({ model: openai('gpt-4o'), prompt: `Say hello. ${PROMPT_MARKER}`, maxRetries: 0, telemetry }));
    expect(error).toBeUndefined();
    expect(operations(spans)).toEqual(['invoke_agent', 'agent_step', 'chat']);
    const result = await mapSpans(spans);
    expect(result.aggregates).toBe(2);
    expect(result.rows).toHaveLength(1);
    expect(result.rows[0]).toMatchObject(GPT4O);
  });

  it.runIf(NODE_22)('streamText: one chat row with the stream’s usage', async () => {
    const { spans, error } = await capture(async ({ ai, openai, telemetry }) => {
      const stream = ai.streamText({ model: openai('gpt-4o'), prompt: `Say hello. ${PROMPT_MARKER}`, maxRetries: 0, telemetry });
      for await (const _text of stream.textStream);
    });
    expect(error).toBeUndefined();
    expect(operations(spans)).toEqual(['invoke_agent', 'agent_step', 'chat']);
    const { rows } = await mapSpans(spans);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject(GPT4O);
  });

  it.runIf(NODE_22)('embed: the operation span wraps one embeddings call, one row', async () => {
    const { spans, error } = await capture(({ ai, openai, telemetry }) =>
      ai.embed({ model: openai.embedding('text-embedding-3-small'), value: `embed me ${PROMPT_MARKER}`, maxRetries: 0, telemetry }));
    expect(error).toBeUndefined();
    // Both spans say `embeddings`; only the inner one carries usage.
    expect(operations(spans)).toEqual(['embeddings', 'embeddings']);
    const result = await mapSpans(spans);
    expect(result.aggregates).toBe(1);
    expect(result.rows).toHaveLength(1);
    expect(result.rows[0]).toMatchObject({ provider: 'openai', operation: 'embeddings', request_model: 'text-embedding-3-small', input_tokens: 50, output_tokens: 0, cost_usd: '0.000001' });
  });

  it.runIf(NODE_22)('a ToolLoopAgent with one tool: two model calls, two rows; agent, steps and tool make none', async () => {
    const { spans, error } = await capture(({ ai, openai, telemetry }) =>
      new ai.ToolLoopAgent({
        model: openai.chat('gpt-4o'),
        tools: {
          getWeather: ai.tool({
            description: 'Get the weather for a city',
            inputSchema: ai.jsonSchema<{ city: string }>({ type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false }),
            execute: async ({ city }) => ({ city, forecast: 'sunny' }),
          }),
        },
        stopWhen: ai.stepCountIs(3),
        maxRetries: 0,
        telemetry,
      }).generate({ prompt: `Weather in Paris? ${PROMPT_MARKER}` }));
    expect(error).toBeUndefined();
    expect(operations(spans)).toEqual(['invoke_agent', 'agent_step', 'chat', 'execute_tool', 'agent_step', 'chat']);
    // The agent span totals both calls: 2400 in, 600 out. It must not be a third row.
    expect(spans[0]!.attributes['gen_ai.usage.input_tokens']).toBe(2400);
    const result = await mapSpans(spans);
    expect(result.aggregates).toBe(4);
    expect(result.rows).toHaveLength(2);
    for (const row of result.rows) expect(row).toMatchObject(GPT4O);
  });

  it.runIf(NODE_22)('a failed call (HTTP 500): one chat row with the error, no cost', async () => {
    const { spans, error } = await capture(({ ai, openai, telemetry }) =>
      ai.generateText({ model: openai('fail-model'), prompt: `Say hello. ${PROMPT_MARKER}`, maxRetries: 0, telemetry }));
    expect(error).toBeDefined();
    const { rows } = await mapSpans(spans);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ provider: 'openai', operation: 'chat', request_model: 'fail-model', cost_usd: null });
    expect(rows[0]!.error_type).not.toBe('');
  });
});
