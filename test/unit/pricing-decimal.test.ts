import { describe, expect, it } from 'vitest';
import {
  addAmount, cost, decFromNumber, divisorOf, formatAmount, formatDec, formatNumber, parseDecimal, toDec, type Amount,
} from '../../pricing/decimal.js';

describe('parsing numbers and decimal strings', () => {
  it.each<[number | string, string]>([
    [0, '0'],
    [1200, '1200'],
    [0.1, '0.1'],
    [2.5, '2.5'],
    [0.0028, '0.0028'],
    [1e-7, '0.0000001'],
    [1.5e-7, '0.00000015'],
    [1e21, '1000000000000000000000'],
    [12.5, '12.5'],
    [0.1 + 0.2, '0.30000000000000004'], // the number's own shortest text: we never invent digits
    [-0.5, '-0.5'],
    ['0.00083', '0.00083'],
    ['1.2', '1.2'],
    ['1.500', '1.5'],
    ['000.000', '0'],
    ['.5', '0.5'],
    ['5.', '5'],
    ['1.5E+3', '1500'],
    ['2e-3', '0.002'],
    [' 42 ', '42'],
    ['123456789012345678901234567890.123456789', '123456789012345678901234567890.123456789'],
  ])('%s → %s', (input, expected) => {
    expect(formatDec(toDec(input))).toBe(expected);
  });

  it.each(['', '.', 'abc', '1.2.3', '1e', '0x10', '1,5', 'NaN', 'Infinity'])('rejects %j', (input) => {
    expect(() => parseDecimal(input)).toThrow(RangeError);
  });

  it.each([NaN, Infinity, -Infinity])('rejects the number %s', (input) => {
    expect(() => decFromNumber(input)).toThrow(RangeError);
  });
});

describe('cost = count × price / per', () => {
  it.each<[number, number | string, number, string]>([
    [1200, 2.5, 1_000_000, '0.003'],
    [176, 2.5, 1_000_000, '0.00044'],
    [1024, 1.25, 1_000_000, '0.00128'],
    [300, 10, 1_000_000, '0.003'],
    [1000, 3.75, 1_000_000, '0.00375'],
    [5000, 0.3, 1_000_000, '0.0015'],
    [3, 10, 1000, '0.03'],
    [1, 12, 1000, '0.012'],
    [0, 15, 1_000_000, '0'],
    [1, 1e-7, 1_000_000, '0.0000000000001'], // terminating: exact even beyond 18 places
    [1, '0.0000001', 1_000_000_000, '0.0000000000000001'],
    [12.5, 0.36, 3600, '0.00125'], // whisper: 12.5 s at $0.36/h
    [7, 0.36, 3600, '0.0007'],
    [10, 0.111, 3600, '0.000308333333333333'], // does not terminate: half-even at 18 places (…3|33 rounds down)
    [1, 2, 3, '0.666666666666666667'], // …6|66 rounds up
    [1, 1, 7, '0.142857142857142857'],
    [50, '0.00083', 1, '0.0415'],
    [1_000_000, 1_000_000, 1, '1000000000000'],
  ])('%s × %s / %s = %s', (count, price, per, expected) => {
    expect(formatAmount(cost(decFromNumber(count), toDec(price), divisorOf(per)))).toBe(expected);
  });

  it.each<[string, Amount[], string]>([
    ['1/3 + 2/3 sums exactly before rounding', [third(1n), third(2n)], '1'],
    ['1/3 + 0.1', [third(1n), { n: 1n, s: 1, d: 1n }], '0.433333333333333333'],
    ['decimals of different scales', [{ n: 44n, s: 5, d: 1n }, { n: 128n, s: 5, d: 1n }, { n: 3n, s: 3, d: 1n }], '0.00472'],
    ['the Anthropic example, component by component', [
      { n: 6n, s: 4, d: 1n }, { n: 375n, s: 5, d: 1n }, { n: 15n, s: 4, d: 1n }, { n: 45n, s: 4, d: 1n },
    ], '0.01035'],
  ])('%s', (_name, parts, expected) => {
    expect(formatAmount(parts.reduce(addAmount))).toBe(expected);
  });

  it('floats drift where we do not', () => {
    expect(0.0006 + 0.00375 + 0.0015 + 0.0045).not.toBe(0.01035);
    expect(formatNumber(0.0006 + 0.00375 + 0.0015 + 0.0045)).not.toBe('0.01035');
  });
});

describe('divisors', () => {
  it.each<[number, number, bigint]>([
    [1, 0, 1n],
    [1000, 3, 1n],
    [1_000_000, 6, 1n],
    [3600, 2, 36n],
    [1_000_000_000, 9, 1n],
  ])('%s = 10^%s × %s', (per, k, r) => {
    expect(divisorOf(per)).toEqual({ k, r });
  });

  it.each([0, -1, 1.5, NaN])('rejects %s', (per) => {
    expect(() => divisorOf(per)).toThrow(RangeError);
  });
});

function third(numerator: bigint): Amount {
  return { n: numerator, s: 0, d: 3n };
}
