/** Each dashboard's uid and title: its URL `/d/<uid>/<slug of title>`, linked from the others. */
export const OVERVIEW = { uid: 'genai-ledger-overview', title: 'GenAI ledger · AI spend overview' };
export const TENANT = { uid: 'genai-ledger-tenant', title: 'GenAI ledger · Tenant drill-down' };
export const MODELS = { uid: 'genai-ledger-models', title: 'GenAI ledger · Model comparison' };
export const ANOMALIES = { uid: 'genai-ledger-anomalies', title: 'GenAI ledger · Anomalies' };
export const RECONCILE = { uid: 'genai-ledger-reconcile', title: 'GenAI ledger · Ledger vs bill' };
