/**
 * computeCost's safe-integer path (plain numbers) against its BigInt path: where the fast path
 * applies it must give the same total, breakdown (key order included) and no warnings, for every
 * catalog price set and many random usages (seeded).
 */
import { waitForUpdate, type ModelPrice, type Provider } from '@pydantic/genai-prices';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { prng } from '../../bench/support/traffic.js';
import { formatScaled, formatScaledNumber } from '../../pricing/decimal.js';
import { loadPriceBook, UNITS, type PriceBook, type PricingUsage } from '../../pricing/index.js';
import {
  compilePriceSet, computeCost, computeCostExact, computeCostSafeInteger, setSafeIntegerPath, type PriceSet,
} from '../../pricing/price-set.js';

const MAX_SAFE = Number.MAX_SAFE_INTEGER;

let catalog: Provider[];
let book: PriceBook;
/** Every price list of the catalog, compiled as the price book compiles it. */
let catalogSets: PriceSet[];

beforeAll(async () => {
  catalog = (await waitForUpdate())!;
  book = await loadPriceBook();
  catalogSets = catalog.flatMap((p) => p.models.flatMap((m) => (Array.isArray(m.prices) ? m.prices.map((c) => c.prices) : [m.prices])
    .map((prices) => compilePriceSet(prices as ModelPrice, { strict: false }))));
});

afterEach(() => setSafeIntegerPath(true));

/** Override-style sets the catalog lacks: per-unit prices, custom units, tiers without input_mtok, prices too fine for a safe integer. */
const extraSets = (): PriceSet[] => [
  compilePriceSet({}, { strict: true, unitPrices: { input_tokens: '0.000003', output_tokens: 0.000015 } }),
  compilePriceSet({ input_mtok: 1, output_mtok: 2 }, { strict: true, unitPrices: { credits: 0.5 } }),
  compilePriceSet({ output_mtok: { base: 1, tiers: [{ start: 1000, price: 2 }] } }, { strict: false }),
  compilePriceSet({ input_mtok: { base: 1.25, tiers: [{ start: 200_000, price: 2.5 }] }, cache_read_mtok: 0.3125 }, { strict: true }),
  compilePriceSet({ input_mtok: '0.000000000000000001', output_mtok: '123456789.123456789' }, { strict: true }),
  compilePriceSet({ input_mtok: 0, output_mtok: 0.0028, requests_kcount: 0.5, web_searches_kcount: 10 }, { strict: true }),
  compilePriceSet({ input_mtok: 3, audio_hours: 0.36 }, { strict: true }),
];

const TOKEN_KEYS = [
  'input_tokens', 'output_tokens', 'cache_read_tokens', 'cache_write_tokens', 'output_reasoning_tokens', 'input_audio_tokens',
  'output_audio_tokens',
];
const ALL_KEYS = [...UNITS.map((u) => u.usageKey), 'credits'];

/** One random count: mostly ordinary token counts, some at the edges of the safe-integer path, some it must refuse. */
function randomCount(r: () => number, set: PriceSet): unknown {
  const x = r();
  const int = (max: number) => Math.floor(r() * (max + 1));
  if (x < 0.25) return 0;
  if (x < 0.3) return 1;
  if (x < 0.55) return int(10_000);
  if (x < 0.7) return int(1e9);
  if (x < 0.75) return MAX_SAFE - int(3);
  if (x < 0.77) return MAX_SAFE + 1 + 2 * int(2);
  if (x < 0.85) {
    // Products and sums near 2^53 and printed amounts near 10^15 (where formatting changes method).
    const unit = set.units[int(set.units.length - 1)];
    const price = unit ? unit.safeBase : 1;
    if (price <= 0) return int(1e9);
    const limit = r() < 0.5 ? MAX_SAFE : 1e15;
    return Math.max(0, Math.floor(limit / price) + int(4) - 2);
  }
  if (x < 0.88) return 10 ** int(6) / 10 ** int(7) + int(100); // fractional
  if (x < 0.91) return [1e20, 1e300, 2 ** 60, 1e16 + 2][int(3)];
  if (x < 0.94) return -int(5);
  if (x < 0.95) return [Number.NaN, Number.POSITIVE_INFINITY, '12', null][int(3)];
  return int(1e6);
}

