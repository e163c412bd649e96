/**
 * Re-pricing stored calls after prices change (a new overrides file, a newer catalog), or for calls
 * that were unpriced when they arrived (a model the catalog did not know yet).
 *
 * Rows are read from `ai_usage_exact` (one row per call, the latest delivery) in chunks, in
 * (ts, trace_id, span_id) order with a keyset cursor, priced again with the same rule the mapper
 * uses (`priceCall` in usage/mapper.ts), and written back whole with the same (trace_id,
 * span_id). ai_usage is a ReplacingMergeTree versioned by `inserted_at`, which the server sets on
 * insert, so the rewritten row supersedes the old one (at once through `ai_usage_exact`, physically
 * at the next merge), and the rollup refresh picks its hour up as dirty.
 *
 * Idempotent: a row whose cost, breakdown, price source and priced model would not change is not
 * written, so a second run with the same prices writes nothing. Two rules keep a re-price from
 * destroying information: a priced row that the current prices cannot price keeps its cost (it was
 * priced by an override or a span's own cost this run does not have), and an unpriced row that
 * reported no usage at all (a stream without usage) stays unpriced rather than become $0.
 *
 * Every insert carries a fresh deduplication token: re-pricing A → B → A writes a block identical
 * to an earlier one, which the table's deduplication window would otherwise silently drop.
 */
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import type { ClickHouseClient } from '@clickhouse/client';
import { priceCall, type PricedCall } from '../usage/mapper.js';
import type { PriceBook } from '../pricing/index.js';
import { USAGE_COLUMNS, type UsageRow } from '../usage/usage-row.js';
import { insertStatement, serializeRow } from './serialize.js';
import { QUERY_OUTPUT_SETTINGS } from './query-runner.js';

export const DEFAULT_REPRICE_CHUNK_ROWS = 10_000;

export interface RepriceOptions {
  database: string;
  /** Inclusive start and exclusive end of the calls' `ts`, Unix ms. */
  fromMs: number;
  toMs: number;
  /** Only rows with `cost_usd` NULL. */
  unpricedOnly?: boolean;
  /** Rows read (and at most written) per round trip. Default 10 000. */
  chunkRows?: number;
  /** Count and report, write nothing. */
  dryRun?: boolean;
  /** Called after each chunk with the rows examined so far. */
  onProgress?: (examined: number) => void;
}

export interface RepriceResult {
  /** Rows read. */
  examined: number;
  /** Rows rewritten with a new cost, breakdown, source or priced model. */
  changed: number;
  /** Of those, rows that were unpriced and now have a cost. */
  newlyPriced: number;
  /** Rows whose pricing is already what the current prices say. */
  unchanged: number;
  /** Unpriced rows the current prices still cannot price. */
  stillUnpriced: number;
  /** Priced rows the current prices cannot price: left as they were. */
  keptWithoutPrice: number;
  /** Unpriced rows that reported no usage (left unpriced, never claimed as $0). */
  noUsage: number;
  /** Sum of the cost changes (new − old, unpriced counted as 0), exact decimal. */
  costDeltaUsd: string;
}

/** A stored row as `ai_usage_exact` returns it (decimals quoted, maps as objects). */
type StoredRow = Omit<UsageRow, 'cost_breakdown' | 'cost_usd'> & {
  cost_usd: string | number | null;
  cost_breakdown: Record<string, string | number>;
};

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

function whereClause(options: RepriceOptions): string {
  return [
    'ts >= fromUnixTimestamp64Milli({from:Int64})',
    'ts < fromUnixTimestamp64Milli({to:Int64})',
    ...(options.unpricedOnly ? ['cost_usd IS NULL'] : []),
  ].join(' AND ');
}

function checkDatabase(database: string): void {
  if (!IDENTIFIER.test(database)) throw new Error(`invalid database name '${database}'`);
}

/** How many rows a re-price would examine. */
export async function countRepriceRows(client: ClickHouseClient, options: RepriceOptions): Promise<number> {
  checkDatabase(options.database);
  const rs = await client.query({
    query: `SELECT count() AS n FROM ${options.database}.ai_usage_exact WHERE ${whereClause(options)}`,
    query_params: { from: options.fromMs, to: options.toMs },
    format: 'JSONEachRow',
    clickhouse_settings: QUERY_OUTPUT_SETTINGS,
  });
  const rows = await rs.json<{ n: number | string }>();
  return Number(rows[0]?.n ?? 0);
}

