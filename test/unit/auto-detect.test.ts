/**
 * register()'s 'auto' detection over simulated installs: a PackageProbe answering from tables, with
 * instrumentations that are plain objects carrying the module definitions the real packages declare
 * (as printed by their getModuleDefinitions()/init()), so nothing is imported.
 */
import { describe, expect, it } from 'vitest';
import type { Instrumentation } from '@opentelemetry/instrumentation';
import { detectInstrumentations, type ModuleDefinition, type PackageProbe } from '../../instrumentation/auto-detect.js';

/** The module definitions of the real instrumentations (their versions as installed here). */
const DEFINITIONS: Record<string, ModuleDefinition[]> = {
  '@opentelemetry/instrumentation-openai': [{ name: 'openai', supportedVersions: ['>=4.19.0 <7'] }],
  '@arizeai/openinference-instrumentation-openai': [{ name: 'openai', supportedVersions: ['^7.0.0', '^6.0.0', '^5.0.0'] }],
  '@traceloop/instrumentation-openai': [{ name: 'openai', supportedVersions: ['>=4 <7'] }],
  '@arizeai/openinference-instrumentation-anthropic': [{ name: '@anthropic-ai/sdk', supportedVersions: ['*'] }],
  '@traceloop/instrumentation-anthropic': [{ name: '@anthropic-ai/sdk', supportedVersions: ['>=0.9.1'] }],
  '@opentelemetry/instrumentation-aws-sdk': [
    { name: '@aws-sdk/middleware-stack', supportedVersions: ['^3.1.0'] },
    { name: '@smithy/middleware-stack', supportedVersions: ['>=2.0.0'] },
    { name: '@smithy/smithy-client', supportedVersions: ['>=1.0.3'] },
  ],
  '@arizeai/openinference-instrumentation-bedrock': [{ name: '@aws-sdk/client-bedrock-runtime', supportedVersions: ['^3.0.0'] }],
  '@traceloop/instrumentation-google-generativeai': [{ name: '@google/genai', supportedVersions: ['>=1.0.0 <2.0.0'] }],
  '@traceloop/instrumentation-vertexai': [{ name: '@google-cloud/vertexai', supportedVersions: ['>=1.1.0'] }],
  '@arizeai/openinference-instrumentation-langchain': [{ name: '@langchain/core/dist/callbacks/manager.cjs', supportedVersions: ['^1.0.0', '^0.3.0', '^0.2.0'] }],
  '@traceloop/instrumentation-langchain': [],
};

interface Install {
  /** Package → version, as the app resolves them. */
  packages: Record<string, string>;
  /** Package → its own copies of other packages (nested node_modules). */
  nested?: Record<string, Record<string, string>>;
  /** `package/file` present. */
  files?: string[];
  env?: Record<string, string>;
  /** Instrumentations whose import throws, with the message. */
  failing?: Record<string, string>;
}

function probe(install: Install, loaded: string[] = []): PackageProbe {
  const version = (pkg: string, from?: string) => (from === undefined ? install.packages[pkg] : install.nested?.[from]?.[pkg] ?? (install.packages[from] ? install.packages[pkg] : undefined));
  return {
    version,
    // A nested copy is a different install: files are listed as `from>package/file`.
    hasFile: (pkg, file, from) => (install.files ?? []).includes(from && install.nested?.[from]?.[pkg] ? `${from}>${pkg}/${file}` : `${pkg}/${file}`),
    async load(pkg) {
      loaded.push(pkg);
      const failure = install.failing?.[pkg];
      if (failure) throw new Error(`${failure}\n    at stack`);
      return { instrumentation: { instrumentationName: pkg } as Instrumentation, definitions: DEFINITIONS[pkg]! };
    },
    env: (name) => install.env?.[name],
  };
}

const OTEL_OPENAI = '@opentelemetry/instrumentation-openai';
const OI_OPENAI = '@arizeai/openinference-instrumentation-openai';
const TL_OPENAI = '@traceloop/instrumentation-openai';
const OI_ANTHROPIC = '@arizeai/openinference-instrumentation-anthropic';
const TL_ANTHROPIC = '@traceloop/instrumentation-anthropic';
const AWS = '@opentelemetry/instrumentation-aws-sdk';
const TL_GOOGLE = '@traceloop/instrumentation-google-generativeai';
const OI_LANGCHAIN = '@arizeai/openinference-instrumentation-langchain';
const TL_LANGCHAIN = '@traceloop/instrumentation-langchain';
const ALL_OPENAI = { [OTEL_OPENAI]: '0.21.0', [OI_OPENAI]: '4.2.7', [TL_OPENAI]: '0.27.0' };
const SELF_TRACING = '@anthropic-ai/sdk/internal/tracing.js';
const LANGFUSE_OPENAI = '@langfuse/openai';
const LANGCHAIN = { '@langchain/core': '1.4.0', [OI_LANGCHAIN]: '4.1.1', '@langchain/openai': '1.5.8' };

