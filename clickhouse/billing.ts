/**
 * Chargeback in the store: rate cards kept in `rate_cards` (0008), calls read once each from
 * `ai_usage_exact` and billed by billing/ (pure), and `billed_daily` recomputed from them.
 *
 * Calls are read in (ts, trace_id, span_id) keyset chunks, so a month of an org's calls is folded
 * without holding it in memory, and through a QueryRunner, so invoices also read through a
 * running collector's read-only endpoint.
 */
import { randomUUID } from 'node:crypto';
import type { ClickHouseClient } from '@clickhouse/client';
import type { BillableCall } from '../billing/bill-call.js';
import { billCall } from '../billing/bill-call.js';
import { addBill, emptyTotals, InvoiceBuilder, type BillTotals, type Invoice } from '../billing/invoice.js';
import { roundHalfEvenDec } from '../billing/money.js';
import { cardName, compileRateCards, type RateCard } from '../billing/rate-cards.js';
import { addDec, formatDec, formatScaled, type Dec } from '../pricing/decimal.js';
import type { QueryRunner } from './query-runner.js';
import { canonicalDecimal, parseMicros } from './reprice.js';

export const INVOICE_DIMENSIONS = ['model', 'feature', 'user_id'] as const;
export type InvoiceDimension = (typeof INVOICE_DIMENSIONS)[number];

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
const CHUNK_ROWS = 10_000;

function checkDatabase(database: string): void {
  if (!IDENTIFIER.test(database)) throw new Error(`invalid database name '${database}'`);
}

/** A call as read for billing, with the dimensions an invoice groups by. */
export interface StoredCall extends BillableCall {
  day: string;
  feature: string;
  userId: string;
  /** The model a customer knows: the request model, else the one that answered. */
  model: string;
}

interface CallRow {
  ts: string; trace_id: string; span_id: string; org_id: string; user_id: string; feature: string;
  provider: string; request_model: string; response_model: string; priced_model: string;
  input_tokens: number; output_tokens: number; cache_read_tokens: number; cache_write_tokens: number;
  reasoning_tokens: number; input_audio_tokens: number; output_audio_tokens: number;
  usage_details: Record<string, number>; cost_usd: string | null;
}

const CALL_COLUMNS = 'ts, trace_id, span_id, org_id, user_id, feature, provider, request_model, response_model, priced_model, '
  + 'input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, input_audio_tokens, output_audio_tokens, '
  + 'usage_details, toString(cost_usd) AS cost_usd';

/**
 * Part of the calls to bill: every group of `orgs`, and of each (org, model) in `orgModels`. A
 * billed_daily group's figures follow from its own calls alone, so a scope that holds every group
 * a call can be in bills it exactly.
 */
export interface BillingScope {
  orgs: readonly string[];
  orgModels: ReadonlyArray<readonly [orgId: string, model: string]>;
}

/** billed_daily's `model` of a call, in SQL (as StoredCall.model). */
const MODEL_SQL = "if(request_model != '', request_model, response_model)";

export interface CallSelection {
  database: string;
  /** Inclusive start and exclusive end of the calls' `ts`, Unix ms. */
  fromMs: number;
  toMs: number;
  /** One org; undefined = every org. */
  orgId?: string;
  userId?: string;
  /** Only the calls of this scope; undefined = every call. */
  scope?: BillingScope;
}

/** SQL conditions and parameters keeping the rows of `scope` (`model`: the column or expression). */
function scopeFilter(scope: BillingScope | undefined, model: string): { where: string[]; params: Record<string, unknown> } {
  if (scope === undefined) return { where: [], params: {} };
  return {
    // org_id alone first: the sorting keys of ai_usage and billed_daily start with it.
    where: ['org_id IN {scope_all_orgs:Array(String)}', `(org_id IN {scope_orgs:Array(String)} OR has({scope_org_models:Array(Array(String))}, [org_id, ${model}]))`],
    params: {
      scope_all_orgs: [...new Set([...scope.orgs, ...scope.orgModels.map((p) => p[0])])],
      scope_orgs: [...scope.orgs],
      scope_org_models: scope.orgModels.map((p) => [...p]),
    },
  };
}

