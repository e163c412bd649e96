/**
 * What one call is billed under the rate card in force at its time: its sell price when the card
 * lists the model (applied to the call's usage exactly as pricing applies a price), else its cost
 * × (1 + markup); and the credits that amount is worth. Exact: the only rounding is to whole
 * credits, per call (`call_floor`, `call_ceil`) or left to the invoice (`invoice_half_even`).
 */
import { addDec, parseDecimal, ZERO, type Dec } from '../pricing/decimal.js';
import { computeCost } from '../pricing/price-set.js';
import { pricingUsage, type CallTokens } from '../usage/mapper.js';
import { ceilDec, floorDec, mulDec } from './money.js';
import { cardInForce, type RateCard, type SellPrice } from './rate-cards.js';

/** A stored call, as much as billing reads of it. */
export interface BillableCall {
  orgId: string;
  atMicros: number;
  provider: string;
  requestModel: string;
  responseModel: string;
  /** `provider/model` of the price entry that priced the cost, '' when unpriced. */
  pricedModel: string;
  tokens: CallTokens;
  details: Readonly<Record<string, number>>;
  /** Exact decimal USD; null = unpriced. */
  costUsd: string | null;
}

export type CallBill =
  /** No card in force for the org at the call's time (no card of its own, no default card yet). */
  | { kind: 'no_card' }
  /** Priced by nobody: billed nothing, listed. */
  | { kind: 'unpriced'; card: RateCard }
  | {
      kind: 'billed';
      card: RateCard;
      cost: Dec;
      billed: Dec;
      /** Whole credits (call_* rounding) or exact credits to round on the invoice (invoice_half_even); zero without credits. */
      credits: Dec;
      /** The sell price applied, when one replaced the markup. */
      sellPrice: SellPrice | undefined;
    };

export function billCall(cards: readonly RateCard[], call: BillableCall): CallBill {
  const card = cardInForce(cards, call.orgId, call.atMicros);
  if (!card) return { kind: 'no_card' };
  if (call.costUsd === null) return { kind: 'unpriced', card };
  const cost = parseDecimal(call.costUsd);
  const sellPrice = sellPriceFor(card, call);
  const billed = sellPrice
    ? parseDecimal(computeCost(sellPrice.set, pricingUsage(call.tokens, call.details), []).total)
    : mulDec(cost, addDec({ n: 1n, s: 0 }, card.markup));
  return { kind: 'billed', card, cost, billed, credits: creditsFor(card, billed), sellPrice };
}

function creditsFor(card: RateCard, billed: Dec): Dec {
  if (!card.credits) return ZERO;
  const exact = mulDec(billed, card.credits.perUsd);
  switch (card.credits.rounding) {
    case 'call_floor': return { n: floorDec(exact), s: 0 };
    case 'call_ceil': return { n: ceilDec(exact), s: 0 };
    case 'invoice_half_even': return exact;
  }
}

/** The card's sell price for the call's model (request, response or priced model; provider when the entry names one). */
function sellPriceFor(card: RateCard, call: BillableCall): SellPrice | undefined {
  if (card.models.length === 0) return undefined;
  const slash = call.pricedModel.indexOf('/');
  const pricedProvider = slash > 0 ? call.pricedModel.slice(0, slash).toLowerCase() : '';
  const names = [call.requestModel, call.responseModel, call.pricedModel.slice(slash + 1)].map((m) => m.toLowerCase()).filter(Boolean);
  return card.models.find((price) => names.includes(price.model)
    && (price.provider === undefined || price.provider === call.provider.toLowerCase() || price.provider === pricedProvider));
}
