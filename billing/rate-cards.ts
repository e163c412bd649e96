/**
 * Rate cards: what a customer is billed for its AI calls, effective-dated like prices.
 *
 * ```yaml
 * rate_cards:
 *   - org_id: "*"                 # the default card; a card for the org itself wins
 *     effective_from: 2026-01-01
 *     markup: "0.20"              # billed = cost × (1 + markup)
 *   - org_id: acme
 *     effective_from: 2026-11-01
 *     markup: "0.25"
 *     models:                     # sell prices that replace the markup for these models
 *       - model: gpt-4o-mini
 *         input_mtok: "0.30"      # the price keys of an overrides file; `units:` for per-unit prices
 *         output_mtok: "1.20"
 *     credits_per_usd: 100        # credits = billed × 100
 *     credit_rounding: call_floor # call_floor | call_ceil | invoice_half_even
 * ```
 *
 * Validation is strict and every error is one line naming the file, the card and the field.
 */
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { toDec, type Dec } from '../pricing/decimal.js';
import { compilePriceSet, PriceSetError, type PriceSet } from '../pricing/price-set.js';

export const CREDIT_ROUNDINGS = ['call_floor', 'call_ceil', 'invoice_half_even'] as const;
export type CreditRounding = (typeof CREDIT_ROUNDINGS)[number];

/** The org id of the default card. */
export const DEFAULT_ORG = '*';

export interface SellPrice {
  /** Lower-cased model id, matched against the call's request, response and priced model. */
  readonly model: string;
  /** Lower-cased provider; undefined = any. */
  readonly provider: string | undefined;
  readonly set: PriceSet;
}

export interface CreditTerms {
  readonly perUsd: Dec;
  readonly rounding: CreditRounding;
}

export interface RateCard {
  readonly orgId: string;
  /** YYYY-MM-DD (UTC): the card is in force from this day's midnight until the org's next card. */
  readonly effectiveFrom: string;
  readonly fromMicros: number;
  readonly markup: Dec;
  readonly credits: CreditTerms | undefined;
  readonly models: readonly SellPrice[];
  /** The card as written (validated), for the rate_cards table and the invoice's list of cards. */
  readonly source: Readonly<Record<string, unknown>>;
}

export class RateCardError extends Error {}

const CARD_KEYS = ['org_id', 'effective_from', 'markup', 'models', 'credits_per_usd', 'credit_rounding'];
const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;

