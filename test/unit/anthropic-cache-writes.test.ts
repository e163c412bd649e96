/**
 * Anthropic's cache writes as the mapper reads them: the SDK's own span (`@anthropic-ai/sdk` ≥ 0.136)
 * names them `gen_ai.usage.cache_write.input_tokens` and splits them by TTL in
 * `anthropic.usage.cache_creation.ephemeral_{5m,1h}_input_tokens`; the 1-hour ones are priced apart.
 *
 * Claude Haiku 4.5, Anthropic's published prices (platform.claude.com pricing, per 1M tokens): input $1,
 * 5-minute cache write $1.25 (1.25×), 1-hour cache write $2 (2×), cache read $0.10, output $5.
 * Usage: 6200 input (5000 cache reads + 1000 cache writes + 200 uncached), 300 output.
 *   all 1000 writes 5-minute: 200×1 + 1000×1.25 + 5000×0.1 + 300×5 = 200 + 1250 + 500 + 1500 = 3450 µ$
 *   600 5-minute + 400 1-hour: 200 + 600×1.25 + 400×2 + 500 + 1500 = 200 + 750 + 800 + 500 + 1500 = 3750 µ$
 *   all 1000 writes 1-hour:    200 + 1000×2 + 500 + 1500 = 4200 µ$
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { UsageMapper } from '../../usage/mapper.js';
import { loadPriceBook } from '../../pricing/index.js';
import type { Attributes } from '../../usage/span-record.js';
import { spanRecord } from '../support/span-record.js';

let mapper: UsageMapper;
beforeAll(async () => {
  mapper = new UsageMapper({ prices: await loadPriceBook() });
});

const SDK_SPAN: Attributes = {
  'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'anthropic',
  'gen_ai.request.model': 'claude-haiku-4-5', 'gen_ai.response.model': 'claude-haiku-4-5-20251001',
  'gen_ai.usage.input_tokens': 6200, 'gen_ai.usage.output_tokens': 300,
  'gen_ai.usage.cache_read.input_tokens': 5000, 'gen_ai.usage.cache_write.input_tokens': 1000,
};
const split = (m5: number, h1: number): Attributes => ({
  'anthropic.usage.cache_creation.ephemeral_5m_input_tokens': m5, 'anthropic.usage.cache_creation.ephemeral_1h_input_tokens': h1,
});

describe('Anthropic cache writes: the SDK span\'s names and the 1-hour split', () => {
  it.each([
    ['no split reported: every write at the 5-minute price', SDK_SPAN, {}, '0.00345'],
    ['all 5-minute (1h count 0)', { ...SDK_SPAN, ...split(1000, 0) }, {}, '0.00345'],
    ['600 5-minute + 400 1-hour', { ...SDK_SPAN, ...split(600, 400) }, { cache_write_1h_tokens: 400 }, '0.00375'],
    ['all 1-hour', { ...SDK_SPAN, ...split(0, 1000) }, { cache_write_1h_tokens: 1000 }, '0.0042'],
  ])('%s', (_name, attrs, details, cost) => {
    const row = mapper.map(spanRecord(attrs, { scopeName: 'com.anthropic.sdk.typescript' }))!;
    expect(row).toMatchObject({ input_tokens: 6200, output_tokens: 300, cache_read_tokens: 5000, cache_write_tokens: 1000, priced_model: 'anthropic/claude-haiku-4-5' });
    expect(row.usage_details).toEqual(details);
    expect(row.cost_usd).toBe(cost);
  });

  it('the 1-hour writes are a component of the cost breakdown', () => {
    const row = mapper.map(spanRecord({ ...SDK_SPAN, ...split(600, 400) }))!;
    expect(row.cost_breakdown).toEqual({
      input_tokens: '0.0002', cache_write_tokens: '0.00075', cache_write_1h_tokens: '0.0008', cache_read_tokens: '0.0005', output_tokens: '0.0015',
    });
  });

  it('OpenInference\'s llm.request.model_name / llm.response.model_name (the Anthropic instrumentation) win over llm.model_name', () => {
    const row = mapper.map(spanRecord({
      'openinference.span.kind': 'LLM', 'llm.provider': 'anthropic', 'llm.model_name': 'claude-haiku-4-5-20251001',
      'llm.request.model_name': 'claude-haiku-4-5', 'llm.response.model_name': 'claude-haiku-4-5-20251001',
      'llm.token_count.prompt': 6200, 'llm.token_count.completion': 300,
      'llm.token_count.prompt_details.cache_read': 5000, 'llm.token_count.prompt_details.cache_write': 1000,
    }))!;
    expect(row).toMatchObject({ request_model: 'claude-haiku-4-5', response_model: 'claude-haiku-4-5-20251001', cost_usd: '0.00345' });
  });

  it('a 1-hour count that is not a whole count makes the span malformed', () => {
    expect(() => mapper.map(spanRecord({ ...SDK_SPAN, ...split(600, -4) }))).toThrow(/ephemeral_1h_input_tokens/);
  });
});
