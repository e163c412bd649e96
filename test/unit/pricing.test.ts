import { calcPrice, waitForUpdate, type ModelPrice, type Provider } from '@pydantic/genai-prices';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadPriceBook, UNITS, type PriceBook, type PricingUsage } from '../../pricing/index.js';

const at = (iso: string): number => Date.parse(iso) * 1000;
const NOW = at('2025-09-01T12:00:00Z');

let book: PriceBook;
let catalog: Provider[];

beforeAll(async () => {
  book = await loadPriceBook();
  catalog = (await waitForUpdate())!;
});

function quote(provider: string, model: string, usage: PricingUsage, atUnixMicros = NOW) {
  return book.quote({ provider, model, atUnixMicros, usage });
}

describe('worked examples', () => {
  it.each<[string, string, string, PricingUsage, string, Record<string, string>, string]>([
    [
      'openai: cached input inside input_tokens', 'openai', 'gpt-4o-2024-08-06',
      { input_tokens: 1200, cache_read_tokens: 1024, output_tokens: 300 },
      '0.00472', { input_tokens: '0.00044', cache_read_tokens: '0.00128', output_tokens: '0.003' }, 'openai/gpt-4o',
    ],
    [
      'anthropic: 200 uncached + 1000 cache write + 5000 cache read', 'anthropic', 'claude-sonnet-4-5',
      { input_tokens: 6200, cache_write_tokens: 1000, cache_read_tokens: 5000, output_tokens: 300 },
      '0.01035', { input_tokens: '0.0006', cache_write_tokens: '0.00375', cache_read_tokens: '0.0015', output_tokens: '0.0045' },
      'anthropic/claude-sonnet-4-5',
    ],
  ])('%s', (_name, provider, model, usage, cost, breakdown, pricedModel) => {
    expect(quote(provider, model, usage)).toEqual({
      costUsd: cost, breakdown, pricedModel, source: 'genai-prices@0.1.8', warnings: [],
    });
  });

  it('the catalog library drifts on the Anthropic example; we do not', () => {
    const lib = calcPrice({ input_tokens: 6200, cache_write_tokens: 1000, cache_read_tokens: 5000, output_tokens: 300 }, 'claude-sonnet-4-5', { providerId: 'anthropic' });
    expect(lib?.total_price).toBe(0.010349999999999998);
    expect(book.catalogVersion).toBe('genai-prices@0.1.8');
  });
});