/** Every call the selection covers, once each (ai_usage_exact), in time order. */
export async function forEachCall(runner: QueryRunner, selection: CallSelection, fn: (call: StoredCall) => void): Promise<void> {
  checkDatabase(selection.database);
  const scope = scopeFilter(selection.scope, MODEL_SQL);
  const where = [
    'ts >= fromUnixTimestamp64Milli({from:Int64})', 'ts < fromUnixTimestamp64Milli({to:Int64})',
    ...(selection.orgId !== undefined ? ['org_id = {org:String}'] : []),
    ...(selection.userId !== undefined ? ['user_id = {user:String}'] : []),
    ...scope.where,
  ];
  const params = { from: selection.fromMs, to: selection.toMs, org: selection.orgId ?? '', user: selection.userId ?? '', ...scope.params };
  let cursor: { ts: string; trace: string; span: string } | undefined;
  for (;;) {
    const rows = await runner.query<CallRow>(`SELECT ${CALL_COLUMNS} FROM ${selection.database}.ai_usage_exact
WHERE ${where.join(' AND ')}${cursor ? " AND (ts, trace_id, span_id) > ({ts:DateTime64(6, 'UTC')}, {trace:String}, {span:String})" : ''}
ORDER BY ts, trace_id, span_id
LIMIT ${CHUNK_ROWS}`, { ...params, ...cursor });
    for (const row of rows) fn(storedCall(row));
    if (rows.length < CHUNK_ROWS) return;
    const last = rows[rows.length - 1]!;
    cursor = { ts: last.ts, trace: last.trace_id, span: last.span_id };
  }
}

function storedCall(row: CallRow): StoredCall {
  return {
    orgId: row.org_id, atMicros: parseMicros(row.ts), day: row.ts.slice(0, 10),
    provider: row.provider, requestModel: row.request_model, responseModel: row.response_model, pricedModel: row.priced_model,
    tokens: {
      input: Number(row.input_tokens), output: Number(row.output_tokens), cacheRead: Number(row.cache_read_tokens),
      cacheWrite: Number(row.cache_write_tokens), reasoning: Number(row.reasoning_tokens),
      inputAudio: Number(row.input_audio_tokens), outputAudio: Number(row.output_audio_tokens),
    },
    details: row.usage_details ?? {}, costUsd: row.cost_usd,
    feature: row.feature, userId: row.user_id, model: row.request_model || row.response_model,
  };
}

const LINE_KEY: Record<InvoiceDimension, (call: StoredCall) => string> = {
  model: (call) => call.model,
  feature: (call) => call.feature,
  user_id: (call) => call.userId,
};

/** An org's invoice over a period: its calls billed by `cards`, one line per `by`. */
export async function invoiceFor(runner: QueryRunner, selection: CallSelection & { orgId: string }, by: InvoiceDimension, cards: readonly RateCard[]): Promise<Invoice> {
  const builder = new InvoiceBuilder(cards);
  await forEachCall(runner, selection, (call) => builder.add(LINE_KEY[by](call), call));
  return builder.finish();
}

// ---------------------------------------------------------------------------------------------
// rate_cards

/** The cards in the store (rate_cards_exact), validated as a file's would be. */
export async function storedRateCards(runner: QueryRunner, database: string): Promise<RateCard[]> {
  checkDatabase(database);
  const rows = await runner.query<{ card: string }>(`SELECT card FROM ${database}.rate_cards_exact ORDER BY org_id, effective_from`);
  return compileRateCards({ rate_cards: rows.map((row) => JSON.parse(row.card) as unknown) }, `${database}.rate_cards`);
}

export interface SyncResult { upserted: number; deleted: number; unchanged: number }

/**
 * Makes `rate_cards` hold exactly `cards`: changed or new cards written, cards gone tombstoned;
 * nothing written when equal. Versions (loaded_at) are the server's now64(6) at insert, so a later
 * write wins; billed_daily's follow from them and the calls' (see snapshotVersion).
 */
