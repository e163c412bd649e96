/** Calendar periods in UTC: a day, a week starting Monday, a month. */
import type { BudgetPeriod } from './budget.js';

export interface PeriodBounds {
  /** Inclusive start, Unix ms. */
  startMs: number;
  /** Exclusive end, Unix ms. */
  endMs: number;
}

const DAY_MS = 86_400_000;

/** The period of kind `period` that holds the instant `atMs`. */
export function periodBounds(period: BudgetPeriod, atMs: number): PeriodBounds {
  const at = new Date(atMs);
  const y = at.getUTCFullYear();
  const m = at.getUTCMonth();
  const dayStart = Date.UTC(y, m, at.getUTCDate());
  switch (period) {
    case 'day':
      return { startMs: dayStart, endMs: dayStart + DAY_MS };
    case 'week': {
      // getUTCDay(): 0 is Sunday; days since Monday.
      const startMs = dayStart - ((at.getUTCDay() + 6) % 7) * DAY_MS;
      return { startMs, endMs: startMs + 7 * DAY_MS };
    }
    case 'month':
      return { startMs: Date.UTC(y, m, 1), endMs: Date.UTC(y, m + 1, 1) };
  }
}
