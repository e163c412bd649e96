/** Budgets: the file, calendar periods, matching, figures and thresholds (pure). */
export { alertAtText, BUDGET_FIELDS, BUDGET_PERIODS, BudgetConfigError, DEFAULT_ALERT_AT, loadBudgetsFile, parseBudgets } from './budget.js';
export type { Budget, BudgetField, BudgetPeriod } from './budget.js';
export { periodBounds, type PeriodBounds } from './period.js';
export { budgetFigures, budgetState, reachedThresholds, thresholdUsd, type BudgetFigures, type BudgetState } from './status.js';
export { budgetKey, budgetKeyOf, type BudgetSubject } from './match.js';
