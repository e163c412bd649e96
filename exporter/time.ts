/** Time helpers shared by the span adapters and the row mapper. */

/** `[seconds, nanoseconds]` (OTel HrTime) to Unix microseconds. */
export function hrTimeToMicros(time: readonly [number, number]): number {
  return time[0] * 1_000_000 + Math.floor(time[1] / 1000);
}

/** Upper bound for a plausible span time (2200-01-01): later values are corrupt input. */
export const MAX_UNIX_MICROS = 7_258_118_400_000_000;

/** Unix microseconds to ClickHouse `DateTime64(6)` text: `2026-11-23 18:09:58.123456`. */
export function formatMicros(micros: number): string {
  // Hot path (one call per row): the `YYYY-MM-DD hh:mm:ss.` prefix is cached per second (spans
  // of a batch mostly share a few seconds); only whole, non-negative microseconds take it.
  if (Number.isSafeInteger(micros) && micros >= 0) {
    const second = Math.floor(micros / 1_000_000);
    if (second !== prefixSecond) {
      const iso = new Date(second * 1000).toISOString();
      prefix = `${iso.slice(0, 10)} ${iso.slice(11, 19)}.`;
      prefixSecond = second;
    }
    const frac = micros - second * 1_000_000;
    return frac >= 100_000 ? prefix + frac : prefix + FRACTION_PAD[String(frac).length]! + frac;
  }
  const ms = Math.floor(micros / 1000);
  const iso = new Date(ms).toISOString();
  const sub = micros - ms * 1000;
  return `${iso.slice(0, 10)} ${iso.slice(11, 23)}${sub < 10 ? '00' : sub < 100 ? '0' : ''}${sub}`;
}

let prefixSecond = -1;
let prefix = '';
/** Zeros that pad a fraction of n digits to 6. */
const FRACTION_PAD = ['', '00000', '0000', '000', '00', '0', ''];
