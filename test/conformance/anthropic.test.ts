/**
 * Anthropic Messages API → rows, exact to the last digit, from every source of spans a service may run:
 *  - the SDK's own tracing (`@anthropic-ai/sdk` 1.x, scope `com.anthropic.sdk.typescript`, on by default
 *    through the global OTel API; here handed the capture's provider as `openTelemetry.tracerProvider`);
 *  - `@arizeai/openinference-instrumentation-anthropic` on the same SDK;
 *  - `@traceloop/instrumentation-anthropic` on the SDK major it supports, 0.x (it wraps
 *    `Anthropic.Completions`, gone in 1.x: see instrumentations.test.ts), installed as `anthropic-sdk-0x`.
 * The fake sends `message_delta` usage as cumulative totals, as the current API does.
 *
 * Fake usage (demo/fake-provider.ts): input_tokens 200 (cache EXCLUDED), cache_read 5000, cache_creation
 * 1000 — all 5-minute, or 600 5-minute + 400 1-hour when the request's breakpoints mix `ttl: '1h'` and
 * 5-minute ones — output 300, of which thinking 200 when the request enables `thinking`.
 * Claude Haiku 4.5, Anthropic's published prices per 1M tokens: input $1, 5-minute cache write $1.25,
 * 1-hour cache write $2, cache read $0.10, output $5 (thinking is billed as output).
 *   5-minute writes:          200×1 + 1000×1.25 + 5000×0.1 + 300×5 = 200 + 1250 + 500 + 1500 = 3450 µ$
 *   600 5-minute + 400 1-hour: 200 + 600×1.25 + 400×2 + 500 + 1500 = 3750 µ$
 *   the same split priced as if all 5-minute (a source without the split): 3450 µ$, $0.0003 short.
 * (The catalog agrees: anthropic/claude-haiku-4-5 input 1, cache_write 1.25, cache_write_1h 2, cache_read 0.1, output 5.)
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metrics } from '@opentelemetry/api';
import type { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import Anthropic from '@anthropic-ai/sdk';
import * as anthropicNs from '@anthropic-ai/sdk';
import Anthropic0x from 'anthropic-sdk-0x';
import * as anthropic0xNs from 'anthropic-sdk-0x';
import { AnthropicInstrumentation as OpenInferenceAnthropic } from '@arizeai/openinference-instrumentation-anthropic';
import { AnthropicInstrumentation as TraceloopAnthropic } from '@traceloop/instrumentation-anthropic';
import { UsageMapper } from '../../usage/mapper.js';
import { loadPriceBook } from '../../pricing/index.js';
import { fromReadableSpan } from '../../exporter/readable-span.js';
import type { UsageRow } from '../../usage/usage-row.js';
import { COMPLETION_MARKER, startFakeProvider, type FakeProvider } from '../support/fake-provider.js';
import { PROMPT_MARKER, redirectFetch } from '../support/capture.js';
import { captureSpans } from '../support/span-capture.js';

const version = (name: string): string =>
  (JSON.parse(readFileSync(new URL(`../../node_modules/${name}/package.json`, import.meta.url), 'utf8')) as { version: string }).version;
const SDK = version('@anthropic-ai/sdk');
const SDK_0X = version('anthropic-sdk-0x');
const OPENINFERENCE = version('@arizeai/openinference-instrumentation-anthropic');
const TRACELOOP = version('@traceloop/instrumentation-anthropic');

let fake: FakeProvider;
let mapper: UsageMapper;
beforeAll(async () => {
  fake = await startFakeProvider({ anthropicDeltaUsage: 'cumulative' });
  mapper = new UsageMapper({ prices: await loadPriceBook(), attributeAllowList: ['*'] });
});
afterAll(() => fake.close());

// ------------------------------------------------------------------ requests

const user = [{ role: 'user' as const, content: `Say hello. ${PROMPT_MARKER}` }];
const FIVE_MINUTE = {
  model: 'claude-haiku-4-5',
  max_tokens: 1024,
  system: [{ type: 'text' as const, text: `Long cached context. ${PROMPT_MARKER}`, cache_control: { type: 'ephemeral' as const } }],
  messages: user,
};
/** A 1-hour breakpoint before a 5-minute one (the order the API requires), and extended thinking. */
const ONE_HOUR_AND_THINKING = {
  ...FIVE_MINUTE,
  system: [
    { type: 'text' as const, text: `Tools and rules. ${PROMPT_MARKER}`, cache_control: { type: 'ephemeral' as const, ttl: '1h' as const } },
    { type: 'text' as const, text: `Today's documents. ${PROMPT_MARKER}`, cache_control: { type: 'ephemeral' as const } },
  ],
  thinking: { type: 'enabled' as const, budget_tokens: 512 },
};
type Request = typeof FIVE_MINUTE | typeof ONE_HOUR_AND_THINKING;

