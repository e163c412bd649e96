/** Which budgets a call's attribution falls under, and under which `per` value. */
import type { Budget, BudgetField } from './budget.js';

/** A call's attribution by budget field; a missing field matches no budget that names it. */
export type BudgetSubject = Partial<Record<BudgetField, string>>;

/**
 * The key a subject falls under for `budget`: `''` for a budget without `per`, the subject's
 * value of the `per` field otherwise; undefined when the budget does not apply to the subject
 * (a match field differs, or the `per` field is unknown).
 */
export function budgetKey(budget: Budget, subject: BudgetSubject): string | undefined {
  return budgetKeyOf(budget)(subject);
}

/** {@link budgetKey} compiled for one budget: only its own match fields are read (checks on the app's thread). */
export function budgetKeyOf(budget: Budget): (subject: BudgetSubject) => string | undefined {
  const fields = Object.keys(budget.match) as BudgetField[];
  const values = fields.map((field) => budget.match[field]);
  const per = budget.per;
  return (subject) => {
    for (let i = 0; i < fields.length; i++) if (subject[fields[i]!] !== values[i]) return undefined;
    if (per === undefined) return '';
    const value = subject[per];
    return value === undefined || value === '' ? undefined : value;
  };
}
