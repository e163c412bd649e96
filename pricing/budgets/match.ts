/** Which budgets a call's attribution falls under, and under which `per` value. */
import { BUDGET_FIELDS, type Budget, type BudgetField } from './budget.js';

/** A call's attribution by budget field; a missing field matches no budget that names it. */
export type BudgetSubject = Partial<Record<BudgetField, string>>;

/**
 * The key a subject falls under for `budget`: `''` for a budget without `per`, the subject's
 * value of the `per` field otherwise; undefined when the budget does not apply to the subject
 * (a match field differs, or the `per` field is unknown).
 */
export function budgetKey(budget: Budget, subject: BudgetSubject): string | undefined {
  for (const field of BUDGET_FIELDS) {
    const wanted = budget.match[field];
    if (wanted !== undefined && subject[field] !== wanted) return undefined;
  }
  if (budget.per === undefined) return '';
  const value = subject[budget.per];
  return value === undefined || value === '' ? undefined : value;
}
