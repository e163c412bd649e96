import { SpanKind, SpanStatusCode, trace, type Attributes } from '@opentelemetry/api';
import { LEDGER_USAGE_PREFIX } from '../usage/conventions.js';
import { contextWithUsage, usageAttributes, type UsageContext } from './usage-context.js';

/** One AI call no instrumentation covers: a credit-billed API, a transcription, a realtime voice turn. */
export interface RecordedUsage extends UsageContext {
  /** OTel provider name (`openai`, `anthropic`, ...) or the service's own (`firecrawl`). */
  provider: string;
  model: string;
  /** `chat`, `embeddings`, `transcription`, `realtime`, `image_generation`, `scrape`, ... Default `chat`. */
  operation?: string;
  inputTokens?: number;
  outputTokens?: number;
  cacheReadTokens?: number;
  cacheWriteTokens?: number;
  reasoningTokens?: number;
  inputAudioTokens?: number;
  outputAudioTokens?: number;
  /** Other billed units: `{ credits: 5 }`, `{ audio_seconds: 12.5 }`, `{ images: 2 }`, `{ web_searches: 1 }`. */
  units?: Record<string, number>;
  /** When the call started (default: now minus `durationMs`) and how long it took. */
  startTime?: Date;
  durationMs?: number;
  /** Set for a failed call (`RateLimitError`, `500`, ...). */
  errorType?: string;
}

const TRACER_NAME = 'genai-ledger';

/**
 * Emits the call as a GenAI semantic-convention span, so it takes the same path as instrumented
 * calls (exporter or collector). Never throws: bad numbers are the mapper's to count.
 */
export function recordUsage(usage: RecordedUsage): void {
  const operation = usage.operation ?? 'chat';
  const attributes: Attributes = {
    'gen_ai.operation.name': operation,
    'gen_ai.provider.name': usage.provider,
    'gen_ai.request.model': usage.model,
  };
  const counts: Array<[string, number | undefined]> = [
    ['gen_ai.usage.input_tokens', usage.inputTokens],
    ['gen_ai.usage.output_tokens', usage.outputTokens],
    ['gen_ai.usage.cache_read.input_tokens', usage.cacheReadTokens],
    ['gen_ai.usage.cache_creation.input_tokens', usage.cacheWriteTokens],
    ['gen_ai.usage.reasoning.output_tokens', usage.reasoningTokens],
    ['gen_ai.usage.audio.input_tokens', usage.inputAudioTokens],
    ['gen_ai.usage.audio.output_tokens', usage.outputAudioTokens],
  ];
  for (const [key, value] of counts) if (value !== undefined) attributes[key] = value;
  for (const [unit, value] of Object.entries(usage.units ?? {})) attributes[`${LEDGER_USAGE_PREFIX}${unit}`] = value;
  if (usage.errorType) attributes['error.type'] = usage.errorType;
  // The active usage context with this call's fields over it, set directly too: for SDK setups
  // without the UsageContextSpanProcessor.
  const ctx = contextWithUsage(usage);
  Object.assign(attributes, usageAttributes(ctx));

  const duration = usage.durationMs ?? 0;
  const start = usage.startTime ?? new Date(Date.now() - duration);
  const span = trace.getTracer(TRACER_NAME).startSpan(
    `${operation} ${usage.model}`,
    { kind: SpanKind.CLIENT, attributes, startTime: start },
    ctx,
  );
  if (usage.errorType) span.setStatus({ code: SpanStatusCode.ERROR, message: usage.errorType });
  span.end(new Date(start.getTime() + duration));
}
