/**
 * Where a budget stands for a spent amount: fraction used, forecast at the period's end, state,
 * and which alert fractions the spend has reached. Exact decimals throughout.
 */
import { amountToDec, cmpDec, pow10, subDec, type Dec } from '../decimal.js';
import type { Budget } from './budget.js';
import type { PeriodBounds } from './period.js';

/** `ok`; `warning` once spent reaches the first alert fraction; `exceeded` at or over the limit. */
export type BudgetState = 'ok' | 'warning' | 'exceeded';

export interface BudgetFigures {
  spent: Dec;
  /** spent ÷ limit (rounded half-even to 18 places when it does not terminate). */
  used: Dec;
  /** limit − spent; negative once exceeded. */
  remaining: Dec;
  /** Spend at the period's end at the rate so far: spent × period length ÷ time elapsed. */
  forecast: Dec;
  state: BudgetState;
}

export function budgetFigures(budget: Budget, spent: Dec, bounds: PeriodBounds, atMs: number): BudgetFigures {
  const length = bounds.endMs - bounds.startMs;
  const elapsed = Math.min(length, Math.max(1, atMs - bounds.startMs));
  return {
    spent,
    used: amountToDec({ n: spent.n * pow10(budget.limitUsd.s), s: spent.s, d: budget.limitUsd.n }),
    remaining: subDec(budget.limitUsd, spent),
    forecast: amountToDec({ n: spent.n * BigInt(length), s: spent.s, d: BigInt(elapsed) }),
    state: budgetState(budget, spent),
  };
}

export function budgetState(budget: Budget, spent: Dec): BudgetState {
  if (cmpDec(spent, budget.limitUsd) >= 0) return 'exceeded';
  return cmpDec(spent, thresholdUsd(budget, budget.alertAt[0]!)) >= 0 ? 'warning' : 'ok';
}

/** The alert fractions whose amount (fraction × limit) `spent` has reached, ascending. */
export function reachedThresholds(budget: Budget, spent: Dec): Dec[] {
  return budget.alertAt.filter((fraction) => cmpDec(spent, thresholdUsd(budget, fraction)) >= 0);
}

/** fraction × limit, exactly. */
export function thresholdUsd(budget: Budget, fraction: Dec): Dec {
  return { n: fraction.n * budget.limitUsd.n, s: fraction.s + budget.limitUsd.s };
}