/** Reads a rate-card file (`.json` as JSON, anything else as YAML); {@link compileRateCards} checks it. */
export function readRateCardsFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new RateCardError(`${path}: cannot read rate cards (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  const json = extname(path).toLowerCase() === '.json';
  try {
    return json ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new RateCardError(`${path}: not valid ${json ? 'JSON' : 'YAML'}: ${((err as Error).message.split('\n')[0] ?? '').replace(/:$/, '')}`);
  }
}

export function loadRateCardsFile(path: string): RateCard[] {
  return compileRateCards(readRateCardsFile(path), path);
}

/** Validates a `{ rate_cards: [...] }` document; cards come back ordered by org, then date. */
export function compileRateCards(doc: unknown, label: string): RateCard[] {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new RateCardError(`${label}: expected a mapping with a "rate_cards" list`);
  const { rate_cards: list, ...rest } = doc as Record<string, unknown>;
  const extra = Object.keys(rest)[0];
  if (extra !== undefined) throw new RateCardError(`${label}: unknown top-level key "${extra}" (expected "rate_cards")`);
  if (!Array.isArray(list)) throw new RateCardError(`${label}: "rate_cards" must be a list`);
  const seen = new Map<string, number>();
  const cards = list.map((raw: unknown, index) => {
    const card = compileCard(raw, `${label}: rate_cards[${index}]`);
    const key = `${card.orgId}\u0000${card.effectiveFrom}`;
    const previous = seen.get(key);
    if (previous !== undefined) throw new RateCardError(`${label}: rate_cards[${index}] (org "${card.orgId}"): same org_id and effective_from as rate_cards[${previous}]`);
    seen.set(key, index);
    return card;
  });
  return cards.sort((a, b) => (a.orgId < b.orgId ? -1 : a.orgId > b.orgId ? 1 : a.fromMicros - b.fromMicros));
}

function compileCard(raw: unknown, where: string): RateCard {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new RateCardError(`${where}: must be a mapping`);
  const entry = raw as Record<string, unknown>;
  const org = typeof entry.org_id === 'string' ? entry.org_id.trim() : '';
  const fail = (field: string, message: string): never => {
    throw new RateCardError(`${where}${org ? ` (org "${org}")` : ''}: ${field}: ${message}`);
  };
  for (const key of Object.keys(entry)) if (!CARD_KEYS.includes(key)) fail(key, `unknown field (expected ${CARD_KEYS.join(', ')})`);
  if (org === '') fail('org_id', 'required: an org id, or "*" for the default card');

  const date = typeof entry.effective_from === 'string' ? entry.effective_from.trim() : '';
  const fromMs = DATE_RE.test(date) ? Date.parse(`${date}T00:00:00Z`) : NaN;
  if (Number.isNaN(fromMs) || new Date(fromMs).toISOString().slice(0, 10) !== date) {
    fail('effective_from', `required: a date YYYY-MM-DD, got ${JSON.stringify(entry.effective_from)}`);
  }

  const markup = decimalField(entry.markup, 'markup', fail);
  if (markup.n <= -(10n ** BigInt(markup.s))) fail('markup', `must be above -1 (a billed amount cannot be negative), got ${JSON.stringify(entry.markup)}`);

  let credits: CreditTerms | undefined;
  if (entry.credits_per_usd !== undefined) {
    const perUsd = decimalField(entry.credits_per_usd, 'credits_per_usd', fail);
    if (perUsd.n <= 0n) fail('credits_per_usd', `must be positive, got ${JSON.stringify(entry.credits_per_usd)}`);
    const rounding = entry.credit_rounding;
    if (!CREDIT_ROUNDINGS.includes(rounding as CreditRounding)) fail('credit_rounding', `one of ${CREDIT_ROUNDINGS.join(', ')}, got ${JSON.stringify(rounding)}`);
    credits = { perUsd, rounding: rounding as CreditRounding };
  } else if (entry.credit_rounding !== undefined) {
    fail('credit_rounding', 'given without credits_per_usd');
  }

  const models = entry.models === undefined ? [] : sellPrices(entry.models, fail);
  return { orgId: org, effectiveFrom: date, fromMicros: fromMs * 1000, markup, credits, models, source: { ...entry, org_id: org, effective_from: date } };
}

function decimalField(value: unknown, field: string, fail: (field: string, message: string) => never): Dec {
  if (typeof value !== 'string' && typeof value !== 'number') return fail(field, `required: a decimal number, got ${JSON.stringify(value)}`);
  try {
    return toDec(value);
  } catch {
    return fail(field, `not a decimal number: ${JSON.stringify(value)}`);
  }
}

function sellPrices(value: unknown, fail: (field: string, message: string) => never): SellPrice[] {
  if (!Array.isArray(value)) return fail('models', 'must be a list of {model, <price keys>}');
  const seen = new Set<string>();
  return value.map((raw: unknown, i) => {
    const field = `models[${i}]`;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return fail(field, 'must be a mapping');
    const { model, provider, units, ...prices } = raw as Record<string, unknown>;
    if (typeof model !== 'string' || model.trim() === '') return fail(field, 'model: required, a model id');
    if (provider !== undefined && (typeof provider !== 'string' || provider.trim() === '')) fail(`${field} (model "${model}")`, 'provider: a non-empty string');
    const id = model.trim().toLowerCase();
    const providerId = typeof provider === 'string' ? provider.trim().toLowerCase() : undefined;
    const key = `${providerId ?? '*'}\u0000${id}`;
    if (seen.has(key)) fail(`${field} (model "${model}")`, 'listed twice');
    seen.add(key);
    if (units !== undefined && (typeof units !== 'object' || units === null || Array.isArray(units))) fail(`${field} (model "${model}")`, 'units: a mapping of usage key to USD per unit');
    if (Object.keys(prices).length === 0 && Object.keys(units ?? {}).length === 0) fail(`${field} (model "${model}")`, 'no sell prices (input_mtok, output_mtok, ... or units)');
    try {
      const set = compilePriceSet(prices, { strict: true, unitPrices: units as Record<string, unknown> | undefined });
      return { model: id, provider: providerId, set };
    } catch (err) {
      if (err instanceof PriceSetError || err instanceof RangeError) return fail(`${field} (model "${model}")`, err.message);
      throw err;
    }
  });
}

/** `org_id@effective_from`: how invoices and billed_daily name a card. */
export function cardName(card: RateCard): string {
  return `${card.orgId}@${card.effectiveFrom}`;
}

/**
 * The card in force for `orgId` at `atMicros`: the org's latest card from on or before that time,
 * else the default card's; undefined when neither has started.
 */
export function cardInForce(cards: readonly RateCard[], orgId: string, atMicros: number): RateCard | undefined {
  return latestFrom(cards, orgId, atMicros) ?? latestFrom(cards, DEFAULT_ORG, atMicros);
}

function latestFrom(cards: readonly RateCard[], orgId: string, atMicros: number): RateCard | undefined {
  let found: RateCard | undefined;
  for (const card of cards) if (card.orgId === orgId && card.fromMicros <= atMicros && (!found || card.fromMicros > found.fromMicros)) found = card;
  return found;
}
