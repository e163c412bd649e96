/**
 * Which instrumentation register()'s 'auto' mode enables for each AI SDK, in order of preference:
 * the first one installed that loads and supports the installed SDK, never two for one SDK (both
 * would record every call). The order follows what the conformance tests measured of each (the
 * one that reports the most: cache tokens, streams, errors); test/fixtures/captured/README.md
 * lists every gap with its version.
 */

export interface Candidate {
  /** The instrumentation package and the class it exports. */
  pkg: string;
  exportName: string;
  /** Why it stands where it does, for the one log line that says which was enabled. */
  reports: string;
  /**
   * Installed SDK versions it breaks although its module definition accepts them (a conformance
   * test shows it), with the reason.
   */
  brokenWith?: { range: string; reason: string };
}

export interface SdkEntry {
  /** The SDK package an app installs. */
  sdk: string;
  label: string;
  /** A framework whose model-call spans a provider instrumentation records again (usage/conventions.ts FRAMEWORK_CALL_SCOPES). */
  framework?: true;
  /**
   * The SDK traces its own calls through the global OTel API when this file is in its package
   * (no instrumentation then: it would be a second span of each call), unless `offEnv` is 'false'.
   */
  selfTracing?: { file: string; offEnv: string; reports: string };
  candidates: readonly Candidate[];
}

export const SDK_INSTRUMENTATIONS: readonly SdkEntry[] = [
  {
    sdk: 'openai',
    label: 'OpenAI',
    candidates: [
      // test/conformance/rows.test.ts, openai-responses.test.ts.
      { pkg: '@opentelemetry/instrumentation-openai', exportName: 'OpenAIInstrumentation', reports: 'usage of chat, responses, embeddings, streams and failed calls; no cached or reasoning counts' },
      { pkg: '@arizeai/openinference-instrumentation-openai', exportName: 'OpenAIInstrumentation', reports: 'cached and reasoning counts; no usage on chat streams or embeddings, no row for a failed call' },
      { pkg: '@traceloop/instrumentation-openai', exportName: 'OpenAIInstrumentation', reports: 'no cached counts, no usage on chat streams, no embeddings, no row for a failed call' },
    ],
  },
  {
    sdk: '@anthropic-ai/sdk',
    label: 'Anthropic',
    // test/conformance/anthropic.test.ts: the SDK's own spans report everything, next to an instrumentation a call is two rows.
    selfTracing: { file: 'internal/tracing.js', offEnv: 'ANTHROPIC_OPEN_TELEMETRY', reports: 'input, output, cache reads and writes with the 1-hour split, thinking, streams, errors' },
    candidates: [
      { pkg: '@arizeai/openinference-instrumentation-anthropic', exportName: 'AnthropicInstrumentation', reports: 'input, output, cache reads and writes, streams; no 1-hour split, no thinking' },
      {
        pkg: '@traceloop/instrumentation-anthropic', exportName: 'AnthropicInstrumentation', reports: 'input, output, cache reads and writes, streams; no 1-hour split, no thinking',
        // test/conformance/instrumentations.test.ts: it wraps Anthropic.Completions, which 1.x removed.
        brokenWith: { range: '>=1.0.0', reason: 'it wraps Anthropic.Completions, which 1.x removed (requiring the SDK throws)' },
      },
    ],
  },
  {
    sdk: '@aws-sdk/client-bedrock-runtime',
    label: 'Bedrock',
    candidates: [
      // test/conformance/bedrock.test.ts.
      { pkg: '@opentelemetry/instrumentation-aws-sdk', exportName: 'AwsInstrumentation', reports: 'every operation and inference profile priced, failed calls; no cache counts' },
      { pkg: '@arizeai/openinference-instrumentation-bedrock', exportName: 'BedrockInstrumentation', reports: 'cache counts on InvokeModel; the model is lost for inference profiles (cost unknown)' },
      { pkg: '@traceloop/instrumentation-bedrock', exportName: 'BedrockInstrumentation', reports: 'InvokeModel only, no cache counts, no row for a failed call' },
    ],
  },
  {
    sdk: '@google/genai',
    label: 'Google Gen AI',
    candidates: [
      // test/conformance/gemini.test.ts.
      { pkg: '@traceloop/instrumentation-google-generativeai', exportName: 'GenAIInstrumentation', reports: 'input, cache reads, output, thinking, streams' },
    ],
  },
  {
    sdk: '@google-cloud/vertexai',
    label: 'Vertex AI',
    candidates: [
      // test/conformance/vertex.test.ts.
      { pkg: '@traceloop/instrumentation-vertexai', exportName: 'VertexAIInstrumentation', reports: 'input, output, streams, failed calls; no cached or thinking counts, so a row is low by the thinking tokens' },
    ],
  },
  {
    sdk: '@langchain/core',
    label: 'LangChain',
    framework: true,
    candidates: [
      // test/conformance/langchain.test.ts.
      { pkg: '@arizeai/openinference-instrumentation-langchain', exportName: 'LangChainInstrumentation', reports: 'input, output, cache reads, streams; names no provider' },
      { pkg: '@traceloop/instrumentation-langchain', exportName: 'LangChainInstrumentation', reports: 'input, output, streams; no cached counts' },
    ],
  },
];

/** LangChain's provider packages and the SDK each calls (its own copy may differ from the app's). */
export const LANGCHAIN_PROVIDERS: Readonly<Record<string, string>> = {
  '@langchain/openai': 'openai',
  '@langchain/anthropic': '@anthropic-ai/sdk',
  '@langchain/aws': '@aws-sdk/client-bedrock-runtime',
};