describe('units and the usage hierarchy', () => {
  it.each<[string, string, string, PricingUsage, string, Record<string, string>]>([
    // Reasoning is part of output_tokens: without a reasoning price it is paid once, at the output rate.
    ['o3 with reasoning tokens', 'openai', 'o3', { input_tokens: 100, output_tokens: 1000, output_reasoning_tokens: 800 },
      '0.0082', { input_tokens: '0.0002', output_tokens: '0.008' }],
    ['o3 without reasoning tokens', 'openai', 'o3', { input_tokens: 100, output_tokens: 1000 },
      '0.0082', { input_tokens: '0.0002', output_tokens: '0.008' }],
    ['gpt-5 with reasoning tokens', 'openai', 'gpt-5', { input_tokens: 1000, output_tokens: 2000, output_reasoning_tokens: 1500 },
      '0.02125', { input_tokens: '0.00125', output_tokens: '0.02' }],
    // sonar-deep-research prices reasoning and citations apart: output_tokens pays only for the rest.
    ['perplexity deep research: reasoning and citation prices', 'perplexity', 'sonar-deep-research',
      { input_tokens: 1000, output_tokens: 5000, output_reasoning_tokens: 3000, output_citation_tokens: 500, web_searches: 4 },
      '0.044', { input_tokens: '0.002', output_tokens: '0.012', output_reasoning_tokens: '0.009', output_citation_tokens: '0.001', web_searches: '0.02' }],
    // 1h cache writes are part of cache_write_tokens, which are part of input_tokens.
    ['anthropic 5m and 1h cache writes', 'anthropic', 'claude-sonnet-4-5',
      { input_tokens: 10_000, cache_write_tokens: 4000, cache_write_1h_tokens: 1000, cache_read_tokens: 4000, output_tokens: 500 },
      '0.03195', { input_tokens: '0.006', cache_write_tokens: '0.01125', cache_read_tokens: '0.0012', output_tokens: '0.0075', cache_write_1h_tokens: '0.006' }],
    // Audio at audio rates; cached audio is inside both cache_read_tokens and input_audio_tokens.
    ['gpt-4o-realtime audio, cached audio', 'openai', 'gpt-4o-realtime-preview-2024-12-17',
      { input_tokens: 5000, input_audio_tokens: 3000, cache_read_tokens: 1500, cache_audio_read_tokens: 1000, output_tokens: 2000, output_audio_tokens: 1500 },
      '0.22125', {
        input_tokens: '0.0075', cache_read_tokens: '0.00125', output_tokens: '0.01', input_audio_tokens: '0.08',
        cache_audio_read_tokens: '0.0025', output_audio_tokens: '0.12',
      }],
    ['gpt-audio input and output audio', 'openai', 'gpt-audio',
      { input_tokens: 1000, input_audio_tokens: 600, output_tokens: 1000, output_audio_tokens: 900 },
      '0.0788', { input_tokens: '0.001', output_tokens: '0.001', input_audio_tokens: '0.0192', output_audio_tokens: '0.0576' }],
    // audio_hours: per 3600 seconds.
    ['whisper-1, 12.5 seconds', 'openai', 'whisper-1', { audio_seconds: 12.5 }, '0.00125', { audio_seconds: '0.00125' }],
    ['whisper-1, 7 seconds', 'openai', 'whisper-1', { audio_seconds: 7 }, '0.0007', { audio_seconds: '0.0007' }],
    ['groq whisper bills at least 10 seconds', 'groq', 'whisper-large-v3', { audio_seconds: 5 },
      '0.000308333333333333', { input_audio_seconds: '0.000308333333333333' }],
    ['groq whisper turbo, 30 seconds', 'groq', 'whisper-large-v3-turbo', { input_audio_seconds: 30 },
      '0.000333333333333333', { input_audio_seconds: '0.000333333333333333' }],
    ['groq whisper, no audio', 'groq', 'whisper-large-v3', { audio_seconds: 0 }, '0', {}],
    // Tool calls and per-request fees.
    ['gpt-4o web searches', 'openai', 'gpt-4o', { input_tokens: 1000, output_tokens: 100, web_searches: 3 },
      '0.0335', { input_tokens: '0.0025', output_tokens: '0.001', web_searches: '0.03' }],
    ['claude web searches', 'anthropic', 'claude-sonnet-4-5', { input_tokens: 1000, output_tokens: 100, web_searches: 2 },
      '0.0245', { input_tokens: '0.003', output_tokens: '0.0015', web_searches: '0.02' }],
    ['perplexity sonar: one request fee per call', 'perplexity', 'sonar', { input_tokens: 100, output_tokens: 100 },
      '0.0122', { input_tokens: '0.0001', output_tokens: '0.0001', requests: '0.012' }],
    ['mistral OCR pages', 'mistral_ai', 'mistral-ocr-2505', { input_document_pages: 10, input_annotated_document_pages: 4 },
      '0.018', { input_document_pages: '0.006', input_annotated_document_pages: '0.012' }],
    ['no usage at all', 'openai', 'gpt-4o', {}, '0', {}],
  ])('%s', (_name, provider, model, usage, cost, breakdown) => {
    const q = quote(provider, model, usage);
    expect(q?.costUsd).toBe(cost);
    expect(q?.breakdown).toEqual(breakdown);
    expect(q?.warnings).toEqual([]);
  });
});

