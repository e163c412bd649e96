/**
 * Elastic's `@elastic/opentelemetry-instrumentation-openai` (the EDOT Node.js OpenAI instrumentation) on
 * chat completions against the fake OpenAI API (demo/fake-provider.ts): plain, streamed with
 * `include_usage`, and a failed call.
 *
 * Its module hook patches `openai` `>=4.19.0 <5` only (pinned below): on the current `openai` 6 a service
 * that registers it gets no span, so no row. The test applies the hook's patch to `openai` 6 by hand
 * (what that hook would do on 4.x: wrap `OpenAI.Chat.Completions.prototype.create`) to show what it
 * records when it does run. (`openai` 4 is not installed here: as an npm alias its optional `zod` 3 peer
 * displaces the tree's `zod` 4.)
 *
 * Fake usage: prompt 1200 (cached 1024 included), completion 300. gpt-4o, OpenAI's published prices per
 * 1M tokens: input $2.50, cached input $1.25, output $10.
 *   cache seen:   176 × 2.50 + 1024 × 1.25 + 300 × 10 = 440 + 1280 + 3000 = 4720 µ$ = $0.00472
 *   cache unseen: 1200 × 2.50 + 300 × 10 = 3000 + 3000 = 6000 µ$ = $0.006
 * o3-mini (reasoning 200 of the 300 output tokens, billed as output): input $1.10, cached input $0.55, output $4.40:
 *   cache unseen: 1200 × 1.10 + 300 × 4.40 = 1320 + 1320 = 2640 µ$ = $0.00264 (exact: $0.0020768)
 */
import * as openaiNs from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OpenAIInstrumentation } from '@elastic/opentelemetry-instrumentation-openai';
import { satisfies } from 'semver';
import { COMPLETION_MARKER, startFakeProvider, type FakeProvider } from '../../demo/fake-provider.js';
import { openaiClient, PROMPT_MARKER } from '../support/capture.js';
import { attachTo, installedVersion, mapSpans } from '../support/conformance-rows.js';
import { captureSpans } from '../support/span-capture.js';
import { CHAT_CALLS, type ChatCall } from '../support/openai-chat-calls.js';

const ELASTIC = '@elastic/opentelemetry-instrumentation-openai';
const ELASTIC_VERSION = installedVersion(ELASTIC);
const OPENAI_VERSION = installedVersion('openai');

// Its module definition has no unpatch: patched once, each capture hands it its own tracer provider.
const instrumentation = new OpenAIInstrumentation();

let fake: FakeProvider;
beforeAll(async () => {
  fake = await startFakeProvider();
  moduleDefinition(instrumentation).patch!(openaiNs, OPENAI_VERSION);
});
afterAll(() => fake.close());

type ScenarioName = ChatCall;

function moduleDefinition(instrumentation: OpenAIInstrumentation) {
  const def = instrumentation.getModuleDefinitions().find((d) => d.name === 'openai');
  if (!def?.patch) throw new Error(`${ELASTIC}: no module definition for openai`);
  return def;
}

async function rowsOf(name: ScenarioName) {
  const captured = await captureSpans(
    (provider) => {
      attachTo(provider, instrumentation);
      return () => {};
    },
    async () => {
      await CHAT_CALLS[name](openaiClient({ url: fake.url }));
    },
  );
  if (name === 'error') expect(captured.error).toBeInstanceOf(Error);
  else expect(captured.error).toBeUndefined();
  expect(captured.unended).toEqual([]);
  const result = await mapSpans(captured.spans, { attributeAllowList: ['*'] });
  expect(result.malformed).toBe(0);
  const text = JSON.stringify(result.rows);
  expect(text).not.toContain(PROMPT_MARKER);
  expect(text).not.toContain(COMPLETION_MARKER);
  return result.rows;
}

/** Only input and output reach the span (no `prompt_tokens_details.cached_tokens`): the 1024 cached tokens are priced as fresh input. */
const GPT4O = {
  provider: 'openai', operation: 'chat', request_model: 'gpt-4o', response_model: 'gpt-4o-2024-08-06', priced_model: 'openai/gpt-4o',
  input_tokens: 1200, output_tokens: 300, cache_read_tokens: 0, cache_write_tokens: 0, reasoning_tokens: 0, cost_usd: '0.006', error_type: '',
  instrumentation: ELASTIC,
};

const CASES: Array<[ScenarioName, Record<string, unknown>]> = [
  ['plain', GPT4O],
  ['stream', GPT4O],
  // No reasoning count either (inside output all the same); the cached tokens again priced as fresh input.
  ['reasoning', { ...GPT4O, request_model: 'o3-mini', response_model: 'o3-mini-2025-01-31', priced_model: 'openai/o3-mini', cost_usd: '0.00264' }],
  ['error', { provider: 'openai', request_model: 'fail-model', input_tokens: 0, output_tokens: 0, cost_usd: null, error_type: 'InternalServerError', instrumentation: ELASTIC }],
];

describe(`${ELASTIC} ${ELASTIC_VERSION} on openai ${OPENAI_VERSION}, patched by hand (gpt-4o chat)`, () => {
  it.each(CASES)('%s: one row', async (name, expected) => {
    const rows = await rowsOf(name);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject(expected);
  });

  it(`its module hook skips openai ${OPENAI_VERSION}: registered the usual way, it records nothing`, () => {
    const def = moduleDefinition(new OpenAIInstrumentation({ enabled: false }));
    expect(def.supportedVersions).toEqual(['>=4.19.0 <5']);
    expect(satisfies(OPENAI_VERSION, def.supportedVersions[0]!)).toBe(false);
    expect(satisfies('4.104.0', def.supportedVersions[0]!)).toBe(true);
  });
});
