import { AliasIndex, type FoundFields } from './alias-index.js';
import { firstString, MalformedSpanError, toQuantity } from './attribute-read.js';
import { DEFAULT_ATTRIBUTION_KEYS, type AttributionKeys } from './attribution.js';
import { callOperation, isAggregate } from './classify.js';
import { AI_SDK_OTEL_SCOPE, EXCLUSIVE_INPUT_SCOPES, FRAMEWORK_CALL_SCOPES, KEYS, LEDGER_USAGE_PREFIX } from './conventions.js';
import { formatNumber } from '../pricing/decimal.js';
import { readLangfuseCost, readLangfuseUsage } from './langfuse-usage.js';
import type { PriceBook, PriceQuote, PricingUsage } from '../pricing/index.js';
import { normalizeProvider } from './provider-name.js';
import { FIELD, spanFieldSpecs } from './span-fields.js';
import { STATUS_ERROR, type Attributes, type SpanRecord } from './span-record.js';
import { StoredAttributes } from './stored-attributes.js';
import { formatMicros, MAX_UNIX_MICROS } from './time.js';
import { readTokens, type TokenCounts } from './tokens.js';
import type { UsageRow } from './usage-row.js';

export interface MapperOptions {
  /** Prices calls; without it every row has `cost_usd` null (priceable later with `reprice`). */
  prices?: PriceBook;
  /** Replaces the default key list of each field given. */
  attribution?: Partial<AttributionKeys>;
  /**
   * Span or resource attributes copied into `attributes`: exact keys, prefixes as `prefix.*`, or
   * `*` for every known non-content key. Content is never copied (the rule: stored-attributes.ts).
   */
  attributeAllowList?: readonly string[];
  /** Longer attribute values are cut to this many characters. Default 256. */
  maxAttributeLength?: number;
  /** Use a span's own cost (`gen_ai.usage.cost`, `llm.cost.total`, Langfuse's `cost_details`) when no price is known. Default false. */
  trustReportedCost?: boolean;
  /**
   * Model calls a framework instrumentation or wrapper records (LangChain's, Langfuse's generations;
   * FRAMEWORK_CALL_SCOPES): `calls` (default) makes them rows; `wrappers` counts them as aggregates,
   * for apps that also run the provider SDK's instrumentation, whose span of the same call is then
   * the row (one call, one row).
   */
  frameworkSpans?: 'calls' | 'wrappers';
}

export const DEFAULT_MAX_ATTRIBUTE_LENGTH = 256;
/** Key under which a span's self-reported cost is kept in `usage_details`. */
export const REPORTED_COST_KEY = 'reported_cost_usd';
/** How many malformed-span reasons a batch result keeps (the count is always exact). */
const MAX_ERRORS_KEPT = 10;

export interface MapResult {
  rows: UsageRow[];
  /** Spans that are not AI calls (or are aggregates of them). */
  skipped: number;
  /** Of those, the aggregates (agent, workflow, step, tool and the `ai` SDK's outer spans). */
  aggregates: number;
  malformed: number;
  unpriced: number;
  /** First few reasons, `span <id>: <reason>`. */
  errors: string[];
}

/** Token counts of one call, in semantic-convention meaning (what a usage row stores). */
export type CallTokens = Pick<TokenCounts, 'input' | 'output' | 'cacheRead' | 'cacheWrite' | 'reasoning' | 'inputAudio' | 'outputAudio'>;

/** What pricing needs to know about one call: the mapper builds it from a span, `reprice` from a stored row. */
export interface CallToPrice {
  provider: string;
  responseModel: string;
  requestModel: string;
  atUnixMicros: number;
  tokens: CallTokens;
  /** Other billed units (`credits`, `audio_seconds`, ...) and `reported_cost_usd`. */
  details: Readonly<Record<string, number>>;
}

export type PricedCall = Pick<PriceQuote, 'costUsd' | 'breakdown' | 'pricedModel' | 'source'>;