describe('long-context tiers (chosen by the total input_tokens)', () => {
  it.each<[string, PricingUsage, string, Record<string, string>]>([
    ['250k input: >200k prices for input, cache and output', { input_tokens: 250_000, cache_read_tokens: 50_000, output_tokens: 1000 },
      '0.5275', { input_tokens: '0.5', cache_read_tokens: '0.0125', output_tokens: '0.015' }],
    ['100k input: base prices', { input_tokens: 100_000, cache_read_tokens: 20_000, output_tokens: 1000 },
      '0.1125', { input_tokens: '0.1', cache_read_tokens: '0.0025', output_tokens: '0.01' }],
    ['exactly 200k: still base', { input_tokens: 200_000 }, '0.25', { input_tokens: '0.25' }],
    ['200001: tier applies', { input_tokens: 200_001 }, '0.5000025', { input_tokens: '0.5000025' }],
  ])('gemini-2.5-pro, %s', (_name, usage, cost, breakdown) => {
    const q = quote('gcp.gemini', 'gemini-2.5-pro', usage);
    expect(q?.costUsd).toBe(cost);
    expect(q?.breakdown).toEqual(breakdown);
  });
});

describe('prices in force at the call time', () => {
  it.each<[string, string, string, PricingUsage, string, string]>([
    // o3 dropped from $10/$40 to $2/$8 on 2025-06-10.
    ['o3 a millisecond before the price cut', 'openai', 'o3', { input_tokens: 1000, output_tokens: 1000 }, '2025-06-09T23:59:59.999Z', '0.05'],
    ['o3 from the price cut on', 'openai', 'o3', { input_tokens: 1000, output_tokens: 1000 }, '2025-06-10T00:00:00Z', '0.01'],
    // claude-opus-4-6: long-context tiers until 2026-03-13, flat after.
    ['claude-opus-4-6 250k input before 2026-03-13', 'anthropic', 'claude-opus-4-6', { input_tokens: 250_000 }, '2026-03-12T12:00:00Z', '2.5'],
    ['claude-opus-4-6 250k input after 2026-03-13', 'anthropic', 'claude-opus-4-6', { input_tokens: 250_000 }, '2026-03-13T12:00:00Z', '1.25'],
    // deepseek-chat: standard price 00:30–16:30 UTC, discount outside.
    ['deepseek-chat at 12:00 UTC (standard)', 'deepseek', 'deepseek-chat', { input_tokens: 1e6, output_tokens: 1e6 }, '2025-06-01T12:00:00Z', '1.37'],
    ['deepseek-chat at 00:30 UTC (window start inclusive)', 'deepseek', 'deepseek-chat', { input_tokens: 1e6, output_tokens: 1e6 }, '2025-06-01T00:30:00Z', '1.37'],
    ['deepseek-chat at 16:30 UTC (window end exclusive)', 'deepseek', 'deepseek-chat', { input_tokens: 1e6, output_tokens: 1e6 }, '2025-06-01T16:30:00Z', '0.685'],
    ['deepseek-chat at 20:00 UTC (off-peak)', 'deepseek', 'deepseek-chat', { input_tokens: 1e6, output_tokens: 1e6 }, '2025-06-01T20:00:00Z', '0.685'],
    ['deepseek-chat at 00:29:59.999 UTC (off-peak)', 'deepseek', 'deepseek-chat', { input_tokens: 1e6, output_tokens: 1e6 }, '2025-06-01T00:29:59.999Z', '0.685'],
    // deepseek-v4-flash: a start date and peak windows, evaluated last-to-first like the catalog library.
    ['deepseek-v4-flash before 2026-08-17, noon', 'deepseek', 'deepseek-v4-flash', { input_tokens: 1e6, output_tokens: 1e6 }, '2026-07-01T12:00:00Z', '0.42'],
    ['deepseek-v4-flash after 2026-08-17, noon', 'deepseek', 'deepseek-v4-flash', { input_tokens: 1e6, output_tokens: 1e6 }, '2026-09-01T12:00:00Z', '0.88'],
    ['deepseek-v4-flash after 2026-08-17, 07:00 peak', 'deepseek', 'deepseek-v4-flash', { input_tokens: 1e6, output_tokens: 1e6 }, '2026-09-01T07:00:00Z', '1.76'],
  ])('%s', (_name, provider, model, usage, iso, cost) => {
    expect(quote(provider, model, usage, at(iso))?.costUsd).toBe(cost);
  });
});

