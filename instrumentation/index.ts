/** App-side setup: `genai-ledger/instrumentation`. */
export { register, type RegisterOptions, type Registration } from './register.js';
export {
  withUsageContext, contextWithUsage, getUsageContext, UsageContextSpanProcessor, USAGE_CONTEXT_KEYS,
  type UsageContext, type UsageContextKey, type UsageContextOptions, type UsageContextSpanProcessorOptions,
} from './usage-context.js';
export { recordUsage, type RecordedUsage } from './record-usage.js';
export {
  startBudgetChecks, checkBudget, enforceBudget, BudgetExceededError,
  type BudgetCheck, type BudgetCheckContext, type BudgetChecks, type BudgetChecksOptions,
} from './budget-check.js';
