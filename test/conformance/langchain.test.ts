/**
 * LangChain JS (`@langchain/openai` ChatOpenAI, the last line that runs on Node 20, over its own
 * `openai` 6.x) against the fake OpenAI API, under each LangChain instrumentation alone and together
 * with the provider instrumentation `@opentelemetry/instrumentation-openai` (the common setup).
 *
 * What the spans show (asserted below): neither LangChain instrumentation makes its model-call span
 * the active context, so the provider's span of the same call is NOT its child (a sibling, or the
 * root of another trace when nothing was active). No trace structure links the two: the mapper's
 * `frameworkSpans` option decides. `calls` (default) for LangChain alone, `wrappers` when a provider
 * instrumentation records the calls too; each gives exactly one row per model call.
 *
 * The fake reports prompt 1200 (cached 1024 included), completion 300. gpt-4o published prices
 * (openai.com/api/pricing): input $2.50, cached input $1.25, output $10 per 1M tokens.
 *   with the cache known: 176 × 2.50 + 1024 × 1.25 + 300 × 10 = 440 + 1280 + 3000 = 4720 µ$ = $0.00472
 *   without it (all 1200 as input): 1200 × 2.50 + 300 × 10 = 6000 µ$ = $0.006
 */
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { trace } from '@opentelemetry/api';
import type { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { ChatOpenAI } from '@langchain/openai';
import * as CallbackManagerModule from '@langchain/core/callbacks/manager';
import { LangChainInstrumentation as OpenInferenceLangChain } from '@arizeai/openinference-instrumentation-langchain';
import { LangChainInstrumentation as TraceloopLangChain } from '@traceloop/instrumentation-langchain';
import { OpenAIInstrumentation as OtelOpenAI } from '@opentelemetry/instrumentation-openai';
import { startFakeProvider, type FakeProvider } from '../support/fake-provider.js';
import { PROMPT_MARKER, redirectFetch } from '../support/capture.js';
import { captureSpans } from '../support/span-capture.js';
import { attachTo, installedVersion, mapSpans } from '../support/conformance-rows.js';

const VERSIONS = {
  core: installedVersion('@langchain/core'),
  openai: installedVersion('@langchain/openai'),
  openaiSdk: installedVersion('@langchain/openai/node_modules/openai'),
  openinference: installedVersion('@arizeai/openinference-instrumentation-langchain'),
  traceloop: installedVersion('@traceloop/instrumentation-langchain'),
  otelOpenai: installedVersion('@opentelemetry/instrumentation-openai'),
};

const OPENINFERENCE = '@arizeai/openinference-instrumentation-langchain';
const TRACELOOP = '@traceloop/instrumentation-langchain';
const OTEL_OPENAI = '@opentelemetry/instrumentation-openai';

const GPT4O = { operation: 'chat', request_model: 'gpt-4o', input_tokens: 1200, output_tokens: 300, error_type: '' };
const CACHED = { ...GPT4O, cache_read_tokens: 1024, cost_usd: '0.00472' };
const UNCACHED = { ...GPT4O, cache_read_tokens: 0, cost_usd: '0.006' };

type Framework = 'openinference' | 'traceloop';

// Both LangChain instrumentations patch CallbackManager for good (Traceloop's already in its
// constructor): one instance of each per file, handed each capture's provider and then the global
// no-op one, so an instrumentation not under test records nothing.
const frameworks: Record<Framework, OpenInferenceLangChain | TraceloopLangChain> = {
  openinference: new OpenInferenceLangChain(),
  traceloop: new TraceloopLangChain(),
};
frameworks.openinference.manuallyInstrument(CallbackManagerModule as never);
(frameworks.traceloop as TraceloopLangChain).manuallyInstrument({ callbackManagerModule: CallbackManagerModule } as never);
for (const f of Object.values(frameworks)) f.setTracerProvider(trace.getTracerProvider());

let fake: FakeProvider;
/** The `openai` module @langchain/openai imports (its own copy), which the provider instrumentation patches. */
let langchainOpenAI: object;
beforeAll(async () => {
  fake = await startFakeProvider();
  const entry = new URL('../../node_modules/@langchain/openai/node_modules/openai/index.mjs', import.meta.url);
  langchainOpenAI = await import(pathToFileURL(entry.pathname).href);
});
afterAll(() => fake.close());

/** One `invoke` and one `stream` of ChatOpenAI gpt-4o: two model calls. */
async function run(framework: Framework, withProvider: boolean): Promise<ReadableSpan[]> {
  const { spans, error } = await captureSpans(
    (provider: NodeTracerProvider) => {
      attachTo(provider, frameworks[framework]);
      const undo = [() => frameworks[framework].setTracerProvider(trace.getTracerProvider())];
      if (withProvider) {
        const otel = new OtelOpenAI();
        attachTo(provider, otel);
        const definition = otel.getModuleDefinitions().find((d) => d.name === 'openai')!;
        definition.patch!(langchainOpenAI, VERSIONS.openaiSdk);
        undo.push(() => {
          definition.unpatch!(langchainOpenAI, VERSIONS.openaiSdk);
          otel.disable();
        });
      }
      return () => undo.forEach((u) => u());
    },
    async () => {
      const model = new ChatOpenAI({ model: 'gpt-4o', apiKey: 'sk-test', maxRetries: 0, configuration: { fetch: redirectFetch(fake.url) } });
      const answer = await model.invoke(`Say hello. ${PROMPT_MARKER}`);
      expect(answer.usage_metadata).toMatchObject({ input_tokens: 1200, output_tokens: 300 });
      for await (const _chunk of await model.stream(`Say hello. ${PROMPT_MARKER}`));
    },
  );
  expect(error).toBeUndefined();
  return spans;
}

const scopes = (spans: readonly ReadableSpan[]) => spans.map((s) => s.instrumentationScope.name);

describe(`LangChain (@langchain/core ${VERSIONS.core}, @langchain/openai ${VERSIONS.openai} with openai ${VERSIONS.openaiSdk})`, () => {
  it(`${OPENINFERENCE} ${VERSIONS.openinference} alone: one row per model call, cache reads known`, async () => {
    const spans = await run('openinference', false);
    expect(scopes(spans)).toEqual([OPENINFERENCE, OPENINFERENCE]);
    const { rows } = await mapSpans(spans);
    expect(rows).toHaveLength(2);
    // It names no provider (only inside its `metadata` JSON as ls_provider); the model alone prices it.
    for (const row of rows) expect(row).toMatchObject({ ...CACHED, provider: '', response_model: 'gpt-4o' });
  });

  it(`${TRACELOOP} ${VERSIONS.traceloop} alone: one row per model call, no cache reads reported`, async () => {
    const spans = await run('traceloop', false);
    expect(scopes(spans)).toEqual([TRACELOOP, TRACELOOP]);
    const { rows } = await mapSpans(spans);
    expect(rows).toHaveLength(2);
    for (const row of rows) expect(row).toMatchObject({ ...UNCACHED, provider: 'openai', response_model: 'gpt-4o' });
  });

  describe.each(['openinference', 'traceloop'] as const)(`%s + ${OTEL_OPENAI} ${VERSIONS.otelOpenai}`, (framework) => {
    let spans: ReadableSpan[];
    beforeAll(async () => {
      spans = await run(framework, true);
    });

    it('two spans per model call, and the provider span is not the framework span’s child', () => {
      expect(spans).toHaveLength(4);
      const frameworkIds = new Set(spans.filter((s) => s.instrumentationScope.name !== OTEL_OPENAI).map((s) => s.spanContext().spanId));
      const providerSpans = spans.filter((s) => s.instrumentationScope.name === OTEL_OPENAI);
      expect(providerSpans).toHaveLength(2);
      for (const s of providerSpans) expect(frameworkIds.has(s.parentSpanContext?.spanId ?? '')).toBe(false);
    });

    it('frameworkSpans: wrappers → one row per model call, the provider’s', async () => {
      const result = await mapSpans(spans, { frameworkSpans: 'wrappers' });
      expect(result.rows).toHaveLength(2);
      expect(result.aggregates).toBe(2);
      for (const row of result.rows) {
        // @opentelemetry/instrumentation-openai does not report cached tokens: priced as uncached.
        expect(row).toMatchObject({ ...UNCACHED, provider: 'openai', response_model: 'gpt-4o-2024-08-06', instrumentation: OTEL_OPENAI });
      }
    });

    it('the default (calls) would count each model call twice', async () => {
      expect((await mapSpans(spans)).rows).toHaveLength(4);
    });
  });
});

// The current @langchain/openai (installed as `langchain-openai-current`) declares Node >= 22 and
// brings `openai` 7, which @opentelemetry/instrumentation-openai 0.21 does not patch (`<7`).
const NODE_22 = Number(process.versions.node.split('.')[0]) >= 22;

describe('LangChain, the current @langchain/openai (Node >= 22)', () => {
  it.runIf(NODE_22)(`${installedVersion('langchain-openai-current')} with openai ${installedVersion('langchain-openai-current/node_modules/openai')}: each LangChain instrumentation, one row per model call`, async () => {
    const { ChatOpenAI: CurrentChatOpenAI } = await import('langchain-openai-current');
    for (const framework of ['openinference', 'traceloop'] as const) {
      const { spans, error } = await captureSpans(
        (provider: NodeTracerProvider) => {
          attachTo(provider, frameworks[framework]);
          return () => frameworks[framework].setTracerProvider(trace.getTracerProvider());
        },
        async () => {
          const model = new CurrentChatOpenAI({ model: 'gpt-4o', apiKey: 'sk-test', maxRetries: 0, configuration: { fetch: redirectFetch(fake.url) } });
          await model.invoke(`Say hello. ${PROMPT_MARKER}`);
          for await (const _chunk of await model.stream(`Say hello. ${PROMPT_MARKER}`));
        },
      );
      expect(error).toBeUndefined();
      const { rows } = await mapSpans(spans);
      expect(rows).toHaveLength(2);
      for (const row of rows) expect(row).toMatchObject(framework === 'openinference' ? CACHED : UNCACHED);
    }
  });

  it('known gap: @opentelemetry/instrumentation-openai 0.21 does not patch the openai 7 it brings', () => {
    const [definition] = new OtelOpenAI().getModuleDefinitions();
    expect(definition!.supportedVersions).toEqual(['>=4.19.0 <7']);
    expect(Number(installedVersion('langchain-openai-current/node_modules/openai').split('.')[0])).toBe(7);
  });
});
