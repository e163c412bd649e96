/**
 * Billing, pure: rate-card validation, the card in force, one call's bill (markup, sell prices,
 * credits under each rounding), whole-credit share-out, and an invoice whose lines add up to its
 * totals. Every expected figure is worked by hand in the comment beside it.
 */
import { describe, expect, it } from 'vitest';
import { billCall, type BillableCall } from '../../billing/bill-call.js';
import { InvoiceBuilder, shareOut } from '../../billing/invoice.js';
import { ceilDec, floorDec, roundHalfEvenDec } from '../../billing/money.js';
import { cardInForce, compileRateCards } from '../../billing/rate-cards.js';
import { formatDec, parseDecimal } from '../../pricing/decimal.js';

const CARDS = compileRateCards({
  rate_cards: [
    { org_id: '*', effective_from: '2026-01-01', markup: '0.20' },
    {
      org_id: 'acme', effective_from: '2026-11-01', markup: '0.25', credits_per_usd: 100, credit_rounding: 'call_floor',
      models: [{ model: 'gpt-4o-mini', input_mtok: '0.30', output_mtok: '1.20' }],
    },
    { org_id: 'beta', effective_from: '2026-01-01', markup: '0', credits_per_usd: 100, credit_rounding: 'call_ceil' },
    { org_id: 'gamma', effective_from: '2026-01-01', markup: 0.5, credits_per_usd: '100', credit_rounding: 'invoice_half_even' },
  ],
}, 'rates.yaml');

const micros = (iso: string): number => Date.parse(iso) * 1000;
const NO_TOKENS = { input: 0, output: 0, cacheRead: 0, cacheWrite: 0, reasoning: 0, inputAudio: 0, outputAudio: 0 };

function call(orgId: string, at: string, costUsd: string | null, extra: Partial<BillableCall> = {}): BillableCall {
  return {
    orgId, atMicros: micros(at), provider: 'openai', requestModel: 'gpt-4o', responseModel: 'gpt-4o-2024-08-06',
    pricedModel: 'openai/gpt-4o', tokens: NO_TOKENS, details: {}, costUsd, ...extra,
  };
}

function billedText(cards: typeof CARDS, c: BillableCall): string {
  const bill = billCall(cards, c);
  return bill.kind === 'billed' ? formatDec(bill.billed) : bill.kind;
}

const mini = { requestModel: 'gpt-4o-mini', responseModel: 'gpt-4o-mini-2024-07-18', pricedModel: 'openai/gpt-4o-mini' };

describe('money', () => {
  it.each([
    ['1.5', 1n, 2n, 2n], ['2.5', 2n, 3n, 2n], ['3.5', 3n, 4n, 4n], ['-2.5', -3n, -2n, -2n], ['0.45', 0n, 1n, 0n], ['7', 7n, 7n, 7n],
  ])('%s: floor %s, ceil %s, half-even %s', (text, floor, ceil, even) => {
    const d = parseDecimal(text);
    expect([floorDec(d), ceilDec(d), roundHalfEvenDec(d)]).toEqual([floor, ceil, even]);
  });
});

describe('the card in force', () => {
  it.each([
    // acme's own card starts 2026-11-01: before it, the default card.
    ['acme', '2026-10-31T23:59:59.999Z', '*@2026-01-01'],
    ['acme', '2026-11-01T00:00:00Z', 'acme@2026-11-01'],
    ['acme', '2027-03-01T00:00:00Z', 'acme@2026-11-01'],
    // An org without a card of its own.
    ['zeta', '2026-06-01T00:00:00Z', '*@2026-01-01'],
    // Before any card.
    ['zeta', '2025-12-31T23:59:59Z', undefined],
  ])('%s at %s: %s', (org, at, expected) => {
    const card = cardInForce(CARDS, org, micros(at));
    expect(card && `${card.orgId}@${card.effectiveFrom}`).toBe(expected);
  });
});