export async function syncRateCards(client: ClickHouseClient, database: string, cards: readonly RateCard[]): Promise<SyncResult> {
  checkDatabase(database);
  const rs = await client.query({ query: `SELECT org_id, toString(effective_from) AS effective_from, card FROM ${database}.rate_cards_exact`, format: 'JSONEachRow' });
  const stored = new Map((await rs.json<{ org_id: string; effective_from: string; card: string }>()).map((r) => [`${r.org_id}@${r.effective_from}`, r]));
  const writes: Record<string, unknown>[] = [];
  let unchanged = 0;
  for (const card of cards) {
    const text = JSON.stringify(card.source);
    const name = cardName(card);
    if (stored.get(name)?.card === text) unchanged++;
    else {
      writes.push({
        org_id: card.orgId, effective_from: card.effectiveFrom, markup: formatDec(card.markup),
        credits_per_usd: card.credits ? formatDec(card.credits.perUsd) : null, credit_rounding: card.credits?.rounding ?? '',
        card: text, is_deleted: 0,
      });
    }
    stored.delete(name);
  }
  const upserted = writes.length;
  for (const gone of stored.values()) {
    writes.push({ org_id: gone.org_id, effective_from: gone.effective_from, markup: '0', credits_per_usd: null, credit_rounding: '', card: gone.card, is_deleted: 1 });
  }
  if (writes.length > 0) await client.insert({ table: `${database}.rate_cards`, values: writes, format: 'JSONEachRow' });
  return { upserted, deleted: stored.size, unchanged };
}

// ---------------------------------------------------------------------------------------------
// billed_daily

export interface RebillResult {
  /** Calls read. */
  calls: number;
  /** (org, day, feature, model) groups billed. */
  groups: number;
  /** Groups written because they are new or changed. */
  written: number;
  /** Groups tombstoned because their calls are gone. */
  deleted: number;
}

interface DayGroup { key: string; org_id: string; day: string; feature: string; model: string; rate_card: string; totals: BillTotals }

/** Stored to Decimal(38, 18): half-even at the 18th place (a markup can carry a cost past it). */
function decimal18(value: Dec): string {
  return value.s <= 18 ? formatDec(value) : formatScaled(roundHalfEvenDec({ n: value.n, s: value.s - 18 }), 18);
}

function groupValues(group: DayGroup): string {
  const t = group.totals;
  return JSON.stringify([group.rate_card, String(t.calls), String(t.unpriced), decimal18(t.cost), decimal18(t.billed), decimal18(addDec({ n: t.wholeCredits, s: 0 }, t.poolCredits))]);
}

/**
 * The version of the rows a re-bill of [fromMs, toMs) writes, from what they are computed from:
 * the newest delivery of a call in the period and the newest card load, never below the rows they
 * replace. Read before the calls, so two re-bills of the same calls and cards (two collectors at
 * once) write the same rows, and one that read a call delivered later outranks one that did not.
 */
async function snapshotVersion(runner: QueryRunner, database: string, fromMs: number, toMs: number): Promise<string> {
  const [row] = await runner.query<{ version: string }>(`SELECT toString(greatest(
  (SELECT max(inserted_at) FROM ${database}.ai_usage WHERE ts >= fromUnixTimestamp64Milli({from:Int64}) AND ts < fromUnixTimestamp64Milli({to:Int64})),
  (SELECT max(loaded_at) FROM ${database}.rate_cards),
  (SELECT max(version) FROM ${database}.billed_daily WHERE day >= toDate(fromUnixTimestamp64Milli({from:Int64})) AND day < toDate(fromUnixTimestamp64Milli({to:Int64}))))) AS version`,
  { from: fromMs, to: toMs });
  return row!.version;
}

/**
 * Recomputes `billed_daily` for the whole UTC days the period touches (only the groups of `scope`,
 * when given), from the calls and the cards. Writes only groups whose figures changed, tombstones
 * groups no call makes any more: a second run with the same calls and cards writes nothing.
 */
