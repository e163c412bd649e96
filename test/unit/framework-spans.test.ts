import { describe, expect, it } from 'vitest';
import { UsageMapper, type MapperOptions } from '../../usage/mapper.js';
import type { Attributes } from '../../usage/span-record.js';
import { spanRecord } from '../support/span-record.js';

// What each instrumentation writes on its span of one ChatOpenAI call (test/conformance/langchain.test.ts).
const OPENINFERENCE_LLM: Attributes = { 'openinference.span.kind': 'LLM', 'llm.model_name': 'gpt-4o', 'llm.token_count.prompt': 1200, 'llm.token_count.completion': 300 };
// @langfuse/openai's generation (test/conformance/langfuse.test.ts).
const LANGFUSE_GENERATION: Attributes = { 'langfuse.observation.type': 'generation', 'langfuse.observation.model.name': 'gpt-4o', 'langfuse.observation.usage_details': '{"input":176,"output":300,"input_cached_tokens":1024}' };
const GEN_AI_CHAT: Attributes = { 'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'openai', 'gen_ai.request.model': 'gpt-4o', 'gen_ai.usage.input_tokens': 1200, 'gen_ai.usage.output_tokens': 300 };

describe('frameworkSpans: whether a framework’s model-call span is the call or wraps the provider’s', () => {
  it.each([
    ['@arizeai/openinference-instrumentation-langchain', OPENINFERENCE_LLM, undefined, 1],
    ['@arizeai/openinference-instrumentation-langchain', OPENINFERENCE_LLM, 'calls', 1],
    ['@arizeai/openinference-instrumentation-langchain', OPENINFERENCE_LLM, 'wrappers', 0],
    ['@traceloop/instrumentation-langchain', GEN_AI_CHAT, 'calls', 1],
    ['@traceloop/instrumentation-langchain', GEN_AI_CHAT, 'wrappers', 0],
    ['langfuse-sdk', LANGFUSE_GENERATION, undefined, 1],
    ['langfuse-sdk', LANGFUSE_GENERATION, 'wrappers', 0],
    // Provider instrumentations are the call in both modes.
    ['@opentelemetry/instrumentation-openai', GEN_AI_CHAT, 'wrappers', 1],
    ['@arizeai/openinference-instrumentation-openai', OPENINFERENCE_LLM, 'wrappers', 1],
  ] as const)('%s, %s → %s: %i row(s)', (scopeName, attrs, frameworkSpans, rows) => {
    const options: MapperOptions = frameworkSpans ? { frameworkSpans } : {};
    const result = new UsageMapper(options).mapAll([spanRecord(attrs, { scopeName })]);
    expect(result.rows).toHaveLength(rows);
    // A wrapper is counted as an aggregate, never as an ordinary span.
    expect(result.aggregates).toBe(1 - rows);
  });
});

describe('the `ai` SDK 7 embed operation span (scope gen_ai) wraps its embeddings calls', () => {
  const EMBED: Attributes = { 'gen_ai.operation.name': 'embeddings', 'gen_ai.provider.name': 'openai', 'gen_ai.request.model': 'text-embedding-3-small' };
  it.each([
    ['gen_ai', EMBED, {}, 0],
    ['gen_ai', { ...EMBED, 'gen_ai.usage.input_tokens': 50 }, {}, 1],
    ['gen_ai', EMBED, { statusCode: 2 }, 1],
    // Another instrumentation's embeddings span without usage is still a call (cost unknown).
    ['@opentelemetry/instrumentation-openai', EMBED, {}, 1],
  ] as const)('%s %j %j: %i row(s)', (scopeName, attrs, overrides, rows) => {
    const result = new UsageMapper().mapAll([spanRecord(attrs, { scopeName, ...overrides })]);
    expect(result.rows).toHaveLength(rows);
    expect(result.aggregates).toBe(1 - rows);
  });
});