function randomUsage(r: () => number, set: PriceSet): PricingUsage {
  const usage: Record<string, unknown> = {};
  const priced = set.units.map((u) => u.unit.usageKey);
  for (const key of TOKEN_KEYS) if (r() < 0.9) usage[key] = randomCount(r, set);
  for (const key of priced) if (r() < 0.5) usage[key] = randomCount(r, set);
  if (r() < 0.2) usage[ALL_KEYS[Math.floor(r() * ALL_KEYS.length)]!] = randomCount(r, set);
  // Right at a long-context tier's start (the tier applies only above it).
  const tiers = set.units.flatMap((u) => u.tiers);
  if (tiers.length && r() < 0.3) usage.input_tokens = tiers[Math.floor(r() * tiers.length)]!.start + Math.floor(r() * 3) - 1;
  // Consistent parts of a whole, then (sometimes) one too many.
  if (r() < 0.3 && typeof usage.input_tokens === 'number' && Number.isSafeInteger(usage.input_tokens)) {
    const input = usage.input_tokens;
    const cacheRead = Math.floor(input * r());
    usage.cache_read_tokens = cacheRead;
    usage.cache_write_tokens = r() < 0.3 ? input - cacheRead + 1 : Math.floor((input - cacheRead) * r());
  }
  return usage as PricingUsage;
}

/** Mapper-shaped usage: every token kind present, consistent, ordinary sizes. */
function ordinaryUsage(r: () => number): PricingUsage {
  const input = Math.floor(r() * 200_000);
  const cacheRead = Math.floor(input * r() * 0.5);
  const cacheWrite = Math.floor((input - cacheRead) * r() * 0.5);
  const output = Math.floor(r() * 8_000);
  return {
    input_tokens: input, output_tokens: output, cache_read_tokens: cacheRead, cache_write_tokens: cacheWrite,
    output_reasoning_tokens: Math.floor(output * r()), input_audio_tokens: 0, output_audio_tokens: 0,
  };
}

describe('formatScaledNumber', () => {
  it('prints exactly what formatScaled prints, across magnitudes, scales and its 1e15 / 1e-6 switch points', () => {
    const r = prng(11);
    const mismatches: string[] = [];
    const check = (n: number, s: number) => {
      const expected = formatScaled(BigInt(n), s);
      if (formatScaledNumber(n, s) !== expected) mismatches.push(`${n}e-${s}: ${formatScaledNumber(n, s)} ≠ ${expected}`);
    };
    for (let s = 0; s <= 25; s++) {
      for (const n of [0, 1, 9, 10, 1e15 - 1, 1e15, 1e15 + 1, MAX_SAFE - 1, MAX_SAFE]) check(n, s);
      if (s >= 6 && s - 6 <= 15) for (const d of [-1, 0, 1]) check(10 ** (s - 6) + d, s);
      for (let i = 0; i < 2000; i++) check(Math.floor(r() * 10 ** Math.floor(r() * 16)) % MAX_SAFE, s);
    }
    expect(mismatches).toEqual([]);
  });
});

