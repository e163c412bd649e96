import {
  addAmount, addDec, cmpDec, cost, decFromNumber, decGreaterThan, divisorOf, formatAmount, formatDec, formatScaled, formatScaledNumber,
  pow10, subDec, toDec, ZERO, type Amount, type Dec, type Divisor,
} from './decimal.js';
import {
  bySpecificity, compatible, joinUnit, REQUESTS_KEY, UNIT_BY_PRICE_KEY, UNIT_BY_USAGE_KEY, UNITS, type UnitDef,
} from './units.js';
import type { PricingUsage } from './types.js';

/** One priced unit of a price set, prices pre-parsed to exact decimals. */
export interface PricedUnit {
  readonly unit: UnitDef;
  /** Catalog price key, or the usage key for a per-unit override price. */
  readonly priceKey: string;
  readonly base: Dec;
  /** Ascending by start; the last tier whose start the request's input_tokens exceeds applies. */
  readonly tiers: ReadonlyArray<{ readonly start: number; readonly price: Dec }>;
  readonly per: Divisor;
  /** Indices (into PriceSet.units) of the priced units counted inside this one. */
  readonly inner: readonly number[];
  /** per is a power of ten: an integer count costs count × scaledBase at the set's scale. */
  readonly terminating: boolean;
  readonly scaledBase: bigint;
  readonly scaledTiers: readonly bigint[];
  /** scaledBase / scaledTiers as numbers, for the safe-integer path (exact only when PriceSet.safeInteger). */
  readonly safeBase: number;
  readonly safeTiers: readonly number[];
}

/** A free-form unit priced by an override (`credits`): count × price, outside the hierarchy. */
export interface CustomUnit {
  readonly key: string;
  readonly price: Dec;
}

/** One price list (one ModelPrice), ready to quote. */
export interface PriceSet {
  /** Most specific first: leaves are computed in this order. */
  readonly units: readonly PricedUnit[];
  readonly custom: readonly CustomUnit[];
  /** Breakdown order: the order the prices were written in. */
  readonly order: readonly number[];
  /** Price-set problems found at load (unsupported key, missing ancestor price): reported with each quote. */
  readonly problems: readonly string[];
  readonly hasTiers: boolean;
  /** Index of input_tokens in units, -1 when not priced. */
  readonly inputIndex: number;
  /** Decimal places of `scaledBase` / `scaledTiers`. */
  readonly scale: number;
  /**
   * Every unit terminating with safe-integer scaled prices, no custom units, tiers chosen by a
   * priced input_tokens: integer usage can be priced in plain numbers ({@link computeCostSafeInteger}).
   */
  readonly safeInteger: boolean;
}

export class PriceSetError extends Error {}

const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const MAX_SAFE_BIG = BigInt(MAX_SAFE);

function parsePrice(key: string, value: unknown): { base: Dec; tiers: Array<{ start: number; price: Dec }> } {
  const single = (v: unknown, what: string): Dec => {
    let d: Dec;
    if (typeof v === 'number' || typeof v === 'string') {
      try {
        d = toDec(v);
      } catch {
        throw new PriceSetError(`${what} is not a number: ${typeof v === 'number' ? String(v) : JSON.stringify(v)}`);
      }
    } else {
      throw new PriceSetError(`${what} must be a number or a decimal string, got ${JSON.stringify(v)}`);
    }
    if (d.n < 0n) throw new PriceSetError(`${what} is negative: ${String(v)}`);
    return d;
  };
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const { base, tiers, ...rest } = value as Record<string, unknown>;
    const extra = Object.keys(rest);
    if (extra.length) throw new PriceSetError(`${key}: unknown field "${extra[0]}" (a tiered price has base and tiers)`);
    if (!Array.isArray(tiers)) throw new PriceSetError(`${key}.tiers must be a list of {start, price}`);
    const parsed = tiers.map((t: unknown, i) => {
      if (typeof t !== 'object' || t === null) throw new PriceSetError(`${key}.tiers[${i}] must be {start, price}`);
      const { start, price } = t as Record<string, unknown>;
      if (typeof start !== 'number' || !Number.isSafeInteger(start) || start < 0) {
        throw new PriceSetError(`${key}.tiers[${i}].start must be a non-negative integer token count`);
      }
      return { start, price: single(price, `${key}.tiers[${i}].price`) };
    });
    parsed.sort((a, b) => a.start - b.start);
    return { base: single(base, `${key}.base`), tiers: parsed };
  }
  return { base: single(value, key), tiers: [] };
}

