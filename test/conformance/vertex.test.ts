/**
 * Gemini on Vertex AI against the fake Gemini API's Vertex paths (demo/fake-providers/gemini.ts:
 * `/v1/projects/{p}/locations/{l}/publishers/google/models/{m}:generateContent` and
 * `:streamGenerateContent?alt=sse`), a fixed bearer token and no network (test/support/vertex-clients.ts):
 *
 * - `@google-cloud/vertexai` (Google's Vertex AI SDK; its generative classes deprecated since
 *   2025-06-24, 1.12 the last release) under OpenLLMetry's `@traceloop/instrumentation-vertexai`, which
 *   patches that SDK's `GenerativeModel` only;
 * - `@google/genai` with `vertexai: true` (what Google's migration guide points to) under OpenLLMetry's
 *   `@traceloop/instrumentation-google-generativeai` (`manuallyInstrument()`, as in gemini.test.ts).
 *
 * The fake reports prompt 1200 (cached 1024 included), candidates 300, thoughts 200, total 1700.
 * Gemini 2.5 Flash on Vertex AI, published prices (cloud.google.com/vertex-ai/generative-ai/pricing,
 * standard, text; the Gemini API's are the same): input $0.30, cached input $0.03, output $2.50 per
 * 1M tokens, thinking billed as output.
 *   What the call cost: (1200 − 1024) × 0.30 + 1024 × 0.03 + (300 + 200) × 2.50 = 52.8 + 30.72 + 1250
 *     = 1333.52 µ$ = $0.00133352: `@google/genai` rows.
 *   What `@traceloop/instrumentation-vertexai` reports (prompt and candidates, no cached or thoughts
 *     count): 1200 × 0.30 + 300 × 2.50 = 360 + 750 = 1110 µ$ = $0.00111, low by the 200 thoughts
 *     (500 µ$) and high by the cached 1024 at the full price (276.48 µ$).
 */
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AIPlatformInstrumentation, VertexAIInstrumentation } from '@traceloop/instrumentation-vertexai';
import { GenAIInstrumentation } from '@traceloop/instrumentation-google-generativeai';
import type * as VertexModule from '@google-cloud/vertexai';
import type * as GenAiModule from '@google/genai';
import type { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { startFakeGemini, FAKE_GEMINI_USAGE, type FakeGemini } from '../../demo/fake-providers/gemini.js';
import { PROMPT_MARKER } from '../support/capture.js';
import { attachTo, installedVersion } from '../support/conformance-rows.js';
import { contentFreeRows } from '../support/content-free-rows.js';
import { captureSpans } from '../support/span-capture.js';
import { genAiOnVertex, plainHttpTo, vertexClient, VERTEX_LOCATION, VERTEX_PROJECT, VERTEX_TOKEN } from '../support/vertex-clients.js';

// CommonJS builds: the module objects the instrumentations patch.
const require = createRequire(import.meta.url);
const vertexai = require('@google-cloud/vertexai') as typeof VertexModule;
const VERTEX_SDK_VERSION = installedVersion('@google-cloud/vertexai');
const VERTEX_INSTRUMENTATION_VERSION = installedVersion('@traceloop/instrumentation-vertexai');
const GENAI_VERSION = installedVersion('@google/genai');
const GENAI_INSTRUMENTATION_VERSION = installedVersion('@traceloop/instrumentation-google-generativeai');

const FLASH = 'gemini-2.5-flash';
/** A model as a Vertex resource path, as users may write it (the SDK sends it as the path). */
const FLASH_RESOURCE = `projects/${VERTEX_PROJECT}/locations/${VERTEX_LOCATION}/publishers/google/models/${FLASH}`;

let fake: FakeGemini;
let undoPlainHttp: () => void;
let vertex: VertexModule.VertexAI;
beforeAll(async () => {
  fake = await startFakeGemini();
  undoPlainHttp = plainHttpTo(fake.host);
  vertex = vertexClient(vertexai, fake); // (logs the SDK's deprecation notice once)
});
afterAll(async () => {
  undoPlainHttp();
  await fake.close();
});

type ManualInstrumentation<M> = Parameters<typeof attachTo>[1] & { manuallyInstrument(module: M): void; disable(): void };

/** A capture's attach: `instrumentation` on the capture's provider, patching `module` by hand. */
function patching<M>(instrumentation: ManualInstrumentation<M>, module: M) {
  return (provider: NodeTracerProvider) => {
    attachTo(provider, instrumentation);
    instrumentation.manuallyInstrument(module);
    return () => instrumentation.disable();
  };
}

describe(`@google-cloud/vertexai ${VERTEX_SDK_VERSION} under @traceloop/instrumentation-vertexai ${VERTEX_INSTRUMENTATION_VERSION}`, () => {
  const request = { contents: [{ role: 'user', parts: [{ text: `Say hello. ${PROMPT_MARKER}` }] }] };

  async function call(model: string, stream: boolean) {
    const captured = await captureSpans(
      patching(new VertexAIInstrumentation(), vertexai),
      async () => {
        const generative = vertex.getGenerativeModel({ model, systemInstruction: `Be terse. ${PROMPT_MARKER}` });
        if (!stream) return (await generative.generateContent(request)).response;
        const { stream: chunks, response } = await generative.generateContentStream(request);
        for await (const chunk of chunks) void chunk;
        return response;
      },
    );
    expect(captured.unended).toEqual([]);
    return captured;
  }

  // Its gen_ai.system "Google" says Gemini, not Vertex; its llm.request.type "completion" makes the operation.
  const ROW = {
    provider: 'gcp.gemini',
    operation: 'text_completion',
    request_model: FLASH,
    response_model: FLASH,
    priced_model: 'google/gemini-2.5-flash',
    input_tokens: 1200,
    cache_read_tokens: 0,
    output_tokens: 300,
    reasoning_tokens: 0,
    cost_usd: '0.00111',
    cost_breakdown: { input_tokens: '0.00036', output_tokens: '0.00075' },
    error_type: '',
    instrumentation: '@traceloop/instrumentation-vertexai',
  };

  it('the fake speaks Vertex: the project’s publisher-model path, the bearer token, usageMetadata as documented', async () => {
    const { result } = await call(FLASH, false);
    expect(result).toMatchObject({ usageMetadata: { ...FAKE_GEMINI_USAGE, trafficType: 'ON_DEMAND' } });
    expect(fake.requests.at(-1)).toMatchObject({
      method: 'generateContent',
      version: 'v1',
      model: FLASH,
      vertex: { project: VERTEX_PROJECT, location: VERTEX_LOCATION },
      headers: { authorization: `Bearer ${VERTEX_TOKEN}` },
    });
  });

  it('generateContent: one row of prompt and candidates (no cached or thoughts count)', async () => {
    const rows = await contentFreeRows((await call(FLASH, false)).spans);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject(ROW);
  });

  it('generateContentStream with the model as a resource path: one row, priced by the path’s model', async () => {
    const { spans, result } = await call(FLASH_RESOURCE, true);
    expect(result).toMatchObject({ usageMetadata: FAKE_GEMINI_USAGE });
    expect(fake.requests.at(-1)).toMatchObject({ method: 'streamGenerateContent', model: FLASH });
    const rows = await contentFreeRows(spans);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ ...ROW, request_model: FLASH_RESOURCE, response_model: FLASH_RESOURCE });
  });

  it('a failed call (HTTP 500): one row with the error, no cost', async () => {
    const { spans, error } = await call('fail-model', false);
    expect(error).toBeInstanceOf(Error);
    const rows = await contentFreeRows(spans);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ provider: 'gcp.gemini', request_model: 'fail-model', input_tokens: 0, cost_usd: null, error_type: 'GoogleGenerativeAIError' });
  });

  it('what it patches: @google-cloud/vertexai (and @google-cloud/aiplatform’s predict, not tested), never @google/genai', async () => {
    const patched = [new VertexAIInstrumentation(), new AIPlatformInstrumentation()].flatMap((i) => i.getModuleDefinitions().map((d) => [d.name, d.supportedVersions]));
    expect(patched).toEqual([['@google-cloud/vertexai', ['>=1.1.0']], ['@google-cloud/aiplatform', ['>=3.10.0']]]);
    const genai = { ...(require('@google/genai') as typeof GenAiModule) };
    const { spans } = await captureSpans(
      patching(new VertexAIInstrumentation(), vertexai),
      () => genAiOnVertex(genai, fake).models.generateContent({ model: FLASH, contents: 'Say hello.' }),
    );
    expect(fake.requests.at(-1)).toMatchObject({ model: FLASH, vertex: { project: VERTEX_PROJECT } });
    expect(spans).toEqual([]);
  });
});

