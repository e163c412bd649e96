/**
 * Bedrock conformance capture: run one `@aws-sdk/client-bedrock-runtime` call against the fake Bedrock
 * (demo/fake-providers/bedrock.ts) under one real instrumentation and return the finished spans.
 * Captured by span-capture.ts's captureSpans (one NodeTracerProvider per capture, nothing registered globally).
 *
 * How each instrumentation is attached (require hooks do not fire for the ESM `import` vitest uses):
 *  - otel-aws-sdk        @opentelemetry/instrumentation-aws-sdk: its module-file patch for
 *                        `@smithy/core/dist-cjs/submodules/client/index.js` (where the SDK's
 *                        `Client.prototype.send` lives since @smithy/core 3.24) applied to that file.
 *  - openinference-bedrock  @arizeai/openinference-instrumentation-bedrock: `manuallyInstrument(sdk)`.
 *  - traceloop-bedrock   @traceloop/instrumentation-bedrock: `manuallyInstrument(sdk)`.
 * The SDK package has no `exports` map, so `import` and `require` both load its CJS build: the
 * command classes the instrumentations test with `instanceof` are the test's own.
 */
import { createRequire } from 'node:module';
import { metrics } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import type { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import * as sdk from '@aws-sdk/client-bedrock-runtime';
import { AwsInstrumentation } from '@opentelemetry/instrumentation-aws-sdk';
import { BedrockInstrumentation as OpenInferenceBedrock } from '@arizeai/openinference-instrumentation-bedrock';
import { BedrockInstrumentation as TraceloopBedrock } from '@traceloop/instrumentation-bedrock';
import { PROMPT_MARKER } from './capture.js';
import { captureSpans } from './span-capture.js';

export type BedrockInstrumentationId = 'otel-aws-sdk' | 'openinference-bedrock' | 'traceloop-bedrock';

export const BEDROCK_INSTRUMENTATION_PACKAGES: Record<BedrockInstrumentationId, string> = {
  'otel-aws-sdk': '@opentelemetry/instrumentation-aws-sdk',
  'openinference-bedrock': '@arizeai/openinference-instrumentation-bedrock',
  'traceloop-bedrock': '@traceloop/instrumentation-bedrock',
};

/** Model ids as users write them. */
export const MODEL = {
  /** Cross-region inference profile (geo: regional price). */
  us: 'us.anthropic.claude-haiku-4-5-20251001-v1:0',
  global: 'global.anthropic.claude-haiku-4-5-20251001-v1:0',
  /** In-region model id. */
  inRegion: 'anthropic.claude-haiku-4-5-20251001-v1:0',
  arn: 'arn:aws:bedrock:eu-west-1:123456789012:inference-profile/eu.anthropic.claude-haiku-4-5-20251001-v1:0',
  nova: 'amazon.nova-lite-v1:0',
  fail: 'fail-model',
} as const;

export function bedrockClient(endpoint: string): sdk.BedrockRuntimeClient {
  return new sdk.BedrockRuntimeClient({
    region: 'us-east-1',
    endpoint,
    credentials: { accessKeyId: 'AKIDFAKEFAKEFAKE', secretAccessKey: 'fake-secret' },
    maxAttempts: 1,
  });
}

const system = [{ text: `Long cached context. ${PROMPT_MARKER}` }, { cachePoint: { type: 'default' as const } }];
const messages = [{ role: 'user' as const, content: [{ text: `Say hello. ${PROMPT_MARKER}` }] }];
const inferenceConfig = { maxTokens: 1024, temperature: 0.2 };

const anthropicBody = (): string => JSON.stringify({
  anthropic_version: 'bedrock-2023-05-31',
  max_tokens: 1024,
  system: [{ type: 'text', text: `Long cached context. ${PROMPT_MARKER}`, cache_control: { type: 'ephemeral' } }],
  messages: [{ role: 'user', content: [{ type: 'text', text: `Say hello. ${PROMPT_MARKER}` }] }],
});

const novaBody = (): string => JSON.stringify({
  schemaVersion: 'messages-v1',
  system: [{ text: `Long cached context. ${PROMPT_MARKER}` }, { cachePoint: { type: 'default' } }],
  messages,
  inferenceConfig: { maxTokens: 1024, temperature: 0.2 },
});

async function drain(stream: AsyncIterable<unknown> | undefined): Promise<number> {
  let n = 0;
  if (stream) for await (const _event of stream) n++;
  return n;
}

export interface BedrockScenario {
  name: string;
  description: string;
  expectError?: boolean;
  run(client: sdk.BedrockRuntimeClient): Promise<unknown>;
}

export const BEDROCK_SCENARIOS: BedrockScenario[] = [
  {
    name: 'converse',
    description: `Converse ${MODEL.us} with a cachePoint; usage input 200 + cache read 5000 + cache write 1000, output 300`,
    run: (c) => c.send(new sdk.ConverseCommand({ modelId: MODEL.us, system, messages, inferenceConfig })),
  },
  {
    name: 'converse-global',
    description: `Converse ${MODEL.global} (global cross-region profile: the global price)`,
    run: (c) => c.send(new sdk.ConverseCommand({ modelId: MODEL.global, system, messages, inferenceConfig })),
  },
  {
    name: 'converse-in-region',
    description: `Converse ${MODEL.inRegion} (in-region model id)`,
    run: (c) => c.send(new sdk.ConverseCommand({ modelId: MODEL.inRegion, system, messages, inferenceConfig })),
  },
  {
    name: 'converse-arn',
    description: 'Converse with an inference-profile ARN (eu. profile)',
    run: (c) => c.send(new sdk.ConverseCommand({ modelId: MODEL.arn, system, messages, inferenceConfig })),
  },
  {
    name: 'converse-stream',
    description: `ConverseStream ${MODEL.us}: usage in the metadata event`,
    run: async (c) => drain((await c.send(new sdk.ConverseStreamCommand({ modelId: MODEL.us, system, messages, inferenceConfig }))).stream),
  },
  {
    name: 'invoke-anthropic',
    description: `InvokeModel ${MODEL.inRegion}, Anthropic body (anthropic_version bedrock-2023-05-31, cache_control)`,
    run: (c) => c.send(new sdk.InvokeModelCommand({ modelId: MODEL.inRegion, contentType: 'application/json', accept: 'application/json', body: anthropicBody() })),
  },
  {
    name: 'invoke-anthropic-us',
    description: `InvokeModel ${MODEL.us}, Anthropic body`,
    run: (c) => c.send(new sdk.InvokeModelCommand({ modelId: MODEL.us, contentType: 'application/json', accept: 'application/json', body: anthropicBody() })),
  },
  {
    name: 'invoke-anthropic-global',
    description: `InvokeModel ${MODEL.global}, Anthropic body`,
    run: (c) => c.send(new sdk.InvokeModelCommand({ modelId: MODEL.global, contentType: 'application/json', accept: 'application/json', body: anthropicBody() })),
  },
  {
    name: 'invoke-anthropic-stream',
    description: `InvokeModelWithResponseStream ${MODEL.inRegion}, Anthropic body: message_start / message_delta usage, invocation metrics on the last chunk`,
    run: async (c) => drain((await c.send(new sdk.InvokeModelWithResponseStreamCommand({ modelId: MODEL.inRegion, contentType: 'application/json', body: anthropicBody() }))).body),
  },
  {
    name: 'invoke-nova',
    description: `InvokeModel ${MODEL.nova}, Nova body; usage input 1000 + cache read 2000, output 300`,
    run: (c) => c.send(new sdk.InvokeModelCommand({ modelId: MODEL.nova, contentType: 'application/json', accept: 'application/json', body: novaBody() })),
  },
  {
    name: 'error',
    description: 'Converse fail-model -> HTTP 500 InternalServerException, maxAttempts 1',
    expectError: true,
    run: (c) => c.send(new sdk.ConverseCommand({ modelId: MODEL.fail, messages })),
  },
];

type Uninstall = () => void;

const require = createRequire(import.meta.url);
const SMITHY_CLIENT_FILE = '@smithy/core/dist-cjs/submodules/client/index.js';

function install(id: BedrockInstrumentationId, provider: NodeTracerProvider): Uninstall {
  switch (id) {
    case 'otel-aws-sdk': {
      const instr = new AwsInstrumentation();
      instr.setTracerProvider(provider);
      instr.setMeterProvider(metrics.getMeterProvider());
      const file = instr.getModuleDefinitions().flatMap((d) => d.files).find((f) => f.name === SMITHY_CLIENT_FILE);
      if (!file) throw new Error(`otel-aws-sdk: no patch for ${SMITHY_CLIENT_FILE}`);
      // The file behind the `@smithy/core/client` export, resolved from the SDK's folder (the copy it loads).
      const smithyClient = createRequire(require.resolve('@aws-sdk/client-bedrock-runtime'))('@smithy/core/client') as unknown;
      file.patch(smithyClient);
      return () => {
        file.unpatch(smithyClient);
        instr.disable();
      };
    }
    case 'openinference-bedrock': {
      const instr = new OpenInferenceBedrock();
      instr.setTracerProvider(provider);
      instr.manuallyInstrument(sdk as never);
      return () => {
        (instr as unknown as { unpatch(m: unknown): void }).unpatch(sdk);
        instr.disable();
      };
    }
    case 'traceloop-bedrock': {
      const instr = new TraceloopBedrock();
      instr.setTracerProvider(provider);
      instr.manuallyInstrument(sdk as never);
      return () => {
        (instr as unknown as { unwrap(m: unknown): void }).unwrap(sdk);
        instr.disable();
      };
    }
  }
}

export interface BedrockCapture {
  spans: ReadableSpan[];
  result?: unknown;
  error?: unknown;
}

/** Runs one scenario under one instrumentation; spans that end after the call (streams) are waited for, up to 5 s. */
export async function captureBedrock(id: BedrockInstrumentationId, scenario: BedrockScenario, endpoint: string): Promise<BedrockCapture> {
  // Instrumentations that read a stream on their own (OpenInference tees it) end the span a few ticks later.
  const { spans, result, error } = await captureSpans((provider) => install(id, provider), () => scenario.run(bedrockClient(endpoint)), { settleTimeoutMs: 5000 });
  return { spans, result, error };
}
