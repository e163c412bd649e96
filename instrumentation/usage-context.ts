import { context, propagation, type Context } from '@opentelemetry/api';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace-base';

/** Who and what an AI call is for. Every field is optional. */
export interface UsageContext {
  orgId?: string;
  userId?: string;
  feature?: string;
  conversationId?: string;
}

/** Baggage entries (and span attributes) carrying the usage context: our own keys, first in the mapper's lists. */
export const USAGE_CONTEXT_KEYS = {
  orgId: 'genai_ledger.org_id',
  userId: 'genai_ledger.user_id',
  feature: 'genai_ledger.feature',
  conversationId: 'genai_ledger.conversation_id',
} as const satisfies Record<keyof UsageContext, string>;

const FIELDS = Object.entries(USAGE_CONTEXT_KEYS) as Array<[keyof UsageContext, string]>;

/**
 * Runs `fn` with the usage context in OTel baggage, so every span started inside (and, through
 * W3C baggage propagation, in downstream services) carries it: no ids threaded through calls.
 * Nested calls add to or override the outer context.
 */
export function withUsageContext<T>(usage: UsageContext, fn: () => T): T {
  return context.with(contextWithUsage(usage), fn);
}

export function contextWithUsage(usage: UsageContext, parent: Context = context.active()): Context {
  let baggage = propagation.getBaggage(parent) ?? propagation.createBaggage();
  for (const [field, key] of FIELDS) {
    const value = usage[field];
    if (value !== undefined && value !== '') baggage = baggage.setEntry(key, { value });
  }
  return propagation.setBaggage(parent, baggage);
}

/** Copies the usage context from baggage onto every span as it starts. */
export class UsageContextSpanProcessor implements SpanProcessor {
  onStart(span: Span, parentContext: Context): void {
    const baggage = propagation.getBaggage(parentContext);
    if (!baggage) return;
    for (const [, key] of FIELDS) {
      const entry = baggage.getEntry(key);
      if (entry) span.setAttribute(key, entry.value);
    }
  }

  onEnd(_span: ReadableSpan): void {}

  forceFlush(): Promise<void> {
    return Promise.resolve();
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}