describe(`@google/genai ${GENAI_VERSION} on Vertex (vertexai: true) under @traceloop/instrumentation-google-generativeai ${GENAI_INSTRUMENTATION_VERSION}`, () => {
  const request = { model: FLASH, contents: `Say hello. ${PROMPT_MARKER}`, config: { systemInstruction: `Be terse. ${PROMPT_MARKER}` } };

  async function rowsOfCall(run: (client: GenAiModule.GoogleGenAI) => Promise<unknown>) {
    const genai = { ...(require('@google/genai') as typeof GenAiModule) };
    const captured = await captureSpans(
      patching(new GenAIInstrumentation(), genai),
      () => run(genAiOnVertex(genai, fake)),
    );
    expect(captured.unended).toEqual([]);
    expect(fake.requests.at(-1)).toMatchObject({ version: 'v1beta1', vertex: { project: VERTEX_PROJECT, location: VERTEX_LOCATION }, headers: { authorization: `Bearer ${VERTEX_TOKEN}` } });
    return { rows: await contentFreeRows(captured.spans), error: captured.error };
  }

  // The same row as the Gemini API's (gemini.test.ts): the instrumentation names no Vertex provider.
  const ROW = {
    provider: 'gcp.gen_ai',
    operation: 'generate_content',
    request_model: FLASH,
    response_model: FLASH,
    priced_model: 'google/gemini-2.5-flash',
    input_tokens: 1200,
    cache_read_tokens: 1024,
    output_tokens: 500,
    reasoning_tokens: 200,
    cost_usd: '0.00133352',
    cost_breakdown: { input_tokens: '0.0000528', cache_read_tokens: '0.00003072', output_tokens: '0.00125' },
    error_type: '',
    instrumentation: '@traceloop/instrumentation-google-generativeai',
  };

  it('generateContent: one row, exact (cached at the cache price, thoughts as output)', async () => {
    const { rows } = await rowsOfCall((c) => c.models.generateContent(request));
    expect(fake.requests.at(-1)).toMatchObject({ method: 'generateContent', model: FLASH });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject(ROW);
  });

  it('generateContentStream: one row with the last chunk’s usage', async () => {
    const { rows } = await rowsOfCall(async (c) => {
      for await (const chunk of await c.models.generateContentStream(request)) void chunk;
    });
    expect(fake.requests.at(-1)).toMatchObject({ method: 'streamGenerateContent' });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject(ROW);
  });

  it('a failed call (HTTP 500): one row with the error, no cost', async () => {
    const { rows, error } = await rowsOfCall((c) => c.models.generateContent({ ...request, model: 'fail-model' }));
    expect(error).toBeInstanceOf(Error);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ provider: 'gcp.gen_ai', request_model: 'fail-model', input_tokens: 0, cost_usd: null, error_type: 'ApiError' });
  });
});
