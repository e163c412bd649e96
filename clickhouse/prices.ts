/**
 * Keeps `model_prices` equal to the pricing engine's price book (`PriceBook.listPrices()`).
 *
 * Idempotent and cheap: the current content (FINAL) is diffed against the book by key
 * (provider_id, model_id, price_key, source, effective_from, time_of_day, model_match); only
 * new or changed rows are written, with a newer loaded_at, plus tombstones (is_deleted = 1)
 * for keys that left the book. Re-running with the same book writes nothing. Two syncs racing
 * write the same rows, which the ReplacingMergeTree collapses.
 */
import { diag } from '@opentelemetry/api';
import type { ClickHouseClient } from '@clickhouse/client';
import type { PriceListRow } from '../pricing/types.js';

/** One price row, as the pricing engine lists it (`PriceBook.listPrices()`). */
export type ModelPriceRow = PriceListRow;

export interface SyncModelPricesOptions {
  /** Table, optionally `db.table`. Default 'model_prices' in the client's database. */
  table?: string;
}

export interface SyncModelPricesResult {
  /** Rows written because they are new or changed. */
  upserted: number;
  /** Keys tombstoned because they left the book. */
  deleted: number;
  unchanged: number;
}

const KEY_FIELDS = ['provider_id', 'model_id', 'price_key', 'source', 'effective_from', 'time_of_day', 'model_match'] as const;

/** Canonical form of a decimal string: no leading/trailing zeros, no '+', '-0' → '0'. */
export function canonicalDecimal(value: string | number): string {
  const text = String(value).trim();
  const match = /^([+-]?)(\d*)(?:\.(\d*))?$/.exec(text);
  if (!match) return text;
  const sign = match[1] === '-' ? '-' : '';
  const int = (match[2] ?? '').replace(/^0+(?=\d)/, '') || '0';
  const frac = (match[3] ?? '').replace(/0+$/, '');
  const out = frac ? `${int}.${frac}` : int;
  return out === '0' ? '0' : sign + out;
}

function keyOf(row: Pick<ModelPriceRow, (typeof KEY_FIELDS)[number]>): string {
  return JSON.stringify(KEY_FIELDS.map((f) => String(row[f])));
}

function valueOf(row: Pick<ModelPriceRow, 'unit' | 'per' | 'price' | 'tiers'>): string {
  return JSON.stringify([row.unit, String(row.per), canonicalDecimal(row.price), row.tiers.map((t) => [String(t.start), canonicalDecimal(t.price)])]);
}

/** A row as read back: numbers as strings, tiers as (start, price) tuples. */
type StoredRow = Omit<ModelPriceRow, 'per' | 'tiers'> & { per: string; tiers: Array<[string, string]> };

function toInsert(row: ModelPriceRow, loadedAt: string, isDeleted: 0 | 1): Record<string, unknown> {
  return {
    source: row.source,
    provider_id: row.provider_id,
    model_id: row.model_id,
    model_match: row.model_match,
    effective_from: row.effective_from || '1970-01-01',
    time_of_day: row.time_of_day,
    price_key: row.price_key,
    unit: row.unit,
    per: row.per,
    price: canonicalDecimal(row.price),
    tiers: row.tiers.map((t) => ({ start: t.start, price: canonicalDecimal(t.price) })),
    loaded_at: loadedAt,
    is_deleted: isDeleted,
  };
}

/** `YYYY-MM-DD hh:mm:ss.ffffff` UTC with microseconds unique within this process. */
let lastLoadedAtMicros = 0;
function loadedAtNow(): string {
  const micros = Math.max(Date.now() * 1000, lastLoadedAtMicros + 1);
  lastLoadedAtMicros = micros;
  const iso = new Date(Math.floor(micros / 1000)).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}.${String(micros % 1_000_000).padStart(6, '0')}`;
}

/** Makes `model_prices` hold exactly `rows`. */
export async function syncModelPrices(
  client: ClickHouseClient,
  rows: ReadonlyArray<ModelPriceRow>,
  options: SyncModelPricesOptions = {},
): Promise<SyncModelPricesResult> {
  const table = options.table ?? 'model_prices';
  if (!/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/.test(table)) throw new Error(`invalid table name ${JSON.stringify(table)}`);

  const wanted = new Map<string, ModelPriceRow>();
  let duplicates = 0;
  for (const row of rows) {
    const normalized = { ...row, effective_from: row.effective_from || '1970-01-01' };
    const key = keyOf(normalized);
    if (wanted.has(key)) duplicates++;
    wanted.set(key, normalized);
  }
  if (duplicates > 0) diag.warn(`genai-ledger: ${duplicates} duplicate price rows (same key); the last one of each was kept`);

  const rs = await client.query({
    query: `SELECT source, provider_id, model_id, model_match, toString(effective_from) AS effective_from, time_of_day,
      price_key, unit, toString(per) AS per, toString(price) AS price,
      arrayMap(t -> (toString(t.1), toString(t.2)), tiers) AS tiers
    FROM ${table} FINAL`,
    format: 'JSONEachRow',
  });
  const current = new Map<string, StoredRow>();
  for (const row of await rs.json<StoredRow>()) current.set(keyOf(row), row);

  const loadedAt = loadedAtNow();
  const writes: Record<string, unknown>[] = [];
  let unchanged = 0;
  for (const [key, row] of wanted) {
    const stored = current.get(key);
    const storedValue = stored
      ? JSON.stringify([stored.unit, stored.per, canonicalDecimal(stored.price), stored.tiers.map(([s, p]) => [s, canonicalDecimal(p)])])
      : undefined;
    if (storedValue === valueOf(row)) unchanged++;
    else writes.push(toInsert(row, loadedAt, 0));
  }
  const upserted = writes.length;
  let deleted = 0;
  for (const [key, stored] of current) {
    if (wanted.has(key)) continue;
    deleted++;
    writes.push(
      toInsert(
        { ...stored, per: Number(stored.per), tiers: stored.tiers.map(([start, price]) => ({ start: Number(start), price })) },
        loadedAt,
        1,
      ),
    );
  }
  if (writes.length > 0) {
    await client.insert({ table, values: writes, format: 'JSONEachRow' });
  }
  return { upserted, deleted, unchanged };
}
