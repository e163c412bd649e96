/**
 * What the report parsers share: reading report fields with one-line errors naming the item and
 * field, and folding results that land on the same bill line (same day, model, project, line item).
 */
import { addDec, formatDec, parseDecimal } from '../pricing/decimal.js';
import type { CostLine, UsageLine } from '../clickhouse/provider-bills.js';

/** Names the ledger's priced model for a provider's model name on a day ('' when none). */
export type PricedModelOf = (provider: string, model: string, day: string) => string;

export interface ParseContext {
  /** `api` or `file:<name>`. */
  source: string;
  pricedModelOf: PricedModelOf;
}

/** A report that does not read as documented: one line, naming where. */
export class ReportFormatError extends Error {
  override readonly name = 'ReportFormatError';
}

export type Fields = Record<string, unknown>;

export function asObject(value: unknown, where: string): Fields {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ReportFormatError(`${where}: expected an object`);
  return value as Fields;
}

export function asList(value: unknown, where: string): unknown[] {
  if (!Array.isArray(value)) throw new ReportFormatError(`${where}: expected a list`);
  return value;
}

/** A count: a non-negative integer; absent or null reads as 0. */
export function count(fields: Fields, name: string, where: string): number {
  const value = fields[name];
  if (value === undefined || value === null) return 0;
  const n = typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) throw new ReportFormatError(`${where}.${name}: expected a whole number, got ${JSON.stringify(value)}`);
  return n;
}

/** A string field; absent or null reads as ''. */
export function text(fields: Fields, name: string, where: string): string {
  const value = fields[name];
  if (value === undefined || value === null) return '';
  if (typeof value !== 'string') throw new ReportFormatError(`${where}.${name}: expected a string, got ${JSON.stringify(value)}`);
  return value;
}

/** `key=value` pairs of the groupings that are set, after the report's name: `completions batch=true`. */
export function lineItem(report: string, groupings: Record<string, unknown>): string {
  const parts = Object.entries(groupings).filter(([, v]) => v !== null && v !== undefined && v !== '').map(([k, v]) => `${k}=${String(v)}`);
  return [report, ...parts].join(' ');
}

const keyOf = (l: CostLine | UsageLine): string => JSON.stringify([l.day, l.model, l.project_id, l.line_item]);

/** Cost lines with one line per key (amounts added). */
export function foldCosts(lines: readonly CostLine[]): CostLine[] {
  const out = new Map<string, CostLine>();
  for (const line of lines) {
    const before = out.get(keyOf(line));
    out.set(keyOf(line), before ? { ...before, amount_usd: formatDec(addDec(parseDecimal(before.amount_usd), parseDecimal(line.amount_usd))) } : line);
  }
  return [...out.values()];
}

const USAGE_COUNTS = ['input_tokens', 'output_tokens', 'cache_read_tokens', 'cache_write_tokens', 'input_audio_tokens', 'output_audio_tokens'] as const;

/** Usage lines with one line per key (counts added). */
export function foldUsage(lines: readonly UsageLine[]): UsageLine[] {
  const out = new Map<string, UsageLine>();
  for (const line of lines) {
    const before = out.get(keyOf(line));
    if (!before) {
      out.set(keyOf(line), { ...line, units: { ...line.units } });
      continue;
    }
    for (const c of USAGE_COUNTS) before[c] += line[c];
    before.requests = before.requests === null || line.requests === null ? null : before.requests + line.requests;
    for (const [k, v] of Object.entries(line.units)) before.units[k] = (before.units[k] ?? 0) + v;
  }
  return [...out.values()];
}

/** `YYYY-MM-DD` of a Unix time in seconds. */
export function dayOfUnixSeconds(seconds: number): string {
  return new Date(seconds * 1000).toISOString().slice(0, 10);
}
