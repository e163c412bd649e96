import { context, createContextKey, propagation, type Attributes, type Baggage, type Context } from '@opentelemetry/api';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace-base';

/** Who and what an AI call is for. Every field is optional. */
export interface UsageContext {
  orgId?: string;
  userId?: string;
  feature?: string;
  conversationId?: string;
}

/** Span attributes (and, when propagated, baggage entries) carrying the usage context: our own keys, first in the mapper's lists. */
export const USAGE_CONTEXT_KEYS = {
  orgId: 'genai_ledger.org_id',
  userId: 'genai_ledger.user_id',
  feature: 'genai_ledger.feature',
  conversationId: 'genai_ledger.conversation_id',
} as const satisfies Record<keyof UsageContext, string>;

export type UsageContextKey = (typeof USAGE_CONTEXT_KEYS)[keyof UsageContext];

const FIELDS = Object.entries(USAGE_CONTEXT_KEYS) as Array<[keyof UsageContext, UsageContextKey]>;
const KEYS: readonly string[] = Object.values(USAGE_CONTEXT_KEYS);

export interface UsageContextOptions {
  /**
   * Also send the context to downstream services as W3C baggage (`genai_ledger.*` entries), for
   * receivers that trust it (`trustBaggage`). Inherited by nested calls; `false` stops it there.
   * Default: inherited, else false (the context stays in this process).
   */
  propagate?: boolean;
}

/** What the ledger keeps in the OTel context: its own key, which no inbound request can set. */
interface LedgerContext {
  usage: Readonly<UsageContext>;
  /** The same as span attributes, built once per context rather than once per span. */
  attributes: Readonly<Attributes>;
  propagate: boolean;
}

const LEDGER_CONTEXT = createContextKey('genai-ledger usage context');

/**
 * Runs `fn` with the usage context, so every span started inside carries it: no ids threaded
 * through calls. Nested calls add to or override the outer context (empty values are ignored).
 * It stays in this process unless `{ propagate: true }`.
 */
export function withUsageContext<T>(usage: UsageContext, fn: () => T, options?: UsageContextOptions): T {
  return context.with(contextWithUsage(usage, context.active(), options), fn);
}

/** `parent` with `usage` added, as `withUsageContext` runs it. */
export function contextWithUsage(usage: UsageContext, parent: Context = context.active(), options: UsageContextOptions = {}): Context {
  const outer = ledgerContext(parent);
  const merged: UsageContext = { ...outer?.usage };
  for (const [field] of FIELDS) {
    const value = usage[field];
    if (value !== undefined && value !== '') merged[field] = value;
  }
  const propagate = options.propagate ?? outer?.propagate ?? false;
  const attributes: Attributes = {};
  for (const [field, key] of FIELDS) if (merged[field] !== undefined) attributes[key] = merged[field];
  const ledger: LedgerContext = { usage: Object.freeze(merged), attributes: Object.freeze(attributes), propagate };
  let next = parent.setValue(LEDGER_CONTEXT, ledger);
  if (propagate) next = propagation.setBaggage(next, withEntries(propagation.getBaggage(parent), merged));
  else if (options.propagate === false) next = withoutEntries(next);
  return next;
}

/** The usage context set by `withUsageContext` in `ctx` (never read from inbound baggage). */
export function getUsageContext(ctx: Context = context.active()): Readonly<UsageContext> | undefined {
  return ledgerContext(ctx)?.usage;
}

/** The usage context of `ctx` as span attributes (`genai_ledger.*`); empty outside `withUsageContext`. */
export function usageAttributes(ctx: Context = context.active()): Readonly<Attributes> {
  return ledgerContext(ctx)?.attributes ?? {};
}

function ledgerContext(ctx: Context): LedgerContext | undefined {
  return ctx.getValue(LEDGER_CONTEXT) as LedgerContext | undefined;
}

function withEntries(baggage: Baggage | undefined, usage: UsageContext): Baggage {
  let next = baggage ?? propagation.createBaggage();
  for (const [field, key] of FIELDS) {
    const value = usage[field];
    if (value !== undefined) next = next.setEntry(key, { value });
  }
  return next;
}

function withoutEntries(ctx: Context): Context {
  const baggage = propagation.getBaggage(ctx);
  return baggage ? propagation.setBaggage(ctx, baggage.removeEntries(...KEYS)) : ctx;
}

export interface UsageContextSpanProcessorOptions {
  /**
   * Also take attribution from inbound W3C baggage (`genai_ledger.*` entries) where the ledger's own
   * context has no value: true for every key, or the keys to trust. Default false.
   *
   * Risk: anyone who can send a request to this service can then set these entries and bill their
   * AI spend to another tenant, user or feature. Enable it only behind a trusted gateway that strips
   * or sets the `baggage` header of every inbound request, and list only the keys it controls.
   */
  trustBaggage?: boolean | readonly UsageContextKey[];
}

/** Copies the usage context (and, when trusted, inbound baggage) onto every span as it starts. */
export class UsageContextSpanProcessor implements SpanProcessor {
  private readonly trusted: ReadonlyArray<[keyof UsageContext, UsageContextKey]>;

  constructor(options: UsageContextSpanProcessorOptions = {}) {
    this.trusted = trustedFields(options.trustBaggage ?? false);
  }

  onStart(span: Span, parentContext: Context): void {
    const ledger = ledgerContext(parentContext);
    if (ledger) span.setAttributes(ledger.attributes);
    if (this.trusted.length === 0) return;
    const baggage = propagation.getBaggage(parentContext);
    if (!baggage) return;
    for (const [field, key] of this.trusted) {
      if (ledger?.usage[field] !== undefined) continue;
      const entry = baggage.getEntry(key);
      if (entry && entry.value !== '') span.setAttribute(key, entry.value);
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

function trustedFields(trust: boolean | readonly UsageContextKey[]): Array<[keyof UsageContext, UsageContextKey]> {
  if (typeof trust === 'boolean') return trust ? FIELDS : [];
  const unknown = trust.filter((key) => !KEYS.includes(key)); // JavaScript callers and parsed config
  if (unknown.length > 0) {
    throw new Error(`trustBaggage: unknown key ${unknown.map((k) => `'${k}'`).join(', ')} (expected some of ${KEYS.join(', ')})`);
  }
  return FIELDS.filter(([, key]) => trust.includes(key));
}
