/**
 * Which span and resource attributes a usage row may copy into its `attributes` column: an
 * allow-list of what may be stored, so that no convention's content key (prompts, completions,
 * tool arguments and results, system instructions, embeddings), known today or added tomorrow,
 * reaches ClickHouse through a broad `attributeAllowList`.
 *
 * The rule, for each entry of `attributeAllowList` (none by default: nothing is copied):
 * - `*` selects the known non-content keys only: STORABLE_KEYS, the families in
 *   STORABLE_PREFIXES (token counts, costs), every key the mapper reads (`KEYS`) and the
 *   attribution keys. A key no convention here names is never selected by `*`.
 * - `prefix.*` selects the known non-content keys under the prefix, and any other key under it
 *   that is not content by rule.
 * - an exact key is copied unless it is content by rule.
 * Content by rule: one of the key's words (split at `.`, `_`, `-` and camelCase humps) is in
 * CONTENT_WORDS (`input`, `messages`, `prompt`, `arguments`, `value`, ...). Known keys are exempt
 * (`gen_ai.usage.input_tokens` says "input" but is a count).
 */
import { diag } from '@opentelemetry/api';
import type { AttributionKeys } from './attribution.js';
import { KEYS, LEDGER_USAGE_PREFIX } from './conventions.js';

/**
 * Keys known not to hold content, besides those the mapper reads: request parameters, response
 * ids and finish reasons, server and error details, span kinds and names, resource identity.
 * Sources: OTel GenAI semconv, OpenLLMetry, OpenInference, the `ai` SDK, Langfuse, OpenLIT
 * (shared/reference.md and the captured spans in test/fixtures/captured).
 */
export const STORABLE_KEYS: readonly string[] = [
  // OTel GenAI semantic conventions.
  'gen_ai.request.max_tokens', 'gen_ai.request.temperature', 'gen_ai.request.top_p', 'gen_ai.request.top_k',
  'gen_ai.request.frequency_penalty', 'gen_ai.request.presence_penalty', 'gen_ai.request.seed',
  'gen_ai.request.stop_sequences', 'gen_ai.request.choice.count', 'gen_ai.request.encoding_formats', 'gen_ai.request.stream',
  'gen_ai.output.type', 'gen_ai.response.id', 'gen_ai.response.finish_reasons', 'gen_ai.response.time_to_first_chunk',
  'gen_ai.conversation.id', 'gen_ai.agent.id', 'gen_ai.agent.name', 'gen_ai.agent.version', 'gen_ai.data_source.id',
  'gen_ai.embeddings.dimension.count', 'gen_ai.tool.name', 'gen_ai.tool.type', 'gen_ai.tool.call.id', 'gen_ai.token.type',
  'gen_ai.openai.request.service_tier', 'gen_ai.openai.response.service_tier', 'gen_ai.openai.response.system_fingerprint',
  'openai.request.service_tier', 'openai.response.service_tier', 'openai.response.system_fingerprint',
  'server.address', 'server.port', 'error.type',
  // OpenLLMetry.
  'llm.is_streaming', 'llm.request.max_tokens', 'llm.temperature', 'llm.top_p', 'llm.frequency_penalty',
  'llm.presence_penalty', 'llm.response.finish_reason', 'llm.response.stop_reason', 'gen_ai.openai.api_base',
  'traceloop.entity.name', 'traceloop.workflow.name', 'traceloop.entity.path',
  // OpenInference.
  'llm.finish_reason', 'input.mime_type', 'output.mime_type', 'user.id', 'session.id',
  // The `ai` SDK.
  'ai.response.id', 'ai.response.finishReason', 'ai.response.timestamp', 'ai.response.msToFirstChunk', 'ai.response.msToFinish',
  'ai.response.avgOutputTokensPerSecond', 'ai.response.avgCompletionTokensPerSecond', 'ai.toolCall.id', 'ai.toolCall.name',
  'ai.settings.maxRetries', 'ai.settings.maxOutputTokens', 'ai.settings.maxTokens', 'ai.settings.temperature',
  'ai.settings.topP', 'ai.settings.topK', 'ai.settings.presencePenalty', 'ai.settings.frequencyPenalty', 'ai.settings.seed',
  'ai.settings.stopSequences', 'ai.telemetry.functionId', 'operation.name', 'resource.name',
  // Langfuse.
  'langfuse.session.id', 'langfuse.user.id', 'langfuse.trace.name', 'langfuse.observation.type',
  'langfuse.observation.model.name', 'langfuse.environment', 'langfuse.release', 'langfuse.version',
  // OpenLIT.
  'gen_ai.application_name', 'gen_ai.environment',
  // Resource identity.
  'service.version', 'service.namespace', 'service.instance.id', 'telemetry.sdk.name', 'telemetry.sdk.language',
  'telemetry.sdk.version', 'cloud.provider', 'cloud.region',
];