describe('one call\'s bill', () => {
  it.each([
    // default card (zeta has none): 0.0123 × 1.20 = 0.01476; no credits.
    ['default card, markup', call('zeta', '2026-11-05T10:00:00Z', '0.0123'), '0.01476', '0'],
    // acme before its card: default card, 0.01 × 1.2 = 0.012.
    ['before the org\'s card', call('acme', '2026-10-20T10:00:00Z', '0.01'), '0.012', '0'],
    // acme's card: 0.01035 × 1.25 = 0.0129375 USD = 1.29375 credits, floored to 1.
    ['org card, markup, call_floor', call('acme', '2026-11-20T10:00:00Z', '0.01035'), '0.0129375', '1'],
    // acme's sell price for gpt-4o-mini replaces the markup: 100 000 input × $0.30/M = 0.03 (the 20 000
    // cache reads included: the sell price has no cache price) + 50 000 output × $1.20/M = 0.06 → 0.09 = 9 credits.
    ['sell price per 1M tokens', call('acme', '2026-11-20T10:00:00Z', '0.0225', {
      ...mini, tokens: { ...NO_TOKENS, input: 100_000, cacheRead: 20_000, output: 50_000 },
    }), '0.09', '9'],
    // beta: markup 0, 0.001234 = 0.1234 credits, ceiling 1.
    ['markup 0, call_ceil', call('beta', '2026-11-20T10:00:00Z', '0.001234'), '0.001234', '1'],
    // gamma: 0.001234 × 1.5 = 0.001851 = 0.1851 credits, left exact for the invoice to round.
    ['invoice_half_even keeps exact credits', call('gamma', '2026-11-20T10:00:00Z', '0.001234'), '0.001851', '0.1851'],
  ])('%s', (_, c, billed, credits) => {
    const bill = billCall(CARDS, c);
    if (bill.kind !== 'billed') throw new Error(`expected billed, got ${bill.kind}`);
    expect([formatDec(bill.billed), formatDec(bill.credits)]).toEqual([billed, credits]);
  });

  it('an unpriced call is billed nothing; a call without a card in force neither', () => {
    expect(billCall(CARDS, call('acme', '2026-11-20T10:00:00Z', null)).kind).toBe('unpriced');
    expect(billCall(CARDS, call('zeta', '2025-06-01T00:00:00Z', '0.5')).kind).toBe('no_card');
    expect(billCall([], call('acme', '2026-11-20T10:00:00Z', '0.5')).kind).toBe('no_card');
  });

  it('a sell price with a provider applies to that provider only', () => {
    const cards = compileRateCards({ rate_cards: [{
      org_id: '*', effective_from: '2026-01-01', markup: '1',
      models: [{ model: 'gpt-4o', provider: 'azure.ai.openai', units: { requests: '0.05' } }],
    }] }, 'rates.yaml');
    const at = '2026-02-01T00:00:00Z';
    // openai: no sell price, 0.02 × 2 = 0.04; azure: $0.05 per request.
    expect(billedText(cards, call('a', at, '0.02'))).toBe('0.04');
    expect(billedText(cards, call('a', at, '0.02', { provider: 'azure.ai.openai' }))).toBe('0.05');
  });
});

describe('credits shared out to lines', () => {
  it.each([
    // Σ 1.0 → 1; floors 0, 0; one unit left, tie → the first line.
    [['0.5', '0.5'], [1, 0]],
    // Σ 0.5 → 0 (half to even).
    [['0.25', '0.25'], [0, 0]],
    // Σ 1.5 → 2.
    [['1.5'], [2]],
    // Σ 1.0 → 1, to the largest fraction (0.4).
    [['0.3', '0.3', '0.4'], [0, 0, 1]],
    // Σ 3.0 → 3: floors 2 + 0, one left, tie → the first.
    [['2.5', '0.5'], [3, 0]],
    // Σ 2.5 → 2 (even): floors 1 + 1, nothing left.
    [['1.25', '1.25'], [1, 1]],
  ])('%j → %j', (amounts, expected) => {
    const shares = shareOut(amounts.map(parseDecimal));
    expect(shares.map(Number)).toEqual(expected);
  });
});