/** ` (did you mean "input_mtok"?)` for a near miss, else a pointer to the key list. */
function suggestion(key: string, known: readonly string[]): string {
  let best = '';
  let bestDistance = Infinity;
  for (const k of known) {
    const d = editDistance(key.toLowerCase(), k);
    if (d < bestDistance) {
      bestDistance = d;
      best = k;
    }
  }
  return bestDistance <= 3 ? ` (did you mean "${best}"?)` : ' (price keys are the catalog\'s: input_mtok, output_mtok, cache_read_mtok, ...)';
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row.push(Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)));
    }
    prev = row;
  }
  return prev[b.length]!;
}

export interface CompileOptions {
  /** Strict (overrides): unknown keys and inconsistent hierarchies throw. Lenient (catalog): they become problems. */
  strict: boolean;
  /** Per-unit prices (`units:` in an override): standard usage keys join the hierarchy with per = 1. */
  unitPrices?: Readonly<Record<string, unknown>>;
}

/** Compiles one ModelPrice (catalog or override). Throws PriceSetError on invalid values. */
export function compilePriceSet(prices: Readonly<Record<string, unknown>>, options: CompileOptions): PriceSet {
  const problems: string[] = [];
  const entries: Array<{ unit: UnitDef; priceKey: string; base: Dec; tiers: Array<{ start: number; price: Dec }>; per: Divisor }> = [];
  const custom: CustomUnit[] = [];
  for (const [key, value] of Object.entries(prices)) {
    if (value === undefined) continue;
    const unit = UNIT_BY_PRICE_KEY.get(key);
    if (!unit) {
      if (options.strict) throw new PriceSetError(`unknown price key "${key}"${suggestion(key, [...UNIT_BY_PRICE_KEY.keys()])}`);
      problems.push(`unsupported price key "${key}": ignored`);
      continue;
    }
    entries.push({ unit, priceKey: key, ...parsePrice(key, value), per: divisorOf(unit.per) });
  }
  for (const [key, value] of Object.entries(options.unitPrices ?? {})) {
    if (value === undefined) continue;
    const { base, tiers } = parsePrice(`units.${key}`, value);
    if (tiers.length) throw new PriceSetError(`units.${key}: tiers are only supported in prices`);
    const unit = UNIT_BY_USAGE_KEY.get(key);
    if (!unit) {
      custom.push({ key, price: base });
      continue;
    }
    const clash = entries.find((e) => e.unit === unit);
    if (clash) throw new PriceSetError(`units.${key} prices the same usage as prices.${clash.priceKey}`);
    entries.push({ unit, priceKey: key, base, tiers: [], per: divisorOf(1) });
  }

  // The hierarchy only splits counts correctly when every container and every overlap of priced
  // units is priced too (the catalog library refuses such price lists).
  const pricedUnits = new Set(entries.map((e) => e.unit));
  const hierarchyProblems: string[] = [];
  for (const e of entries) {
    for (const a of e.unit.ancestors) {
      const ancestor = UNITS[a]!;
      if (!pricedUnits.has(ancestor)) {
        hierarchyProblems.push(`${e.priceKey} needs ${ancestor.priceKey} (its ${e.unit.usageKey} are part of ${ancestor.usageKey})`);
      }
    }
  }
  for (let i = 0; i < entries.length; i++) {
    for (let j = i + 1; j < entries.length; j++) {
      const a = entries[i]!.unit;
      const b = entries[j]!.unit;
      if (a.ancestors.includes(b.index) || b.ancestors.includes(a.index)) continue;
      const join = joinUnit(a, b);
      if (join && !pricedUnits.has(join)) {
        hierarchyProblems.push(`${entries[i]!.priceKey} and ${entries[j]!.priceKey} overlap: ${join.priceKey} must be priced too`);
      } else if (!join && compatible(a, b)) {
        hierarchyProblems.push(`${entries[i]!.priceKey} and ${entries[j]!.priceKey} overlap in a way no unit describes`);
      }
    }
  }
  if (hierarchyProblems.length) {
    if (options.strict) throw new PriceSetError(hierarchyProblems[0]!);
    problems.push(...hierarchyProblems);
  }

  const sorted = entries.map((e, i) => ({ ...e, order: i })).sort((x, y) => bySpecificity(x.unit, y.unit));
  // One scale for the set so integer counts price as BigInt(count) × scaledPrice with no alignment.
  let scale = 0;
  for (const e of sorted) {
    if (e.per.r !== 1n) continue;
    for (const price of [e.base, ...e.tiers.map((t) => t.price)]) scale = Math.max(scale, price.s + e.per.k);
  }
  const atScale = (price: Dec, per: Divisor): bigint => price.n * pow10(scale - price.s - per.k);
  const units: PricedUnit[] = sorted.map((e) => {
    const scaledBase = e.per.r === 1n ? atScale(e.base, e.per) : 0n;
    const scaledTiers = e.per.r === 1n ? e.tiers.map((t) => atScale(t.price, e.per)) : [];
    return {
      unit: e.unit,
      priceKey: e.priceKey,
      base: e.base,
      tiers: e.tiers,
      per: e.per,
      inner: sorted.flatMap((other, k) => (other.unit.ancestors.includes(e.unit.index) ? [k] : [])),
      terminating: e.per.r === 1n,
      scaledBase,
      scaledTiers,
      safeBase: Number(scaledBase),
      safeTiers: scaledTiers.map(Number),
    };
  });
  const order = sorted.map((e, k) => ({ k, order: e.order })).sort((x, y) => x.order - y.order).map((x) => x.k);
  const hasTiers = units.some((x) => x.tiers.length > 0);
  const inputIndex = units.findIndex((x) => x.unit.usageKey === 'input_tokens');
  const safeInteger = custom.length === 0 && (!hasTiers || inputIndex >= 0)
    && units.every((x) => x.terminating && [x.scaledBase, ...x.scaledTiers].every((p) => p <= MAX_SAFE_BIG));
  return { units, custom, order, problems, scale, hasTiers, inputIndex, safeInteger };
}