describe('model and provider lookup', () => {
  it.each<[string, string, string, string]>([
    // Bedrock: vendor prefix, cross-region prefixes, version suffixes, ARNs.
    ['aws.bedrock', 'anthropic.claude-3-5-sonnet-20241022-v2:0', 'aws/regional.anthropic.claude-3-5-sonnet-20241022-v2:0', '0.0045'],
    ['aws.bedrock', 'us.anthropic.claude-sonnet-4-20250514-v1:0', 'aws/regional.anthropic.claude-sonnet-4-20250514-v1:0', '0.0045'],
    ['aws.bedrock', 'eu.anthropic.claude-3-7-sonnet-20250219-v1:0', 'aws/regional.anthropic.claude-3-7-sonnet-20250219-v1:0', '0.0045'],
    ['aws.bedrock', 'apac.anthropic.claude-3-haiku-20240307-v1:0', 'aws/regional.anthropic.claude-3-haiku-20240307-v1:0', '0.000375'],
    ['aws.bedrock', 'global.anthropic.claude-sonnet-4-5-20250929-v1:0', 'aws/global.anthropic.claude-sonnet-4-5-20250929-v1:0', '0.0045'],
    ['aws.bedrock', 'arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-sonnet-4-20250514-v1:0', 'aws/regional.anthropic.claude-sonnet-4-20250514-v1:0', '0.0045'],
    ['aws.bedrock', 'us.amazon.nova-pro-v1:0', 'aws/amazon.nova-pro-v1:0', '0.00112'],
    ['aws.bedrock', 'us.meta.llama3-3-70b-instruct-v1:0', 'aws/meta.llama3-3-70b-instruct-v1:0', '0.000792'],
    // Vendor prefix dropped by the instrumentation (OpenLLMetry, OpenInference): Nova Lite 1000 × 0.06 + 100 × 0.24 per Mtok;
    // Claude Haiku 4.5 regional 1000 × 1.10 + 100 × 5.50 per Mtok (AWS Bedrock pricing, 10% over the global price).
    ['aws.bedrock', 'nova-lite-v1:0', 'aws/amazon.nova-lite-v1:0', '0.000084'],
    ['aws.bedrock', 'claude-haiku-4-5-20251001-v1:0', 'aws/regional.anthropic.claude-haiku-4-5-20251001-v1:0', '0.00165'],
    ['', 'us.anthropic.claude-sonnet-4-20250514-v1:0', 'aws/regional.anthropic.claude-sonnet-4-20250514-v1:0', '0.0045'],
    // OpenRouter / LiteLLM style `vendor/model`.
    ['', 'openai/gpt-4o', 'openai/gpt-4o', '0.0035'],
    ['', 'anthropic/claude-3.5-sonnet', 'anthropic/claude-3-5-sonnet', '0.0045'],
    ['openai', 'openai/gpt-4o', 'openai/gpt-4o', '0.0035'],
    ['openrouter', 'anthropic/claude-3.5-sonnet', 'openrouter/anthropic/claude-3.5-sonnet', '0.0045'],
    ['litellm', 'bedrock/us.anthropic.claude-sonnet-4-20250514-v1:0', 'aws/regional.anthropic.claude-sonnet-4-20250514-v1:0', '0.0045'],
    // Vertex and Gemini spellings.
    ['gcp.vertex_ai', 'claude-3-5-sonnet-v2@20241022', 'google/claude-3-5-sonnet', '0.0045'],
    ['gcp.vertex_ai', 'claude-sonnet-4@20250514', 'google/claude-4-sonnet', '0.0045'],
    ['gcp.vertex_ai', 'projects/p/locations/us-east5/publishers/anthropic/models/claude-3-5-haiku@20241022', 'google/claude-3-5-haiku', '0.0012'],
    ['gcp.gemini', 'models/gemini-1.5-pro', 'google/gemini-1.5-pro', '0.00175'],
    ['gcp.gen_ai', 'gemini-2.0-flash', 'google/gemini-2.0-flash', '0.00014'],
    // Case, whitespace, date suffixes.
    ['OpenAI', '  GPT-4o-2024-08-06 ', 'openai/gpt-4o', '0.0035'],
    ['openai', 'gpt-4o-20241120', 'openai/gpt-4o', '0.0035'],
    // Azure: its own list, then the OpenAI prices it falls back to.
    ['azure.ai.openai', 'gpt-4o', 'openai/gpt-4o', '0.0035'],
    ['azure.ai.inference', 'gpt-4o-mini', 'openai/gpt-4o-mini', '0.00021'],
    ['azure', 'o3-mini', 'azure/o3-mini', '0.00154'],
    // OTel provider names → catalog ids.
    ['mistral_ai', 'mistral-large-latest', 'mistral/mistral-large', '0.0026'],
    ['x_ai', 'grok-3', 'x-ai/grok-3', '0.0045'],
    ['moonshot_ai', 'kimi-k2-0905-preview', 'moonshotai/kimi-k2-0905-preview', '0.00085'],
    ['deepseek', 'deepseek-chat', 'deepseek/deepseek-chat', '0.00038'],
    ['groq', 'llama-3.3-70b-versatile', 'groq/llama-3.3-70b-versatile', '0.000669'],
    ['cohere', 'command-r-plus', 'cohere/command-r-plus', '0.0035'],
    ['perplexity', 'sonar-pro', 'perplexity/sonar-pro', '0.0185'],
    ['together', 'meta-llama/Llama-3.3-70B-Instruct-Turbo', 'together/meta-llama/Llama-3.3-70B-Instruct-Turbo', '0.000968'],
    ['fireworks', 'accounts/fireworks/models/deepseek-v3p2', 'fireworks/deepseek-v3p2', '0.000728'],
    ['cerebras', 'llama3.1-8b', 'cerebras/llama3.1-8b', '0.00011'],
    // Provider unknown: the provider whose model_match fits, then a catalog-wide search.
    ['', 'gpt-4o', 'openai/gpt-4o', '0.0035'],
    ['', 'claude-3-5-haiku-20241022', 'anthropic/claude-3-5-haiku-latest', '0.0012'],
    ['', 'gemini-2.5-pro', 'google/gemini-2.5-pro', '0.00225'],
    ['openai', 'ft:gpt-4o-mini-2024-07-18:acme::abc123', 'openai/ft:gpt-4o-mini', '0.00042'],
  ])('%j %j → %s', (provider, model, pricedModel, cost) => {
    const q = quote(provider, model, { input_tokens: 1000, output_tokens: 100 });
    expect(q?.pricedModel).toBe(pricedModel);
    expect(q?.costUsd).toBe(cost);
    expect(q?.warnings).toEqual([]);
  });

  it.each<[string, string, string]>([
    ['openai', 'anthropic/claude-3.5-sonnet', 'no openai price for "anthropic/claude-3.5-sonnet": priced as anthropic/claude-3-5-sonnet'],
    ['ibm.watsonx.ai', 'gpt-4o', 'unknown provider "ibm.watsonx.ai": priced by model id as openai/gpt-4o'],
  ])('%j %j is priced with a warning', (provider, model, warning) => {
    expect(quote(provider, model, { input_tokens: 1000, output_tokens: 100 })?.warnings).toEqual([warning]);
  });

  it.each<[string, string]>([
    ['openai', 'no-such-model'],
    ['', 'totally-unknown-model'],
    ['openai', ''],
    ['openai', '   '],
    ['anthropic', 'ft:gpt-4o-mini:acme::abc123'],
  ])('%j %j → null (no price known)', (provider, model) => {
    expect(quote(provider, model, { input_tokens: 1000, output_tokens: 100 })).toBeNull();
  });

  it('answers the same from its resolution cache', () => {
    const usage = { input_tokens: 1200, cache_read_tokens: 1024, output_tokens: 300 };
    const first = quote('openai', 'gpt-4o-2024-08-06', usage);
    for (let i = 0; i < 3; i++) expect(quote('openai', 'gpt-4o-2024-08-06', usage)).toEqual(first);
  });
});

