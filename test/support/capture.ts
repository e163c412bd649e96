/**
 * Conformance capture harness: run a scenario (a real SDK call against the fake provider) under one
 * real instrumentation and return the finished spans.
 *
 * Every capture gets its own NodeTracerProvider with a SimpleSpanProcessor -> InMemorySpanExporter.
 * Nothing is registered as the global tracer provider; only a global AsyncLocalStorage context manager
 * is installed once (see otel-context.ts) so nested spans keep their parents.
 *
 * How each instrumentation is attached (require hooks do not fire for the ESM `import` vitest uses):
 *  - otel-openai          @opentelemetry/instrumentation-openai: its module definition's `patch()` is
 *                         applied to the ESM namespace of `openai` (it unwraps `.default` for ESM).
 *  - traceloop-openai     @traceloop/instrumentation-openai: `manuallyInstrument(OpenAI)` (the class).
 *  - openinference-openai @arizeai/openinference-instrumentation-openai: `manuallyInstrument(ns)`.
 *  - traceloop-anthropic  @traceloop/instrumentation-anthropic: `manuallyInstrument()` THROWS on
 *                         @anthropic-ai/sdk 1.x (it wraps `Anthropic.Completions`, which 1.x removed), so
 *                         the harness hands it a shim module whose `Completions` is a dummy class.
 *  - ai-sdk               the `ai` SDK's own telemetry; scenarios pass `experimental_telemetry.tracer`
 *                         = provider.getTracer('ai') (the scope name the SDK uses for its default tracer).
 *
 * Scenarios call the official SDK clients with their default base URLs (api.openai.com /
 * api.anthropic.com) and a `fetch` that redirects to the fake provider, so host-derived attributes
 * (`server.address`, OpenInference `llm.provider`, OpenLLMetry `gen_ai.provider.name`) look like
 * production. `openai-chat-localhost` shows what a custom base URL yields instead. The ai SDK scenarios
 * use `createOpenAI/createAnthropic({ baseURL: url + '/v1' })`.
 *
 * All prompts contain PROMPT_MARKER and every completion COMPLETION_MARKER (fake-provider.ts), so
 * content-bearing attributes are easy to find and a ledger test can prove it never stores them.
 */
import { NodeTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-node';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { metrics, type Tracer } from '@opentelemetry/api';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import OpenAI from 'openai';
import * as openaiNs from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import * as anthropicNs from '@anthropic-ai/sdk';
import { generateText, streamText, embed, jsonSchema, stepCountIs, tool } from 'ai';
import { createOpenAI } from '@ai-sdk/openai';
import { createAnthropic } from '@ai-sdk/anthropic';
import { OpenAIInstrumentation as OtelOpenAIInstrumentation } from '@opentelemetry/instrumentation-openai';
import { OpenAIInstrumentation as TraceloopOpenAIInstrumentation } from '@traceloop/instrumentation-openai';
import { AnthropicInstrumentation as TraceloopAnthropicInstrumentation } from '@traceloop/instrumentation-anthropic';
import { OpenAIInstrumentation as OpenInferenceOpenAIInstrumentation } from '@arizeai/openinference-instrumentation-openai';
import { ensureContextManager } from './otel-context.js';
import { OpenSpans } from './open-spans.js';

export const PROMPT_MARKER = 'PROMPT-CONTENT-MARKER';
export const SERVICE_NAME = 'genai-ledger-conformance';

export type InstrumentationId =
  | 'otel-openai'
  | 'traceloop-openai'
  | 'openinference-openai'
  | 'traceloop-anthropic'
  | 'ai-sdk';

export const INSTRUMENTATION_PACKAGES: Record<InstrumentationId, string> = {
  'otel-openai': '@opentelemetry/instrumentation-openai',
  'traceloop-openai': '@traceloop/instrumentation-openai',
  'openinference-openai': '@arizeai/openinference-instrumentation-openai',
  'traceloop-anthropic': '@traceloop/instrumentation-anthropic',
  'ai-sdk': 'ai',
};

export interface ScenarioEnv {
  /** Fake provider base URL, `http://127.0.0.1:PORT`. */
  url: string;
  /** Tracer of the capture's provider (the ai SDK scenarios pass it as experimental_telemetry.tracer). */
  tracer: Tracer;
}

export interface Scenario {
  instrumentation: InstrumentationId;
  /** Scenario name, e.g. `chat`; the fixture is `<instrumentation>-<name>.json`. */
  name: string;
  description: string;
  /** The SDK call is expected to throw (error scenarios). */
  expectError?: boolean;
  run(env: ScenarioEnv): Promise<unknown>;
}

export function scenarioId(s: Pick<Scenario, 'instrumentation' | 'name'>): string {
  return `${s.instrumentation}-${s.name}`;
}

// ------------------------------------------------------------------ SDK clients

const SDK_HOSTS = ['https://api.openai.com', 'https://api.anthropic.com'];

/** A fetch that sends requests for the real API hosts to the fake provider instead. */
export function redirectFetch(fakeUrl: string): typeof fetch {
  return (input: string | URL | Request, init?: RequestInit) => {
    const href = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    let target = href;
    for (const host of SDK_HOSTS) {
      if (href.startsWith(host)) target = fakeUrl + href.slice(host.length);
    }
    if (typeof input === 'object' && !(input instanceof URL)) return fetch(new Request(target, input), init);
    return fetch(target, init);
  };
}

export function openaiClient(env: Pick<ScenarioEnv, 'url'>, opts: { localBaseURL?: boolean } = {}): OpenAI {
  return new OpenAI({
    apiKey: 'sk-test',
    maxRetries: 0,
    ...(opts.localBaseURL ? { baseURL: `${env.url}/v1` } : { fetch: redirectFetch(env.url) }),
  });
}

export function anthropicClient(env: Pick<ScenarioEnv, 'url'>): Anthropic {
  return new Anthropic({ apiKey: 'sk-ant-test', maxRetries: 0, fetch: redirectFetch(env.url) });
}

export const AI_TELEMETRY_METADATA = { orgId: 'acme', userId: 'u1' } as const;
export const AI_FUNCTION_ID = 'support-bot';

function aiTelemetry(env: ScenarioEnv) {
  return {
    isEnabled: true,
    functionId: AI_FUNCTION_ID,
    metadata: { ...AI_TELEMETRY_METADATA },
    tracer: env.tracer,
  };
}

// ------------------------------------------------------------------ scenarios

const chatMessages = [
  { role: 'system' as const, content: `You are terse. ${PROMPT_MARKER}` },
  { role: 'user' as const, content: `Say hello. ${PROMPT_MARKER}` },
];

async function drain(stream: AsyncIterable<unknown>): Promise<number> {
  let n = 0;
  for await (const _chunk of stream) n++;
  return n;
}

type OpenAIScenario = Omit<Scenario, 'instrumentation'>;

/** Scenarios that call the official `openai` SDK (run under each OpenAI SDK instrumentation). */
export const OPENAI_SDK_SCENARIOS: OpenAIScenario[] = [
  {
    name: 'chat',
    description: 'chat.completions.create gpt-4o, non-streaming',
    run: (env) => openaiClient(env).chat.completions.create({ model: 'gpt-4o', messages: chatMessages, max_tokens: 100, temperature: 0.2 }),
  },
  {
    name: 'chat-reasoning',
    description: 'chat.completions.create o3-mini (reasoning_tokens 200 of 300)',
    run: (env) => openaiClient(env).chat.completions.create({ model: 'o3-mini', messages: chatMessages, max_completion_tokens: 1000 }),
  },
  {
    name: 'chat-stream',
    description: 'chat.completions.create gpt-4o stream:true with stream_options.include_usage',
    run: async (env) => {
      const stream = await openaiClient(env).chat.completions.create({
        model: 'gpt-4o',
        messages: chatMessages,
        stream: true,
        stream_options: { include_usage: true },
      });
      return drain(stream);
    },
  },
  {
    name: 'chat-stream-no-usage',
    description: 'chat.completions.create gpt-4o stream:true WITHOUT include_usage (the API sends no usage)',
    run: async (env) => {
      const stream = await openaiClient(env).chat.completions.create({ model: 'gpt-4o', messages: chatMessages, stream: true });
      return drain(stream);
    },
  },
  {
    name: 'chat-localhost',
    description: 'chat gpt-4o with baseURL http://127.0.0.1:PORT/v1 (proxy / unknown host)',
    run: (env) => openaiClient(env, { localBaseURL: true }).chat.completions.create({ model: 'gpt-4o', messages: chatMessages }),
  },
  {
    name: 'embeddings',
    description: 'embeddings.create text-embedding-3-small with 2 inputs',
    run: (env) =>
      openaiClient(env).embeddings.create({ model: 'text-embedding-3-small', input: [`first ${PROMPT_MARKER}`, `second ${PROMPT_MARKER}`] }),
  },
  {
    name: 'responses',
    description: 'responses.create gpt-4o, non-streaming, with instructions',
    run: (env) =>
      openaiClient(env).responses.create({
        model: 'gpt-4o',
        instructions: `Be terse. ${PROMPT_MARKER}`,
        input: `Say hello. ${PROMPT_MARKER}`,
        max_output_tokens: 200,
      }),
  },
  {
    name: 'responses-stream',
    description: 'responses.create gpt-4o stream:true',
    run: async (env) => {
      const stream = await openaiClient(env).responses.create({ model: 'gpt-4o', input: `Say hello. ${PROMPT_MARKER}`, stream: true });
      return drain(stream);
    },
  },
  {
    name: 'error',
    description: 'chat.completions.create model fail-model -> HTTP 500 (InternalServerError), no retries',
    expectError: true,
    run: (env) => openaiClient(env).chat.completions.create({ model: 'fail-model', messages: chatMessages }),
  },
];

const anthropicRequest = {
  model: 'claude-haiku-4-5',
  max_tokens: 1024,
  system: [{ type: 'text' as const, text: `Long cached context. ${PROMPT_MARKER}`, cache_control: { type: 'ephemeral' as const } }],
  messages: [{ role: 'user' as const, content: `Say hello. ${PROMPT_MARKER}` }],
};

/** Scenarios that call the official `@anthropic-ai/sdk`. */
export const ANTHROPIC_SDK_SCENARIOS: OpenAIScenario[] = [
  {
    name: 'messages-cache',
    description: 'messages.create claude-haiku-4-5 with cache_control; usage has cache read 5000 + write 1000',
    run: (env) => anthropicClient(env).messages.create(anthropicRequest),
  },
  {
    name: 'messages-cache-stream',
    description: 'messages.create stream:true (usage in message_start + message_delta)',
    run: async (env) => {
      const stream = await anthropicClient(env).messages.create({ ...anthropicRequest, stream: true });
      return drain(stream);
    },
  },
  {
    name: 'error',
    description: 'messages.create model fail-model -> HTTP 500 (InternalServerError), no retries',
    expectError: true,
    run: (env) => anthropicClient(env).messages.create({ ...anthropicRequest, model: 'fail-model' }),
  },
];

/** Scenarios that use the `ai` SDK (Vercel AI SDK) telemetry. */
export const AI_SDK_SCENARIOS: OpenAIScenario[] = [
  {
    name: 'generateText-openai',
    description: "generateText with openai('gpt-4o') (default provider = Responses API)",
    run: async (env) => {
      const openai = createOpenAI({ baseURL: `${env.url}/v1`, apiKey: 'x' });
      return generateText({ model: openai('gpt-4o'), system: `Be terse. ${PROMPT_MARKER}`, prompt: `Say hello. ${PROMPT_MARKER}`, maxRetries: 0, experimental_telemetry: aiTelemetry(env) });
    },
  },
  {
    name: 'generateText-openai-chat',
    description: "generateText with openai.chat('gpt-4o') (Chat Completions API)",
    run: async (env) => {
      const openai = createOpenAI({ baseURL: `${env.url}/v1`, apiKey: 'x' });
      return generateText({ model: openai.chat('gpt-4o'), prompt: `Say hello. ${PROMPT_MARKER}`, maxRetries: 0, experimental_telemetry: aiTelemetry(env) });
    },
  },
  {
    name: 'generateText-openai-chat-tools',
    description: "generateText with openai.chat('gpt-4o'), one tool, stopWhen stepCountIs(2): two model calls + one tool call",
    run: async (env) => {
      const openai = createOpenAI({ baseURL: `${env.url}/v1`, apiKey: 'x' });
      return generateText({
        model: openai.chat('gpt-4o'),
        prompt: `Weather in Paris? ${PROMPT_MARKER}`,
        tools: {
          getWeather: tool({
            description: 'Get the weather for a city',
            inputSchema: jsonSchema<{ city: string }>({ type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false }),
            execute: async ({ city }) => ({ city, forecast: 'sunny' }),
          }),
        },
        stopWhen: stepCountIs(2),
        maxRetries: 0,
        experimental_telemetry: aiTelemetry(env),
      });
    },
  },
  {
    name: 'generateText-openai-reasoning',
    description: "generateText with openai('o3-mini') (Responses API, reasoning_tokens 200)",
    run: async (env) => {
      const openai = createOpenAI({ baseURL: `${env.url}/v1`, apiKey: 'x' });
      return generateText({ model: openai('o3-mini'), prompt: `Say hello. ${PROMPT_MARKER}`, maxRetries: 0, experimental_telemetry: aiTelemetry(env) });
    },
  },
  {
    name: 'streamText-openai',
    description: "streamText with openai('gpt-4o') (Responses API streaming)",
    run: async (env) => {
      const openai = createOpenAI({ baseURL: `${env.url}/v1`, apiKey: 'x' });
      const result = streamText({ model: openai('gpt-4o'), prompt: `Say hello. ${PROMPT_MARKER}`, maxRetries: 0, experimental_telemetry: aiTelemetry(env) });
      await drain(result.textStream);
      return result.usage;
    },
  },
  {
    name: 'streamText-openai-chat',
    description: "streamText with openai.chat('gpt-4o') (Chat Completions streaming; the provider sets include_usage)",
    run: async (env) => {
      const openai = createOpenAI({ baseURL: `${env.url}/v1`, apiKey: 'x' });
      const result = streamText({ model: openai.chat('gpt-4o'), prompt: `Say hello. ${PROMPT_MARKER}`, maxRetries: 0, experimental_telemetry: aiTelemetry(env) });
      await drain(result.textStream);
      return result.usage;
    },
  },
  {
    name: 'embed-openai',
    description: "embed with openai.embedding('text-embedding-3-small')",
    run: async (env) => {
      const openai = createOpenAI({ baseURL: `${env.url}/v1`, apiKey: 'x' });
      return embed({ model: openai.embedding('text-embedding-3-small'), value: `embed me ${PROMPT_MARKER}`, maxRetries: 0, experimental_telemetry: aiTelemetry(env) });
    },
  },
  {
    name: 'generateText-anthropic',
    description: "generateText with anthropic('claude-haiku-4-5') and cacheControl; cache read 5000 + write 1000",
    run: async (env) => {
      const anthropic = createAnthropic({ baseURL: `${env.url}/v1`, apiKey: 'x' });
      return generateText({
        model: anthropic('claude-haiku-4-5'),
        system: `Be terse. ${PROMPT_MARKER}`,
        messages: [
          { role: 'user', content: `Long cached context, then: say hello. ${PROMPT_MARKER}`, providerOptions: { anthropic: { cacheControl: { type: 'ephemeral' } } } },
        ],
        maxRetries: 0,
        experimental_telemetry: aiTelemetry(env),
      });
    },
  },
  {
    name: 'streamText-anthropic',
    description: "streamText with anthropic('claude-haiku-4-5'); cache read 5000 + write 1000",
    run: async (env) => {
      const anthropic = createAnthropic({ baseURL: `${env.url}/v1`, apiKey: 'x' });
      const result = streamText({ model: anthropic('claude-haiku-4-5'), prompt: `Say hello. ${PROMPT_MARKER}`, maxRetries: 0, experimental_telemetry: aiTelemetry(env) });
      await drain(result.textStream);
      return result.usage;
    },
  },
  {
    name: 'error-openai',
    description: "generateText with openai('fail-model') -> HTTP 500, maxRetries 0",
    expectError: true,
    run: async (env) => {
      const openai = createOpenAI({ baseURL: `${env.url}/v1`, apiKey: 'x' });
      return generateText({ model: openai('fail-model'), prompt: `Say hello. ${PROMPT_MARKER}`, maxRetries: 0, experimental_telemetry: aiTelemetry(env) });
    },
  },
  {
    name: 'error-openai-429-retried',
    description: "generateText with openai('fail-model-429') -> HTTP 429 three times (maxRetries 2): one doGenerate span per attempt",
    expectError: true,
    run: async (env) => {
      const openai = createOpenAI({ baseURL: `${env.url}/v1`, apiKey: 'x' });
      return generateText({ model: openai('fail-model-429'), prompt: `Say hello. ${PROMPT_MARKER}`, maxRetries: 2, experimental_telemetry: aiTelemetry(env) });
    },
  },
];

function forInstrumentation(instrumentation: InstrumentationId, list: OpenAIScenario[]): Scenario[] {
  return list.map((s) => ({ ...s, instrumentation }));
}

/** Every scenario of the conformance suite, one entry per (instrumentation, scenario). */
export const SCENARIOS: Scenario[] = [
  ...forInstrumentation('otel-openai', OPENAI_SDK_SCENARIOS),
  ...forInstrumentation('traceloop-openai', OPENAI_SDK_SCENARIOS),
  ...forInstrumentation('openinference-openai', OPENAI_SDK_SCENARIOS),
  ...forInstrumentation('traceloop-anthropic', ANTHROPIC_SDK_SCENARIOS),
  ...forInstrumentation('ai-sdk', AI_SDK_SCENARIOS),
];

export function getScenario(instrumentation: InstrumentationId, name: string): Scenario {
  const s = SCENARIOS.find((x) => x.instrumentation === instrumentation && x.name === name);
  if (!s) throw new Error(`unknown scenario ${instrumentation}-${name}`);
  return s;
}

// ------------------------------------------------------------------ instrumentation installers

type Uninstall = () => void;

export interface InstallNotes {
  /** Problems met while attaching the instrumentation (e.g. an incompatible SDK shape). */
  notes: string[];
}

/**
 * What `registerInstrumentations()` does besides enabling: hand over the tracer provider and the (global,
 * here no-op) meter provider. The meter provider matters: @opentelemetry/instrumentation-openai 0.21 only
 * creates its histograms in `_updateMetricInstruments()`, and its own class-field declarations wipe the
 * ones created during construction; without `setMeterProvider()` its streaming and error paths throw
 * `Cannot read properties of undefined (reading 'record')` and never end the span.
 */
function attach(instr: { setTracerProvider(p: NodeTracerProvider): void; setMeterProvider(p: ReturnType<typeof metrics.getMeterProvider>): void }, provider: NodeTracerProvider): void {
  instr.setTracerProvider(provider);
  instr.setMeterProvider(metrics.getMeterProvider());
}

export async function installInstrumentation(id: InstrumentationId, provider: NodeTracerProvider, info: InstallNotes): Promise<Uninstall> {
  switch (id) {
    case 'otel-openai': {
      const instr = new OtelOpenAIInstrumentation();
      attach(instr as never, provider);
      const def = instr.getModuleDefinitions().find((d) => d.name === 'openai');
      if (!def?.patch || !def.unpatch) throw new Error('otel-openai: no module definition for openai');
      def.patch(openaiNs, openaiVersion());
      return () => {
        def.unpatch?.(openaiNs, openaiVersion());
        instr.disable();
      };
    }
    case 'traceloop-openai': {
      const instr = new TraceloopOpenAIInstrumentation();
      attach(instr as never, provider);
      instr.manuallyInstrument(OpenAI as never);
      return () => {
        unpatchOf(instr)(openaiNs, openaiVersion());
        instr.disable();
      };
    }
    case 'openinference-openai': {
      const instr = new OpenInferenceOpenAIInstrumentation();
      attach(instr as never, provider);
      instr.manuallyInstrument(openaiNs as never);
      return () => {
        unpatchOf(instr)(openaiNs);
        // Its unpatch() forgets Responses.prototype.create (4.2.7); unwrap it like the others.
        const responsesProto = OpenAI.Responses.prototype as unknown as Record<string, unknown>;
        if ((responsesProto.create as { __wrapped?: boolean }).__wrapped) {
          (instr as unknown as { _unwrap(o: object, n: string): void })._unwrap(responsesProto, 'create');
        }
        instr.disable();
      };
    }
    case 'traceloop-anthropic': {
      const instr = new TraceloopAnthropicInstrumentation();
      attach(instr as never, provider);
      const shim = anthropicShimModule();
      try {
        instr.manuallyInstrument(anthropicNs as never);
      } catch (err) {
        info.notes.push(`manuallyInstrument(@anthropic-ai/sdk) threw: ${String(err)}; used a shim with a dummy Anthropic.Completions`);
        instr.manuallyInstrument(shim as never);
      }
      return () => {
        unpatchOf(instr)(shim, '');
        instr.disable();
      };
    }
    case 'ai-sdk':
      return () => {};
  }
}

/** `unpatch` is private in the typings of traceloop / openinference; it is what their module hooks call. */
function unpatchOf(instr: object): (moduleExports: unknown, version?: string) => void {
  const fn = (instr as { unpatch?: (m: unknown, v?: string) => void }).unpatch;
  if (typeof fn !== 'function') throw new Error('instrumentation has no unpatch()');
  return fn.bind(instr);
}

/**
 * @traceloop/instrumentation-anthropic wraps `Anthropic.Completions.prototype.create`, which no longer
 * exists in @anthropic-ai/sdk 1.x. This shim keeps the real Messages / Beta.Messages / APIPromise and
 * offers a dummy Completions class so the instrumentation's patch() does not throw.
 */
function anthropicShimModule() {
  class Completions {
    create(): never {
      throw new Error('legacy Completions API is not available in @anthropic-ai/sdk 1.x');
    }
  }
  return {
    APIPromise: anthropicNs.APIPromise,
    Anthropic: { Completions, Messages: anthropicNs.Anthropic.Messages, Beta: anthropicNs.Anthropic.Beta },
  };
}

let cachedOpenAIVersion: string | undefined;
function openaiVersion(): string {
  cachedOpenAIVersion ??= (openaiNs as unknown as { VERSION?: string }).VERSION ?? '6';
  return cachedOpenAIVersion;
}

// ------------------------------------------------------------------ capture

export interface CaptureResult {
  scenario: Scenario;
  /** Finished spans, ordered by start time (parents before children on ties). */
  spans: ReadableSpan[];
  /** What the scenario's SDK call returned (undefined if it threw). */
  result?: unknown;
  /** The error the SDK call threw, if any. */
  error?: unknown;
  /** Names of spans that were started but never ended (e.g. an instrumentation that forgets to end on error). */
  unendedSpans: string[];
  notes: string[];
}

export interface CaptureOptions {
  /** How long to wait for spans that end asynchronously; default 1000 ms (250 ms for error scenarios). */
  settleTimeoutMs?: number;
}

export async function captureScenario(scenario: Scenario, fakeUrl: string, options: CaptureOptions = {}): Promise<CaptureResult> {
  ensureContextManager();
  const exporter = new InMemorySpanExporter();
  const tracker = new OpenSpans();
  const provider = new NodeTracerProvider({
    resource: defaultResource().merge(resourceFromAttributes({ 'service.name': SERVICE_NAME })),
    spanProcessors: [tracker, new SimpleSpanProcessor(exporter)],
  });
  const info: InstallNotes = { notes: [] };
  const uninstall = await installInstrumentation(scenario.instrumentation, provider, info);
  let result: unknown;
  let error: unknown;
  try {
    result = await scenario.run({ url: fakeUrl, tracer: provider.getTracer('ai') });
  } catch (err) {
    error = err;
  }
  const unendedSpans = await tracker.settled(options.settleTimeoutMs ?? (scenario.expectError ? 250 : 1000));
  uninstall();
  await provider.forceFlush();
  const spans = orderSpans(exporter.getFinishedSpans());
  await provider.shutdown();
  return { scenario, spans, result, error, unendedSpans, notes: info.notes };
}

/** Convenience: capture by ids. */
export async function capture(instrumentation: InstrumentationId, name: string, fakeUrl: string, options?: CaptureOptions): Promise<CaptureResult> {
  return captureScenario(getScenario(instrumentation, name), fakeUrl, options);
}

function hrToBigInt(t: [number, number]): bigint {
  return BigInt(t[0]) * 1_000_000_000n + BigInt(t[1]);
}

export function orderSpans(spans: ReadableSpan[]): ReadableSpan[] {
  const depth = (s: ReadableSpan): number => {
    let d = 0;
    let parent = s.parentSpanContext?.spanId;
    while (parent) {
      const p = spans.find((x) => x.spanContext().spanId === parent);
      if (!p) break;
      d++;
      parent = p.parentSpanContext?.spanId;
    }
    return d;
  };
  return [...spans].sort((a, b) => {
    const ta = hrToBigInt(a.startTime);
    const tb = hrToBigInt(b.startTime);
    if (ta !== tb) return ta < tb ? -1 : 1;
    return depth(a) - depth(b);
  });
}