interface Client {
  messages: { create(body: Request & { stream?: boolean }): Promise<unknown> };
}

/** One call, its stream drained. */
async function call(client: Client, body: Request, stream: boolean): Promise<void> {
  const result = await client.messages.create({ ...body, stream });
  if (stream) for await (const _event of result as AsyncIterable<unknown>);
}

// ------------------------------------------------------------------ sources

interface Source {
  name: string;
  /** Installs the instrumentation on the capture's provider; returns its uninstall. */
  attach(provider: NodeTracerProvider): () => void;
  client(provider: NodeTracerProvider): Client;
}

const sdkClient = (provider?: NodeTracerProvider): Client =>
  new Anthropic({ apiKey: 'sk-ant-test', maxRetries: 0, fetch: redirectFetch(fake.url), ...(provider ? { openTelemetry: { tracerProvider: provider } } : {}) }) as unknown as Client;

/** What registerInstrumentations() does: the tracer provider and the (global, no-op) meter provider. */
function attachTo(provider: NodeTracerProvider, instr: { setTracerProvider(p: NodeTracerProvider): void; setMeterProvider(p: ReturnType<typeof metrics.getMeterProvider>): void }) {
  instr.setTracerProvider(provider);
  instr.setMeterProvider(metrics.getMeterProvider());
}

const SDK_TRACING: Source = {
  name: `@anthropic-ai/sdk ${SDK} own tracing`,
  attach: () => () => {},
  client: (provider) => sdkClient(provider),
};

const OPENINFERENCE_SOURCE: Source = {
  name: `@arizeai/openinference-instrumentation-anthropic ${OPENINFERENCE} on @anthropic-ai/sdk ${SDK}`,
  attach(provider) {
    const instr = new OpenInferenceAnthropic();
    attachTo(provider, instr);
    instr.manuallyInstrument(anthropicNs as never);
    return () => instr.disable();
  },
  // The SDK's own spans go to the global provider (a no-op here): only the instrumentation's are captured.
  client: () => sdkClient(),
};

const TRACELOOP_SOURCE: Source = {
  name: `@traceloop/instrumentation-anthropic ${TRACELOOP} on @anthropic-ai/sdk ${SDK_0X}`,
  attach(provider) {
    const instr = new TraceloopAnthropic();
    attachTo(provider, instr);
    instr.manuallyInstrument(anthropic0xNs as never);
    return () => {
      (instr as unknown as { unpatch(m: unknown): void }).unpatch(anthropic0xNs);
      instr.disable();
    };
  },
  client: () => new Anthropic0x({ apiKey: 'sk-ant-test', maxRetries: 0, fetch: redirectFetch(fake.url) as never }) as unknown as Client,
};

async function capture(source: Source, run: (client: Client) => Promise<void>) {
  return captureSpans((provider) => source.attach(provider), (provider) => run(source.client(provider)));
}

function rowsOf(spans: ReadableSpan[]): UsageRow[] {
  const result = mapper.mapAll(spans.map(fromReadableSpan));
  expect(result.malformed).toBe(0);
  const text = JSON.stringify(result.rows);
  expect(text).not.toContain(PROMPT_MARKER);
  expect(text).not.toContain(COMPLETION_MARKER);
  return result.rows;
}

// ------------------------------------------------------------------ expected rows

const HAIKU = {
  provider: 'anthropic', operation: 'chat', request_model: 'claude-haiku-4-5', response_model: 'claude-haiku-4-5-20251001',
  priced_model: 'anthropic/claude-haiku-4-5', input_tokens: 6200, output_tokens: 300, cache_read_tokens: 5000, cache_write_tokens: 1000, error_type: '',
};
const FIVE_MINUTE_ROW = { ...HAIKU, reasoning_tokens: 0, usage_details: {}, cost_usd: '0.00345' };
const SPLIT_ROW = { ...HAIKU, reasoning_tokens: 200, usage_details: { cache_write_1h_tokens: 400 }, cost_usd: '0.00375' };
/** Neither the 1-hour split nor the thinking tokens reach the span: 400 1-hour writes priced at the 5-minute rate. */
const SPLIT_UNSEEN_ROW = { ...FIVE_MINUTE_ROW };