/** The usage a price book quotes: the details plus every token kind under the catalog's usage keys. */
export function pricingUsage(tokens: CallTokens, details: Readonly<Record<string, number>>): PricingUsage {
  const usage = {
    input_tokens: tokens.input,
    output_tokens: tokens.output,
    cache_read_tokens: tokens.cacheRead,
    cache_write_tokens: tokens.cacheWrite,
    output_reasoning_tokens: tokens.reasoning,
    input_audio_tokens: tokens.inputAudio,
    output_audio_tokens: tokens.outputAudio,
  };
  // The common case (no billed units besides tokens) spreads nothing; token kinds win over details.
  return hasKeys(details) ? { ...details, ...usage } : usage;
}

/**
 * Prices one call: the response model first, then the request model (when the response model has
 * no price, or an override names the request model); with `trustReportedCost`, a span's own
 * reported cost when no price is known. Null = unpriced. The one pricing rule of the ledger,
 * shared by the mapper and `reprice`.
 */
export function priceCall(prices: PriceBook | undefined, call: CallToPrice, trustReportedCost = false): PricedCall | null {
  const { provider, responseModel, requestModel, atUnixMicros } = call;
  const usage = pricingUsage(call.tokens, call.details);
  if (prices) {
    const model = responseModel || requestModel;
    const quote = prices.quote({ provider, model, atUnixMicros, usage });
    // An override named by the request model (`gpt-4o`) wins over the catalog's price for the
    // dated response model (`gpt-4o-2024-08-06`); without overrides the second lookup is skipped.
    const catalog = prices.catalogVersion;
    if (requestModel !== '' && requestModel !== model && (quote === null || (prices.hasOverrides && quote.source === catalog))) {
      const byRequest = prices.quote({ provider, model: requestModel, atUnixMicros, usage });
      if (byRequest && (quote === null || byRequest.source !== catalog)) return byRequest;
    }
    if (quote) return quote;
  }
  const reported = call.details[REPORTED_COST_KEY];
  if (trustReportedCost && reported !== undefined) {
    return { costUsd: formatNumber(reported), breakdown: {}, pricedModel: '', source: 'span' };
  }
  return null;
}

/** Span → usage row. Pure apart from the price book's lookup cache. */
export class UsageMapper {
  private readonly prices: PriceBook | undefined;
  private readonly fields: AliasIndex;
  /** The current span's fields (map() is synchronous: one holder serves every span). */
  private readonly found: FoundFields;
  /** Resources repeat from span to span (one per batch or per app): their fields are read once. */
  private readonly resourceFields = new WeakMap<Attributes, FoundFields>();
  /** Undefined without an allow-list: no row copies any attribute. */
  private readonly stored: StoredAttributes | undefined;
  private readonly maxAttributeLength: number;
  private readonly trustReportedCost: boolean;
  private readonly frameworkWrappers: boolean;

  constructor(options: MapperOptions = {}) {
    this.prices = options.prices;
    const attribution = { ...DEFAULT_ATTRIBUTION_KEYS, ...options.attribution };
    this.fields = new AliasIndex(spanFieldSpecs(attribution), LEDGER_USAGE_PREFIX);
    this.found = this.fields.found();
    const allow = options.attributeAllowList ?? [];
    this.stored = allow.length === 0 ? undefined : new StoredAttributes(allow, attribution);
    this.maxAttributeLength = options.maxAttributeLength ?? DEFAULT_MAX_ATTRIBUTE_LENGTH;
    this.trustReportedCost = options.trustReportedCost ?? false;
    this.frameworkWrappers = options.frameworkSpans === 'wrappers';
  }

