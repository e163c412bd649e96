/**
 * Ledger against bill: pure, exact reconciliation of what the ledger priced with what a provider
 * billed, per group (day, provider, model or any subset).
 *
 * variance_usd = ledger − billed (negative: the ledger is low); variance_pct = variance / billed in
 * percent. A group is `ok` when |variance| ≤ tolerance × billed, else `ledger_low` / `ledger_high`;
 * a group on one side only is `missing_in_ledger` / `missing_in_bill` (unless it costs nothing).
 * The likely cause, where the token counts tell it (checked in this order):
 * - `caching_not_reported`: the bill has cached tokens the ledger does not (an instrumentation that
 *   does not report caching prices cached input as uncached);
 * - `price`: input and output tokens agree, the cost does not: the price the ledger used is not
 *   the one billed. The bill's cost per token type ÷ its tokens gives the effective price
 *   (`implied_prices`, USD per million tokens), written as an override for `reprice --prices`;
 * - `uninstrumented_or_dropped`: the ledger has fewer tokens (calls not instrumented, spans lost);
 * - `ledger_tokens_high`: the ledger has more (calls counted twice, or billed to another account);
 * - `not_in_ledger` / `not_in_bill`: one side only; `no_usage_report`: the bill has no token counts.
 */
import { amountToDec, cmpDec, cost, divisorOf, formatDec, normalize, parseDecimal, pow10, subDec, addDec, ZERO, type Dec } from './decimal.js';
import type { OverrideModel } from './types.js';

export interface GroupTokens {
  input_tokens: number;
  output_tokens: number;
  cache_read_tokens: number;
  cache_write_tokens: number;
}

/** One (day, provider, model) of the ledger. `model` is the priced model (`provider/model`). */
export interface LedgerGroup extends GroupTokens {
  day: string;
  provider: string;
  model: string;
  /** Exact decimal USD. */
  cost_usd: string;
  calls: number;
}

/** One (day, provider, model) of the bill. */
export interface BillGroup {
  day: string;
  provider: string;
  model: string;
  /** The provider's own names of the model(s) in the group. */
  provider_models: string[];
  /** Token type (input, output, cache_read, cache_write, other) → exact decimal USD. */
  cost_by_type: Record<string, string>;
  /** Null when no usage report covers the group. */
  usage: (GroupTokens & { requests: number | null }) | null;
}

export const RECONCILE_DIMENSIONS = ['day', 'provider', 'model'] as const;
export type ReconcileDimension = (typeof RECONCILE_DIMENSIONS)[number];

export type ReconcileStatus = 'ok' | 'ledger_low' | 'ledger_high' | 'missing_in_ledger' | 'missing_in_bill';

export const RECONCILE_CAUSES = {
  caching_not_reported: 'the bill has cached tokens the ledger does not: the instrumentation does not report caching',
  price: 'tokens agree, cost does not: the price differs (see the implied prices)',
  uninstrumented_or_dropped: 'the ledger has fewer tokens: calls not instrumented, or spans dropped',
  ledger_tokens_high: 'the ledger has more tokens: calls counted twice, or billed to another account',
  not_in_ledger: 'no call in the ledger: an uninstrumented service, or a model the ledger names otherwise',
  not_in_bill: 'not on the bill: calls billed to another account, or the bill of the day not imported',
  no_usage_report: 'no usage report imported for the group: the bill has no token counts to compare',
} as const;
export type ReconcileCause = keyof typeof RECONCILE_CAUSES;

export interface ReconciliationRow {
  day?: string;
  provider?: string;
  model?: string;
  provider_models: string[];
  ledger_cost_usd: string;
  billed_cost_usd: string;
  variance_usd: string;
  /** Percent of the billed cost, 2 places; null when nothing was billed. */
  variance_pct: string | null;
  status: ReconcileStatus;
  cause: ReconcileCause | null;
  ledger_calls: number;
  billed_requests: number | null;
  ledger_input_tokens: number;
  billed_input_tokens: number | null;
  ledger_output_tokens: number;
  billed_output_tokens: number | null;
  ledger_cache_read_tokens: number;
  billed_cache_read_tokens: number | null;
  ledger_cache_write_tokens: number;
  billed_cache_write_tokens: number | null;
  /** USD per million tokens the bill implies (input_mtok, output_mtok, ...), when the cause is `price`. */
  implied_prices: Record<string, string> | null;
}

export interface ReconcileOptions {
  by: readonly ReconcileDimension[];
  /** Fraction of the billed cost (and of the billed tokens) that still counts as agreeing: '0.05'. */
  tolerance: string;
}

