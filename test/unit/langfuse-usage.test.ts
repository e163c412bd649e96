/**
 * Langfuse's observation convention (`langfuse.observation.*`): which observations are calls, and
 * how its usage_details (disjoint parts, input without its cache parts) become semantic-convention
 * counts. The JSON objects are what Langfuse's SDKs write: `@langfuse/openai` (seen in
 * test/conformance/langfuse.test.ts), `@langfuse/langchain` (LangChain's input_token_details and
 * output_token_details as `input_<key>` / `output_<key>`, subtracted from input and output), and the
 * Anthropic part names of Langfuse's price list.
 */
import { describe, expect, it } from 'vitest';
import { UsageMapper } from '../../usage/mapper.js';
import type { Attributes } from '../../usage/span-record.js';
import { spanRecord } from '../support/span-record.js';

const mapper = new UsageMapper();
const generation = (usage: Record<string, unknown> | string, more: Attributes = {}): Attributes => ({
  'langfuse.observation.type': 'generation',
  'langfuse.observation.model.name': 'gpt-4o',
  'langfuse.observation.usage_details': typeof usage === 'string' ? usage : JSON.stringify(usage),
  ...more,
});
const map = (attrs: Attributes, overrides = {}) => mapper.map(spanRecord(attrs, { name: 'OpenAI.chat', scopeName: 'langfuse-sdk', ...overrides }));
const tokens = (attrs: Attributes) => {
  const row = map(attrs);
  return row && [row.input_tokens, row.output_tokens, row.cache_read_tokens, row.cache_write_tokens, row.reasoning_tokens,
    row.input_audio_tokens, row.output_audio_tokens, row.usage_details];
};

describe('langfuse.observation.usage_details → semantic-convention counts', () => {
  // [input, output, cache read, cache write, reasoning, input audio, output audio, usage_details]
  it.each([
    ['@langfuse/openai chat (prompt 1200 with 1024 cached, completion 300)', {
      input: 176, output: 300, total: 1500, input_cached_tokens: 1024, input_audio_tokens: 0, output_reasoning_tokens: 0,
      output_audio_tokens: 0, output_accepted_prediction_tokens: 0, output_rejected_prediction_tokens: 0,
    }, [1200, 300, 1024, 0, 0, 0, 0, {}]],
    ['@langfuse/openai o3-mini (completion 300 with reasoning 200)', {
      input: 1200, output: 100, total: 1500, input_cached_tokens: 0, output_reasoning_tokens: 200,
    }, [1200, 300, 0, 0, 200, 0, 0, {}]],
    ['@langfuse/openai audio and predictions (all parts of prompt / completion)', {
      input: 100, output: 50, total: 480, input_cached_tokens: 0, input_audio_tokens: 200, output_audio_tokens: 80,
      output_accepted_prediction_tokens: 30, output_rejected_prediction_tokens: 20,
    }, [300, 180, 0, 0, 0, 200, 80, {}]],
    ['@langfuse/langchain (LangChain usage_metadata details)', {
      input: 200, output: 100, total: 6500, input_cache_read: 5000, input_cache_creation: 1000, output_reasoning: 200,
    }, [6200, 300, 5000, 1000, 200, 0, 0, {}]],
    ['Anthropic part names (cache EXCLUDED from input, as Anthropic reports it)', {
      input: 200, output: 300, cache_read_input_tokens: 5000, cache_creation_input_tokens: 1000,
    }, [6200, 300, 5000, 1000, 0, 0, 0, {}]],
    ['Anthropic 5-minute and 1-hour cache writes apart', {
      input: 200, output: 300, input_cache_read: 5000, input_cache_creation_5m: 600, input_cache_creation_1h: 400,
    }, [6200, 300, 5000, 1000, 0, 0, 0, { cache_write_1h_tokens: 400 }]],
    ['an embedding with a total only', { total: 50 }, [50, 0, 0, 0, 0, 0, 0, {}]],
    ['a part Langfuse has no name for is input or output by its name', { input: 10, input_image: 5, output: 3 }, [15, 3, 0, 0, 0, 0, 0, {}]],
    ['null parts are absent', { input: 10, output: 3, input_cached_tokens: null }, [10, 3, 0, 0, 0, 0, 0, {}]],
    ['string counts', { input: '10', output: '3' }, [10, 3, 0, 0, 0, 0, 0, {}]],
  ] as const)('%s', (_name, usage, expected) => {
    expect(tokens(generation(usage))).toEqual(expected);
  });

  it('gen_ai.* counts on the same span win (the JSON is not read)', () => {
    expect(tokens(generation({ input: 1, output: 1 }, { 'gen_ai.usage.input_tokens': 1200, 'gen_ai.usage.output_tokens': 300 })))
      .toEqual([1200, 300, 0, 0, 0, 0, 0, {}]);
  });
});