describe('computeCost: safe-integer path = BigInt path', () => {
  it('applies to nearly every catalog price set', () => {
    const safe = catalogSets.filter((s) => s.safeInteger).length;
    expect(catalogSets.length).toBeGreaterThan(1700);
    expect(safe / catalogSets.length).toBeGreaterThan(0.95);
  });

  it('is taken for ordinary token usage on every set that allows it, and agrees', () => {
    const r = prng(3);
    const mismatches: string[] = [];
    let taken = 0;
    for (const set of catalogSets) {
      if (!set.safeInteger) continue;
      for (let i = 0; i < 20; i++) {
        const usage = ordinaryUsage(r);
        const fast = computeCostSafeInteger(set, usage);
        const warnings: string[] = [];
        const exact = computeCostExact(set, usage, warnings);
        if (fast === undefined) mismatches.push(`not taken: ${JSON.stringify(usage)} ${JSON.stringify(warnings)}`);
        else if (JSON.stringify(fast) !== JSON.stringify(exact)) mismatches.push(`${JSON.stringify(fast)} ≠ ${JSON.stringify(exact)}`);
        else taken++;
      }
    }
    expect(mismatches.slice(0, 5)).toEqual([]);
    expect(taken).toBeGreaterThan(30_000);
  });

  it('gives the same total, breakdown and warnings on random usage (edges, fractions, huge, inconsistent, invalid)', () => {
    const r = prng(7);
    const mismatches: string[] = [];
    let taken = 0;
    let refused = 0;
    const sets = [...catalogSets.map((set) => ({ set, usages: 60 })), ...extraSets().map((set) => ({ set, usages: 3000 }))];
    for (const { set, usages } of sets) {
      for (let i = 0; i < usages; i++) {
        const usage = randomUsage(r, set);
        const warnings: string[] = [];
        const exact = computeCostExact(set, usage, warnings);
        const fast = computeCostSafeInteger(set, usage);
        const viaComputeCost: string[] = [];
        const chosen = computeCost(set, usage, viaComputeCost);
        const id = `${set.units.map((u) => u.priceKey).join(',')} ${JSON.stringify(usage)}`;
        if (JSON.stringify(chosen) !== JSON.stringify(exact) || JSON.stringify(viaComputeCost) !== JSON.stringify(warnings)) {
          mismatches.push(`computeCost differs: ${id}`);
        }
        if (fast === undefined) {
          refused++;
          continue;
        }
        taken++;
        if (warnings.length) mismatches.push(`fast path taken where the BigInt path warns ${JSON.stringify(warnings)}: ${id}`);
        if (JSON.stringify(fast) !== JSON.stringify(exact)) mismatches.push(`${JSON.stringify(fast)} ≠ ${JSON.stringify(exact)}: ${id}`);
      }
    }
    expect(mismatches.slice(0, 5)).toEqual([]);
    expect(taken).toBeGreaterThan(5_000);
    expect(refused).toBeGreaterThan(5_000);
  });

  it('never takes the fast path for sets it cannot price exactly in numbers', () => {
    const [unitPrices, custom, tiersWithoutInput, , tooFine, , audioHours] = extraSets();
    expect(unitPrices!.safeInteger).toBe(true);
    for (const set of [custom!, tiersWithoutInput!, tooFine!, audioHours!]) {
      expect(set.safeInteger).toBe(false);
      expect(computeCostSafeInteger(set, { input_tokens: 10, output_tokens: 10 })).toBeUndefined();
    }
  });

  it('quotes every catalog model the same with the fast path off (price book end to end)', () => {
    const r = prng(5);
    const at = Date.parse('2025-09-01T12:00:00Z') * 1000;
    const mismatches: string[] = [];
    for (const p of catalog) {
      for (const m of p.models) {
        for (let i = 0; i < 3; i++) {
          const usage = i === 0 ? ordinaryUsage(r) : randomUsage(r, catalogSets[0]!);
          const q = { provider: p.id, model: m.id, atUnixMicros: at, usage };
          setSafeIntegerPath(false);
          const exact = book.quote(q);
          setSafeIntegerPath(true);
          const fast = JSON.stringify(book.quote(q));
          if (fast !== JSON.stringify(exact)) mismatches.push(`${p.id}/${m.id}: ${fast} ≠ ${JSON.stringify(exact)}`);
        }
      }
    }
    expect(mismatches.slice(0, 5)).toEqual([]);
  });
});
