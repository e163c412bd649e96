/** Which attribute keys name the tenant, user, feature and conversation, in priority order. */
export interface AttributionKeys {
  org: readonly string[];
  user: readonly string[];
  feature: readonly string[];
  conversation: readonly string[];
}

const meta = (...names: string[]) => names.map((n) => `ai.telemetry.metadata.${n}`);

/** Our own keys first (set by `withUsageContext`), then common conventions, then vendor ones. */
export const DEFAULT_ATTRIBUTION_KEYS: AttributionKeys = {
  org: [
    'genai_ledger.org_id', 'tenant.id', 'org.id', 'organization.id',
    ...meta('orgId', 'organizationId', 'tenantId', 'org_id', 'tenant_id'),
    'langfuse.trace.metadata.orgId',
  ],
  user: [
    'genai_ledger.user_id', 'user.id', 'enduser.id', ...meta('userId', 'user_id'), 'langfuse.user.id',
  ],
  feature: [
    'genai_ledger.feature', 'feature', 'app.feature', ...meta('feature', 'featureName'), 'ai.telemetry.functionId',
  ],
  conversation: [
    'genai_ledger.conversation_id', 'gen_ai.conversation.id', 'session.id',
    ...meta('conversationId', 'sessionId', 'conversation_id', 'session_id'), 'langfuse.session.id',
  ],
};
