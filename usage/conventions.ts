/**
 * Attribute keys each instrumentation family uses, in the order they are tried. The first key
 * present wins, so current OTel semantic-convention names come before deprecated and vendor ones.
 * Sources: OTel GenAI semconv (incl. deprecated names), OpenLLMetry (old and new), OpenInference,
 * the `ai` SDK's telemetry, OpenLIT and Langfuse (see shared/reference.md).
 */
export const KEYS = {
  provider: ['gen_ai.provider.name', 'gen_ai.system', 'llm.provider', 'llm.system', 'ai.model.provider'],
  operation: ['gen_ai.operation.name'],
  requestModel: [
    'gen_ai.request.model', 'ai.model.id', 'llm.request.model', 'llm.request.model_name', 'llm.model_name', 'embedding.model_name',
    'langfuse.observation.model.name',
  ],
  responseModel: [
    'gen_ai.response.model', 'ai.response.model', 'llm.response.model', 'llm.response.model_name', 'llm.model_name', 'embedding.model_name',
    'langfuse.observation.model.name',
  ],

  inputTokens: [
    'gen_ai.usage.input_tokens', 'gen_ai.usage.prompt_tokens', 'llm.token_count.prompt',
    'ai.usage.inputTokens', 'ai.usage.promptTokens', 'llm.usage.prompt_tokens',
  ],
  outputTokens: [
    'gen_ai.usage.output_tokens', 'gen_ai.usage.completion_tokens', 'llm.token_count.completion',
    'ai.usage.outputTokens', 'ai.usage.completionTokens', 'llm.usage.completion_tokens',
  ],
  totalTokens: ['gen_ai.usage.total_tokens', 'llm.usage.total_tokens', 'llm.token_count.total', 'ai.usage.totalTokens', 'ai.usage.tokens'],
  cacheReadTokens: [
    'gen_ai.usage.cache_read.input_tokens', 'gen_ai.usage.cache_read_input_tokens', 'llm.token_count.prompt_details.cache_read',
    'ai.usage.inputTokenDetails.cacheReadTokens', 'ai.usage.cachedInputTokens', 'gen_ai.usage.input_tokens_details.cached',
  ],
  cacheWriteTokens: [
    'gen_ai.usage.cache_creation.input_tokens', 'gen_ai.usage.cache_write.input_tokens', 'gen_ai.usage.cache_creation_input_tokens',
    'llm.token_count.prompt_details.cache_write', 'ai.usage.inputTokenDetails.cacheWriteTokens',
  ],
  /** Of the cache writes, those to Anthropic's 1-hour cache (priced apart: 2× input against 1.25× for 5 minutes). */
  cacheWrite1hTokens: ['anthropic.usage.cache_creation.ephemeral_1h_input_tokens'],
  reasoningTokens: [
    'gen_ai.usage.reasoning.output_tokens', 'gen_ai.usage.reasoning_tokens', 'llm.token_count.completion_details.reasoning',
    'ai.usage.outputTokenDetails.reasoningTokens', 'ai.usage.reasoningTokens', 'gen_ai.usage.output_tokens_details.reasoning',
  ],
  inputAudioTokens: ['gen_ai.usage.audio.input_tokens', 'llm.token_count.prompt_details.audio', 'gen_ai.usage.input_audio_tokens'],
  outputAudioTokens: ['gen_ai.usage.audio.output_tokens', 'llm.token_count.completion_details.audio', 'gen_ai.usage.output_audio_tokens'],

  /** Costs some instrumentations compute themselves: kept as evidence, not trusted by default. */
  reportedCost: ['gen_ai.usage.cost', 'llm.cost.total', 'gen_ai.usage.cost_usd'],

  errorType: ['error.type', 'exception.type'],
  /** OpenInference marks call spans with a kind instead of an operation name. */
  openInferenceKind: 'openinference.span.kind',
  /** OpenLLMetry's pre-semconv request type (`chat`, `completion`, `embedding`). */
  traceloopRequestType: 'llm.request.type',
  traceloopSpanKind: 'traceloop.span.kind',
  /** The `ai` SDK's span type: `ai.generateText` (aggregate) or `ai.generateText.doGenerate` (the call). */
  aiSdkOperationId: 'ai.operationId',
  /** Langfuse's observation type: `generation` and `embedding` are calls (LANGFUSE_CALL_TYPES), the rest structure. */
  langfuseObservationType: 'langfuse.observation.type',
  /** Langfuse's usage and its own cost, each one JSON object of disjoint parts (usage/langfuse-usage.ts). */
  langfuseUsageDetails: ['langfuse.observation.usage_details'],
  langfuseCostDetails: ['langfuse.observation.cost_details'],
  /** `ERROR` on a failed call (Langfuse leaves the span status UNSET). */
  langfuseLevel: ['langfuse.observation.level'],
  /** Mastra's span type (`@mastra/otel-exporter`), next to an operation name (MASTRA_CALL_OPERATIONS). */
  mastraSpanType: 'mastra.span.type',

  serviceName: 'service.name',
  environment: ['deployment.environment.name', 'deployment.environment'],
} as const;

