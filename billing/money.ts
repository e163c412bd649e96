/**
 * The few exact operations billing adds to pricing/decimal.ts: a product, and rounding to whole
 * credits (floor, ceiling, half-even). BigInt only; money never touches a float.
 */
import { normalize, pow10, type Dec } from '../pricing/decimal.js';

export function mulDec(a: Dec, b: Dec): Dec {
  return normalize(a.n * b.n, a.s + b.s);
}

/** The largest integer ≤ a. */
export function floorDec(a: Dec): bigint {
  const p = pow10(a.s);
  const q = a.n / p;
  return a.n < 0n && q * p !== a.n ? q - 1n : q;
}

/** The smallest integer ≥ a. */
export function ceilDec(a: Dec): bigint {
  return -floorDec({ n: -a.n, s: a.s });
}

/** a rounded to an integer, ties to even (banker's rounding). */
export function roundHalfEvenDec(a: Dec): bigint {
  const floor = floorDec(a);
  const twiceFraction = (a.n - floor * pow10(a.s)) * 2n;
  const p = pow10(a.s);
  if (twiceFraction > p || (twiceFraction === p && floor % 2n !== 0n)) return floor + 1n;
  return floor;
}

/** a − floor(a), as a Dec in [0, 1). */
export function fractionDec(a: Dec): Dec {
  return normalize(a.n - floorDec(a) * pow10(a.s), a.s);
}
