import type { MatchLogic } from '@pydantic/genai-prices';
import type { LoadPriceBookOptions } from './price-book.js';

/**
 * Usage of one call. Standard keys follow the catalog's units: input_tokens (ALL input, cached
 * included), output_tokens (reasoning included), cache_read_tokens, cache_write_tokens,
 * cache_write_1h_tokens, output_reasoning_tokens, input_audio_tokens, output_audio_tokens,
 * cache_audio_read_tokens, input_image_tokens, web_searches, audio_seconds, input_audio_seconds,
 * requests, input_characters, ... Any other key (credits, images) is priced only by an override's `units`.
 */
export type PricingUsage = Readonly<Record<string, number | undefined>>;

export interface PriceQuery {
  /** OTel `gen_ai.provider.name` value (`openai`, `aws.bedrock`, `gcp.vertex_ai`, ...), a catalog id, or '' when unknown. */
  provider: string;
  model: string;
  /** When the call happened: picks the price in force (price history, time-of-day discounts). */
  atUnixMicros: number;
  usage: PricingUsage;
}

export interface PriceQuote {
  /** Exact decimal USD: no exponent, no trailing zeros, '0' for zero. */
  costUsd: string;
  /** Usage key → exact decimal cost of that component (components with a zero count are left out). */
  breakdown: Record<string, string>;
  /** `${providerId}/${modelId}` of the price entry used. */
  pricedModel: string;
  /** `genai-prices@<version>` or `override:<basename of file>`. */
  source: string;
  /** Why the quote may be off: inconsistent or invalid usage, a price found under another provider, ... */
  warnings: string[];
}

export interface PriceListRow {
  source: string;
  provider_id: string;
  model_id: string;
  /** JSON of the MatchLogic, or the exact id of an override. */
  model_match: string;
  /** `YYYY-MM-DD`, `1970-01-01` when the price has no start date. */
  effective_from: string;
  /** `HH:MM:SS-HH:MM:SS` (UTC) for a time-of-day price, else ''. */
  time_of_day: string;
  price_key: string;
  /** Usage key the price applies to. */
  unit: string;
  per: number;
  /** Exact decimal base price (USD per `per` units). */
  price: string;
  tiers: Array<{ start: number; price: string }>;
}

export interface PriceBook {
  /** Prices one call; null when no price is known. Synchronous, cached, never throws on bad usage numbers. */
  quote(q: PriceQuery): PriceQuote | null;
  /** `genai-prices@<version>` of the bundled catalog. */
  readonly catalogVersion: string;
  /** Whether an overrides file or object was loaded. */
  readonly hasOverrides: boolean;
  /** The options loadPriceBook was given, to load the same book again on another thread; absent for a book made otherwise. */
  readonly loadOptions?: LoadPriceBookOptions;
  /** Every price the book knows (catalog and overrides), one row per price key and period. */
  listPrices(): PriceListRow[];
  /** Every price entry that could price this model, and which one is in force at the time; null when none. */
  describe(q: Omit<PriceQuery, 'usage'>): PriceDescription | null;
}

/** One price of a price entry: `price` USD per `per` units of `unit`, tiered by the call's input tokens. */
export type PriceEntryPrice = Pick<PriceListRow, 'price_key' | 'unit' | 'per' | 'price' | 'tiers'>;

/** One price list of a model: an override entry, or one period / time-of-day variant of the catalog's. */
export interface PriceEntry {
  /** `genai-prices@<version>` or `override:<file>`. */
  source: string;
  /** `provider/model` this entry prices as. */
  pricedModel: string;
  /** `YYYY-MM-DD` the entry starts, `1970-01-01` = always. */
  effectiveFrom: string;
  /** `HH:MM:SS-HH:MM:SS` (UTC) for a time-of-day price, else ''. */
  timeOfDay: string;
  /** The entry `quote` would use at the time asked about. */
  inForce: boolean;
  prices: PriceEntryPrice[];
}

export interface PriceDescription {
  /** `provider/model` of the entry in force. */
  pricedModel: string;
  /** Source of the entry in force. */
  source: string;
  /** Catalog facts about the model, when the catalog knows it. */
  catalog?: { providerId: string; modelId: string; name?: string; contextWindow?: number; deprecated?: boolean; comments?: string };
  /** How the model was found (another provider's price list, unknown provider name, ...). */
  warnings: string[];
  /** Overrides first (most specific, then latest first), then the catalog's entries in catalog order. */
  entries: PriceEntry[];
}

/** A price as written in an override: number, decimal string, or tiered by total input tokens. */
export type OverridePrice = number | string | { base: number | string; tiers: Array<{ start: number; price: number | string }> };

export interface OverrideModel {
  /** OTel provider name or catalog id; omitted = any provider. */
  provider?: string;
  /** Exact model id (case-insensitive). Exactly one of model / match. */
  model?: string;
  /** Catalog MatchLogic. */
  match?: MatchLogic;
  /** `YYYY-MM-DD` (UTC); omitted = always. Several entries for one model form a price history. */
  effective_from?: string;
  /** Catalog price keys (input_mtok, output_mtok, cache_read_mtok, ...). */
  prices?: Record<string, OverridePrice>;
  /** USD per ONE unit of a usage key (credits, images, audio_seconds, ...). */
  units?: Record<string, number | string>;
}

export interface PriceOverrides {
  models: OverrideModel[];
}

/** A bad overrides file or object: one line naming the file and the entry. */
export class PriceConfigError extends Error {
  override readonly name = 'PriceConfigError';
}