/** Families of keys that hold counts and costs only (their names say "input", "prompt", ...). */
export const STORABLE_PREFIXES: readonly string[] = [
  'gen_ai.usage.', 'llm.usage.', 'llm.token_count.', 'llm.cost.', 'ai.usage.', LEDGER_USAGE_PREFIX,
];

/**
 * Words that mark a key as content (or credentials), in any convention: a key holding one of them
 * is never stored unless it is a known key.
 */
export const CONTENT_WORDS: ReadonlySet<string> = new Set([
  'prompt', 'prompts', 'completion', 'completions', 'content', 'contents', 'message', 'messages', 'input', 'inputs',
  'output', 'outputs', 'instruction', 'instructions', 'argument', 'arguments', 'args', 'parameter', 'parameters', 'params',
  'result', 'results', 'text', 'texts', 'value', 'values', 'object', 'choice', 'choices', 'calls', 'tools', 'definition',
  'definitions', 'template', 'variables', 'embedding', 'embeddings', 'vector', 'document', 'documents', 'query',
  'reasoning', 'thinking', 'transcript', 'file', 'files', 'body', 'context',
  // Credentials.
  'header', 'headers', 'authorization', 'cookie', 'cookies', 'password', 'secret', 'credentials', 'apikey',
]);

/** Whether a key holds content by rule (see the top of this file). */
export function isContentKey(key: string): boolean {
  const words = key.replace(/([a-z0-9])([A-Z])/g, '$1 $2').toLowerCase().split(/[^a-z0-9]+/);
  return words.some((word) => CONTENT_WORDS.has(word));
}

/** Generated keys (`gen_ai.prompt.<n>.content`) are many: the cache of decisions stops growing here. */
const MAX_CACHED_KEYS = 8192;

/** Content keys named in an allow-list that were already reported (the mapper and the exporter share one list). */
const reported = new Set<string>();

/** Decides, key by key, what a row copies; built only when an allow-list is set. */
export class StoredAttributes {
  private readonly all: boolean;
  private readonly exact: ReadonlySet<string>;
  private readonly prefixes: readonly string[];
  private readonly known: ReadonlySet<string>;
  private readonly decided = new Map<string, boolean>();

  constructor(allowList: readonly string[], attribution: AttributionKeys) {
    this.all = allowList.includes('*');
    this.exact = new Set(allowList.filter((entry) => !entry.endsWith('*')));
    this.prefixes = allowList.filter((entry) => entry.endsWith('*') && entry !== '*').map((entry) => entry.slice(0, -1));
    const attributionKeys = Object.values(attribution).flat().filter((key) => !isContentKey(key));
    this.known = new Set([...STORABLE_KEYS, ...Object.values(KEYS).flat(), ...attributionKeys]);
    for (const key of this.exact) {
      if (this.isKnown(key) || !isContentKey(key) || reported.has(key)) continue;
      reported.add(key);
      diag.warn(`genai-ledger: attributeAllowList names "${key}", which holds content: it is never stored`);
    }
  }

  /** Whether a row copies this key. */
  allows(key: string): boolean {
    let allowed = this.decided.get(key);
    if (allowed === undefined) {
      allowed = this.decide(key);
      if (this.decided.size < MAX_CACHED_KEYS) this.decided.set(key, allowed);
    }
    return allowed;
  }

  private decide(key: string): boolean {
    const known = this.isKnown(key);
    if (known && this.all) return true;
    const named = this.exact.has(key) || this.prefixes.some((prefix) => key.startsWith(prefix));
    return named && (known || !isContentKey(key));
  }

  private isKnown(key: string): boolean {
    return this.known.has(key) || STORABLE_PREFIXES.some((prefix) => key.startsWith(prefix));
  }
}