  /** Maps a batch; a malformed span is counted and skipped, the rest still map. */
  mapAll(spans: Iterable<SpanRecord>): MapResult {
    const result: MapResult = { rows: [], skipped: 0, aggregates: 0, malformed: 0, unpriced: 0, errors: [] };
    for (const span of spans) {
      try {
        const row = this.map(span);
        if (row === undefined) {
          result.skipped++;
          if (isAggregate(span.attributes)) result.aggregates++;
        } else {
          result.rows.push(row);
          if (row.cost_usd === null) result.unpriced++;
        }
      } catch (error) {
        result.malformed++;
        if (result.errors.length < MAX_ERRORS_KEPT) {
          result.errors.push(`span ${String(span?.spanId)}: ${error instanceof Error ? error.message : String(error)}`);
        }
      }
    }
    return result;
  }

  /** The row for one AI call, undefined for any other span; throws `MalformedSpanError`. */
  map(span: SpanRecord): UsageRow | undefined {
    const attrs = span.attributes;
    const operation = callOperation(attrs, span.name);
    if (operation === undefined) return undefined;
    if (this.frameworkWrappers && FRAMEWORK_CALL_SCOPES.has(span.scopeName)) return undefined;
    validateSpan(span);

    const resource = span.resource;
    const found = this.fields.read(attrs, this.found);
    const fromResource = this.resourceFieldsOf(resource);
    const rawProvider = found.string(FIELD.provider) ?? '';
    const provider = rawProvider === '' ? '' : normalizeProvider(rawProvider);
    const requestModel = found.string(FIELD.requestModel) ?? '';
    const responseModel = found.string(FIELD.responseModel) ?? '';
    let tokens = readTokens(found, isExclusiveInput(span.scopeName, provider));
    let oneHour = found.count(FIELD.cacheWrite1hTokens);
    // Langfuse's observations carry their usage as one JSON object instead of counts.
    const langfuseUsage = tokens.reported ? undefined : found.string(FIELD.langfuseUsage);
    if (langfuseUsage !== undefined) ({ tokens, cacheWrite1h: oneHour } = readLangfuseUsage(KEYS.langfuseUsageDetails[0], langfuseUsage));
    const details = readUsageDetails(attrs, found, oneHour);
    const error = errorType(span, found);
    // A successful call that reported no usage at all (a stream without include_usage) cost
    // something unknown: leave it unpriced rather than claim $0.
    const usageKnown = tokens.reported || error !== '' || hasKeys(details);
    // Except the `ai` SDK 7's embed/embedMany operation span: named like the embeddings calls it
    // wraps, it never carries their usage.
    if (!usageKnown && operation === 'embeddings' && span.scopeName === AI_SDK_OTEL_SCOPE) return undefined;
    const priced = usageKnown
      ? priceCall(this.prices, { provider, responseModel, requestModel, atUnixMicros: span.startUnixMicros, tokens, details }, this.trustReportedCost)
      : null;

    return {
      ts: formatMicros(span.startUnixMicros),
      trace_id: span.traceId,
      span_id: span.spanId,
      parent_span_id: span.parentSpanId,
      duration_ms: (span.endUnixMicros - span.startUnixMicros) / 1000,
      service_name: stringOf(resource[KEYS.serviceName]),
      environment: fromResource.string(FIELD.environment) ?? '',
      provider,
      operation,
      request_model: requestModel,
      response_model: responseModel,
      priced_model: priced?.pricedModel ?? '',
      // Attribution: the span's value wins over the resource's.
      org_id: found.string(FIELD.org) ?? fromResource.string(FIELD.org) ?? '',
      user_id: found.string(FIELD.user) ?? fromResource.string(FIELD.user) ?? '',
      feature: found.string(FIELD.feature) ?? fromResource.string(FIELD.feature) ?? '',
      conversation_id: found.string(FIELD.conversation) ?? fromResource.string(FIELD.conversation) ?? '',
      input_tokens: tokens.input,
      output_tokens: tokens.output,
      cache_read_tokens: tokens.cacheRead,
      cache_write_tokens: tokens.cacheWrite,
      reasoning_tokens: tokens.reasoning,
      input_audio_tokens: tokens.inputAudio,
      output_audio_tokens: tokens.outputAudio,
      usage_details: details,
      cost_usd: priced?.costUsd ?? null,
      cost_breakdown: priced?.breakdown ?? {},
      price_source: priced?.source ?? '',
      error_type: error,
      instrumentation: span.scopeName,
      attributes: this.allowedAttributes(attrs, resource),
    };
  }

