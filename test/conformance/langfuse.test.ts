/**
 * Langfuse's OTel-based JS SDK (v4+: `@langfuse/tracing` spans, `@langfuse/openai`'s `observeOpenAI()`
 * wrapper) on the installed `openai` SDK's chat completions against the fake OpenAI API
 * (demo/fake-provider.ts): plain, streamed with `include_usage`, o3-mini, and a failed call; alone, and
 * together with the provider instrumentation `@opentelemetry/instrumentation-openai`.
 *
 * Langfuse records a `generation` observation per call (scope `langfuse-sdk`) with only
 * `langfuse.observation.*` attributes: the model in `model.name`, the usage as one JSON object,
 * `usage_details` = `{"input":176,"output":300,"total":1500,"input_cached_tokens":1024,…}` (input with its
 * cached part taken out: Langfuse prices each part on its own), no provider; a failed call has `level`
 * ERROR with the span status UNSET and `cost_details` all zero. The mapper reads it
 * (usage/langfuse-usage.ts): one row per call, the provider left '' and the model priced by its id.
 *
 * Fake usage: prompt 1200 (cached 1024 included), completion 300 (o3-mini: reasoning 200 of them).
 * OpenAI's published prices per 1M tokens (openai.com/api/pricing):
 *   gpt-4o (input $2.50, cached input $1.25, output $10):
 *     176 × 2.50 + 1024 × 1.25 + 300 × 10 = 440 + 1280 + 3000 = 4720 µ$ = $0.00472
 *   o3-mini (input $1.10, cached input $0.55, output $4.40; reasoning billed as output):
 *     176 × 1.10 + 1024 × 0.55 + 300 × 4.40 = 193.6 + 563.2 + 1320 = 2076.8 µ$ = $0.0020768
 *   gpt-4o as @opentelemetry/instrumentation-openai 0.21 reports it (no cached count, all 1200 as input):
 *     1200 × 2.50 + 300 × 10 = 3000 + 3000 = 6000 µ$ = $0.006
 *
 * With the provider instrumentation too, one call is two spans: `observeOpenAI` never makes its
 * generation the active span, so the provider's span is in another trace (or a sibling under the
 * caller's span); a generation made active around the call (`startActiveObservation`) has it as a child.
 * Neither structure can be seen span by span, so the mapper's `frameworkSpans` option decides, as for
 * LangChain (usage/conventions.ts FRAMEWORK_CALL_SCOPES): `wrappers` makes Langfuse's generations
 * aggregates and the provider's spans the rows.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { observeOpenAI } from '@langfuse/openai';
import { setLangfuseTracerProvider, startActiveObservation } from '@langfuse/tracing';
import { COMPLETION_MARKER, startFakeProvider, type FakeProvider } from '../../demo/fake-provider.js';
import { installInstrumentation, openaiClient, PROMPT_MARKER } from '../support/capture.js';
import { installedVersion, mapSpans } from '../support/conformance-rows.js';
import { SpanWire } from '../../exporter/span-wire.js';
import { loadPriceBook } from '../../pricing/index.js';
import { UsageMapper, type MapperOptions } from '../../usage/mapper.js';
import { captureSpans } from '../support/span-capture.js';
import { CHAT_CALLS, type ChatCall } from '../support/openai-chat-calls.js';

const LANGFUSE_VERSION = installedVersion('@langfuse/openai');
const OPENAI_VERSION = installedVersion('openai');
const OTEL_OPENAI = '@opentelemetry/instrumentation-openai';
const OTEL_OPENAI_VERSION = installedVersion(OTEL_OPENAI);
const LANGFUSE_SCOPE = 'langfuse-sdk';

let fake: FakeProvider;
beforeAll(async () => {
  fake = await startFakeProvider();
});
afterAll(() => fake.close());

/** Spans of `call`, recorded by Langfuse (and by the provider instrumentation when `withProvider`). */
async function capture(call: () => Promise<unknown>, withProvider: boolean, expectError = false): Promise<ReadableSpan[]> {
  const captured = await captureSpans(
    (provider) => {
      setLangfuseTracerProvider(provider);
      return () => setLangfuseTracerProvider(null);
    },
    async (provider) => {
      const uninstall = withProvider ? await installInstrumentation('otel-openai', provider, { notes: [] }) : () => {};
      try {
        await call();
      } finally {
        uninstall();
      }
    },
  );
  if (expectError) expect(captured.error).toBeInstanceOf(Error);
  else expect(captured.error).toBeUndefined();
  expect(captured.unended).toEqual([]);
  return captured.spans;
}