/** Prefix of our own per-call billed units: `genai_ledger.usage.credits = 5` → usage_details.credits. */
export const LEDGER_USAGE_PREFIX = 'genai_ledger.usage.';

/** Operations that are aggregates of other AI calls (their usage is their children's). */
export const AGGREGATE_OPERATIONS: ReadonlySet<string> = new Set([
  'invoke_agent', 'create_agent', 'execute_tool', 'invoke_workflow', 'agent_step', 'step', 'workflow', 'agent', 'task', 'tool',
]);

/** OpenInference span kinds that are AI calls; the rest (CHAIN, AGENT, TOOL, ...) are structure. */
export const OPENINFERENCE_CALL_KINDS: Readonly<Record<string, string>> = {
  LLM: 'chat',
  EMBEDDING: 'embeddings',
  RERANKER: 'rerank',
};

/** The `ai` SDK's per-call span ids and the operation each one is. Its outer spans repeat these. */
export const AI_SDK_CALL_OPERATIONS: Readonly<Record<string, string>> = {
  'ai.generateText.doGenerate': 'chat',
  'ai.streamText.doStream': 'chat',
  'ai.generateObject.doGenerate': 'chat',
  'ai.streamObject.doStream': 'chat',
  'ai.embed.doEmbed': 'embeddings',
  'ai.embedMany.doEmbed': 'embeddings',
  'ai.generateImage.doGenerate': 'image_generation',
  'ai.transcribe.doTranscribe': 'transcription',
  'ai.generateSpeech.doGenerate': 'speech',
};

/** Langfuse observation types that are one AI call each. */
export const LANGFUSE_CALL_TYPES: Readonly<Record<string, string>> = {
  generation: 'chat',
  embedding: 'embeddings',
};

/**
 * The operation names of Mastra's calls: a model call (`chat`) and a RAG embedding. Its other spans'
 * operation names are their own type's (`model_generation` around a generation's steps, `model_chunk`,
 * `processor_run`, `workflow_step`, …): structure, whatever they are called.
 */
export const MASTRA_CALL_OPERATIONS: ReadonlySet<string> = new Set(['chat', 'embeddings']);

/** Scope of Langfuse's JS SDK (`@langfuse/tracing`), whatever records through it (`@langfuse/openai`, `@langfuse/langchain`). */
export const LANGFUSE_SCOPE = 'langfuse-sdk';

/** OpenLLMetry's legacy `llm.request.type` values. */
export const TRACELOOP_REQUEST_TYPES: Readonly<Record<string, string>> = {
  chat: 'chat',
  completion: 'text_completion',
  embedding: 'embeddings',
  rerank: 'rerank',
};

/**
 * Instrumentations whose model-call spans come from a framework's callbacks or a wrapper around the
 * client, not from the provider SDK: with a provider instrumentation installed as well, the same call
 * is also recorded by the provider's span (a sibling or another trace for LangChain's and
 * `@langfuse/openai`'s, a child under a Langfuse generation made active around the call), so
 * MapperOptions.frameworkSpans decides which one is the call.
 */
export const FRAMEWORK_CALL_SCOPES: ReadonlySet<string> = new Set([
  '@arizeai/openinference-instrumentation-langchain',
  '@traceloop/instrumentation-langchain',
  LANGFUSE_SCOPE,
]);

/** Scope of the `ai` SDK 7's OpenTelemetry integration (`@ai-sdk/otel`), its default tracer's name. */
export const AI_SDK_OTEL_SCOPE = 'gen_ai';

/**
 * Instrumentations that pass a raw API's input count through, for the providers where that count
 * excludes cache reads and writes (Anthropic's API). Other sources are detected from the numbers.
 */
export const EXCLUSIVE_INPUT_SCOPES: Readonly<Record<string, readonly string[]>> = {
  '@traceloop/instrumentation-anthropic': ['anthropic'],
};
