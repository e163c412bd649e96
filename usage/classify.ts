import {
  AGGREGATE_OPERATIONS, AI_SDK_CALL_OPERATIONS, KEYS, LANGFUSE_CALL_TYPES, MASTRA_CALL_OPERATIONS, OPENINFERENCE_CALL_KINDS,
  TRACELOOP_REQUEST_TYPES,
} from './conventions.js';
import type { Attributes } from './span-record.js';

/** Operations a span name may start with (`chat gpt-4o`) when nothing else names it. */
const NAMED_OPERATIONS: ReadonlySet<string> = new Set([
  'chat', 'generate_content', 'text_completion', 'embeddings', 'image_generation', 'transcription', 'speech', 'realtime', 'rerank',
]);

const USAGE_HINT_KEYS = [...KEYS.inputTokens, ...KEYS.outputTokens, ...KEYS.totalTokens];

/**
 * The operation of the AI call a span records, or undefined when the span is not one call:
 * ordinary spans, and aggregates (agent, workflow and the `ai` SDK's outer spans) whose usage
 * repeats their children's. Ordered so a non-AI span is rejected after a few lookups.
 */
export function callOperation(attrs: Attributes, spanName: string): string | undefined {
  const aiSdk = attrs[KEYS.aiSdkOperationId];
  if (typeof aiSdk === 'string') return AI_SDK_CALL_OPERATIONS[aiSdk];

  const operation = attrs['gen_ai.operation.name'];
  if (typeof operation === 'string' && operation !== '') {
    if (AGGREGATE_OPERATIONS.has(operation)) return undefined;
    return attrs[KEYS.mastraSpanType] === undefined || MASTRA_CALL_OPERATIONS.has(operation) ? operation : undefined;
  }

  const oiKind = attrs[KEYS.openInferenceKind];
  if (typeof oiKind === 'string') return OPENINFERENCE_CALL_KINDS[oiKind.toUpperCase()];

  const langfuseType = attrs[KEYS.langfuseObservationType];
  if (typeof langfuseType === 'string') return LANGFUSE_CALL_TYPES[langfuseType];

  if (typeof attrs[KEYS.traceloopSpanKind] === 'string') return undefined;
  const requestType = attrs[KEYS.traceloopRequestType];
  if (typeof requestType === 'string') return TRACELOOP_REQUEST_TYPES[requestType] ?? requestType;

  // Hand-made or older spans: a model plus a token count is an AI call.
  if (!hasAny(attrs, KEYS.requestModel) && !hasAny(attrs, KEYS.responseModel)) return undefined;
  if (!hasAny(attrs, USAGE_HINT_KEYS)) return undefined;
  const first = spanName.slice(0, spanName.indexOf(' ') >>> 0);
  return NAMED_OPERATIONS.has(first) ? first : 'chat';
}

function hasAny(attrs: Attributes, keys: readonly string[]): boolean {
  for (const key of keys) if (attrs[key] !== undefined) return true;
  return false;
}

/**
 * Whether a span callOperation set aside belongs to an AI convention all the same (an aggregate:
 * agent, workflow, step and tool spans, the `ai` SDK's outer spans, Langfuse's other observations),
 * rather than being an ordinary span. Only counted, never mapped: its usage, if any, repeats its
 * children's calls.
 */
export function isAggregate(attrs: Attributes): boolean {
  return attrs[KEYS.aiSdkOperationId] !== undefined || attrs['gen_ai.operation.name'] !== undefined
    || attrs[KEYS.openInferenceKind] !== undefined || attrs[KEYS.traceloopSpanKind] !== undefined
    || attrs[KEYS.langfuseObservationType] !== undefined;
}
