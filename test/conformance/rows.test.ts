/**
 * Real instrumentations → usage rows: row counts, normalised tokens and exact costs, live against
 * the fake provider (test/support/fake-provider.ts; its usage numbers are documented there).
 *
 * Prices (genai-prices catalog): gpt-4o 2.5 / 1.25 cached / 10 per Mtok; o3-mini 1.1 / 0.55 / 4.4;
 * text-embedding-3-small 0.02; claude-haiku-4-5 1 / 1.25 cache write / 0.1 cache read / 5.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageMapper } from '../../usage/mapper.js';
import { loadPriceBook } from '../../pricing/index.js';
import { fromReadableSpan } from '../../exporter/readable-span.js';
import type { UsageRow } from '../../usage/usage-row.js';
import { capture, PROMPT_MARKER, type InstrumentationId } from '../support/capture.js';
import { COMPLETION_MARKER, startFakeProvider, type FakeProvider } from '../support/fake-provider.js';

let fake: FakeProvider;
let mapper: UsageMapper;

beforeAll(async () => {
  fake = await startFakeProvider();
  mapper = new UsageMapper({ prices: await loadPriceBook(), attributeAllowList: ['gen_ai.*', 'llm.*', 'ai.*', 'input.*', 'output.*'] });
});
afterAll(() => fake.close());

type Expected = Partial<Pick<UsageRow,
  'provider' | 'operation' | 'response_model' | 'priced_model' | 'input_tokens' | 'output_tokens' | 'cache_read_tokens' |
  'cache_write_tokens' | 'reasoning_tokens' | 'cost_usd' | 'error_type' | 'org_id' | 'user_id' | 'feature'>>;

// Cached tokens known: 176 × 2.5 + 1024 × 1.25 + 300 × 10 per Mtok.
const GPT4O_CACHED: Expected = { provider: 'openai', response_model: 'gpt-4o-2024-08-06', priced_model: 'openai/gpt-4o', input_tokens: 1200, output_tokens: 300, cache_read_tokens: 1024, cost_usd: '0.00472' };
// The instrumentation does not report cached tokens: all 1200 priced as uncached input.
const GPT4O_NO_CACHE: Expected = { ...GPT4O_CACHED, cache_read_tokens: 0, cost_usd: '0.006' };
const O3_CACHED: Expected = { provider: 'openai', response_model: 'o3-mini-2025-01-31', input_tokens: 1200, output_tokens: 300, cache_read_tokens: 1024, reasoning_tokens: 200, cost_usd: '0.0020768' };
const O3_NO_CACHE: Expected = { ...O3_CACHED, cache_read_tokens: 0, reasoning_tokens: 0, cost_usd: '0.00264' };
const EMBED: Expected = { provider: 'openai', operation: 'embeddings', input_tokens: 50, output_tokens: 0, cost_usd: '0.000001' };
// 200 uncached × 1 + 1000 cache write × 1.25 + 5000 cache read × 0.1 + 300 × 5 per Mtok.
const HAIKU_CACHED: Expected = { provider: 'anthropic', response_model: 'claude-haiku-4-5-20251001', input_tokens: 6200, output_tokens: 300, cache_read_tokens: 5000, cache_write_tokens: 1000, cost_usd: '0.00345' };
const NO_USAGE: Expected = { input_tokens: 0, output_tokens: 0, cost_usd: null };
const AI_SDK_WHO: Expected = { org_id: 'acme', user_id: 'u1', feature: 'support-bot' };

const CASES: Array<[InstrumentationId, string, Expected[]]> = [
  ['otel-openai', 'chat', [{ ...GPT4O_NO_CACHE, operation: 'chat' }]],
  ['otel-openai', 'chat-reasoning', [O3_NO_CACHE]],
  ['otel-openai', 'chat-stream', [GPT4O_NO_CACHE]],
  ['otel-openai', 'chat-stream-no-usage', [{ ...NO_USAGE, response_model: 'gpt-4o-2024-08-06' }]],
  ['otel-openai', 'embeddings', [EMBED]],
  ['otel-openai', 'responses', [GPT4O_NO_CACHE]],
  ['otel-openai', 'responses-stream', [GPT4O_NO_CACHE]],
  ['otel-openai', 'error', [{ error_type: 'InternalServerError', cost_usd: null, provider: 'openai' }]],
  ['traceloop-openai', 'chat', [GPT4O_NO_CACHE]],
  ['traceloop-openai', 'chat-reasoning', [O3_NO_CACHE]],
  ['traceloop-openai', 'chat-stream', [NO_USAGE]],
  ['traceloop-openai', 'responses', [GPT4O_NO_CACHE]],
  // Known gaps of the instrumentation: no span for embeddings or for a failed call.
  ['traceloop-openai', 'embeddings', []],
  ['traceloop-openai', 'error', []],
  ['openinference-openai', 'chat', [GPT4O_CACHED]],
  ['openinference-openai', 'chat-reasoning', [O3_CACHED]],
  ['openinference-openai', 'chat-stream', [{ ...NO_USAGE, provider: 'openai' }]],
  ['openinference-openai', 'embeddings', [{ operation: 'embeddings', input_tokens: 0, cost_usd: null }]],
  ['openinference-openai', 'responses', [GPT4O_CACHED]],
  ['openinference-openai', 'responses-stream', [GPT4O_CACHED]],
  ['openinference-openai', 'error', []],
  ['traceloop-anthropic', 'messages-cache', [HAIKU_CACHED]],
  ['traceloop-anthropic', 'messages-cache-stream', [HAIKU_CACHED]],
  ['traceloop-anthropic', 'error', [{ provider: 'anthropic', error_type: 'InternalServerError', cost_usd: null }]],
  ['ai-sdk', 'generateText-openai', [{ ...GPT4O_CACHED, ...AI_SDK_WHO }]],
  ['ai-sdk', 'generateText-openai-chat', [{ ...GPT4O_CACHED, ...AI_SDK_WHO }]],
  ['ai-sdk', 'generateText-openai-chat-tools', [GPT4O_CACHED, GPT4O_CACHED]],
  ['ai-sdk', 'generateText-openai-reasoning', [O3_CACHED]],
  ['ai-sdk', 'streamText-openai', [GPT4O_CACHED]],
  ['ai-sdk', 'streamText-openai-chat', [GPT4O_CACHED]],
  ['ai-sdk', 'embed-openai', [{ ...EMBED, ...AI_SDK_WHO }]],
  ['ai-sdk', 'generateText-anthropic', [{ ...HAIKU_CACHED, ...AI_SDK_WHO }]],
  ['ai-sdk', 'streamText-anthropic', [HAIKU_CACHED]],
  ['ai-sdk', 'error-openai', [{ provider: 'openai', error_type: 'AI_APICallError', cost_usd: null }]],
];

describe('real instrumentations → one row per AI call, exact cost', () => {
  it.each(CASES)('%s %s', async (instrumentation, scenario, expected) => {
    const { spans } = await capture(instrumentation, scenario, fake.url);
    const result = mapper.mapAll(spans.map(fromReadableSpan));
    expect(result.malformed).toBe(0);
    expect(result.rows).toHaveLength(expected.length);
    result.rows.forEach((row, i) => expect(row).toMatchObject(expected[i]!));
    // Prompts and completions never reach a row, even with broad allow-lists.
    const text = JSON.stringify(result.rows);
    expect(text).not.toContain(PROMPT_MARKER);
    expect(text).not.toContain(COMPLETION_MARKER);
  });
});