type Row = [
  name: string, install: Install, enabled: string[], frameworkSpans: 'calls' | 'wrappers',
  /** Each log line's level and a part of it, in order. */
  log: Array<[level: 'info' | 'warn', text: string]>,
  given?: 'calls' | 'wrappers',
];

const ROWS: Row[] = [
  ['nothing installed', { packages: { [OTEL_OPENAI]: '0.21.0' } }, [], 'calls', []],
  ['openai 6 and all three: the official one', { packages: { openai: '6.30.1', ...ALL_OPENAI } }, [OTEL_OPENAI], 'calls', [
    ['info', `genai-ledger: OpenAI (openai 6.30.1): enabled ${OTEL_OPENAI} 0.21.0, preferred of 3 installed (it reports usage of chat, responses, embeddings, streams and failed calls; no cached or reasoning counts)`],
  ]],
  ['openai 7: the official one patches <7 only, OpenInference next', { packages: { openai: '7.1.0', ...ALL_OPENAI } }, [OI_OPENAI], 'calls', [
    ['warn', `genai-ledger: OpenAI (openai 7.1.0): ${OTEL_OPENAI} 0.21.0 cannot work with it: it patches openai >=4.19.0 <7 only, installed 7.1.0; the next one is tried`],
    ['info', `enabled ${OI_OPENAI} 4.2.7, the next of 3 installed`],
  ]],
  ['openai 7 with only Traceloop: nothing can record it', { packages: { openai: '7.1.0', [TL_OPENAI]: '0.27.0' } }, [], 'calls', [
    ['warn', `genai-ledger: OpenAI (openai 7.1.0): its calls are not recorded: ${TL_OPENAI} 0.27.0 cannot work with it: it patches openai >=4 <7 only, installed 7.1.0`],
  ]],
  ['an instrumentation that fails to load: one line, then the next', { packages: { openai: '6.30.1', ...ALL_OPENAI }, failing: { [OTEL_OPENAI]: 'Cannot find module @opentelemetry/api' } }, [OI_OPENAI], 'calls', [
    ['warn', `genai-ledger: OpenAI (openai 6.30.1): ${OTEL_OPENAI} 0.21.0 failed to load: Cannot find module @opentelemetry/api; the next one is tried`],
    ['info', `enabled ${OI_OPENAI} 4.2.7`],
  ]],
  ['openai without an instrumentation: says what to install', { packages: { openai: '6.30.1' } }, [], 'calls', [
    ['warn', `genai-ledger: OpenAI (openai 6.30.1): no instrumentation installed, its calls are not recorded (npm install ${OTEL_OPENAI})`],
  ]],
  ['Anthropic SDK that traces itself: no instrumentation next to it', { packages: { '@anthropic-ai/sdk': '1.12.0', [OI_ANTHROPIC]: '0.2.8' }, files: [SELF_TRACING] }, [], 'calls', [
    ['info', 'genai-ledger: Anthropic (@anthropic-ai/sdk 1.12.0): no instrumentation: the SDK traces its own calls'],
  ]],
  ['its tracing turned off: OpenInference', { packages: { '@anthropic-ai/sdk': '1.12.0', [OI_ANTHROPIC]: '0.2.8', [TL_ANTHROPIC]: '0.27.0' }, files: [SELF_TRACING], env: { ANTHROPIC_OPEN_TELEMETRY: 'false' } }, [OI_ANTHROPIC], 'calls', [
    ['info', `enabled ${OI_ANTHROPIC} 0.2.8, preferred of 2 installed`],
  ]],
  ['1.x with only Traceloop, tracing off: it breaks 1.x (never loaded)', { packages: { '@anthropic-ai/sdk': '1.12.0', [TL_ANTHROPIC]: '0.27.0' }, files: [SELF_TRACING], env: { ANTHROPIC_OPEN_TELEMETRY: 'false' } }, [], 'calls', [
    ['warn', `its calls are not recorded: ${TL_ANTHROPIC} 0.27.0 cannot work with it: it wraps Anthropic.Completions, which 1.x removed (requiring the SDK throws)`],
  ]],
  ['an SDK without its own tracing, with Traceloop', { packages: { '@anthropic-ai/sdk': '0.60.0', [TL_ANTHROPIC]: '0.27.0' } }, [TL_ANTHROPIC], 'calls', [
    ['info', `genai-ledger: Anthropic (@anthropic-ai/sdk 0.60.0): enabled ${TL_ANTHROPIC} 0.27.0, the only one installed`],
  ]],
  ['Bedrock: the AWS one, whose definitions name the SDK core', { packages: { '@aws-sdk/client-bedrock-runtime': '3.1178.0', '@smithy/smithy-client': '4.9.0', [AWS]: '0.78.0' } }, [AWS], 'calls', [
    ['info', `enabled ${AWS} 0.78.0, the only one installed`],
  ]],
  ['@google/genai 2: the only instrumentation patches 1.x', { packages: { '@google/genai': '2.32.0', [TL_GOOGLE]: '0.27.0' } }, [], 'calls', [
    ['warn', `genai-ledger: Google Gen AI (@google/genai 2.32.0): its calls are not recorded: ${TL_GOOGLE} 0.27.0 cannot work with it: it patches @google/genai >=1.0.0 <2.0.0 only, installed 2.32.0`],
  ]],
  ['Vertex AI’s SDK: OpenLLMetry’s Vertex instrumentation', { packages: { '@google-cloud/vertexai': '1.12.0', '@traceloop/instrumentation-vertexai': '0.27.0' } }, ['@traceloop/instrumentation-vertexai'], 'calls', [
    ['info', 'genai-ledger: Vertex AI (@google-cloud/vertexai 1.12.0): enabled @traceloop/instrumentation-vertexai 0.27.0, the only one installed (it reports input, output, streams, failed calls; no cached or thinking counts'],
  ]],
  ['LangChain alone: its spans are the calls', { packages: LANGCHAIN }, [OI_LANGCHAIN], 'calls', [
    ['info', `genai-ledger: LangChain (@langchain/core 1.4.0): enabled ${OI_LANGCHAIN} 4.1.1`],
  ]],
  ['LangChain + OpenAI instrumentation covering its openai copy: wrappers', {
    packages: { ...LANGCHAIN, openai: '6.30.1', [OTEL_OPENAI]: '0.21.0' }, nested: { '@langchain/openai': { openai: '6.49.0' } },
  }, [OTEL_OPENAI, OI_LANGCHAIN], 'wrappers', [
    ['info', `enabled ${OTEL_OPENAI}`],
    ['info', `enabled ${OI_LANGCHAIN}`],
    ['info', "genai-ledger: LangChain and a provider source record the same calls: LangChain's model-call spans are wrappers (frameworkSpans 'wrappers'), the provider's span is the row"],
  ]],
  ['LangChain’s own openai 7 is not patched by the official one: calls', {
    packages: { ...LANGCHAIN, openai: '6.30.1', [OTEL_OPENAI]: '0.21.0' }, nested: { '@langchain/openai': { openai: '7.60.0' } },
  }, [OTEL_OPENAI, OI_LANGCHAIN], 'calls', [
    ['info', 'enabled'],
    ['info', 'enabled'],
    ['info', "genai-ledger: LangChain's model-call spans are the rows (frameworkSpans 'calls'): the SDK calls of @langchain/openai are not recorded by a provider source"],
  ]],
  ['the user’s frameworkSpans wins', {
    packages: { ...LANGCHAIN, openai: '6.30.1', [OTEL_OPENAI]: '0.21.0' },
  }, [OTEL_OPENAI, OI_LANGCHAIN], 'calls', [['info', 'enabled'], ['info', 'enabled'], ['info', "genai-ledger: frameworkSpans 'calls', as given"]], 'calls'],
  ['LangChain with Anthropic’s self-tracing SDK and OpenAI: wrappers', {
    packages: { ...LANGCHAIN, [TL_LANGCHAIN]: '0.27.0', '@langchain/anthropic': '1.3.0', '@anthropic-ai/sdk': '1.12.0', openai: '6.30.1', [OTEL_OPENAI]: '0.21.0' },
    nested: { '@langchain/anthropic': { '@anthropic-ai/sdk': '1.10.0' } },
    files: [SELF_TRACING, `@langchain/anthropic>${SELF_TRACING}`],
  }, [OTEL_OPENAI, OI_LANGCHAIN], 'wrappers', [['info', 'enabled'], ['info', 'traces its own calls'], ['info', 'enabled'], ['info', "frameworkSpans 'wrappers'"]]],
  ['Langfuse’s observeOpenAI with an OpenAI instrumentation: its generations are wrappers', {
    packages: { openai: '6.30.1', [OTEL_OPENAI]: '0.21.0', [LANGFUSE_OPENAI]: '5.11.1' },
  }, [OTEL_OPENAI], 'wrappers', [
    ['info', `enabled ${OTEL_OPENAI}`],
    ['info', `genai-ledger: ${LANGFUSE_OPENAI} and an OpenAI source record the same calls: its generations are wrappers (frameworkSpans 'wrappers'), the provider's span is the row`],
  ]],
  ['Langfuse alone: its generations are the calls', { packages: { openai: '6.30.1', [LANGFUSE_OPENAI]: '5.11.1' } }, [], 'calls', [
    ['warn', 'no instrumentation installed'],
  ]],
  ['Langfuse and LangChain both covered by the OpenAI instrumentation: wrappers', {
    packages: { ...LANGCHAIN, openai: '6.30.1', [OTEL_OPENAI]: '0.21.0', [LANGFUSE_OPENAI]: '5.11.1' },
  }, [OTEL_OPENAI, OI_LANGCHAIN], 'wrappers', [['info', 'enabled'], ['info', 'enabled'], ['info', "its generations and LangChain's model-call spans are wrappers"]]],
  ['Langfuse covered while LangChain’s own openai is not: no choice gives one row per call', {
    packages: { ...LANGCHAIN, openai: '6.30.1', [OTEL_OPENAI]: '0.21.0', [LANGFUSE_OPENAI]: '5.11.1' }, nested: { '@langchain/openai': { openai: '7.60.0' } },
  }, [OTEL_OPENAI, OI_LANGCHAIN], 'calls', [['info', 'enabled'], ['info', 'enabled'], ['warn', `genai-ledger: cannot give one row per call: ${LANGFUSE_OPENAI}'s generations are recorded by the OpenAI source too`]]],
  ['one LangChain provider covered, another not: no choice gives one row per call, said in one line', {
    packages: { ...LANGCHAIN, '@langchain/anthropic': '0.3.0', '@anthropic-ai/sdk': '0.60.0', openai: '6.30.1', [OTEL_OPENAI]: '0.21.0' },
  }, [OTEL_OPENAI, OI_LANGCHAIN], 'calls', [
    ['info', 'enabled'],
    ['warn', 'no instrumentation installed'],
    ['info', 'enabled'],
    ['warn', 'genai-ledger: cannot give one row per LangChain call: @langchain/openai calls are recorded by their provider source too (two rows each) while @langchain/anthropic calls are not; set frameworkSpans or pass instrumentations explicitly'],
  ]],
];