const CASES: Array<[Source, Record<string, unknown>, Record<string, unknown>]> = [
  [SDK_TRACING, FIVE_MINUTE_ROW, SPLIT_ROW],
  [OPENINFERENCE_SOURCE, FIVE_MINUTE_ROW, SPLIT_UNSEEN_ROW],
  [TRACELOOP_SOURCE, FIVE_MINUTE_ROW, SPLIT_UNSEEN_ROW],
];

describe.each(CASES.map(([source, ...rows]) => [source.name, source, ...rows] as const))('%s', (_name, source, fiveMinute, split) => {
  it.each([false, true])('cache writes 5-minute, stream %s: one row, exact cost', async (stream) => {
    const { spans, error } = await capture(source, (client) => call(client, FIVE_MINUTE, stream));
    expect(error).toBeUndefined();
    const rows = rowsOf(spans);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject(fiveMinute);
  });

  it.each([false, true])('1-hour + 5-minute cache writes and thinking, stream %s', async (stream) => {
    const { spans, error } = await capture(source, (client) => call(client, ONE_HOUR_AND_THINKING, stream));
    expect(error).toBeUndefined();
    const rows = rowsOf(spans);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject(split);
  });
});

describe('a failed call (HTTP 500)', () => {
  it.each([
    // The SDK sets error.type to the API's error type; the instrumentations leave an exception event.
    [SDK_TRACING.name, SDK_TRACING, 'api_error'],
    [OPENINFERENCE_SOURCE.name, OPENINFERENCE_SOURCE, 'InternalServerError'],
    // 0.x's error classes keep the name 'Error', which is what recordException() reports.
    [TRACELOOP_SOURCE.name, TRACELOOP_SOURCE, 'Error'],
  ] as const)('%s: one unpriced row with the error', async (_name, source, errorType) => {
    const { spans, error, unended } = await capture(source, (client) => call(client, { ...FIVE_MINUTE, model: 'fail-model' }, false));
    expect(error).toBeInstanceOf(Error);
    expect(unended).toEqual([]);
    const rows = rowsOf(spans);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ provider: 'anthropic', request_model: 'fail-model', input_tokens: 0, output_tokens: 0, cost_usd: null, error_type: errorType });
  });
});

describe(`the SDK's own tracing next to an instrumentation`, () => {
  it('one call arrives as two call spans, the SDK\'s a child of the instrumentation\'s: both map to a row today (issue 14 point 3)', async () => {
    const both: Source = { ...OPENINFERENCE_SOURCE, client: (provider) => sdkClient(provider) };
    const { spans } = await capture(both, (client) => call(client, FIVE_MINUTE, false));
    expect(spans.map((s) => s.instrumentationScope.name)).toEqual(['@arizeai/openinference-instrumentation-anthropic', 'com.anthropic.sdk.typescript']);
    expect(spans[1]!.parentSpanContext?.spanId).toBe(spans[0]!.spanContext().spanId);
    // The double count a service gets when register() or the app enables an Anthropic instrumentation
    // while the SDK traces itself (its default): $0.0069 booked for a $0.00345 call.
    expect(rowsOf(spans).map((r) => r.cost_usd)).toEqual(['0.00345', '0.00345']);
  });

  it('`traces: false` in the client\'s openTelemetry option turns the SDK\'s spans off (ANTHROPIC_OPEN_TELEMETRY=false does too)', async () => {
    const quiet: Source = {
      ...SDK_TRACING,
      client: (provider) =>
        new Anthropic({ apiKey: 'sk-ant-test', maxRetries: 0, fetch: redirectFetch(fake.url), openTelemetry: { tracerProvider: provider, traces: false } }) as unknown as Client,
    };
    const { spans, error } = await capture(quiet, (client) => call(client, FIVE_MINUTE, false));
    expect(error).toBeUndefined();
    expect(spans).toEqual([]);
    // A client given no option reads the variable when it is constructed.
    process.env.ANTHROPIC_OPEN_TELEMETRY = 'false';
    try {
      expect(new Anthropic({ apiKey: 'sk-ant-test' }).openTelemetry.traces.enabled).toBe(false);
    } finally {
      delete process.env.ANTHROPIC_OPEN_TELEMETRY;
    }
    expect(new Anthropic({ apiKey: 'sk-ant-test' }).openTelemetry.traces.enabled).toBe(true);
  });
});