const observed = (name: ChatCall) => () => CHAT_CALLS[name](observeOpenAI(openaiClient({ url: fake.url })));

/** Rows of the spans (every storable attribute copied): never a prompt or a completion. */
async function rowsOf(spans: readonly ReadableSpan[], options: Omit<MapperOptions, 'prices'> = {}) {
  const result = await mapSpans(spans, { attributeAllowList: ['*'], ...options });
  expect(result.malformed).toBe(0);
  const text = JSON.stringify(result.rows);
  expect(text).not.toContain(PROMPT_MARKER);
  expect(text).not.toContain(COMPLETION_MARKER);
  return result;
}

/** `langfuse.observation.usage_details` of the fake's chat usage: input and output with the details taken out. */
const USAGE_DETAILS = {
  input: 176, output: 300, total: 1500, input_cached_tokens: 1024, input_audio_tokens: 0,
  output_reasoning_tokens: 0, output_audio_tokens: 0, output_accepted_prediction_tokens: 0, output_rejected_prediction_tokens: 0,
};

// No provider is recorded: priced by the model id alone (the catalog finds it under openai).
const GPT4O = {
  provider: '', operation: 'chat', priced_model: 'openai/gpt-4o', input_tokens: 1200, output_tokens: 300,
  cache_read_tokens: 1024, cache_write_tokens: 0, reasoning_tokens: 0, cost_usd: '0.00472', usage_details: {},
  error_type: '', instrumentation: LANGFUSE_SCOPE,
};

/** Each call: what its one `generation` span carries, and its row. */
const CASES: Array<[ChatCall, Record<string, unknown>, Record<string, unknown>]> = [
  // The plain call's model is the response's (dated); the streamed call keeps the request's.
  ['plain', { model: 'gpt-4o-2024-08-06', usage: USAGE_DETAILS, level: undefined, cost: undefined },
    { ...GPT4O, request_model: 'gpt-4o-2024-08-06', response_model: 'gpt-4o-2024-08-06' }],
  ['stream', { model: 'gpt-4o', usage: USAGE_DETAILS, level: undefined, cost: undefined },
    { ...GPT4O, request_model: 'gpt-4o', response_model: 'gpt-4o' }],
  ['reasoning', { model: 'o3-mini-2025-01-31', usage: { ...USAGE_DETAILS, output: 100, output_reasoning_tokens: 200 }, level: undefined, cost: undefined },
    { ...GPT4O, request_model: 'o3-mini-2025-01-31', response_model: 'o3-mini-2025-01-31', priced_model: 'openai/o3-mini', reasoning_tokens: 200, cost_usd: '0.0020768' }],
  // A failed call: level ERROR (the span status stays UNSET), no usage, a zero cost_details (kept as
  // evidence like other self-reported costs); the model is unknown to the catalog, so no cost.
  ['error', { model: 'fail-model', usage: undefined, level: 'ERROR', cost: { input: 0, output: 0, total: 0 } },
    { provider: '', request_model: 'fail-model', input_tokens: 0, output_tokens: 0, cost_usd: null, usage_details: { reported_cost_usd: 0 }, error_type: '_OTHER', instrumentation: LANGFUSE_SCOPE }],
];

const json = (value: unknown): unknown => (typeof value === 'string' ? JSON.parse(value) : value);

describe(`@langfuse/openai ${LANGFUSE_VERSION} on openai ${OPENAI_VERSION} (chat completions)`, () => {
  it.each(CASES)('%s: one generation span with langfuse.observation.* only, one exact row', async (name, span, row) => {
    const spans = await capture(observed(name), false, name === 'error');
    expect(spans).toHaveLength(1);
    const attrs = spans[0]!.attributes;
    expect(spans[0]!.instrumentationScope.name).toBe(LANGFUSE_SCOPE);
    expect(spans[0]!.status.code).toBe(0);
    expect(Object.keys(attrs).filter((key) => !key.startsWith('langfuse.'))).toEqual([]);
    expect(attrs['langfuse.observation.type']).toBe('generation');
    expect({
      model: attrs['langfuse.observation.model.name'],
      usage: json(attrs['langfuse.observation.usage_details']),
      level: attrs['langfuse.observation.level'],
      cost: json(attrs['langfuse.observation.cost_details']),
    }).toEqual(span);

    const { rows } = await rowsOf(spans);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject(row);

    // The in-process exporter packs only the keys the mapper reads for the mapping thread: the same row.
    const options = { attributeAllowList: ['*'] };
    const records = new SpanWire(options).decode(new SpanWire(options).encode(spans).batch);
    expect(new UsageMapper({ ...options, prices: await loadPriceBook() }).mapAll(records).rows).toEqual(rows);
  });
});

