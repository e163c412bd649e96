/**
 * The providers' bills in the store (`provider_costs`, `provider_usage`, migration 0009): written
 * so that importing a period again replaces it, and read back grouped per day, provider and model
 * next to the ledger's own totals for `reconcile report`.
 *
 * A write diffs the import against the period's stored lines (FINAL): new or changed lines are
 * inserted with a newer imported_at, lines the import no longer has get a tombstone, unchanged
 * lines are not written at all, so a repeated import leaves even the raw table as it was.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import type { BillGroup, GroupTokens, LedgerGroup } from '../pricing/bill-reconciliation.js';
import { QUERY_OUTPUT_SETTINGS, type QueryRunner } from './query-runner.js';
import { canonicalDecimal } from './reprice.js';

/** What a cost line bills. */
export type BillTokenType = 'input' | 'output' | 'cache_read' | 'cache_write' | 'other';

/** What identifies a bill line (the tables' key), with where the line came from. */
export interface BillLineKey {
  provider: string;
  /** `YYYY-MM-DD` (UTC). */
  day: string;
  /** As the provider names it. */
  model: string;
  /** The ledger's priced model (`provider/model`), '' when the catalog has none. */
  priced_model: string;
  project_id: string;
  line_item: string;
  /** `api` or `file:<name>`. */
  source: string;
}

export interface CostLine extends BillLineKey {
  token_type: BillTokenType;
  /** Exact decimal USD. */
  amount_usd: string;
}

export interface UsageLine extends BillLineKey {
  input_tokens: number;
  output_tokens: number;
  cache_read_tokens: number;
  cache_write_tokens: number;
  input_audio_tokens: number;
  output_audio_tokens: number;
  requests: number | null;
  units: Record<string, number>;
}

/** One import: the lines of `provider` for the days [fromDay, toDay), which they replace. */
export interface BillImport {
  provider: string;
  fromDay: string;
  /** Exclusive. */
  toDay: string;
  /** Absent: the import has no cost report, and the stored costs are left alone. */
  costs?: CostLine[];
  usage?: UsageLine[];
}

export interface TableWrite {
  written: number;
  tombstoned: number;
  unchanged: number;
}