  private resourceFieldsOf(resource: Attributes): FoundFields {
    let found = this.resourceFields.get(resource);
    if (found === undefined) this.resourceFields.set(resource, (found = this.fields.read(resource, this.fields.found())));
    return found;
  }

  private allowedAttributes(attrs: Attributes, resource: Attributes): Record<string, string> {
    const out: Record<string, string> = {};
    const stored = this.stored;
    if (stored === undefined) return out;
    this.copyAllowed(stored, resource, out);
    this.copyAllowed(stored, attrs, out);
    return out;
  }

  private copyAllowed(stored: StoredAttributes, attrs: Attributes, out: Record<string, string>): void {
    for (const key in attrs) {
      if (!stored.allows(key)) continue;
      const value = attrs[key];
      if (value === undefined) continue;
      const text = typeof value === 'string' ? value : JSON.stringify(value);
      out[key] = text.length > this.maxAttributeLength ? text.slice(0, this.maxAttributeLength) : text;
    }
  }
}

function validateSpan(span: SpanRecord): void {
  const { startUnixMicros: start, endUnixMicros: end } = span;
  if (!(start > 0 && start < MAX_UNIX_MICROS)) throw new MalformedSpanError(`invalid start time (${start})`);
  if (!(end >= start && end < MAX_UNIX_MICROS)) throw new MalformedSpanError(`end time before start time`);
}

function isExclusiveInput(scopeName: string, provider: string): boolean {
  const providers = EXCLUSIVE_INPUT_SCOPES[scopeName];
  return providers !== undefined && providers.includes(provider);
}

/** Key of the 1-hour cache writes in `usage_details` (the catalog's unit, priced inside cache_write_tokens). */
export const CACHE_WRITE_1H_KEY = 'cache_write_1h_tokens';

/** Billed units other than tokens (1-hour cache writes among them), plus a span's self-reported cost. */
function readUsageDetails(attrs: Attributes, found: FoundFields, oneHour: number | undefined): Record<string, number> {
  const details: Record<string, number> = {};
  if (oneHour) details[CACHE_WRITE_1H_KEY] = oneHour;
  if (found.prefixed) {
    for (const key in attrs) {
      if (key.startsWith(LEDGER_USAGE_PREFIX)) details[key.slice(LEDGER_USAGE_PREFIX.length)] = toQuantity(key, attrs[key]);
    }
  }
  const langfuseCost = found.string(FIELD.langfuseCost);
  const reported = found.quantity(FIELD.reportedCost)
    ?? (langfuseCost === undefined ? undefined : readLangfuseCost(KEYS.langfuseCostDetails[0], langfuseCost));
  if (reported !== undefined) details[REPORTED_COST_KEY] = reported;
  return details;
}

function errorType(span: SpanRecord, found: FoundFields): string {
  const declared = found.string(FIELD.errorType);
  if (declared !== undefined) return declared;
  // Langfuse marks a failed call by its level (no error type: the semconv fallback `_OTHER`).
  if (span.statusCode !== STATUS_ERROR) return found.string(FIELD.langfuseLevel) === 'ERROR' ? '_OTHER' : '';
  for (const event of span.events) {
    if (event.name !== 'exception' || !event.attributes) continue;
    const type = firstString(event.attributes, ['exception.type']);
    if (type !== undefined) return type;
  }
  return '_OTHER';
}

function hasKeys(record: Record<string, unknown>): boolean {
  for (const _ in record) return true;
  return false;
}

function stringOf(value: unknown): string {
  return typeof value === 'string' ? value : value === undefined ? '' : String(value);
}
