/**
 * OpenLIT's JS SDK (`openlit`) on Google's SDKs, against the fake Gemini API (demo/fake-providers/gemini.ts):
 *
 * - `@google/genai` (Google's current SDK): no OpenLIT instrumentation patches it. Its Google
 *   instrumentations patch `@google/generative-ai` (the Gemini SDK before it) and `@google-cloud/vertexai`;
 *   handing `@google/genai` to the first, as `openlit.init({ instrumentations: { 'google-ai': … } })`
 *   does, logs an error and patches nothing. Every call makes no span: no row.
 * - `@google-cloud/vertexai` (Vertex AI's SDK, deprecated but published; test/support/vertex-clients.ts):
 *   its `vertexai` instrumentation gives one row per call with input, cached input and output, but no
 *   thoughts count (so the output billed misses the thinking tokens).
 *
 * As in openlit.test.ts, the instrumentations are taken from the package's files (init() would build
 * its own global provider and exporter) and handed a capture's provider.
 *
 * The fake reports prompt 1200 (cached 1024 included), candidates 300, thoughts 200, total 1700.
 * Gemini 2.5 Flash, Google's published prices (cloud.google.com/vertex-ai/generative-ai/pricing; the
 * Gemini API's are the same): input $0.30, cached input $0.03, output (thinking included) $2.50 per 1M.
 *   The call: (1200 − 1024) × 0.30 + 1024 × 0.03 + (300 + 200) × 2.50 = 52.8 + 30.72 + 1250 = 1333.52 µ$.
 *   What OpenLIT reports (no thoughts): 52.8 + 30.72 + 300 × 2.50 = 833.52 µ$ = $0.00083352, low by 500 µ$.
 */
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type * as GenAiModule from '@google/genai';
import type * as VertexModule from '@google-cloud/vertexai';
import type { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { startFakeGemini, type FakeGemini } from '../../demo/fake-providers/gemini.js';
import { PROMPT_MARKER } from '../support/capture.js';
import { attachTo, installedVersion } from '../support/conformance-rows.js';
import { contentFreeRows } from '../support/content-free-rows.js';
import { captureSpans } from '../support/span-capture.js';
import { openlitModule, type OpenlitInstrumentation } from '../support/openlit.js';
import { plainHttpTo, vertexClient, VERTEX_PROJECT } from '../support/vertex-clients.js';

const require = createRequire(import.meta.url);
const OPENLIT_VERSION = installedVersion('openlit');
const GENAI_VERSION = installedVersion('@google/genai');
const VERTEX_SDK_VERSION = installedVersion('@google-cloud/vertexai');

/** Every instrumentation init() registers, by its key in init()'s `instrumentations` option. */
const ALL = openlitModule<{ availableInstrumentations: Record<string, OpenlitInstrumentation> }>('instrumentation/index.js').availableInstrumentations;

let fake: FakeGemini;
beforeAll(async () => {
  fake = await startFakeGemini();
});
afterAll(() => fake.close());

/** The spans and rows of `call` with `instrumentations` on a capture's provider; `patch` by hand first. */
async function rowsOf(instrumentations: OpenlitInstrumentation[], call: () => Promise<unknown>, patch?: { key: string; module: unknown }) {
  const captured = await captureSpans((provider: NodeTracerProvider) => {
    for (const instrumentation of instrumentations) {
      attachTo(provider, instrumentation as never);
      instrumentation.enable();
    }
    if (patch) ALL[patch.key]!.manualPatch!(patch.module);
    return () => instrumentations.forEach((i) => i.disable());
  }, call);
  expect(captured.unended).toEqual([]);
  return { spans: captured.spans, rows: await contentFreeRows(captured.spans), error: captured.error };
}

describe(`openlit ${OPENLIT_VERSION} on @google/genai ${GENAI_VERSION}: not instrumented`, () => {
  const request = { model: 'gemini-2.5-flash', contents: `Say hello. ${PROMPT_MARKER}` };
  const genai = { ...(require('@google/genai') as typeof GenAiModule) };
  const client = () => new genai.GoogleGenAI({ apiKey: 'fake-key', httpOptions: { baseUrl: fake.url } });

  it('no instrumentation of it names @google/genai; its Google ones patch the SDKs before it', () => {
    const modules = Object.values(ALL).flatMap((i) => i.getModuleDefinitions().map((d) => d.name));
    expect(modules).not.toContain('@google/genai');
    expect(ALL['google-ai']!.getModuleDefinitions().map((d) => [d.name, d.supportedVersions])).toEqual([['@google/generative-ai', ['>=0.1.0']]]);
    expect(ALL.vertexai!.getModuleDefinitions().map((d) => [d.name, d.supportedVersions])).toEqual([['@google-cloud/vertexai', ['>=0.1.0']]]);
  });

  it.each<[string, () => Promise<unknown>]>([
    ['generateContent', () => client().models.generateContent(request)],
    ['generateContentStream', async () => {
      for await (const chunk of await client().models.generateContentStream(request)) void chunk;
    }],
    ['a failed call', () => client().models.generateContent({ ...request, model: 'fail-model' })],
  ])('%s, with all of its instrumentations on and @google/genai handed to its google-ai one: no span, no row', async (name, call) => {
    const logged = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      const { spans, rows } = await rowsOf(Object.values(ALL), call, { key: 'google-ai', module: genai });
      expect(fake.requests.at(-1)).toMatchObject({ model: name === 'a failed call' ? 'fail-model' : 'gemini-2.5-flash' });
      expect(spans).toEqual([]);
      expect(rows).toEqual([]);
      // It looks for `GenerativeModel`, which @google/genai does not export.
      expect(logged).toHaveBeenCalledWith('Error in _patch method:', expect.any(TypeError));
    } finally {
      logged.mockRestore();
    }
  });
});

