/**
 * Spans → a MappedBatch: mapped, priced, serialized and hashed, as the mapping thread answers
 * both ways in (the exporter's packed spans, the collector's OTLP requests).
 */
import type { MappedBatch } from './ledger.js';
import type { UsageMapper } from '../usage/mapper.js';
import type { SpanRecord } from '../usage/span-record.js';
import { chunkOfLines } from '../clickhouse/row-chunk.js';
import { serializeRows } from '../clickhouse/serialize.js';

/** `orgId`, when given (a collector token bound to a tenant), wins over what the spans claim. */
export function mapBatch(mapper: UsageMapper, records: readonly SpanRecord[], orgId?: string): MappedBatch {
  const result = mapper.mapAll(records);
  if (orgId !== undefined) for (const row of result.rows) row.org_id = orgId;
  const { lines, unserializable } = serializeRows(result.rows);
  return {
    spans: records.length, skipped: result.skipped, aggregates: result.aggregates, malformed: result.malformed, unpriced: result.unpriced,
    errors: result.errors, chunk: chunkOfLines(lines, true), unserializable,
  };
}