describe('bad usage never throws', () => {
  it.each<[string, PricingUsage, string, Record<string, string>, string[]]>([
    ['cache_read > input_tokens', { input_tokens: 100, cache_read_tokens: 500, output_tokens: 1 },
      '0.000635', { cache_read_tokens: '0.000625', output_tokens: '0.00001' },
      ['inconsistent usage: parts of input_tokens (500) exceed input_tokens (100); input_tokens charged as 0']],
    ['reasoning > output_tokens (no reasoning price: output charged as reported)', { input_tokens: 100, output_tokens: 10, output_reasoning_tokens: 50 },
      '0.00035', { input_tokens: '0.00025', output_tokens: '0.0001' }, []],
    ['negative count', { input_tokens: -5, output_tokens: 10 },
      '0.0001', { output_tokens: '0.0001' }, ['negative usage input_tokens=-5: counted as 0']],
    ['NaN and Infinity', { input_tokens: NaN, output_tokens: Infinity, cache_read_tokens: 0 },
      '0', {}, ['invalid usage input_tokens=NaN: ignored', 'invalid usage output_tokens=Infinity: ignored']],
    ['a string where a number belongs', { input_tokens: '100' as unknown as number, output_tokens: 10 },
      '0.0001', { output_tokens: '0.0001' }, ['invalid usage input_tokens=100: ignored']],
    ['only cache reads reported: input_tokens inferred', { cache_read_tokens: 1000, output_tokens: 10 },
      '0.00135', { cache_read_tokens: '0.00125', output_tokens: '0.0001' }, ['input_tokens not reported; inferred 1000 from cache_read_tokens']],
    ['fractional token counts are priced exactly', { input_tokens: 0.5, output_tokens: 1.25 },
      '0.00001375', { input_tokens: '0.00000125', output_tokens: '0.0000125' }, []],
  ])('gpt-4o, %s', (_name, usage, cost, breakdown, warnings) => {
    const q = quote('openai', 'gpt-4o', usage);
    expect(q).toEqual({ costUsd: cost, breakdown, pricedModel: 'openai/gpt-4o', source: 'genai-prices@0.1.8', warnings });
  });

  it('an invalid timestamp is priced now, with a warning', () => {
    const q = book.quote({ provider: 'openai', model: 'gpt-4o', atUnixMicros: NaN, usage: { input_tokens: 1000 } });
    expect(q?.costUsd).toBe('0.0025');
    expect(q?.warnings).toEqual(['invalid atUnixMicros NaN: priced at the current time']);
  });
});

