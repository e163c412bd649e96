import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  loadPriceBook, PriceConfigError, type PriceBook, type PriceOverrides, type PricingUsage,
} from '../../pricing/index.js';

const fixture = (name: string): string => fileURLToPath(new URL(`../fixtures/prices/${name}`, import.meta.url));
const at = (iso: string): number => Date.parse(iso) * 1000;
const MILLION = { input_tokens: 1e6, output_tokens: 1e6 };

let yamlBook: PriceBook;
let jsonBook: PriceBook;

beforeAll(async () => {
  yamlBook = await loadPriceBook({ overridesFile: fixture('overrides.yaml') });
  jsonBook = await loadPriceBook({ overridesFile: fixture('overrides.json') });
});

describe('overrides file', () => {
  it.each<[string, string, string, PricingUsage, string, string, Record<string, string>, string]>([
    // Unknown to the catalog, priced by the override.
    ['fine-tune', 'openai', 'ft:gpt-4o-mini:acme::abc123', { input_tokens: 1000, cache_read_tokens: 200, output_tokens: 500 },
      '2025-06-01T00:00:00Z', '0.00087', { input_tokens: '0.00024', cache_read_tokens: '0.00003', output_tokens: '0.0006' },
      'openai/ft:gpt-4o-mini:acme::abc123'],
    ['fine-tune, id case-insensitive', 'openai', 'FT:GPT-4o-mini:acme::abc123', { input_tokens: 1000, output_tokens: 500 },
      '2025-06-01T00:00:00Z', '0.0009', { input_tokens: '0.0003', output_tokens: '0.0006' }, 'openai/ft:gpt-4o-mini:acme::abc123'],
    // Override wins over the catalog from its effective date on.
    ['catalog model overridden from 2026-01-01', 'openai', 'gpt-4o-mini', MILLION,
      '2026-01-01T00:00:00Z', '0.5', { input_tokens: '0.1', output_tokens: '0.4' }, 'openai/gpt-4o-mini'],
    // Price history without any catalog entry.
    ['acme-chat, first price', '', 'acme-chat', MILLION, '2025-06-01T00:00:00Z', '3', { input_tokens: '1', output_tokens: '2' }, '*/acme-chat'],
    ['acme-chat, second price', 'acme', 'acme-chat', MILLION, '2026-01-01T00:00:00Z', '1.5', { input_tokens: '0.5', output_tokens: '1' }, 'acme/acme-chat'],
    // MatchLogic pattern with tiers.
    ['pattern, base tier', 'acme', 'my-llama-3-70b', { input_tokens: 50_000, output_tokens: 1000 },
      '2025-06-01T00:00:00Z', '0.0106', { input_tokens: '0.01', output_tokens: '0.0006' }, 'acme/my-llama-3-70b'],
    ['pattern, upper tier', 'acme', 'My-Llama-3-70B', { input_tokens: 150_000, output_tokens: 1000 },
      '2025-06-01T00:00:00Z', '0.0606', { input_tokens: '0.06', output_tokens: '0.0006' }, 'acme/my-llama-3-70b'],
    // Custom units: USD per one unit, reported under the unit key.
    ['credits and audio seconds', 'acme-speech', 'acme-voice-1', { credits: 50, audio_seconds: 12.5, input_tokens: 999 },
      '2025-06-01T00:00:00Z', '0.04275', { credits: '0.0415', audio_seconds: '0.00125' }, 'acme-speech/acme-voice-1'],
    // Provider-scoped: OTel name and catalog id both match the entry's provider.
    ['azure gpt-4o (OTel name)', 'azure.ai.openai', 'gpt-4o', MILLION, '2025-06-01T00:00:00Z', '10', { input_tokens: '2', output_tokens: '8' }, 'azure/gpt-4o'],
    ['azure gpt-4o (catalog id)', 'azure', 'gpt-4o', MILLION, '2025-06-01T00:00:00Z', '10', { input_tokens: '2', output_tokens: '8' }, 'azure/gpt-4o'],
  ])('%s', (_name, provider, model, usage, iso, cost, breakdown, pricedModel) => {
    expect(yamlBook.quote({ provider, model, atUnixMicros: at(iso), usage })).toEqual({
      costUsd: cost, breakdown, pricedModel, source: 'override:overrides.yaml', warnings: [],
    });
  });

  it.each<[string, string, string, PricingUsage, string, string | null, string | null]>([
    ['before the override: catalog price', 'openai', 'gpt-4o-mini', MILLION, '2025-12-31T23:59:59Z', '0.75', 'genai-prices@0.1.8'],
    ['other provider: catalog price', 'openai', 'gpt-4o', MILLION, '2025-06-01T00:00:00Z', '12.5', 'genai-prices@0.1.8'],
    ['before the first entry of a history: no price', '', 'acme-chat', MILLION, '2024-12-31T23:59:59Z', null, null],
    ['provider-scoped entry, other provider: no price', 'other', 'acme-voice-1', { credits: 1 }, '2025-06-01T00:00:00Z', null, null],
    ['fine-tune under another provider: no price', 'anthropic', 'ft:gpt-4o-mini:acme::abc123', MILLION, '2025-06-01T00:00:00Z', null, null],
  ])('%s', (_name, provider, model, usage, iso, cost, source) => {
    const q = yamlBook.quote({ provider, model, atUnixMicros: at(iso), usage });
    expect(q?.costUsd ?? null).toBe(cost);
    expect(q?.source ?? null).toBe(source);
  });

  it.each<[string, string, PricingUsage, string, string]>([
    ['openai', 'ft:gpt-4o-mini:acme::abc123', { input_tokens: 1000, cache_read_tokens: 200, output_tokens: 500 }, '2025-06-01T00:00:00Z', '0.00087'],
    ['', 'acme-chat', MILLION, '2025-12-31T23:59:59.999Z', '3'],
    ['', 'acme-chat', MILLION, '2026-01-01T00:00:00Z', '1.5'],
    ['acme-speech', 'acme-voice-1', { credits: 50, audio_seconds: 12.5 }, '2025-06-01T00:00:00Z', '0.04275'],
  ])('JSON file gives the same price: %j %j', (provider, model, usage, iso, cost) => {
    const q = jsonBook.quote({ provider, model, atUnixMicros: at(iso), usage });
    expect(q?.costUsd).toBe(cost);
    expect(q?.source).toBe('override:overrides.json');
  });

  it('lists override rows', () => {
    const rows = yamlBook.listPrices().filter((r) => r.source === 'override:overrides.yaml');
    expect(rows.filter((r) => r.model_match === 'acme-chat').map((r) => [r.effective_from, r.price_key, r.price])).toEqual([
      ['2025-01-01', 'input_mtok', '1'], ['2025-01-01', 'output_mtok', '2'],
      ['2026-01-01', 'input_mtok', '0.5'], ['2026-01-01', 'output_mtok', '1'],
    ]);
    expect(rows.find((r) => r.model_match === '{"starts_with":"my-llama"}' && r.price_key === 'input_mtok')).toEqual({
      source: 'override:overrides.yaml', provider_id: '', model_id: '', model_match: '{"starts_with":"my-llama"}',
      effective_from: '1970-01-01', time_of_day: '', price_key: 'input_mtok', unit: 'input_tokens', per: 1_000_000,
      price: '0.2', tiers: [{ start: 100_000, price: '0.4' }],
    });
    expect(rows.filter((r) => r.model_id === 'acme-voice-1').map((r) => [r.price_key, r.unit, r.per, r.price])).toEqual([
      ['audio_seconds', 'audio_seconds', 1, '0.0001'], ['credits', 'credits', 1, '0.00083'],
    ]);
  });
});

