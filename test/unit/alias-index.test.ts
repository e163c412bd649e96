import { describe, expect, it } from 'vitest';
import { AliasIndex, type FieldSpec } from '../../usage/alias-index.js';
import { MalformedSpanError } from '../../usage/attribute-read.js';
import type { Attributes } from '../../usage/span-record.js';

const SPECS: FieldSpec[] = [
  { keys: ['a.model', 'b.model', 'shared'], kind: 'string' },
  { keys: ['a.tokens', 'b.tokens', 'c.tokens'], kind: 'count' },
  { keys: ['a.cost', 'b.cost'], kind: 'quantity' },
  // 'shared' is an alias of two fields, at different ranks.
  { keys: ['shared', 'a.other'], kind: 'string' },
];
const MODEL = 0;
const TOKENS = 1;
const COST = 2;
const OTHER = 3;

/** The rule AliasIndex replaces: probe each alias in order, the first present one wins. */
function probe(attrs: Attributes, spec: FieldSpec): unknown {
  for (const key of spec.keys) {
    const value = attrs[key];
    if (value === undefined) continue;
    if (spec.kind === 'string') {
      if (typeof value === 'string' ? value !== '' : typeof value === 'number' || typeof value === 'boolean') return value;
    } else if (spec.kind === 'quantity' || value !== null) return value;
  }
  return undefined;
}

describe('AliasIndex', () => {
  const index = new AliasIndex(SPECS, 'p.');
  const found = index.found();

  it.each([
    { name: 'first alias wins whatever the key order', attrs: { 'b.model': 'late', 'a.model': 'early' }, field: MODEL, expected: 'early' },
    { name: 'an empty string is skipped', attrs: { 'a.model': '', 'b.model': 'next' }, field: MODEL, expected: 'next' },
    { name: 'numbers are stringified', attrs: { 'b.model': 42 }, field: MODEL, expected: '42' },
    { name: 'an array is not a string value', attrs: { 'a.model': ['x'], shared: 'y' }, field: MODEL, expected: 'y' },
    { name: 'a key serves two fields', attrs: { shared: 's', 'a.other': 'o' }, field: OTHER, expected: 's' },
    { name: 'nothing present', attrs: { unrelated: 'x' }, field: MODEL, expected: undefined },
  ])('string: $name', ({ attrs, field, expected }) => {
    expect(index.read(attrs as Attributes, found).string(field)).toBe(expected);
  });

  it.each([
    { name: 'null is skipped', attrs: { 'a.tokens': null, 'b.tokens': 7 }, expected: 7 },
    { name: 'a numeric string is a count', attrs: { 'c.tokens': '12' }, expected: 12 },
    { name: 'absent', attrs: {}, expected: undefined },
  ])('count: $name', ({ attrs, expected }) => {
    expect(index.read(attrs as unknown as Attributes, found).count(TOKENS)).toBe(expected);
  });

  it('a bad count is malformed and names the alias that won', () => {
    index.read({ 'b.tokens': 1.5, 'c.tokens': 3 }, found);
    expect(() => found.count(TOKENS)).toThrow(MalformedSpanError);
    expect(() => found.count(TOKENS)).toThrow(/^b\.tokens: not a whole count/);
  });

  it('quantity: null is present (and malformed), fractions are fine', () => {
    expect(index.read({ 'b.cost': 0.25 }, found).quantity(COST)).toBe(0.25);
    index.read({ 'a.cost': null, 'b.cost': 1 } as unknown as Attributes, found);
    expect(() => found.quantity(COST)).toThrow(/^a\.cost: not a valid count/);
  });

  it('tells whether a key starts with the prefix, and forgets between reads', () => {
    expect(index.read({ 'p.credits': 5 }, found).prefixed).toBe(true);
    expect(index.read({ 'a.model': 'm' }, found).prefixed).toBe(false);
    expect(found.string(MODEL)).toBe('m');
    expect(index.read({}, found).string(MODEL)).toBeUndefined();
  });

  it('agrees with ordered probing on random attribute objects', () => {
    const keys = [...new Set(SPECS.flatMap((s) => s.keys)), 'noise', 'p.x'];
    const values: unknown[] = ['', 'v', 0, 3, 2.5, true, null, ['a'], undefined];
    let seed = 7;
    const next = (n: number) => (seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) % n;
    for (let i = 0; i < 3000; i++) {
      const attrs: Record<string, unknown> = {};
      const shuffled = [...keys].sort(() => next(3) - 1);
      for (const key of shuffled) if (next(2) === 0) attrs[key] = values[next(values.length)];
      index.read(attrs as Attributes, found);
      SPECS.forEach((spec, field) => {
        const expected = probe(attrs as Attributes, spec);
        expect(found.values[field], JSON.stringify(attrs)).toBe(expected);
      });
    }
  });
});