describe('Langfuse observations: calls, structure, errors, own cost', () => {
  it.each([
    ['generation', 'chat'],
    ['embedding', 'embeddings'],
  ] as const)('%s → a call (%s)', (type, operation) => {
    expect(map(generation({ input: 1 }, { 'langfuse.observation.type': type }))?.operation).toBe(operation);
  });

  it.each(['span', 'agent', 'tool', 'chain', 'retriever', 'evaluator', 'guardrail', 'event'])('%s → no row, counted as an aggregate', (type) => {
    const result = mapper.mapAll([spanRecord(generation({ input: 9 }, { 'langfuse.observation.type': type }), { scopeName: 'langfuse-sdk' })]);
    expect([result.rows.length, result.skipped, result.aggregates]).toEqual([0, 1, 1]);
  });

  it('model: langfuse.observation.model.name is both request and response model', () => {
    expect(map(generation({ input: 1 }, { 'langfuse.observation.model.name': 'gpt-4o-2024-08-06' }))).toMatchObject({
      request_model: 'gpt-4o-2024-08-06', response_model: 'gpt-4o-2024-08-06', provider: '',
    });
  });

  it.each([
    // @langfuse/openai on a failed call: level ERROR, status UNSET, cost_details all zero.
    ['level ERROR, status UNSET', { 'langfuse.observation.level': 'ERROR', 'langfuse.observation.cost_details': '{"input":0,"output":0,"total":0}' }, 0, '_OTHER', { reported_cost_usd: 0 }],
    ['level WARNING', { 'langfuse.observation.level': 'WARNING' }, 0, '', {}],
    ['level ERROR with the span status ERROR and an error.type', { 'langfuse.observation.level': 'ERROR', 'error.type': 'RateLimitError' }, 2, 'RateLimitError', {}],
    // An OpenRouter cost forwarded by @langfuse/langchain: kept as evidence, like gen_ai.usage.cost.
    ['cost_details total', { 'langfuse.observation.cost_details': '{"total":0.0125}' }, 0, '', { reported_cost_usd: 0.0125 }],
    ['cost_details without a total: the sum of its parts', { 'langfuse.observation.cost_details': '{"input":0.5,"output":0.25}' }, 0, '', { reported_cost_usd: 0.75 }],
  ] as const)('%s', (_name, more, statusCode, errorType, details) => {
    const row = map({ 'langfuse.observation.type': 'generation', 'langfuse.observation.model.name': 'gpt-4o', ...more }, { statusCode });
    expect(row).toMatchObject({ error_type: errorType, usage_details: details });
  });

  it('trustReportedCost: cost_details prices a call no price list knows, like other self-reported costs', () => {
    const attrs = generation({ input: 10, output: 5 }, { 'langfuse.observation.model.name': 'my-finetune', 'langfuse.observation.cost_details': '{"total":0.0125}' });
    const row = new UsageMapper({ trustReportedCost: true }).map(spanRecord(attrs, { scopeName: 'langfuse-sdk' }));
    expect(row).toMatchObject({ cost_usd: '0.0125', price_source: 'span' });
    expect(map(attrs)).toMatchObject({ cost_usd: null, usage_details: { reported_cost_usd: 0.0125 } });
  });

  it.each([
    ['not JSON', generation('{input: 1'), /^span baadbaadbaadbaad: langfuse\.observation\.usage_details: not JSON/],
    ['not an object', generation('[1,2]'), /langfuse\.observation\.usage_details: not a JSON object/],
    ['a negative part', generation({ input: -1 }), /langfuse\.observation\.usage_details\.input: not a valid count/],
    ['a fractional part', generation({ output: 1.5 }), /langfuse\.observation\.usage_details\.output: not a whole count/],
    ['a cost that is not a number', generation({ input: 1 }, { 'langfuse.observation.cost_details': '{"total":"lots"}' }), /langfuse\.observation\.cost_details\.total: not a valid count/],
  ] as const)('malformed: %s → counted, named', (_name, attrs, reason) => {
    const result = mapper.mapAll([spanRecord(attrs, { spanId: 'baadbaadbaadbaad', scopeName: 'langfuse-sdk' })]);
    expect(result.malformed).toBe(1);
    expect(result.errors[0]).toMatch(reason);
  });
});