describe('inline overrides', () => {
  it('an inline entry wins over the catalog and is labelled inline', async () => {
    const book = await loadPriceBook({ overrides: { models: [{ provider: 'anthropic', model: 'claude-sonnet-4-5', prices: { input_mtok: '2.4', output_mtok: 12 } }] } });
    expect(book.quote({ provider: 'anthropic', model: 'claude-sonnet-4-5', atUnixMicros: at('2025-06-01T00:00:00Z'), usage: { input_tokens: 1000, output_tokens: 100 } }))
      .toEqual({ costUsd: '0.0036', breakdown: { input_tokens: '0.0024', output_tokens: '0.0012' }, pricedModel: 'anthropic/claude-sonnet-4-5', source: 'override:inline', warnings: [] });
  });

  it('the most specific entry wins: exact id with provider over a pattern for any provider', async () => {
    const book = await loadPriceBook({
      overrides: {
        models: [
          { match: { starts_with: 'gpt-4o' }, prices: { input_mtok: 100 } },
          { provider: 'openai', model: 'gpt-4o', prices: { input_mtok: 1 } },
        ],
      },
    });
    const price = (model: string) => book.quote({ provider: 'openai', model, atUnixMicros: at('2025-06-01T00:00:00Z'), usage: { input_tokens: 1e6 } })?.costUsd;
    expect([price('gpt-4o'), price('gpt-4o-mini')]).toEqual(['1', '100']);
  });
});