/** Price keys of an override, per token type billed, with the tokens each is charged on. */
const PRICE_KEYS: ReadonlyArray<{ type: string; key: string; tokens: (u: GroupTokens) => number }> = [
  // The catalog's input price applies to input not read from or written to the cache.
  { type: 'input', key: 'input_mtok', tokens: (u) => u.input_tokens - u.cache_read_tokens - u.cache_write_tokens },
  { type: 'output', key: 'output_mtok', tokens: (u) => u.output_tokens },
  { type: 'cache_read', key: 'cache_read_mtok', tokens: (u) => u.cache_read_tokens },
  { type: 'cache_write', key: 'cache_write_mtok', tokens: (u) => u.cache_write_tokens },
];

const PERCENT_PLACES = 2;
const PRICE_PLACES = 6;
const ONE = divisorOf(1);

interface Side<T> {
  key: Record<string, string>;
  rows: T[];
}

function groupBy<T extends { day: string; provider: string; model: string }>(rows: readonly T[], by: readonly ReconcileDimension[]): Map<string, Side<T>> {
  const out = new Map<string, Side<T>>();
  for (const row of rows) {
    const key = Object.fromEntries(by.map((d) => [d, row[d]]));
    const id = JSON.stringify(by.map((d) => row[d]));
    const side = out.get(id) ?? { key, rows: [] };
    side.rows.push(row);
    out.set(id, side);
  }
  return out;
}

function sumDec(values: Iterable<string>): Dec {
  let total = ZERO;
  for (const v of values) total = addDec(total, parseDecimal(v));
  return total;
}

function mul(a: Dec, b: Dec): Dec {
  return amountToDec(cost(a, b, ONE));
}

/** |a − b| ≤ tolerance × b (b ≥ 0). */
function within(a: Dec, b: Dec, tolerance: Dec): boolean {
  const diff = subDec(a, b);
  const abs = diff.n < 0n ? { n: -diff.n, s: diff.s } : diff;
  return cmpDec(abs, mul(tolerance, b)) <= 0;
}

const int = (n: number): Dec => ({ n: BigInt(n), s: 0 });

/** n / d rounded half-even to `places` decimals (d ≠ 0). */
function divide(n: Dec, d: Dec, places: number): Dec {
  // n / d = (n.n × 10^d.s) / (d.n × 10^n.s); scaled by 10^places, then rounded.
  let num = n.n * pow10(d.s + places);
  let den = d.n * pow10(n.s);
  if (den < 0n) [num, den] = [-num, -den];
  const negative = num < 0n;
  if (negative) num = -num;
  let q = num / den;
  const r2 = (num % den) * 2n;
  if (r2 > den || (r2 === den && q % 2n === 1n)) q += 1n;
  return normalize(negative ? -q : q, places);
}

function sumTokens(rows: readonly GroupTokens[]): GroupTokens {
  const t = { input_tokens: 0, output_tokens: 0, cache_read_tokens: 0, cache_write_tokens: 0 };
  for (const r of rows) {
    t.input_tokens += r.input_tokens;
    t.output_tokens += r.output_tokens;
    t.cache_read_tokens += r.cache_read_tokens;
    t.cache_write_tokens += r.cache_write_tokens;
  }
  return t;
}

function likelyCause(ledger: GroupTokens, billed: GroupTokens | null, tolerance: Dec): ReconcileCause {
  if (!billed) return 'no_usage_report';
  const agrees = (k: keyof GroupTokens): boolean => within(int(ledger[k]), int(billed[k]), tolerance);
  if (billed.cache_read_tokens > 0 && !agrees('cache_read_tokens')) return 'caching_not_reported';
  if (agrees('input_tokens') && agrees('output_tokens')) return 'price';
  if (ledger.input_tokens < billed.input_tokens || ledger.output_tokens < billed.output_tokens) return 'uninstrumented_or_dropped';
  return 'ledger_tokens_high';
}

/** The effective prices a bill implies: each token type's cost ÷ the tokens it is charged on, per million. */
export function impliedPrices(costByType: Readonly<Record<string, string>>, usage: GroupTokens): Record<string, string> {
  const prices: Record<string, string> = {};
  for (const { type, key, tokens } of PRICE_KEYS) {
    const amount = costByType[type];
    const count = tokens(usage);
    if (amount === undefined || count <= 0) continue;
    prices[key] = formatDec(divide(mul(parseDecimal(amount), int(1_000_000)), int(count), PRICE_PLACES));
  }
  return prices;
}