export interface BillImportResult {
  costs?: TableWrite;
  usage?: TableWrite;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
const DAY = /^\d{4}-\d{2}-\d{2}$/;
const KEY_COLUMNS = ['provider', 'day', 'model', 'project_id', 'line_item'] as const;
const COST_VALUES = ['priced_model', 'token_type', 'amount_usd', 'source'] as const;
const USAGE_VALUES = [
  'priced_model', 'input_tokens', 'output_tokens', 'cache_read_tokens', 'cache_write_tokens', 'input_audio_tokens',
  'output_audio_tokens', 'requests', 'units', 'source',
] as const;

type Line = Record<string, unknown>;

function keyOf(line: Line): string {
  return JSON.stringify(KEY_COLUMNS.map((c) => String(line[c])));
}

function valueOf(line: Line, columns: readonly string[]): string {
  return JSON.stringify(columns.map((c) => {
    const v = line[c];
    if (c === 'amount_usd') return canonicalDecimal(String(v));
    if (c === 'units') return Object.entries((v ?? {}) as Record<string, number>).map(([k, n]) => [k, Number(n)]).sort();
    if (c === 'requests') return v === null || v === undefined ? null : Number(v);
    return typeof v === 'number' || c.endsWith('_tokens') ? Number(v) : v;
  }));
}

/** `YYYY-MM-DD hh:mm:ss.ffffff` UTC, increasing within this process. */
let lastImportMicros = 0;
function importedAtNow(): string {
  const micros = Math.max(Date.now() * 1000, lastImportMicros + 1);
  lastImportMicros = micros;
  const iso = new Date(Math.floor(micros / 1000)).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}.${String(micros % 1_000_000).padStart(6, '0')}`;
}

async function replacePeriod(
  client: ClickHouseClient, table: string, bill: BillImport, lines: Line[], values: readonly string[], importedAt: string,
): Promise<TableWrite> {
  const wanted = new Map<string, Line>();
  for (const line of lines) {
    if (line.provider !== bill.provider) throw new Error(`${table}: a ${String(line.provider)} line in a ${bill.provider} import`);
    if (!(String(line.day) >= bill.fromDay && String(line.day) < bill.toDay)) {
      throw new Error(`${table}: line of ${String(line.day)} outside the imported period ${bill.fromDay}..${bill.toDay}`);
    }
    const key = keyOf(line);
    if (wanted.has(key)) throw new Error(`${table}: two lines for ${key}: the importer must sum them`);
    wanted.set(key, line);
  }
  const rs = await client.query({
    query: `SELECT * EXCEPT (imported_at), toString(day) AS day FROM ${table} FINAL
      WHERE provider = {provider:String} AND day >= {from:String} AND day < {to:String}`,
    query_params: { provider: bill.provider, from: bill.fromDay, to: bill.toDay },
    format: 'JSONEachRow',
    clickhouse_settings: QUERY_OUTPUT_SETTINGS,
  });
  const stored = new Map<string, Line>();
  for (const row of await rs.json<Line>()) stored.set(keyOf(row), row);

  const writes: Line[] = [];
  let unchanged = 0;
  for (const [key, line] of wanted) {
    const before = stored.get(key);
    if (before && valueOf(before, values) === valueOf(line, values)) unchanged++;
    else writes.push({ ...line, imported_at: importedAt, is_deleted: 0 });
  }
  const written = writes.length;
  for (const [key, row] of stored) if (!wanted.has(key)) writes.push({ ...row, imported_at: importedAt, is_deleted: 1 });
  if (writes.length > 0) await client.insert({ table, values: writes, format: 'JSONEachRow' });
  return { written, tombstoned: writes.length - written, unchanged };
}

/** Stores one import, replacing what the store held for its provider and period. */
export async function storeBillImport(client: ClickHouseClient, database: string, bill: BillImport): Promise<BillImportResult> {
  if (!IDENTIFIER.test(database)) throw new Error(`invalid database name '${database}'`);
  if (!DAY.test(bill.fromDay) || !DAY.test(bill.toDay) || !(bill.fromDay < bill.toDay)) {
    throw new Error(`invalid import period ${bill.fromDay}..${bill.toDay}`);
  }
  const importedAt = importedAtNow();
  const result: BillImportResult = {};
  if (bill.costs) result.costs = await replacePeriod(client, `${database}.provider_costs`, bill, bill.costs as unknown as Line[], COST_VALUES, importedAt);
  if (bill.usage) result.usage = await replacePeriod(client, `${database}.provider_usage`, bill, bill.usage as unknown as Line[], USAGE_VALUES, importedAt);
  return result;
}

export interface ReconcileQuery {
  database: string;
  /** `YYYY-MM-DD`, inclusive. */
  fromDay: string;
  /** `YYYY-MM-DD`, exclusive. */
  toDay: string;
  /** The providers whose bills are compared (their rows in the ledger by `provider`). */
  providers: string[];
}

/** A bill line's model as the report groups it: the ledger's priced model, else `provider/name` (SQL over provider_costs/provider_usage). */
export const BILL_MODEL = "if(priced_model != '', priced_model, if(model = '', concat(provider, '/(not a model)'), concat(provider, '/', model)))";

/** A ledger row's model as the report groups it: its priced model, else `provider/model it named` (SQL over ai_usage). */
export const LEDGER_MODEL = "if(priced_model != '', priced_model, concat(lower(provider), '/', if(response_model != '', response_model, request_model)))";

function checkQuery(q: ReconcileQuery): void {
  if (!IDENTIFIER.test(q.database)) throw new Error(`invalid database name '${q.database}'`);
  if (!DAY.test(q.fromDay) || !DAY.test(q.toDay)) throw new Error(`invalid period ${q.fromDay}..${q.toDay}`);
}

/** The ledger's exact totals per UTC day, provider and model over the period, for the given providers. */
export async function readLedgerGroups(runner: QueryRunner, q: ReconcileQuery): Promise<LedgerGroup[]> {
  checkQuery(q);
  const rows = await runner.query<LedgerGroup>(`SELECT toString(toDate(ts)) AS day, lower(provider) AS provider,
    ${LEDGER_MODEL} AS model,
    toString(sumOrDefault(cost_usd)) AS cost_usd, count() AS calls,
    sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens,
    sum(cache_read_tokens) AS cache_read_tokens, sum(cache_write_tokens) AS cache_write_tokens
  FROM ${q.database}.ai_usage_exact
  WHERE ts >= toDateTime64({from:Date}, 6, 'UTC') AND ts < toDateTime64({to:Date}, 6, 'UTC') AND lower(provider) IN {providers:Array(String)}
  GROUP BY day, provider, model
  ORDER BY day, provider, model`, { from: q.fromDay, to: q.toDay, providers: q.providers });
  return rows.map((r) => ({ ...r, cost_usd: canonicalDecimal(r.cost_usd), calls: Number(r.calls) }));
}

/** The imported bills per UTC day, provider and model over the period. */
export async function readBillGroups(runner: QueryRunner, q: ReconcileQuery): Promise<BillGroup[]> {
  checkQuery(q);
  const params = { from: q.fromDay, to: q.toDay, providers: q.providers };
  // `day` is the YYYY-MM-DD text alias here: compared as text, which orders as the dates do.
  const where = 'day >= {from:String} AND day < {to:String} AND provider IN {providers:Array(String)}';
  const costs = await runner.query<{ day: string; provider: string; bill_model: string; token_type: string; amount: string; names: string[] }>(
    `SELECT toString(day) AS day, provider, ${BILL_MODEL} AS bill_model, token_type, toString(sum(amount_usd)) AS amount,
      groupUniqArray(model) AS names
    FROM ${q.database}.provider_costs_exact WHERE ${where}
    GROUP BY day, provider, bill_model, token_type`, params);
  const usage = await runner.query<GroupTokens & { day: string; provider: string; bill_model: string; requests: number | null; names: string[] }>(
    `SELECT toString(day) AS day, provider, ${BILL_MODEL} AS bill_model,
      sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens,
      sum(cache_read_tokens) AS cache_read_tokens, sum(cache_write_tokens) AS cache_write_tokens,
      if(countIf(requests IS NULL) > 0, NULL, sum(requests)) AS requests, groupUniqArray(model) AS names
    FROM ${q.database}.provider_usage_exact WHERE ${where}
    GROUP BY day, provider, bill_model`, params);

  const groups = new Map<string, BillGroup>();
  const group = (day: string, provider: string, model: string): BillGroup => {
    const key = JSON.stringify([day, provider, model]);
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { day, provider, model, provider_models: [], cost_by_type: {}, usage: null }));
    return g;
  };
  const addNames = (g: BillGroup, names: string[]): void => {
    g.provider_models = [...new Set([...g.provider_models, ...names.filter(Boolean)])].sort();
  };
  for (const c of costs) {
    const g = group(c.day, c.provider, c.bill_model);
    g.cost_by_type[c.token_type] = canonicalDecimal(c.amount);
    addNames(g, c.names);
  }
  for (const u of usage) {
    const g = group(u.day, u.provider, u.bill_model);
    g.usage = {
      input_tokens: Number(u.input_tokens), output_tokens: Number(u.output_tokens),
      cache_read_tokens: Number(u.cache_read_tokens), cache_write_tokens: Number(u.cache_write_tokens),
      requests: u.requests === null ? null : Number(u.requests),
    };
    addNames(g, u.names);
  }
  return [...groups.values()];
}

/** The providers with a bill line (cost or usage) in the period. */
export async function readBilledProviders(runner: QueryRunner, q: Omit<ReconcileQuery, 'providers'>): Promise<string[]> {
  checkQuery({ ...q, providers: [] });
  const rows = await runner.query<{ provider: string }>(`SELECT DISTINCT provider FROM (
      SELECT provider FROM ${q.database}.provider_costs_exact WHERE day >= {from:Date} AND day < {to:Date}
      UNION ALL
      SELECT provider FROM ${q.database}.provider_usage_exact WHERE day >= {from:Date} AND day < {to:Date})
    ORDER BY provider`, { from: q.fromDay, to: q.toDay });
  return rows.map((r) => r.provider);
}
