/** Pricing: OTel GenAI usage → exact USD, from the @pydantic/genai-prices catalog plus local overrides. */
export { loadPriceBook, RESOLUTION_CACHE_LIMIT, type LoadPriceBookOptions } from './price-book.js';
export {
  PriceConfigError,
  type OverrideModel, type OverridePrice, type PriceBook, type PriceListRow, type PriceOverrides, type PriceQuery, type PriceQuote,
  type PricingUsage,
} from './types.js';
export { UNITS, type UnitDef } from './units.js';