/** Reconciles ledger and bill groups at the grain of `options.by`. Rows sorted by their key. */
export function reconcile(ledger: readonly LedgerGroup[], bill: readonly BillGroup[], options: ReconcileOptions): ReconciliationRow[] {
  const tolerance = parseDecimal(options.tolerance);
  if (tolerance.n < 0n) throw new RangeError(`tolerance must not be negative, got ${options.tolerance}`);
  const ledgerSides = groupBy(ledger, options.by);
  const billSides = groupBy(bill, options.by);
  const ids = [...new Set([...ledgerSides.keys(), ...billSides.keys()])].sort();
  return ids.map((id) => {
    const l = ledgerSides.get(id);
    const b = billSides.get(id);
    const key = (l ?? b)!.key;
    const ledgerCost = sumDec((l?.rows ?? []).map((r) => r.cost_usd));
    const billedCost = sumDec((b?.rows ?? []).flatMap((r) => Object.values(r.cost_by_type)));
    const ledgerTokens = sumTokens(l?.rows ?? []);
    const withUsage = (b?.rows ?? []).filter((r) => r.usage !== null);
    const billedTokens = withUsage.length > 0 ? sumTokens(withUsage.map((r) => r.usage!)) : null;
    const requests = withUsage.length > 0 && withUsage.every((r) => r.usage!.requests !== null)
      ? withUsage.reduce((n, r) => n + r.usage!.requests!, 0) : null;
    const variance = subDec(ledgerCost, billedCost);

    let status: ReconcileStatus;
    let cause: ReconcileCause | null = null;
    if (!b && ledgerCost.n !== 0n) [status, cause] = ['missing_in_bill', 'not_in_bill'];
    else if (!l && (billedCost.n !== 0n || (billedTokens !== null && billedTokens.input_tokens + billedTokens.output_tokens > 0))) {
      [status, cause] = ['missing_in_ledger', 'not_in_ledger'];
    } else if (within(ledgerCost, billedCost, tolerance)) status = 'ok';
    else {
      status = cmpDec(ledgerCost, billedCost) < 0 ? 'ledger_low' : 'ledger_high';
      cause = likelyCause(ledgerTokens, billedTokens, tolerance);
    }
    const costByType: Record<string, string> = {};
    for (const r of b?.rows ?? []) {
      for (const [type, amount] of Object.entries(r.cost_by_type)) costByType[type] = formatDec(addDec(parseDecimal(costByType[type] ?? '0'), parseDecimal(amount)));
    }
    return {
      ...key,
      provider_models: [...new Set((b?.rows ?? []).flatMap((r) => r.provider_models))].sort(),
      ledger_cost_usd: formatDec(ledgerCost),
      billed_cost_usd: formatDec(billedCost),
      variance_usd: formatDec(variance),
      variance_pct: billedCost.n === 0n ? null : formatDec(divide(mul(variance, int(100)), billedCost, PERCENT_PLACES)),
      status,
      cause,
      ledger_calls: (l?.rows ?? []).reduce((n, r) => n + r.calls, 0),
      billed_requests: requests,
      ledger_input_tokens: ledgerTokens.input_tokens,
      billed_input_tokens: billedTokens?.input_tokens ?? null,
      ledger_output_tokens: ledgerTokens.output_tokens,
      billed_output_tokens: billedTokens?.output_tokens ?? null,
      ledger_cache_read_tokens: ledgerTokens.cache_read_tokens,
      billed_cache_read_tokens: billedTokens?.cache_read_tokens ?? null,
      ledger_cache_write_tokens: ledgerTokens.cache_write_tokens,
      billed_cache_write_tokens: billedTokens?.cache_write_tokens ?? null,
      implied_prices: cause === 'price' && billedTokens ? impliedPrices(costByType, billedTokens) : null,
    };
  });
}

/**
 * The price overrides that would make the ledger agree with the bill: one entry per provider and
 * model whose tokens agree over the whole period and whose cost does not, effective from the
 * first billed day, matching the provider's own model names.
 */
export function impliedOverrides(ledger: readonly LedgerGroup[], bill: readonly BillGroup[], tolerance: string): OverrideModel[] {
  const firstDay = new Map<string, string>();
  for (const g of bill) {
    const id = `${g.provider}\n${g.model}`;
    if (!firstDay.has(id) || g.day < firstDay.get(id)!) firstDay.set(id, g.day);
  }
  return reconcile(ledger, bill, { by: ['provider', 'model'], tolerance })
    .filter((row) => row.implied_prices !== null && Object.keys(row.implied_prices).length > 0 && row.provider_models.length > 0)
    .map((row) => {
      const names = row.provider_models;
      return {
        provider: row.provider!,
        ...(names.length === 1 ? { model: names[0]! } : { match: { or: names.map((equals) => ({ equals })) } }),
        effective_from: firstDay.get(`${row.provider}\n${row.model}`)!,
        prices: row.implied_prices!,
      };
    });
}
