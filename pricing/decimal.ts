/**
 * Exact decimal arithmetic on scaled BigInts. Money never touches a float here: prices and counts
 * are parsed from their shortest decimal text (`String(0.1)` is `'0.1'`, not 0.1000000000000000055…),
 * multiplied exactly, and divided by `per` as a rational. Only a division that does not terminate
 * (per = 3600 for audio hours) is rounded, once, half-even to {@link MAX_SCALE} places.
 */

/** `n / 10^s`; `s >= 0`. */
export interface Dec {
  readonly n: bigint;
  readonly s: number;
}

/** `n / (10^s × d)`: a `Dec` divided by a positive integer cofactor `d` (1n when it is a plain decimal). */
export interface Amount {
  readonly n: bigint;
  readonly s: number;
  readonly d: bigint;
}

/** Decimal places kept when a division does not terminate. */
export const MAX_SCALE = 18;

export const ZERO: Dec = { n: 0n, s: 0 };

const POW10: bigint[] = [];
for (let i = 0, p = 1n; i <= 64; i++, p *= 10n) POW10.push(p);

/** 10^k as a BigInt (table for the common range). */
export function pow10(k: number): bigint {
  return POW10[k] ?? 10n ** BigInt(k);
}

const DECIMAL_RE = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;

/** Parses `'12.5'`, `'-0.001'`, `'1e-7'`, `'1.5E+3'`; throws RangeError on anything else. */
export function parseDecimal(text: string): Dec {
  const m = DECIMAL_RE.exec(text.trim());
  const intPart = m?.[2] ?? '';
  const fracPart = m?.[3] ?? '';
  if (!m || (intPart === '' && fracPart === '')) throw new RangeError(`not a decimal number: ${JSON.stringify(text)}`);
  const exp = m[4] === undefined ? 0 : Number(m[4]);
  if (!Number.isSafeInteger(exp) || Math.abs(exp) > 1000) throw new RangeError(`exponent out of range: ${JSON.stringify(text)}`);
  let n = BigInt(intPart + fracPart || '0');
  if (m[1] === '-') n = -n;
  let s = fracPart.length - exp;
  if (s < 0) {
    n *= pow10(-s);
    s = 0;
  }
  return normalize(n, s);
}

/** A finite JS number, exactly as its shortest round-trip decimal text reads (0.1 → 1/10). */
export function decFromNumber(value: number): Dec {
  if (!Number.isFinite(value)) throw new RangeError(`not a finite number: ${value}`);
  if (Number.isSafeInteger(value)) return { n: BigInt(value), s: 0 };
  return parseDecimal(String(value));
}

/** A number or a decimal string. */
export function toDec(value: number | string): Dec {
  return typeof value === 'number' ? decFromNumber(value) : parseDecimal(value);
}

/** Drops trailing zero digits of the scale (1.500 → 1.5). */
export function normalize(n: bigint, s: number): Dec {
  if (n === 0n) return ZERO;
  while (s > 0 && n % 10n === 0n) {
    n /= 10n;
    s--;
  }
  return { n, s };
}

export function addDec(a: Dec, b: Dec): Dec {
  if (b.n === 0n) return a;
  if (a.n === 0n) return b;
  if (a.s === b.s) return { n: a.n + b.n, s: a.s };
  return a.s > b.s ? { n: a.n + b.n * pow10(a.s - b.s), s: a.s } : { n: a.n * pow10(b.s - a.s) + b.n, s: b.s };
}

export function subDec(a: Dec, b: Dec): Dec {
  return addDec(a, { n: -b.n, s: b.s });
}

/** Sign of a − b. */
export function cmpDec(a: Dec, b: Dec): number {
  const d = subDec(a, b).n;
  return d > 0n ? 1 : d < 0n ? -1 : 0;
}

/** a > an integer-valued JS number (tier thresholds). */
export function decGreaterThan(a: Dec, int: number): boolean {
  return a.n > BigInt(int) * pow10(a.s);
}

/**
 * A divisor `per` split as 10^k × r, so dividing by it is a scale shift plus (rarely) a cofactor.
 * 1e6 → {k: 6, r: 1n}; 3600 → {k: 2, r: 36n}; 1 → {k: 0, r: 1n}.
 */
export interface Divisor {
  readonly k: number;
  readonly r: bigint;
}

export function divisorOf(per: number): Divisor {
  if (!Number.isSafeInteger(per) || per <= 0) throw new RangeError(`per must be a positive integer, got ${per}`);
  let r = BigInt(per);
  let k = 0;
  while (r % 10n === 0n) {
    r /= 10n;
    k++;
  }
  return { k, r };
}