/** Re-prices the rows the options select; see the module comment. */
export async function reprice(client: ClickHouseClient, prices: PriceBook, options: RepriceOptions): Promise<RepriceResult> {
  checkDatabase(options.database);
  const chunkRows = Math.max(1, Math.floor(options.chunkRows ?? DEFAULT_REPRICE_CHUNK_ROWS));
  const table = `${options.database}.ai_usage`;
  const result: RepriceResult = {
    examined: 0, changed: 0, newlyPriced: 0, unchanged: 0, stillUnpriced: 0, keptWithoutPrice: 0, noUsage: 0, costDeltaUsd: '0',
  };
  let delta = 0n;
  const columns = USAGE_COLUMNS.join(', ');
  const base = `SELECT ${columns} FROM ${options.database}.ai_usage_exact WHERE ${whereClause(options)}`;
  let cursor: { ts: string; trace: string; span: string } | undefined;

  for (;;) {
    const query = `${base}${cursor ? ' AND (ts, trace_id, span_id) > ({ts:DateTime64(6, \'UTC\')}, {trace:String}, {span:String})' : ''}
ORDER BY ts, trace_id, span_id
LIMIT ${chunkRows}`;
    const rs = await client.query({
      query,
      query_params: { from: options.fromMs, to: options.toMs, ...(cursor ?? {}) },
      format: 'JSONEachRow',
      clickhouse_settings: QUERY_OUTPUT_SETTINGS,
    });
    const rows = await rs.json<StoredRow>();
    if (rows.length === 0) break;

    const rewrites: UsageRow[] = [];
    for (const row of rows) {
      const outcome = repriceRow(row, prices);
      switch (outcome.kind) {
        case 'changed': {
          if (row.cost_usd === null) result.newlyPriced++;
          delta += toScaled(outcome.row.cost_usd) - toScaled(row.cost_usd);
          rewrites.push(outcome.row);
          break;
        }
        case 'unchanged': result.unchanged++; break;
        case 'still-unpriced': result.stillUnpriced++; break;
        case 'kept': result.keptWithoutPrice++; break;
        case 'no-usage': result.noUsage++; break;
      }
    }
    if (rewrites.length > 0 && !options.dryRun) await insertRows(client, table, rewrites);
    result.changed += rewrites.length;
    result.examined += rows.length;
    options.onProgress?.(result.examined);

    const last = rows[rows.length - 1]!;
    cursor = { ts: last.ts, trace: last.trace_id, span: last.span_id };
    if (rows.length < chunkRows) break;
  }
  result.costDeltaUsd = fromScaled(delta);
  return result;
}

type Outcome =
  | { kind: 'changed'; row: UsageRow }
  | { kind: 'unchanged' | 'still-unpriced' | 'kept' | 'no-usage' };

/** What the current prices make of one stored row. */
export function repriceRow(row: StoredRow, prices: PriceBook): Outcome {
  const details = row.usage_details ?? {};
  const wasPriced = row.cost_usd !== null;
  if (!wasPriced && !usageReported(row, details)) return { kind: 'no-usage' };

  const priced = priceCall(prices, {
    provider: row.provider,
    responseModel: row.response_model,
    requestModel: row.request_model,
    atUnixMicros: parseMicros(row.ts),
    tokens: {
      input: Number(row.input_tokens), output: Number(row.output_tokens),
      cacheRead: Number(row.cache_read_tokens), cacheWrite: Number(row.cache_write_tokens),
      reasoning: Number(row.reasoning_tokens),
      inputAudio: Number(row.input_audio_tokens), outputAudio: Number(row.output_audio_tokens),
    },
    details,
  });
  if (priced === null) return { kind: wasPriced ? 'kept' : 'still-unpriced' };
  if (samePricing(row, priced)) return { kind: 'unchanged' };
  return {
    kind: 'changed',
    row: {
      ...(row as unknown as UsageRow),
      cost_usd: priced.costUsd,
      cost_breakdown: priced.breakdown,
      price_source: priced.source,
      priced_model: priced.pricedModel,
    },
  };
}

