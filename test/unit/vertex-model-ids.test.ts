/**
 * Gemini on Vertex AI as spans name it: the provider as Vertex instrumentations and frameworks spell
 * it, the model as users write it to Vertex's SDKs (a bare id, `models/…`, a publisher-model or full
 * resource path, a pinned `@version`). Each is priced as Google's Gemini model.
 *
 * 1000 input and 100 output tokens, Google's published prices per 1M tokens
 * (cloud.google.com/vertex-ai/generative-ai/pricing, standard, text):
 *   gemini-2.5-flash $0.30 / $2.50: 1000 × 0.30 + 100 × 2.50 = 300 + 250 = 550 µ$ = $0.00055
 *   gemini-2.5-pro (≤ 200k) $1.25 / $10: 1250 + 1000 = 2250 µ$ = $0.00225
 *   gemini-2.0-flash $0.10 / $0.40: 100 + 40 = 140 µ$ = $0.00014
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { loadPriceBook, type PriceBook } from '../../pricing/index.js';

const NOW = Date.parse('2025-09-01T12:00:00Z') * 1000;

let book: PriceBook;
beforeAll(async () => {
  book = await loadPriceBook();
});

describe('Vertex AI spellings of Gemini', () => {
  it.each<[string, string, string, string]>([
    // Provider names: OTel's, LiteLLM's, the ai SDK's (`google.vertex.chat`), OpenLLMetry's Vertex instrumentation's (`Google`), OpenLIT's.
    ['gcp.vertex_ai', 'gemini-2.5-flash', 'google/gemini-2.5-flash', '0.00055'],
    ['vertex_ai', 'gemini-2.5-flash', 'google/gemini-2.5-flash', '0.00055'],
    ['google.vertex.chat', 'gemini-2.5-flash', 'google/gemini-2.5-flash', '0.00055'],
    ['google-vertex', 'gemini-2.5-flash', 'google/gemini-2.5-flash', '0.00055'],
    ['Google', 'gemini-2.5-flash', 'google/gemini-2.5-flash', '0.00055'],
    // Model ids as `@google-cloud/vertexai` and `@google/genai` take them.
    ['gcp.vertex_ai', 'models/gemini-2.5-pro', 'google/gemini-2.5-pro', '0.00225'],
    ['gcp.vertex_ai', 'publishers/google/models/gemini-2.5-flash', 'google/gemini-2.5-flash', '0.00055'],
    ['gcp.vertex_ai', 'projects/p/locations/us-central1/publishers/google/models/gemini-2.5-flash', 'google/gemini-2.5-flash', '0.00055'],
    ['', 'projects/p/locations/global/publishers/google/models/gemini-2.5-pro', 'google/gemini-2.5-pro', '0.00225'],
    ['gcp.vertex_ai', 'gemini-2.0-flash-001', 'google/gemini-2.0-flash', '0.00014'],
    ['gcp.vertex_ai', 'gemini-2.0-flash@001', 'google/gemini-2.0-flash', '0.00014'],
  ])('%j %j → %s', (provider, model, pricedModel, cost) => {
    const quote = book.quote({ provider, model, atUnixMicros: NOW, usage: { input_tokens: 1000, output_tokens: 100 } });
    expect(quote?.pricedModel).toBe(pricedModel);
    expect(quote?.costUsd).toBe(cost);
    expect(quote?.warnings).toEqual([]);
  });
});
