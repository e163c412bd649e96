import type { Attributes } from './span-record.js';

/** A span the mapper cannot turn into a row: counted and skipped, never thrown past the mapper. */
export class MalformedSpanError extends Error {
  override readonly name = 'MalformedSpanError';
}

/** First non-empty string value among `keys` (numbers are stringified: some SDKs send ids as ints). */
export function firstString(attrs: Attributes, keys: readonly string[]): string | undefined {
  for (const key of keys) {
    const value = attrs[key];
    if (typeof value === 'string') {
      if (value !== '') return value;
    } else if (typeof value === 'number' || typeof value === 'boolean') {
      return String(value);
    }
  }
  return undefined;
}

/** A whole, non-negative count (tokens). */
export function toCount(key: string, value: unknown): number {
  const n = toQuantity(key, value);
  if (!Number.isInteger(n)) throw new MalformedSpanError(`${key}: not a whole count (${String(value).slice(0, 40)})`);
  return n;
}

/** A non-negative quantity that may be fractional (audio seconds, credits, a reported cost). */
export function toQuantity(key: string, value: unknown): number {
  const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
  if (!Number.isFinite(n) || n < 0 || n > Number.MAX_SAFE_INTEGER) {
    throw new MalformedSpanError(`${key}: not a valid count (${String(value).slice(0, 40)})`);
  }
  return n;
}
