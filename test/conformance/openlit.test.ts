/**
 * OpenLIT's JS SDK (`openlit`) on the installed `openai` SDK's chat completions against the fake OpenAI
 * API (demo/fake-provider.ts): plain, streamed with `include_usage`, and a failed call.
 *
 * `openlit.init()` builds its own global tracer provider and OTLP exporter; the test takes the OpenAI
 * instrumentation it installs (`OpenlitOpenAIInstrumentation`, not among the package's exports: loaded
 * by file path) and hands it a capture's provider, then `manualPatch(openai)` as init() does.
 *
 * Fake usage: prompt 1200 (cached 1024 included), completion 300. gpt-4o, OpenAI's published prices per
 * 1M tokens: input $2.50, cached input $1.25, output $10:
 *   176 × 2.50 + 1024 × 1.25 + 300 × 10 = 440 + 1280 + 3000 = 4720 µ$ = $0.00472
 * o3-mini (reasoning 200 of the 300 output tokens, billed as output): input $1.10, cached input $0.55, output $4.40:
 *   176 × 1.10 + 1024 × 0.55 + 300 × 4.40 = 193.6 + 563.2 + 1320 = 2076.8 µ$ = $0.0020768
 */
import * as openaiNs from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMPLETION_MARKER, startFakeProvider, type FakeProvider } from '../../demo/fake-provider.js';
import { openaiClient, PROMPT_MARKER } from '../support/capture.js';
import { attachTo, installedVersion, mapSpans } from '../support/conformance-rows.js';
import { captureSpans } from '../support/span-capture.js';
import { CHAT_CALLS, type ChatCall } from '../support/openai-chat-calls.js';
import { openlitModule, type OpenlitInstrumentation } from '../support/openlit.js';

const OPENLIT_VERSION = installedVersion('openlit');
const OPENAI_VERSION = installedVersion('openai');

const OpenlitOpenAIInstrumentation = openlitModule<new () => OpenlitInstrumentation>('instrumentation/openai/index.js');

let fake: FakeProvider;
beforeAll(async () => {
  fake = await startFakeProvider();
});
afterAll(() => fake.close());

type ScenarioName = ChatCall;

async function rowsOf(name: ScenarioName) {
  const captured = await captureSpans(
    (provider) => {
      const instrumentation = new OpenlitOpenAIInstrumentation();
      attachTo(provider, instrumentation as never);
      // It wraps with the tracer it holds when patching (and unwraps a previous patch first).
      instrumentation.manualPatch!(openaiNs);
      return () => instrumentation.disable();
    },
    async () => {
      await CHAT_CALLS[name](openaiClient({ url: fake.url }));
    },
  );
  if (name === 'error') expect(captured.error).toBeInstanceOf(Error);
  else expect(captured.error).toBeUndefined();
  const result = await mapSpans(captured.spans, { attributeAllowList: ['*'] });
  expect(captured.unended).toEqual([]);
  expect(result.malformed).toBe(0);
  const text = JSON.stringify(result.rows);
  expect(text).not.toContain(PROMPT_MARKER);
  expect(text).not.toContain(COMPLETION_MARKER);
  return result.rows;
}

const SCOPE = '@openlit/instrumentation-openai';
/** Its own cost, computed from a pricing JSON init() downloads: none here, so 0, kept as evidence only (not trusted by default). */
const GPT4O = {
  provider: 'openai', operation: 'chat', request_model: 'gpt-4o', response_model: 'gpt-4o-2024-08-06', priced_model: 'openai/gpt-4o',
  input_tokens: 1200, output_tokens: 300, cache_read_tokens: 1024, cache_write_tokens: 0, reasoning_tokens: 0,
  cost_usd: '0.00472', usage_details: { reported_cost_usd: 0 }, error_type: '', instrumentation: SCOPE,
  // It writes service.name and deployment.environment on the span, not the resource: the row keeps the resource's.
  service_name: 'genai-ledger-conformance', environment: '',
};

const CASES: Array<[ScenarioName, Record<string, unknown>]> = [
  ['plain', GPT4O],
  ['stream', GPT4O],
  // Chat completions' reasoning_tokens are not reported: the count is in output all the same, so the cost is exact.
  ['reasoning', { ...GPT4O, request_model: 'o3-mini', response_model: 'o3-mini-2025-01-31', priced_model: 'openai/o3-mini', reasoning_tokens: 0, cost_usd: '0.0020768' }],
  ['error', { provider: 'openai', request_model: 'fail-model', input_tokens: 0, output_tokens: 0, cost_usd: null, error_type: 'InternalServerError', instrumentation: SCOPE }],
];

describe(`openlit ${OPENLIT_VERSION} on openai ${OPENAI_VERSION} (chat completions)`, () => {
  it.each(CASES)('%s: one row', async (name, expected) => {
    const rows = await rowsOf(name);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject(expected);
  });
});
