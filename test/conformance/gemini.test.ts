/**
 * Gemini through Google's SDK `@google/genai` (the current SDK; 2.x is the last line that runs on
 * Node 20) against the fake Gemini API (demo/fake-providers/gemini.ts), under OpenLLMetry's
 * `@traceloop/instrumentation-google-generativeai`: one row per call, tokens and cost exact.
 *
 * The fake reports prompt 1200 (cached 1024 included), candidates 300, thoughts 200, total 1700.
 * Gemini 2.5 Flash, published prices (ai.google.dev/gemini-api/docs/pricing, paid tier, text):
 * input $0.30, context-cache read $0.03, output $2.50 per 1M tokens, "output price including
 * thinking tokens". So output billed = 300 + 200 = 500, and the cost is
 *   (1200 − 1024) × 0.30 + 1024 × 0.03 + 500 × 2.50  per 1M
 *   = 52.8 + 30.72 + 1250 = 1333.52 µ$ = $0.00133352.
 * (The catalog's numbers for google/gemini-2.5-flash agree: `genai-ledger prices gemini-2.5-flash`.)
 */
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GenAIInstrumentation } from '@traceloop/instrumentation-google-generativeai';
import type * as GenAiModule from '@google/genai';
import { startFakeGemini, FAKE_GEMINI_USAGE, type FakeGemini } from '../../demo/fake-providers/gemini.js';
import { COMPLETION_MARKER } from '../../demo/fake-provider.js';
import { PROMPT_MARKER } from '../support/capture.js';
import { attachTo, installedVersion, mapSpans } from '../support/conformance-rows.js';
import { captureSpans } from '../support/span-capture.js';

// The CommonJS build: a mutable module object, what the instrumentation's require hook patches.
const require = createRequire(import.meta.url);
const GENAI_VERSION = installedVersion('@google/genai');
const TRACELOOP_VERSION = installedVersion('@traceloop/instrumentation-google-generativeai');

let fake: FakeGemini;
beforeAll(async () => {
  fake = await startFakeGemini();
});
afterAll(() => fake.close());

const GEMINI_FLASH = {
  provider: 'gcp.gen_ai',
  operation: 'generate_content',
  request_model: 'gemini-2.5-flash',
  response_model: 'gemini-2.5-flash',
  priced_model: 'google/gemini-2.5-flash',
  input_tokens: 1200,
  cache_read_tokens: 1024,
  cache_write_tokens: 0,
  output_tokens: 500,
  reasoning_tokens: 200,
  cost_usd: '0.00133352',
  error_type: '',
};

/** A fresh copy of the SDK module (its instrumentation wraps `GoogleGenAI` on the module object). */
function freshGenAi(): typeof GenAiModule {
  return { ...(require('@google/genai') as typeof GenAiModule) };
}

async function traceloopCall(run: (client: GenAiModule.GoogleGenAI) => Promise<unknown>) {
  const genai = freshGenAi();
  const { spans } = await captureSpans(
    (provider) => {
      const instrumentation = new GenAIInstrumentation();
      attachTo(provider, instrumentation);
      instrumentation.manuallyInstrument(genai);
      return () => instrumentation.disable();
    },
    () => run(new genai.GoogleGenAI({ apiKey: 'fake-key', httpOptions: { baseUrl: fake.url } })),
  );
  return spans;
}

const request = {
  model: 'gemini-2.5-flash',
  contents: `Say hello. ${PROMPT_MARKER}`,
  config: { systemInstruction: `Be terse. ${PROMPT_MARKER}`, maxOutputTokens: 1000 },
};

describe(`@google/genai ${GENAI_VERSION} under @traceloop/instrumentation-google-generativeai ${TRACELOOP_VERSION}`, () => {
  it('the fake speaks the API: generateContent answers usageMetadata as documented', async () => {
    const client = new (freshGenAi().GoogleGenAI)({ apiKey: 'fake-key', httpOptions: { baseUrl: fake.url } });
    const response = await client.models.generateContent(request);
    expect(response.text).toContain(COMPLETION_MARKER);
    expect(response.usageMetadata).toMatchObject(FAKE_GEMINI_USAGE);
    expect(fake.requests.at(-1)).toMatchObject({ method: 'generateContent', version: 'v1beta', model: 'gemini-2.5-flash' });
  });

  it('generateContent: one row, thoughts billed as output, cached prompt at the cache price', async () => {
    const spans = await traceloopCall((c) => c.models.generateContent(request));
    const result = await mapSpans(spans);
    expect(result.rows).toHaveLength(1);
    expect(result.rows[0]).toMatchObject(GEMINI_FLASH);
    expect(result.rows[0]!.cost_breakdown).toEqual({ input_tokens: '0.0000528', cache_read_tokens: '0.00003072', output_tokens: '0.00125' });
  });

  it('generateContentStream: one row with the last chunk’s usage', async () => {
    const spans = await traceloopCall(async (c) => {
      let text = '';
      for await (const chunk of await c.models.generateContentStream(request)) text += chunk.text ?? '';
      expect(text).toContain(COMPLETION_MARKER);
    });
    expect(fake.requests.at(-1)).toMatchObject({ method: 'streamGenerateContent' });
    const result = await mapSpans(spans);
    expect(result.rows).toHaveLength(1);
    expect(result.rows[0]).toMatchObject(GEMINI_FLASH);
  });

  it('a failed call (HTTP 500): one row with the error, no cost', async () => {
    const spans = await traceloopCall((c) => c.models.generateContent({ ...request, model: 'fail-model' }));
    const result = await mapSpans(spans);
    expect(result.rows).toHaveLength(1);
    expect(result.rows[0]).toMatchObject({ provider: 'gcp.gen_ai', request_model: 'fail-model', cost_usd: null, input_tokens: 0 });
    expect(result.rows[0]!.error_type).not.toBe('');
  });

  it('known gap: its module hook patches @google/genai < 2 only, so without manuallyInstrument() 2.x and 3.x go unrecorded', () => {
    const [definition] = new GenAIInstrumentation().getModuleDefinitions();
    expect(definition!.name).toBe('@google/genai');
    expect(definition!.supportedVersions).toEqual(['>=1.0.0 <2.0.0']);
    expect(Number(GENAI_VERSION.split('.')[0])).toBeGreaterThanOrEqual(2);
  });
});