describe('an invoice', () => {
  it('a card changing mid-month: calls before and after, lines adding up to the totals', () => {
    const cards = compileRateCards({ rate_cards: [
      { org_id: '*', effective_from: '2026-01-01', markup: '0.2' },
      { org_id: 'acme', effective_from: '2026-11-15', markup: '0.5', credits_per_usd: 100, credit_rounding: 'invoice_half_even' },
    ] }, 'rates.yaml');
    const builder = new InvoiceBuilder(cards);
    const tokens = { ...NO_TOKENS, input: 1000, output: 100 };
    // gpt-4o: Nov 10 under the default card 0.01 × 1.2 = 0.012 (no credits); Nov 20 under acme's 0.01 × 1.5 = 0.015, 1.5 credits.
    builder.add('gpt-4o', call('acme', '2026-11-10T00:00:00Z', '0.01', { tokens }));
    builder.add('gpt-4o', call('acme', '2026-11-20T00:00:00Z', '0.01', { tokens }));
    // gpt-4o-mini: 0.003 × 1.5 = 0.0045, 0.45 credits; one unpriced call.
    builder.add('gpt-4o-mini', call('acme', '2026-11-21T00:00:00Z', '0.003', { ...mini, tokens }));
    builder.add('gpt-4o-mini', call('acme', '2026-11-22T00:00:00Z', null, { ...mini, tokens }));
    const invoice = builder.finish();
    // Credits: Σ 1.95 → 2; floors 1 + 0, the unit left to the larger fraction (0.5 > 0.45).
    expect(invoice.lines.map((l) => [l.key, l.calls, l.input_tokens, l.cost_usd, l.billed_usd, l.margin_usd, l.credits, l.unpriced_calls])).toEqual([
      ['gpt-4o', 2, 2000, '0.02', '0.027', '0.007', '2', 0],
      ['gpt-4o-mini', 2, 2000, '0.003', '0.0045', '0.0015', '0', 1],
    ]);
    expect(invoice.totals).toMatchObject({
      calls: 4, input_tokens: 4000, output_tokens: 400,
      total_cost_usd: '0.023', total_billed_usd: '0.0315', margin_usd: '0.0085', total_credits: '2', unpriced_calls: 1, calls_without_card: 0,
    });
    expect(invoice.cards_used).toEqual(['*@2026-01-01', 'acme@2026-11-15']);
  });
});

describe('rate-card validation: one line naming the card and the field', () => {
  const card = { org_id: 'acme', effective_from: '2026-01-01', markup: '0.1' };
  it.each([
    [[], 'rates.yaml: expected a mapping with a "rate_cards" list'],
    [{ cards: [] }, 'rates.yaml: unknown top-level key "cards" (expected "rate_cards")'],
    [{ rate_cards: [{ ...card, org_id: '' }] }, 'rates.yaml: rate_cards[0]: org_id: required: an org id, or "*" for the default card'],
    [{ rate_cards: [{ ...card, effective_from: '2026-02-30' }] }, 'rates.yaml: rate_cards[0] (org "acme"): effective_from: required: a date YYYY-MM-DD, got "2026-02-30"'],
    [{ rate_cards: [{ ...card, markup: 'ten' }] }, 'rates.yaml: rate_cards[0] (org "acme"): markup: not a decimal number: "ten"'],
    [{ rate_cards: [{ ...card, markup: undefined }] }, 'rates.yaml: rate_cards[0] (org "acme"): markup: required: a decimal number, got undefined'],
    [{ rate_cards: [{ ...card, markup: '-1' }] }, 'rates.yaml: rate_cards[0] (org "acme"): markup: must be above -1 (a billed amount cannot be negative), got "-1"'],
    [{ rate_cards: [{ ...card, credits_per_usd: 100 }] }, 'rates.yaml: rate_cards[0] (org "acme"): credit_rounding: one of call_floor, call_ceil, invoice_half_even, got undefined'],
    [{ rate_cards: [{ ...card, credit_rounding: 'call_floor' }] }, 'rates.yaml: rate_cards[0] (org "acme"): credit_rounding: given without credits_per_usd'],
    [{ rate_cards: [{ ...card, credits_per_usd: 0, credit_rounding: 'call_floor' }] }, 'rates.yaml: rate_cards[0] (org "acme"): credits_per_usd: must be positive, got 0'],
    [{ rate_cards: [{ ...card, discount: 1 }] }, 'rates.yaml: rate_cards[0] (org "acme"): discount: unknown field (expected org_id, effective_from, markup, models, credits_per_usd, credit_rounding)'],
    [{ rate_cards: [{ ...card, models: [{ model: 'gpt-4o', input_mtk: 1 }] }] }, 'rates.yaml: rate_cards[0] (org "acme"): models[0] (model "gpt-4o"): unknown price key "input_mtk" (did you mean "input_mtok"?)'],
    [{ rate_cards: [{ ...card, models: [{ model: 'gpt-4o' }] }] }, 'rates.yaml: rate_cards[0] (org "acme"): models[0] (model "gpt-4o"): no sell prices (input_mtok, output_mtok, ... or units)'],
    [{ rate_cards: [card, { ...card, markup: '0.3' }] }, 'rates.yaml: rate_cards[1] (org "acme"): same org_id and effective_from as rate_cards[0]'],
  ])('%j', (doc, message) => {
    expect(() => compileRateCards(doc, 'rates.yaml')).toThrow(message);
    try {
      compileRateCards(doc, 'rates.yaml');
    } catch (err) {
      expect((err as Error).message).toBe(message);
    }
  });
});
