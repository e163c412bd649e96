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
  // of a batch mostly share a few seconds), and made from the day's text (cached per day) and
  // tables of clock times otherwise (a Date per second costs ~1 µs: replayed or spread-out spans
  // miss the cache). Only whole, non-negative microseconds take this path.
  if (Number.isSafeInteger(micros) && micros >= 0) {
    const second = Math.floor(micros / 1_000_000);
    if (second !== prefixSecond) {
      const day = Math.floor(second / 86_400);
      if (day !== textDay) {
        dayText = `${new Date(day * 86_400_000).toISOString().slice(0, 10)} `;
        textDay = day;
      }
      const ofDay = second - day * 86_400;
      prefix = dayText + HOURS_MINUTES[Math.floor(ofDay / 60)]! + SECONDS[ofDay % 60]!;
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
let textDay = -1;
let dayText = '';
const twoDigits = (n: number) => (n < 10 ? `0${n}` : String(n));
/** `hh:mm:` for each minute of a day, `ss.` for each second of a minute. */
const HOURS_MINUTES = Array.from({ length: 1440 }, (_, m) => `${twoDigits(Math.floor(m / 60))}:${twoDigits(m % 60)}:`);
const SECONDS = Array.from({ length: 60 }, (_, s) => `${twoDigits(s)}.`);
/** Zeros that pad a fraction of n digits to 6. */
const FRACTION_PAD = ['', '00000', '0000', '000', '00', '0', ''];
