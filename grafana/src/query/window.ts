/**
 * Time windows: which hours (days, calls) of the store a query reads for Grafana's time range.
 * Rollups hold whole buckets, so a range is read as its whole days from a daily rollup and its
 * edge hours from the hourly one, or its whole hours from an hourly rollup and its partial hours
 * at the edges from the raw ledger.
 */

export interface Window {
  /** Conditions on an hourly rollup's `hour`. */
  hour: readonly string[];
  /** The condition on a call's `ts`, for windows the raw ledger is read in. */
  ts?: string;
  /** First and last instant of the range, as SQL. */
  from: string;
  to: string;
  /** An instant inside the range the query splits its sums at: the day holding it is read by the hour. */
  splitAt?: string;
}

/** The dashboard's time range: the hours whose start is in it. */
export const RANGE: Window = { hour: ['$__timeFilter(hour)'], ts: '$__timeFilter(ts)', from: '$__fromTime', to: '$__toTime' };

const firstWholeDay = (w: Window): string => `toStartOfDay(${w.from} + INTERVAL 86399 SECOND, 'UTC')`;
const lastWholeDay = (w: Window): string => `toStartOfDay(${w.to} - INTERVAL 23 HOUR, 'UTC')`;

/** The whole days of the window (a daily rollup's `day`), without the day holding `splitAt`. */
export function wholeDays(w: Window): string {
  const days = `day >= toDate(${firstWholeDay(w)}) AND day <= toDate(${lastWholeDay(w)})`;
  if (!w.splitAt) return days;
  return `${days} AND NOT (day >= toDate(toStartOfDay(${w.splitAt}, 'UTC')) AND day < toDate(toStartOfDay(${w.splitAt} + INTERVAL 86399 SECOND, 'UTC')))`;
}

/** The hours of the window outside its whole days (and those of the day holding `splitAt`). */
export function edgeHours(w: Window): string {
  const split = w.splitAt ? ` OR (hour >= toStartOfDay(${w.splitAt}, 'UTC') AND hour < toStartOfDay(${w.splitAt} + INTERVAL 86399 SECOND, 'UTC'))` : '';
  return `(hour < ${firstWholeDay(w)} OR hour >= ${lastWholeDay(w)} + INTERVAL 1 DAY${split})`;
}

const firstWholeHour = (w: Window): string => `toStartOfHour(${w.from} + INTERVAL 3599 SECOND)`;
const lastWholeHour = (w: Window): string => `toStartOfHour(${w.to} - INTERVAL 3600 SECOND)`;

/** The whole hours of the window (every instant of them in `$__timeFilter(ts)`). */
export const wholeHours = (w: Window): string => `hour >= ${firstWholeHour(w)} AND hour <= ${lastWholeHour(w)}`;

/** Calls in the window's partial edge hours, or in all of it unless `rollupApplies`. */
export function edgeCalls(w: Window, rollupApplies: string): string {
  return `(NOT (${rollupApplies}) OR ts < ${firstWholeHour(w)} OR ts >= ${lastWholeHour(w)} + INTERVAL 1 HOUR)`;
}

/** The days of those calls: implied by edgeCalls, and lets the ledger's primary index skip the days between. */
export function edgeCallDays(w: Window, rollupApplies: string): string {
  return `(NOT (${rollupApplies}) OR toDate(ts) <= toDate(${firstWholeHour(w)} - INTERVAL 1 SECOND) OR toDate(ts) >= toDate(${lastWholeHour(w)} + INTERVAL 1 HOUR))`;
}
