/** genai-ledger's public API. */
export { UsageMapper, REPORTED_COST_KEY, type MapperOptions, type MapResult } from './usage/mapper.js';
export { DEFAULT_ATTRIBUTION_KEYS, type AttributionKeys } from './usage/attribution.js';
export { fromReadableSpan } from './exporter/readable-span.js';
export type { SpanRecord, Attributes, AttributeValue } from './usage/span-record.js';
export { USAGE_COLUMNS, type UsageRow } from './usage/usage-row.js';
export { loadPriceBook, PriceConfigError, type PriceBook, type PriceQuote, type PriceQuery } from './pricing/index.js';
export { GenAiLedgerExporter, type GenAiLedgerExporterOptions, type ExporterStats } from './exporter/span-exporter.js';
export { Ledger, type LedgerOptions, type LedgerStats, type IngestResult } from './delivery/ledger.js';
export { register, withUsageContext, recordUsage, UsageContextSpanProcessor } from './instrumentation/index.js';