/** count × price / per, exactly. */
export function cost(count: Dec, price: Dec, per: Divisor): Amount {
  return { n: count.n * price.n, s: count.s + price.s + per.k, d: per.r };
}

export function addAmount(a: Amount, b: Amount): Amount {
  if (a.n === 0n) return b;
  if (b.n === 0n) return a;
  if (a.d === b.d) {
    if (a.s === b.s) return { n: a.n + b.n, s: a.s, d: a.d };
    return a.s > b.s
      ? { n: a.n + b.n * pow10(a.s - b.s), s: a.s, d: a.d }
      : { n: a.n * pow10(b.s - a.s) + b.n, s: b.s, d: a.d };
  }
  const s = Math.max(a.s, b.s);
  return {
    n: a.n * b.d * pow10(s - a.s) + b.n * a.d * pow10(s - b.s),
    s,
    d: a.d * b.d,
  };
}

function gcd(a: bigint, b: bigint): bigint {
  if (a < 0n) a = -a;
  while (b !== 0n) [a, b] = [b, a % b];
  return a;
}

/**
 * The amount as a decimal: exact when the division terminates (its reduced cofactor has only the
 * prime factors 2 and 5), else rounded half-even to {@link MAX_SCALE} places.
 */
export function amountToDec(a: Amount): Dec {
  let { n, s, d } = a;
  if (d === 1n || n === 0n) return normalize(n, s);
  const g = gcd(n, d);
  if (g !== 1n) {
    n /= g;
    d /= g;
  }
  if (d === 1n) return normalize(n, s);
  let twos = 0;
  let fives = 0;
  let rest = d;
  while (rest % 2n === 0n) {
    rest /= 2n;
    twos++;
  }
  while (rest % 5n === 0n) {
    rest /= 5n;
    fives++;
  }
  if (rest === 1n) {
    // d divides 10^k: multiply up to a power of ten.
    const k = Math.max(twos, fives);
    return normalize(n * (pow10(k) / d), s + k);
  }
  return roundHalfEven(n, s, d, MAX_SCALE);
}

/** n / (10^s × d) rounded half-even to `scale` places. */
function roundHalfEven(n: bigint, s: number, d: bigint, scale: number): Dec {
  const negative = n < 0n;
  if (negative) n = -n;
  let num = n;
  let den = d;
  if (s <= scale) num *= pow10(scale - s);
  else den *= pow10(s - scale);
  let q = num / den;
  const r2 = (num % den) * 2n;
  if (r2 > den || (r2 === den && q % 2n === 1n)) q += 1n;
  return normalize(negative ? -q : q, scale);
}

/** Plain decimal text: no exponent, no trailing zeros, '0' for zero (`1.5`, `0.00472`, `-3`). */
export function formatDec(a: Dec): string {
  return formatScaled(a.n, a.s);
}

/** `n / 10^s` as plain decimal text (string work only: no BigInt division). */
export function formatScaled(n: bigint, s: number): string {
  if (n === 0n) return '0';
  const negative = n < 0n;
  let digits = (negative ? -n : n).toString();
  if (s > 0) {
    let end = digits.length;
    let scale = s;
    while (scale > 0 && digits.charCodeAt(end - 1) === 48) {
      end--;
      scale--;
    }
    if (end !== digits.length) digits = digits.slice(0, end);
    if (scale > 0) {
      if (digits.length <= scale) digits = '0'.repeat(scale - digits.length + 1) + digits;
      digits = `${digits.slice(0, digits.length - scale)}.${digits.slice(digits.length - scale)}`;
    }
  }
  return negative ? `-${digits}` : digits;
}

export function formatAmount(a: Amount): string {
  return formatDec(amountToDec(a));
}

/** Exact decimal text of a JS number's shortest representation (`1e-7` → `'0.0000001'`). */
export function formatNumber(value: number): string {
  return formatDec(decFromNumber(value));
}

/** 10^k as exact doubles (10^22 is the last power of ten a double holds exactly). */
const NUMBER_POW10: readonly number[] = Array.from({ length: 23 }, (_, k) => Number(`1e${k}`));

/**
 * {@link formatScaled} of a non-negative safe integer, same text. Usually one division: `n / 10^s`
 * is correctly rounded, and a decimal of at most 15 significant digits is the shortest text of its
 * nearest double (DBL_DIG), which JS prints without an exponent from 1e-6 up.
 */
export function formatScaledNumber(n: number, s: number): string {
  if (n < 1e15 && s <= 22 && (s <= 6 || n >= NUMBER_POW10[s - 6]!)) return String(n / NUMBER_POW10[s]!);
  return formatScaled(BigInt(n), s);
}