export async function rebillDays(client: ClickHouseClient, runner: QueryRunner, options: { database: string; fromMs: number; toMs: number; cards: readonly RateCard[]; scope?: BillingScope }): Promise<RebillResult> {
  checkDatabase(options.database);
  const DAY_MS = 86_400_000;
  const fromMs = Math.floor(options.fromMs / DAY_MS) * DAY_MS;
  const toMs = Math.ceil(options.toMs / DAY_MS) * DAY_MS;
  const version = await snapshotVersion(runner, options.database, fromMs, toMs);
  const groups = new Map<string, DayGroup>();
  let calls = 0;
  await forEachCall(runner, { database: options.database, fromMs, toMs, ...(options.scope ? { scope: options.scope } : {}) }, (call) => {
    calls++;
    const bill = billCall(options.cards, call);
    const key = JSON.stringify([call.orgId, call.day, call.feature, call.model]);
    let group = groups.get(key);
    if (!group) groups.set(key, (group = { key, org_id: call.orgId, day: call.day, feature: call.feature, model: call.model, rate_card: '', totals: emptyTotals() }));
    if (bill.kind !== 'no_card') group.rate_card = cardName(bill.card);
    addBill(group.totals, call, bill);
  });

  // Aliased apart from the columns: WHERE must compare the Date column, not its text.
  const only = scopeFilter(options.scope, 'model');
  const stored = (await runner.query<{ org_id: string; day_text: string; feature: string; model: string; rate_card: string; calls: number; unpriced_calls: number; cost: string; billed: string; credits_text: string }>(
    `SELECT org_id, toString(day) AS day_text, feature, model, rate_card, calls, unpriced_calls, toString(cost_usd) AS cost, toString(billed_usd) AS billed, toString(credits) AS credits_text
FROM ${options.database}.billed_daily_exact WHERE day >= toDate(fromUnixTimestamp64Milli({from:Int64})) AND day < toDate(fromUnixTimestamp64Milli({to:Int64}))${only.where.map((w) => ` AND ${w}`).join('')}`,
    { from: fromMs, to: toMs, ...only.params })).map(({ day_text, cost, billed, credits_text, ...row }) => ({ ...row, day: day_text, cost_usd: cost, billed_usd: billed, credits: credits_text }));
  const storedValues = new Map(stored.map((r) => [JSON.stringify([r.org_id, r.day, r.feature, r.model]),
    JSON.stringify([r.rate_card, String(r.calls), String(r.unpriced_calls), canonicalDecimal(r.cost_usd), canonicalDecimal(r.billed_usd), canonicalDecimal(r.credits)])]));

  const writes: Record<string, unknown>[] = [];
  for (const group of groups.values()) {
    if (storedValues.get(group.key) === groupValues(group)) continue;
    const t = group.totals;
    writes.push({
      org_id: group.org_id, day: group.day, feature: group.feature, model: group.model, rate_card: group.rate_card,
      calls: t.calls, unpriced_calls: t.unpriced, cost_usd: decimal18(t.cost), billed_usd: decimal18(t.billed),
      credits: decimal18(addDec({ n: t.wholeCredits, s: 0 }, t.poolCredits)), version, is_deleted: 0,
    });
  }
  const written = writes.length;
  let deleted = 0;
  for (const row of stored) {
    if (groups.has(JSON.stringify([row.org_id, row.day, row.feature, row.model]))) continue;
    deleted++;
    writes.push({ ...row, calls: 0, unpriced_calls: 0, version, is_deleted: 1 });
  }
  if (writes.length > 0) {
    // A fresh token: a block equal to an earlier one (A → B → A) must not be dropped as a retry.
    await client.insert({
      table: `${options.database}.billed_daily`, values: writes, format: 'JSONEachRow',
      clickhouse_settings: { insert_deduplication_token: `genai-ledger-rebill-${randomUUID()}`, async_insert: 0 },
    });
  }
  return { calls, groups: groups.size, written, deleted };
}