/** As the mapper decides: tokens, an error, or any billed unit (a stored row cannot tell "reported 0" apart). */
function usageReported(row: StoredRow, details: Record<string, number>): boolean {
  if (row.error_type !== '') return true;
  for (const _ in details) return true;
  return [row.input_tokens, row.output_tokens, row.cache_read_tokens, row.cache_write_tokens, row.reasoning_tokens,
    row.input_audio_tokens, row.output_audio_tokens].some((n) => Number(n) > 0);
}

function samePricing(row: StoredRow, priced: PricedCall): boolean {
  if (row.price_source !== priced.source || row.priced_model !== priced.pricedModel) return false;
  if (row.cost_usd === null || canonicalDecimal(row.cost_usd) !== canonicalDecimal(priced.costUsd)) return false;
  const stored = Object.entries(row.cost_breakdown ?? {}).filter(([, v]) => canonicalDecimal(v) !== '0');
  const fresh = Object.entries(priced.breakdown).filter(([, v]) => canonicalDecimal(v) !== '0');
  if (stored.length !== fresh.length) return false;
  const freshMap = new Map(fresh.map(([k, v]) => [k, canonicalDecimal(v)]));
  return stored.every(([k, v]) => freshMap.get(k) === canonicalDecimal(v));
}

/** `0.004720000000000000` → `0.00472`, `12.000` → `12`, `-0` → `0`. */
export function canonicalDecimal(value: string | number): string {
  const text = typeof value === 'number' ? numberText(value) : value.trim();
  const match = /^(-?)(\d*)(?:\.(\d*))?$/.exec(text);
  if (!match) return text;
  const int = (match[2] ?? '').replace(/^0+(?=\d)/, '') || '0';
  const frac = (match[3] ?? '').replace(/0+$/, '');
  const out = frac ? `${int}.${frac}` : int;
  return out === '0' ? '0' : `${match[1]}${out}`;
}

function numberText(value: number): string {
  // Exact decimal of a double's shortest representation, without an exponent.
  const text = String(value);
  if (!/e/i.test(text)) return text;
  return value.toFixed(20);
}

const SCALE = 18;

/** Decimal text (≤ 18 places, as Decimal(38, 18) stores) → integer of 1e-18 units; null → 0. */
function toScaled(value: string | number | null): bigint {
  if (value === null) return 0n;
  const text = canonicalDecimal(value);
  const match = /^(-?)(\d+)(?:\.(\d+))?$/.exec(text);
  if (!match) return 0n;
  const frac = (match[3] ?? '').slice(0, SCALE).padEnd(SCALE, '0');
  const n = BigInt(match[2]!) * 10n ** BigInt(SCALE) + BigInt(frac);
  return match[1] === '-' ? -n : n;
}

function fromScaled(n: bigint): string {
  const negative = n < 0n;
  const digits = (negative ? -n : n).toString().padStart(SCALE + 1, '0');
  return canonicalDecimal(`${negative ? '-' : ''}${digits.slice(0, -SCALE)}.${digits.slice(-SCALE)}`);
}

/** `2026-03-14 09:00:00.000123` (UTC) → Unix microseconds. */
export function parseMicros(ts: string): number {
  const match = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?/.exec(ts);
  if (!match) throw new Error(`unexpected timestamp '${ts}'`);
  const ms = Date.parse(`${match[1]}T${match[2]}Z`);
  return ms * 1000 + Number((match[3] ?? '').padEnd(6, '0'));
}

async function insertRows(client: ClickHouseClient, table: string, rows: UsageRow[]): Promise<void> {
  const body = rows.map(serializeRow).join('\n') + '\n';
  const result = await client.exec({
    query: insertStatement(table),
    values: Readable.from([body]),
    // Identical re-priced blocks must never be dropped as duplicates (A → B → A). A fresh token
    // per insert does that everywhere: `insert_deduplicate = 0` alone no longer does on recent
    // engines (26.x deduplicates by `deduplicate_insert`, a setting 25.8 does not know).
    // Synchronous, so the acknowledgement means stored.
    clickhouse_settings: { insert_deduplicate: 0, insert_deduplication_token: `genai-ledger-reprice-${randomUUID()}`, async_insert: 0 },
  });
  await new Promise<void>((resolve, reject) => {
    result.stream.on('end', resolve);
    result.stream.on('close', resolve);
    result.stream.on('error', reject);
    result.stream.resume();
  });
}
