import { describe, expect, it } from 'vitest';
import { formatMicros } from '../../usage/time.js';

/** The reference: the whole text from one Date each call (formatMicros caches the prefix per second). */
function reference(micros: number): string {
  const ms = Math.floor(micros / 1000);
  const iso = new Date(ms).toISOString();
  const sub = micros - ms * 1000;
  return `${iso.slice(0, 10)} ${iso.slice(11, 23)}${sub < 10 ? '00' : sub < 100 ? '0' : ''}${sub}`;
}

describe('formatMicros', () => {
  it('formats DateTime64(6) text', () => {
    expect(formatMicros(1_763_921_398_123_456)).toBe('2025-11-23 18:09:58.123456');
    expect(formatMicros(1_763_921_398_000_007)).toBe('2025-11-23 18:09:58.000007');
    expect(formatMicros(0)).toBe('1970-01-01 00:00:00.000000');
  });

  it('matches the per-call reference across second boundaries, cached and not', () => {
    const cases = [1, 9, 10, 99, 100, 999, 1000, 99_999, 100_000, 999_999, 1_000_000, 1_000_001,
      1_700_000_000_999_999, 1_700_000_001_000_000, 1_700_000_000_000_000, 7_258_118_399_999_999, -1, -1_000_001, 1.5];
    let seed = 1;
    const next = () => (seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648);
    for (let i = 0; i < 2000; i++) cases.push(1_763_900_000_000_000 + next() * 1000 + (next() % 1000));
    for (const micros of cases) expect(formatMicros(micros), String(micros)).toBe(reference(micros));
  });
});