describe('bad overrides are PriceConfigError naming the file and entry', () => {
  it.each<[string, string]>([
    ['bad-unknown-key.yaml', 'models[1] (model "acme-chat-large"): unknown price key "input_mtoks" (did you mean "input_mtok"?)'],
    ['bad-negative.json', 'models[0] (model "gpt-4o"): input_mtok is negative: -2.5'],
    ['bad-date.yaml', 'models[0] (model "acme-chat"): effective_from must be a valid date (YYYY-MM-DD), got "2026-02-30"'],
    ['bad-missing-model.yaml', 'models[0]: missing model (exact id) or match'],
    ['bad-nan.yaml', 'models[0] (model "acme-chat"): input_mtok is not a number: NaN'],
    ['bad-syntax.yaml', 'not valid YAML: Flow map in block collection must be sufficiently indented and end with a } at line 4, column 1'],
    ['does-not-exist.yaml', 'cannot read price overrides (ENOENT)'],
  ])('%s', async (file, message) => {
    const path = fixture(file);
    const error = await loadPriceBook({ overridesFile: path }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PriceConfigError);
    expect((error as Error).message).toBe(`${path}: ${message}`);
    expect((error as Error).message).not.toContain('\n');
  });

  it.each<[string, unknown, string]>([
    ['not a mapping', ['x'], 'expected a mapping with a "models" list'],
    ['unknown top-level key', { model: [] }, 'unknown top-level key "model" (expected "models")'],
    ['models not a list', { models: { model: 'x' } }, '"models" must be a list'],
    ['entry not a mapping', { models: ['gpt-4o'] }, 'models[0]: must be a mapping'],
    ['unknown field', { models: [{ model: 'x', price: { input_mtok: 1 } }] }, 'models[0] (model "x"): unknown field "price" (expected provider, model, match, effective_from, prices, units)'],
    ['model and match', { models: [{ model: 'x', match: { equals: 'x' }, prices: { input_mtok: 1 } }] }, 'models[0] (model "x"): give either model or match, not both'],
    ['empty model', { models: [{ model: ' ', prices: { input_mtok: 1 } }] }, 'models[0] (model " "): model must be a non-empty string'],
    ['empty provider', { models: [{ provider: '', model: 'x', prices: { input_mtok: 1 } }] }, 'models[0] (model "x"): provider must be a non-empty string'],
    ['unknown match kind', { models: [{ match: { startswith: 'x' }, prices: { input_mtok: 1 } }] },
      'models[0] (match {"startswith":"x"}): match: unknown match kind "startswith" (expected or, and, equals, starts_with, ends_with, contains, regex)'],
    ['bad regex', { models: [{ match: { or: [{ equals: 'a' }, { regex: '(' }] }, prices: { input_mtok: 1 } }] },
      'models[0] (match {"or":[{"equals":"a"},{"regex":"("}]}): match.or[1].regex is not a valid regular expression: Invalid regular expression: /(/: Unterminated group'],
    ['no prices', { models: [{ model: 'x' }] }, 'models[0] (model "x"): no prices or units given'],
    ['empty price', { models: [{ model: 'x', prices: { input_mtok: null } }] }, 'models[0] (model "x"): input_mtok: price is empty'],
    ['price not a number', { models: [{ model: 'x', prices: { input_mtok: 'cheap' } }] }, 'models[0] (model "x"): input_mtok is not a number: "cheap"'],
    ['negative decimal string', { models: [{ model: 'x', units: { credits: '-0.01' } }] }, 'models[0] (model "x"): units.credits is negative: -0.01'],
    ['bad tier start', { models: [{ model: 'x', prices: { input_mtok: { base: 1, tiers: [{ start: -1, price: 2 }] } } }] },
      'models[0] (model "x"): input_mtok.tiers[0].start must be a non-negative integer token count'],
    ['bad date', { models: [{ model: 'x', effective_from: '01/02/2026', prices: { input_mtok: 1 } }] },
      'models[0] (model "x"): effective_from must be a valid date (YYYY-MM-DD), got "01/02/2026"'],
    ['cache price without input price', { models: [{ model: 'x', prices: { cache_read_mtok: 1, output_mtok: 2 } }] },
      'models[0] (model "x"): cache_read_mtok needs input_mtok (its cache_read_tokens are part of input_tokens)'],
    ['overlap without its price', { models: [{ model: 'x', prices: { input_mtok: 1, cache_read_mtok: 0.1, input_audio_mtok: 4 } }] },
      'models[0] (model "x"): cache_read_mtok and input_audio_mtok overlap: cache_audio_read_mtok must be priced too'],
    ['same usage priced twice', { models: [{ model: 'x', prices: { input_mtok: 1 }, units: { input_tokens: '0.000001' } }] },
      'models[0] (model "x"): units.input_tokens prices the same usage as prices.input_mtok'],
    ['duplicate entry', { models: [{ model: 'x', prices: { input_mtok: 1 } }, { model: 'X', prices: { input_mtok: 2 } }] },
      'models[1] (model "X"): same provider, model and effective_from as models[0]'],
  ])('%s', async (_name, overrides, message) => {
    const error = await loadPriceBook({ overrides: overrides as PriceOverrides }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PriceConfigError);
    expect((error as Error).message).toBe(`inline overrides: ${message}`);
  });
});
