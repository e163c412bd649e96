/**
 * UsageRow → one JSONCompactEachRow line (`[v1,v2,...]`, values in USAGE_COLUMNS order; the
 * writer joins lines with '\n').
 *
 * JSON.stringify of an array literal: measured against JSON.stringify(row) (JSONEachRow, more
 * bytes and slower for ClickHouse to parse), JSON.stringify(USAGE_COLUMNS.map(...)) (the client's
 * JSONCompactEachRow path: an extra closure call and array per row) and a hand-rolled string
 * concatenation (slower: V8 builds a rope of ~90 pieces per row that must be flattened later, and
 * ropes held in a queue cost several times the memory). The result is a flat string, so queue
 * byte accounting is its length (+1 for the newline).
 * Decimals (cost_usd, cost_breakdown values) stay strings: ClickHouse parses a quoted decimal
 * into Decimal(38, 18) exactly. NaN/Infinity become null (the column default), as in JSON.
 */
import { USAGE_COLUMNS, type UsageRow } from '../usage/usage-row.js';

/** One row as a JSONCompactEachRow line, without the newline. Must list USAGE_COLUMNS in order. */
export function serializeRow(r: UsageRow): string {
  return (
    JSON.stringify([
      r.ts, r.trace_id, r.span_id, r.parent_span_id, r.duration_ms, r.service_name, r.environment,
      r.provider, r.operation, r.request_model, r.response_model, r.priced_model,
      r.org_id, r.user_id, r.feature, r.conversation_id,
      r.input_tokens, r.output_tokens, r.cache_read_tokens, r.cache_write_tokens, r.reasoning_tokens,
      r.input_audio_tokens, r.output_audio_tokens, r.usage_details,
      r.cost_usd, r.cost_breakdown, r.price_source, r.error_type, r.instrumentation, r.attributes,
    ])
  );
}

/** Rows as lines; a row that cannot be serialized is set aside with the reason, the rest still go. */
export function serializeRows(rows: readonly UsageRow[]): { lines: string[]; unserializable: Array<{ row: UsageRow; reason: string }> } {
  const lines: string[] = [];
  const unserializable: Array<{ row: UsageRow; reason: string }> = [];
  for (const row of rows) {
    try {
      lines.push(serializeRow(row));
    } catch (error) {
      unserializable.push({ row, reason: error instanceof Error ? error.message : String(error) });
    }
  }
  return { lines, unserializable };
}

/** The row a serialized line came from (for onReject, which is off the hot path). */
export function parseRow(line: string): UsageRow {
  const values = JSON.parse(line) as unknown[];
  const row: Record<string, unknown> = {};
  USAGE_COLUMNS.forEach((column, i) => {
    row[column] = values[i];
  });
  return row as unknown as UsageRow;
}

/** `INSERT INTO <table> (<USAGE_COLUMNS>) FORMAT JSONCompactEachRow`. */
export function insertStatement(table: string): string {
  return `INSERT INTO ${table} (${USAGE_COLUMNS.join(', ')}) FORMAT JSONCompactEachRow`;
}
