/** App-side setup: `genai-ledger/instrumentation`. */
export { register, type RegisterOptions, type Registration } from './register.js';
export { withUsageContext, contextWithUsage, UsageContextSpanProcessor, USAGE_CONTEXT_KEYS, type UsageContext } from './usage-context.js';
export { recordUsage, type RecordedUsage } from './record-usage.js';
