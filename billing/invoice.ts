/**
 * An invoice: billed calls folded into lines (one per model, feature or user), then totals.
 *
 * Every amount is exact, so the lines' cost_usd and billed_usd add up to the totals digit for
 * digit. Credits are whole numbers: `call_floor` / `call_ceil` cards round each call, and lines
 * add those integers; `invoice_half_even` cards round once, the invoice's exact credits half-even,
 * and that total is shared out to the lines by largest remainder (each line gets the floor of its
 * exact credits, the units left go to the largest fractions, ties to the first line in order),
 * so the lines still add up to the total exactly.
 */
import { addDec, cmpDec, formatDec, subDec, ZERO, type Dec } from '../pricing/decimal.js';
import { billCall, type BillableCall, type CallBill } from './bill-call.js';
import { floorDec, fractionDec, roundHalfEvenDec } from './money.js';
import { cardName, type RateCard } from './rate-cards.js';

export interface TokenTotals {
  input_tokens: number;
  output_tokens: number;
  cache_read_tokens: number;
  cache_write_tokens: number;
  reasoning_tokens: number;
}

export interface InvoiceLine extends TokenTotals {
  /** The model, feature or user id of the line. */
  key: string;
  calls: number;
  cost_usd: string;
  billed_usd: string;
  margin_usd: string;
  credits: string;
  unpriced_calls: number;
  calls_without_card: number;
}

export interface InvoiceTotals extends TokenTotals {
  calls: number;
  total_cost_usd: string;
  total_billed_usd: string;
  margin_usd: string;
  total_credits: string;
  unpriced_calls: number;
  calls_without_card: number;
}

export interface Invoice {
  lines: InvoiceLine[];
  totals: InvoiceTotals;
  /** The cards that billed at least one call: `org_id@effective_from`, in order. */
  cards_used: string[];
}

/** Sums of billed calls: an invoice line, or a stored day's group (clickhouse/billing.ts). */
export interface BillTotals extends TokenTotals {
  calls: number;
  cost: Dec;
  billed: Dec;
  /** Credits rounded per call (call_floor, call_ceil). */
  wholeCredits: bigint;
  /** Credits of invoice_half_even cards, not rounded yet. */
  poolCredits: Dec;
  unpriced: number;
  noCard: number;
}

export const emptyTotals = (): BillTotals => ({
  calls: 0, input_tokens: 0, output_tokens: 0, cache_read_tokens: 0, cache_write_tokens: 0, reasoning_tokens: 0,
  cost: ZERO, billed: ZERO, wholeCredits: 0n, poolCredits: ZERO, unpriced: 0, noCard: 0,
});

/** Adds one call and its bill to `totals`. */
export function addBill(totals: BillTotals, call: BillableCall, bill: CallBill): void {
  totals.calls++;
  totals.input_tokens += call.tokens.input;
  totals.output_tokens += call.tokens.output;
  totals.cache_read_tokens += call.tokens.cacheRead;
  totals.cache_write_tokens += call.tokens.cacheWrite;
  totals.reasoning_tokens += call.tokens.reasoning;
  if (bill.kind === 'no_card') totals.noCard++;
  else if (bill.kind === 'unpriced') totals.unpriced++;
  else {
    totals.cost = addDec(totals.cost, bill.cost);
    totals.billed = addDec(totals.billed, bill.billed);
    if (bill.card.credits?.rounding === 'invoice_half_even') totals.poolCredits = addDec(totals.poolCredits, bill.credits);
    else totals.wholeCredits += bill.credits.n; // whole credits: scale 0
  }
}

/** Folds calls one at a time (a month of calls never has to be in memory at once). */
export class InvoiceBuilder {
  private readonly lines = new Map<string, BillTotals>();
  private readonly cardsUsed = new Set<string>();

  constructor(private readonly cards: readonly RateCard[]) {}

  /** Bills `call` and adds it to the line `key`; returns the bill. */
  add(key: string, call: BillableCall): CallBill {
    const bill = billCall(this.cards, call);
    let line = this.lines.get(key);
    if (!line) this.lines.set(key, (line = emptyTotals()));
    addBill(line, call, bill);
    if (bill.kind === 'billed') this.cardsUsed.add(cardName(bill.card));
    return bill;
  }

  finish(): Invoice {
    const keys = [...this.lines.keys()].sort();
    const accs = keys.map((key) => this.lines.get(key)!);
    const pooled = shareOut(accs.map((a) => a.poolCredits));
    const lines = accs.map((a, i): InvoiceLine => ({
      key: keys[i]!, calls: a.calls,
      input_tokens: a.input_tokens, output_tokens: a.output_tokens, cache_read_tokens: a.cache_read_tokens,
      cache_write_tokens: a.cache_write_tokens, reasoning_tokens: a.reasoning_tokens,
      cost_usd: formatDec(a.cost), billed_usd: formatDec(a.billed), margin_usd: formatDec(subDec(a.billed, a.cost)),
      credits: (a.wholeCredits + pooled[i]!).toString(), unpriced_calls: a.unpriced, calls_without_card: a.noCard,
    }));
    const sum = (f: (a: BillTotals) => Dec): Dec => accs.reduce((t, a) => addDec(t, f(a)), ZERO);
    const count = (f: (a: BillTotals) => number): number => accs.reduce((t, a) => t + f(a), 0);
    const cost = sum((a) => a.cost);
    const billed = sum((a) => a.billed);
    const credits = accs.reduce((t, a) => t + a.wholeCredits, 0n) + roundHalfEvenDec(sum((a) => a.poolCredits));
    return {
      lines,
      totals: {
        calls: count((a) => a.calls),
        input_tokens: count((a) => a.input_tokens), output_tokens: count((a) => a.output_tokens),
        cache_read_tokens: count((a) => a.cache_read_tokens), cache_write_tokens: count((a) => a.cache_write_tokens),
        reasoning_tokens: count((a) => a.reasoning_tokens),
        total_cost_usd: formatDec(cost), total_billed_usd: formatDec(billed), margin_usd: formatDec(subDec(billed, cost)),
        total_credits: credits.toString(), unpriced_calls: count((a) => a.unpriced), calls_without_card: count((a) => a.noCard),
      },
      cards_used: [...this.cardsUsed].sort(),
    };
  }
}

/**
 * Whole shares of exact amounts that add up to their half-even rounded sum: each gets its floor,
 * then the units left go one each to the largest fractional parts (ties: the earlier share).
 */
export function shareOut(amounts: readonly Dec[]): bigint[] {
  const shares = amounts.map(floorDec);
  let left = roundHalfEvenDec(amounts.reduce(addDec, ZERO)) - shares.reduce((t, s) => t + s, 0n);
  const order = amounts.map((a, i) => ({ i, fraction: fractionDec(a) }))
    .sort((x, y) => cmpDec(y.fraction, x.fraction) || x.i - y.i);
  for (const { i } of order) {
    if (left <= 0n) break;
    shares[i]! += 1n;
    left--;
  }
  return shares;
}