describe(`openlit ${OPENLIT_VERSION} on @google-cloud/vertexai ${VERTEX_SDK_VERSION}`, () => {
  const vertexai = require('@google-cloud/vertexai') as typeof VertexModule;
  const instrumentation = ALL.vertexai!;
  const request = { contents: [{ role: 'user', parts: [{ text: `Say hello. ${PROMPT_MARKER}` }] }] };
  let undoPlainHttp: () => void;
  let vertex: VertexModule.VertexAI;
  beforeAll(() => {
    undoPlainHttp = plainHttpTo(fake.host);
    vertex = vertexClient(vertexai, fake);
  });
  afterAll(() => undoPlainHttp());

  async function call(model: string, stream: boolean) {
    return rowsOf([instrumentation], async () => {
      const generative = vertex.getGenerativeModel({ model });
      if (!stream) return generative.generateContent(request);
      const { stream: chunks } = await generative.generateContentStream(request);
      for await (const chunk of chunks) void chunk;
    }, { key: 'vertexai', module: vertexai });
  }

  const SCOPE = '@openlit/instrumentation-vertexai';
  /** Its own cost, from a pricing JSON init() downloads: none here, so 0, kept as evidence only. */
  const ROW = {
    provider: 'gcp.vertex_ai', operation: 'chat', request_model: 'gemini-2.5-flash', response_model: 'gemini-2.5-flash',
    priced_model: 'google/gemini-2.5-flash', input_tokens: 1200, cache_read_tokens: 1024, output_tokens: 300, reasoning_tokens: 0,
    cost_usd: '0.00083352', cost_breakdown: { input_tokens: '0.0000528', cache_read_tokens: '0.00003072', output_tokens: '0.00075' },
    usage_details: { reported_cost_usd: 0 }, error_type: '', instrumentation: SCOPE,
  };

  it.each<[string, boolean]>([
    ['generateContent', false],
    ['generateContentStream', true],
  ])('%s: one row, cached input at the cache price, no thoughts count', async (method, stream) => {
    const { rows } = await call('gemini-2.5-flash', stream);
    expect(fake.requests.at(-1)).toMatchObject({ method: stream ? 'streamGenerateContent' : 'generateContent', vertex: { project: VERTEX_PROJECT } });
    expect(rows, method).toHaveLength(1);
    expect(rows[0]).toMatchObject(ROW);
  });

  it('a failed call (HTTP 500): one row with the error, no cost', async () => {
    const { rows, error } = await call('fail-model', false);
    expect(error).toBeInstanceOf(Error);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ provider: 'gcp.vertex_ai', request_model: 'fail-model', input_tokens: 0, cost_usd: null, error_type: 'GoogleGenerativeAIError', instrumentation: SCOPE });
  });
});