export interface Computed {
  /** Exact total (rounded only if a division does not terminate), as decimal text. */
  total: string;
  breakdown: Record<string, string>;
}

/** What a usage value reads as: a count, missing (undefined), or unusable (warned, then missing or 0). */
function readNumber(usage: PricingUsage, key: string, warnings: string[]): number | undefined {
  const v = usage[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    warnings.push(`invalid usage ${key}=${String(v)}: ignored`);
    return undefined;
  }
  if (v < 0) {
    warnings.push(`negative usage ${key}=${v}: counted as 0`);
    return 0;
  }
  return v;
}

/**
 * A priced whole that was not reported but has reported parts (cache_read_tokens without
 * input_tokens): the smallest count consistent with them, with a warning. `fromInner` is what the
 * priced parts already account for.
 */
function inferMissing(unit: UnitDef, usage: PricingUsage, fromInner: Dec, warnings: string[]): Dec {
  let largest = 0;
  let partKey = '';
  for (const d of unit.descendants) {
    const key = UNITS[d]!.usageKey;
    const v = usage[key];
    if (typeof v === 'number' && Number.isFinite(v) && v > largest) {
      largest = v;
      partKey = key;
    }
  }
  if (largest === 0) return fromInner;
  const part = decFromNumber(largest);
  const count = cmpDec(part, fromInner) > 0 ? part : fromInner;
  warnings.push(`${unit.usageKey} not reported; inferred ${formatDec(count)} from ${partKey}`);
  return count;
}

let safeIntegerPath = true;

/** Tests and benchmarks only (index.ts does not export it): `false` sends every quote down the BigInt path. */
export function setSafeIntegerPath(on: boolean): void {
  safeIntegerPath = on;
}

/**
 * Prices `usage` with `set`. Each priced unit is charged on its leaf count: its own count minus
 * the leaf counts of the more specific priced units inside it (input_tokens pays only for tokens
 * that are not cache reads, cache writes, audio, ...). A priced request counts once per call
 * (unless the usage gives `requests`). Inconsistent usage (a part larger than its whole) is
 * clamped to zero and reported in `warnings`; nothing here throws on bad numbers.
 */
export function computeCost(set: PriceSet, usage: PricingUsage, warnings: string[]): Computed {
  return (safeIntegerPath && computeCostSafeInteger(set, usage)) || computeCostExact(set, usage, warnings);
}

/**
 * {@link computeCost}'s common case in plain numbers, character for character the same result:
 * every count a non-negative safe integer and every leaf, product and sum staying one. Undefined
 * when anything needs the BigInt path or a warning (the caller then starts over there).
 * `x > MAX_SAFE` after `*` or `+` of non-negative integers is an exact overflow test: rounding is
 * monotone and 2^53 is representable, so a true result above MAX_SAFE never rounds down to it.
 */
