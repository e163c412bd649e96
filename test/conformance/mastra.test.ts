/**
 * Mastra's AI tracing through `@mastra/otel-exporter` 1.4.0 (`@mastra/core` 1.71.0, `@mastra/observability`
 * 1.17.9), recorded on Node 22.23.5 against the fake OpenAI API by test/fixtures/captured/record-mastra.mjs
 * (Mastra needs Node >= 22.13 and is not among this repository's dependencies, so the spans are replayed from
 * test/fixtures/captured/mastra-otel-agents.json): one agent answering once, one agent with a tool loop
 * (a tool call, the tool, then the answer). Three model calls.
 *
 * The exporter writes one `chat` span per model call (`mastra.span.type` model_inference) with gen_ai.*
 * usage, under `model_generation`, `agent_step` and `invoke_agent` spans, beside `execute_tool` and
 * `model_chunk` spans; those name their own type as the operation, so the mapper counts every span of
 * Mastra's that is not a chat or embeddings call as structure (usage/conventions.ts MASTRA_CALL_OPERATIONS).
 *
 * Fake usage per call: prompt 1200 (cached 1024 included), completion 300. gpt-4o, OpenAI's published
 * prices per 1M tokens (openai.com/api/pricing): input $2.50, cached input $1.25, output $10:
 *   176 × 2.50 + 1024 × 1.25 + 300 × 10 = 440 + 1280 + 3000 = 4720 µ$ = $0.00472 per call.
 */
import { describe, expect, it } from 'vitest';
import { COMPLETION_MARKER } from '../../demo/fake-provider.js';
import { PROMPT_MARKER } from '../support/capture.js';
import { mapSpans } from '../support/conformance-rows.js';
import { loadCapturedSpans } from '../support/span-json.js';

const spans = loadCapturedSpans('mastra-otel-agents');
const SCOPE = '@mastra/otel-exporter';

describe('@mastra/otel-exporter 1.4.0: two agents, three model calls (recorded)', () => {
  it('the spans: three chat calls among agent, generation, step, tool and chunk spans', () => {
    expect(spans.map((s) => s.attributes['gen_ai.operation.name'])).toEqual([
      'invoke_agent', 'model_generation', 'agent_step', 'chat', 'model_chunk',
      'invoke_agent', 'model_generation', 'agent_step', 'chat', 'model_chunk', 'execute_tool', 'model_chunk', 'agent_step', 'chat', 'model_chunk',
    ]);
    expect(new Set(spans.map((s) => s.instrumentationScope.name))).toEqual(new Set([SCOPE]));
  });

  it('one exact row per model call; the other twelve spans are aggregates', async () => {
    const result = await mapSpans(spans, { attributeAllowList: ['*'] });
    expect([result.skipped, result.aggregates, result.malformed]).toEqual([12, 12, 0]);
    expect(result.rows.map((r) => r.span_id)).toEqual(spans.filter((s) => s.name === 'chat gpt-4o').map((s) => s.spanContext().spanId));
    for (const row of result.rows) {
      expect(row).toMatchObject({
        provider: 'openai', operation: 'chat', request_model: 'gpt-4o', response_model: 'gpt-4o-2024-08-06', priced_model: 'openai/gpt-4o',
        input_tokens: 1200, output_tokens: 300, cache_read_tokens: 1024, reasoning_tokens: 0, cost_usd: '0.00472', error_type: '',
        instrumentation: SCOPE,
      });
    }
    const text = JSON.stringify(result.rows);
    expect(text).not.toContain(PROMPT_MARKER);
    expect(text).not.toContain(COMPLETION_MARKER);
  });
});