describe(`@langfuse/openai ${LANGFUSE_VERSION} with ${OTEL_OPENAI} ${OTEL_OPENAI_VERSION}: one call, two spans`, () => {
  const calls = ['plain', 'stream'] as const;
  let spans: ReadableSpan[];
  beforeAll(async () => {
    spans = [];
    for (const name of calls) spans.push(...await capture(observed(name), true));
  });

  it('each call is a Langfuse generation and a provider span, in two traces', () => {
    expect(spans.map((s) => s.instrumentationScope.name).sort()).toEqual([LANGFUSE_SCOPE, LANGFUSE_SCOPE, OTEL_OPENAI, OTEL_OPENAI].sort());
    const generationTraces = new Set(spans.filter((s) => s.instrumentationScope.name === LANGFUSE_SCOPE).map((s) => s.spanContext().traceId));
    for (const s of spans.filter((x) => x.instrumentationScope.name === OTEL_OPENAI)) {
      expect(generationTraces.has(s.spanContext().traceId)).toBe(false);
      expect(s.parentSpanContext).toBeUndefined();
    }
  });

  it('frameworkSpans: wrappers → one row per call, the provider’s (no cached count: $0.006 each)', async () => {
    const result = await rowsOf(spans, { frameworkSpans: 'wrappers' });
    expect(result.aggregates).toBe(calls.length);
    expect(result.rows).toHaveLength(calls.length);
    for (const row of result.rows) {
      expect(row).toMatchObject({
        provider: 'openai', request_model: 'gpt-4o', response_model: 'gpt-4o-2024-08-06', input_tokens: 1200, output_tokens: 300,
        cache_read_tokens: 0, cost_usd: '0.006', instrumentation: OTEL_OPENAI,
      });
    }
  });

  it('the default (calls) would count each call twice', async () => {
    const { rows } = await rowsOf(spans);
    expect(rows.map((r) => [r.instrumentation, r.cost_usd]).sort()).toEqual([
      [LANGFUSE_SCOPE, '0.00472'], [LANGFUSE_SCOPE, '0.00472'], [OTEL_OPENAI, '0.006'], [OTEL_OPENAI, '0.006'],
    ].sort());
  });
});

describe(`a Langfuse generation made active around an instrumented call (@langfuse/tracing ${installedVersion('@langfuse/tracing')})`, () => {
  /** What a user writes to record a call by hand: the usage in Langfuse's parts, as @langfuse/openai writes it. */
  const handRecorded = () => startActiveObservation('answer', async (generation) => {
    const completion = await openaiClient({ url: fake.url }).chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }] });
    const usage = completion.usage!;
    const cached = usage.prompt_tokens_details?.cached_tokens ?? 0;
    generation.update({
      model: completion.model,
      usageDetails: { input: usage.prompt_tokens - cached, input_cached_tokens: cached, output: usage.completion_tokens, total: usage.total_tokens },
    });
  }, { asType: 'generation' });

  it('the provider span is the generation’s child; wrappers → one row, the provider’s', async () => {
    const spans = await capture(handRecorded, true);
    expect(spans).toHaveLength(2);
    const generation = spans.find((s) => s.instrumentationScope.name === LANGFUSE_SCOPE)!;
    const call = spans.find((s) => s.instrumentationScope.name === OTEL_OPENAI)!;
    expect(call.spanContext().traceId).toBe(generation.spanContext().traceId);
    expect(call.parentSpanContext?.spanId).toBe(generation.spanContext().spanId);

    const wrappers = await rowsOf(spans, { frameworkSpans: 'wrappers' });
    expect(wrappers.rows).toHaveLength(1);
    expect(wrappers.rows[0]).toMatchObject({ instrumentation: OTEL_OPENAI, parent_span_id: generation.spanContext().spanId, cost_usd: '0.006' });

    // Alone (no provider instrumentation), the generation is the row, cache reads and all.
    const [alone] = (await rowsOf(await capture(handRecorded, false))).rows;
    expect(alone).toMatchObject({ ...GPT4O, request_model: 'gpt-4o-2024-08-06' });
  });
});