export function computeCostSafeInteger(set: PriceSet, usage: PricingUsage): Computed | undefined {
  if (!set.safeInteger) return undefined;
  const units = set.units;
  const n = units.length;
  const leaves = new Array<number>(n);
  let inputTotal = 0;
  for (let i = 0; i < n; i++) {
    const pu = units[i]!;
    let innerSum = 0;
    for (const k of pu.inner) innerSum += leaves[k]!;
    const v = usage[pu.unit.usageKey];
    let count: number;
    if (v === undefined) {
      if (pu.unit.usageKey === REQUESTS_KEY) count = 1;
      else if (reportsPart(pu.unit, usage)) return undefined;
      else count = innerSum;
    } else if (Number.isSafeInteger(v)) {
      count = v;
    } else {
      return undefined;
    }
    const leaf = count - innerSum;
    // A negative count or parts exceeding the whole (the BigInt path warns); parts summing past MAX_SAFE too.
    if (leaf < 0) return undefined;
    leaves[i] = leaf;
    if (i === set.inputIndex) inputTotal = count;
  }

  let sum = 0;
  const breakdown: Record<string, string> = {};
  for (const i of set.order) {
    const leaf = leaves[i]!;
    if (leaf === 0) continue;
    const pu = units[i]!;
    let price = pu.safeBase;
    for (let t = 0; t < pu.tiers.length; t++) if (inputTotal > pu.tiers[t]!.start) price = pu.safeTiers[t]!;
    const part = leaf * price;
    sum += part;
    // sum >= part, so this also catches a product past MAX_SAFE.
    if (sum > MAX_SAFE) return undefined;
    breakdown[pu.unit.usageKey] = formatScaledNumber(part, set.scale);
  }
  return { total: formatScaledNumber(sum, set.scale), breakdown };
}

/** Some part of a missing whole is reported as a positive number ({@link inferMissing} would warn). */
function reportsPart(unit: UnitDef, usage: PricingUsage): boolean {
  for (const d of unit.descendants) {
    const v = usage[UNITS[d]!.usageKey];
    if (typeof v === 'number' && Number.isFinite(v) && v > 0) return true;
  }
  return false;
}

/** {@link computeCost} in exact BigInt decimals: any usage, any price set. */
export function computeCostExact(set: PriceSet, usage: PricingUsage, warnings: string[]): Computed {
  const units = set.units;
  const n = units.length;
  const counts: Dec[] = new Array<Dec>(n);
  const leaves: Dec[] = new Array<Dec>(n);
  for (let i = 0; i < n; i++) {
    const pu = units[i]!;
    const key = pu.unit.usageKey;
    const v = readNumber(usage, key, warnings);
    let innerSum = ZERO;
    for (const k of pu.inner) innerSum = addDec(innerSum, leaves[k]!);
    const count = v !== undefined ? decFromNumber(v) : key === REQUESTS_KEY ? ONE : inferMissing(pu.unit, usage, innerSum, warnings);
    counts[i] = count;
    let leaf = subDec(count, innerSum);
    if (leaf.n < 0n) {
      warnings.push(`inconsistent usage: parts of ${key} (${formatDec(innerSum)}) exceed ${key} (${formatDec(count)}); ${key} charged as 0`);
      leaf = ZERO;
    }
    leaves[i] = leaf;
  }

  let inputTotal: Dec = ZERO;
  if (set.hasTiers) {
    if (set.inputIndex >= 0) inputTotal = counts[set.inputIndex]!;
    else {
      const v = readNumber(usage, 'input_tokens', []);
      if (v !== undefined) inputTotal = decFromNumber(v);
    }
  }

  // Terminating components (every per except 3600) share the set's scale: sum them as one BigInt.
  let sum = 0n;
  let rest: Amount | undefined;
  const breakdown: Record<string, string> = {};
  for (const i of set.order) {
    const pu = units[i]!;
    const leaf = leaves[i]!;
    if (leaf.n === 0n) continue;
    let tier = -1;
    for (let t = 0; t < pu.tiers.length; t++) if (decGreaterThan(inputTotal, pu.tiers[t]!.start)) tier = t;
    if (pu.terminating && leaf.s === 0) {
      const part = leaf.n * (tier < 0 ? pu.scaledBase : pu.scaledTiers[tier]!);
      breakdown[pu.unit.usageKey] = formatScaled(part, set.scale);
      sum += part;
    } else {
      const amount = cost(leaf, tier < 0 ? pu.base : pu.tiers[tier]!.price, pu.per);
      breakdown[pu.unit.usageKey] = formatAmount(amount);
      rest = rest === undefined ? amount : addAmount(rest, amount);
    }
  }
  for (const c of set.custom) {
    const v = readNumber(usage, c.key, warnings);
    if (v === undefined || v === 0) continue;
    const amount = cost(decFromNumber(v), c.price, ONE_DIVISOR);
    breakdown[c.key] = formatAmount(amount);
    rest = rest === undefined ? amount : addAmount(rest, amount);
  }
  const total = rest === undefined
    ? formatScaled(sum, set.scale)
    : formatAmount(addAmount(rest, { n: sum, s: set.scale, d: 1n }));
  return { total, breakdown };
}

const ONE: Dec = { n: 1n, s: 0 };
const ONE_DIVISOR = divisorOf(1);