describe('register() auto-detection: one source per installed SDK', () => {
  it.each(ROWS)('%s', async (_name, install, enabled, frameworkSpans, log, given) => {
    const detection = await detectInstrumentations(probe(install), given ? { frameworkSpans: given } : {});
    expect(detection.enabled).toEqual(enabled);
    expect(detection.instrumentations.map((i) => i.instrumentationName)).toEqual(enabled);
    expect(detection.frameworkSpans).toBe(frameworkSpans);
    expect(detection.log.map((l) => l.level)).toEqual(log.map(([level]) => level));
    detection.log.forEach((line, i) => expect(line.message).toContain(log[i]![1]));
  });

  it('never loads an instrumentation of an SDK that is not installed, nor one known to break the installed SDK', async () => {
    const loaded: string[] = [];
    await detectInstrumentations(probe({
      packages: { ...ALL_OPENAI, [TL_ANTHROPIC]: '0.27.0', '@anthropic-ai/sdk': '1.12.0', [AWS]: '0.78.0' }, env: { ANTHROPIC_OPEN_TELEMETRY: 'false' },
    }, loaded));
    expect(loaded).toEqual([]);
  });

  it('stops at the first instrumentation that can work: the others are never loaded', async () => {
    const loaded: string[] = [];
    await detectInstrumentations(probe({ packages: { openai: '6.30.1', ...ALL_OPENAI } }, loaded));
    expect(loaded).toEqual([OTEL_OPENAI]);
  });
});
