/**
 * Langfuse's OTel-based JS SDK (v4+: `@langfuse/tracing` spans, `@langfuse/openai`'s `observeOpenAI()`
 * wrapper) on the installed `openai` SDK's chat completions against the fake OpenAI API
 * (demo/fake-provider.ts): plain, streamed with `include_usage`, and a failed call.
 *
 * Langfuse records a `generation` observation per call with only `langfuse.observation.*` attributes:
 * the model in `langfuse.observation.model.name` and the usage as one JSON string,
 * `langfuse.observation.usage_details` = `{"input":176,"output":300,"total":1500,"input_cached_tokens":1024,…}`
 * (input with the cached tokens taken out). No `gen_ai.*` key: the spans are pinned below as they are.
 *
 * Fake usage: prompt 1200 (cached 1024 included), completion 300. gpt-4o, OpenAI's published prices per
 * 1M tokens: input $2.50, cached input $1.25, output $10:
 *   176 × 2.50 + 1024 × 1.25 + 300 × 10 = 440 + 1280 + 3000 = 4720 µ$ = $0.00472 (what an exact row would book).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { observeOpenAI } from '@langfuse/openai';
import { setLangfuseTracerProvider } from '@langfuse/tracing';
import { COMPLETION_MARKER, startFakeProvider, type FakeProvider } from '../../demo/fake-provider.js';
import { openaiClient, PROMPT_MARKER } from '../support/capture.js';
import { installedVersion, mapSpans } from '../support/conformance-rows.js';
import { captureSpans } from '../support/span-capture.js';
import { CHAT_CALLS, type ChatCall } from '../support/openai-chat-calls.js';

const LANGFUSE_VERSION = installedVersion('@langfuse/openai');
const OPENAI_VERSION = installedVersion('openai');

let fake: FakeProvider;
beforeAll(async () => {
  fake = await startFakeProvider();
});
afterAll(() => fake.close());
afterEach(() => setLangfuseTracerProvider(null));

type ScenarioName = ChatCall;

async function capture(name: ScenarioName) {
  const captured = await captureSpans(
    (provider) => {
      setLangfuseTracerProvider(provider);
      return () => setLangfuseTracerProvider(null);
    },
    async () => {
      await CHAT_CALLS[name](observeOpenAI(openaiClient({ url: fake.url })));
    },
  );
  if (name === 'error') expect(captured.error).toBeInstanceOf(Error);
  else expect(captured.error).toBeUndefined();
  expect(captured.unended).toEqual([]);
  return captured.spans;
}

/** `langfuse.observation.usage_details` of the fake's chat usage: input and output with the details taken out. */
const USAGE_DETAILS = {
  input: 176, output: 300, total: 1500, input_cached_tokens: 1024, input_audio_tokens: 0,
  output_reasoning_tokens: 0, output_audio_tokens: 0, output_accepted_prediction_tokens: 0, output_rejected_prediction_tokens: 0,
};

/** What each call's one `generation` span carries; `undefined` = the attribute is absent. */
const CASES: Array<[ScenarioName, Record<string, unknown>]> = [
  // The plain call's model is the response's (dated); the streamed call keeps the request's.
  ['plain', { model: 'gpt-4o-2024-08-06', usage: USAGE_DETAILS, level: undefined, cost: undefined }],
  ['stream', { model: 'gpt-4o', usage: USAGE_DETAILS, level: undefined, cost: undefined }],
  // A failed call: level ERROR (the span status stays UNSET), no usage, a zero cost_details.
  ['error', { model: 'fail-model', usage: undefined, level: 'ERROR', cost: { input: 0, output: 0, total: 0 } }],
];

const json = (value: unknown): unknown => (typeof value === 'string' ? JSON.parse(value) : value);

describe(`@langfuse/openai ${LANGFUSE_VERSION} on openai ${OPENAI_VERSION} (gpt-4o chat)`, () => {
  it.each(CASES)('%s: one generation span with langfuse.observation.* only, and no row', async (name, expected) => {
    const spans = await capture(name);
    expect(spans).toHaveLength(1);
    const [span] = spans;
    expect(span!.instrumentationScope.name).toBe('langfuse-sdk');
    expect(span!.status.code).toBe(0);
    const attrs = span!.attributes;
    expect(Object.keys(attrs).filter((key) => !key.startsWith('langfuse.'))).toEqual([]);
    expect(attrs['langfuse.observation.type']).toBe('generation');
    expect({
      model: attrs['langfuse.observation.model.name'],
      usage: json(attrs['langfuse.observation.usage_details']),
      level: attrs['langfuse.observation.level'],
      cost: json(attrs['langfuse.observation.cost_details']),
    }).toEqual(expected);
    // The mapper reads no langfuse.observation.* convention: the call is set aside, its spend unseen
    // (an exact row would book $0.00472, see the header).
    const result = await mapSpans(spans, { attributeAllowList: ['*'] });
    expect(result).toMatchObject({ rows: [], skipped: 1, aggregates: 0, malformed: 0 });
  });
});