describe('the whole catalog', () => {
  const knownPriceKeys = new Set(UNITS.map((u) => u.priceKey));
  const priceLists = (): Array<{ provider: string; model: string; prices: ModelPrice }> =>
    catalog.flatMap((p) => p.models.flatMap((m) => (Array.isArray(m.prices) ? m.prices.map((c) => c.prices) : [m.prices])
      .map((prices) => ({ provider: p.id, model: m.id, prices }))));

  it('uses only price keys our unit table knows', () => {
    const unknown = new Set<string>();
    for (const { prices } of priceLists()) for (const key of Object.keys(prices)) if (!knownPriceKeys.has(key)) unknown.add(key);
    expect([...unknown]).toEqual([]);
    expect(catalog.length).toBe(43);
  });

  it('uses exactly the price keys we were built for', () => {
    const used = new Set(priceLists().flatMap(({ prices }) => Object.keys(prices)));
    expect([...used].sort()).toEqual([
      'audio_hours', 'cache_audio_read_mtok', 'cache_image_read_mtok', 'cache_read_mtok', 'cache_write_1h_mtok', 'cache_write_mtok',
      'input_annotated_document_kpages', 'input_audio_hours', 'input_audio_mtok', 'input_document_kpages', 'input_image_mtok',
      'input_mtok', 'input_text_messages_kcount', 'input_video_mtok', 'output_audio_mtok', 'output_citation_mtok', 'output_image_mtok',
      'output_mtok', 'output_reasoning_mtok', 'output_video_mtok', 'requests_kcount', 'storage_searches_kcount', 'web_searches_kcount',
    ]);
  });

  it('prices every model by its own id, 1M input + 1M output, matching the library to 1e-9', () => {
    const times = ['2024-01-01T03:00:00Z', '2025-07-01T12:00:00Z', '2026-09-01T07:30:00Z', '2027-03-01T20:00:00Z'];
    const usage = { input_tokens: 1e6, output_tokens: 1e6 };
    const mismatches: string[] = [];
    let quoted = 0;
    for (const p of catalog) {
      for (const m of p.models) {
        for (const iso of times) {
          const q = quote(p.id, m.id, usage, at(iso));
          quoted++;
          if (q === null || q.pricedModel !== `${p.id}/${m.id}` || q.warnings.length || !/^\d+(\.\d+)?$/.test(q.costUsd)) {
            mismatches.push(`${p.id}/${m.id} @${iso}: ${JSON.stringify(q)}`);
            continue;
          }
          const lib = calcPrice(usage, m.id, { providerId: p.id, timestamp: new Date(iso) });
          if (lib && lib.model === m && Math.abs(lib.total_price - Number(q.costUsd)) > 1e-9 * Math.max(1, lib.total_price)) {
            mismatches.push(`${p.id}/${m.id} @${iso}: ours ${q.costUsd}, library ${lib.total_price}`);
          }
        }
      }
    }
    expect(mismatches).toEqual([]);
    expect(quoted).toBe(1694 * times.length);
  });

  it('lists every catalog price as an exact row', () => {
    const rows = book.listPrices();
    const expected = priceLists().reduce((n, { prices }) => n + Object.keys(prices).length, 0);
    expect(rows.length).toBe(expected);
    expect(rows.every((r) => /^\d+(\.\d+)?$/.test(r.price) && r.source === 'genai-prices@0.1.8')).toBe(true);
  });

  it.each<[string, string, string, string, string, number, string, Array<{ start: number; price: string }>]>([
    ['openai', 'o3', 'input_mtok', '1970-01-01', '', 1_000_000, '10', []],
    ['openai', 'o3', 'input_mtok', '2025-06-10', '', 1_000_000, '2', []],
    ['deepseek', 'deepseek-chat', 'output_mtok', '1970-01-01', '00:30:00-16:30:00', 1_000_000, '1.1', []],
    ['google', 'gemini-2.5-pro', 'cache_read_mtok', '1970-01-01', '', 1_000_000, '0.125', [{ start: 200_000, price: '0.25' }]],
    ['openai', 'whisper-1', 'audio_hours', '1970-01-01', '', 3600, '0.36', []],
    ['deepseek', 'deepseek-v4-flash', 'cache_read_mtok', '1970-01-01', '', 1_000_000, '0.0028', []],
  ])('lists %s/%s %s from %s %s', (provider, model, priceKey, from, timeOfDay, per, price, tiers) => {
    const row = book.listPrices().find((r) => r.provider_id === provider && r.model_id === model && r.price_key === priceKey
      && r.effective_from === from && r.time_of_day === timeOfDay);
    expect(row).toMatchObject({ per, price, tiers, source: 'genai-prices@0.1.8' });
    expect(JSON.parse(row!.model_match)).toEqual(catalog.find((p) => p.id === provider)!.models.find((m) => m.id === model)!.match);
  });
});
