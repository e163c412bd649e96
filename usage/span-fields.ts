import type { FieldSpec } from './alias-index.js';
import type { AttributionKeys } from './attribution.js';
import { KEYS } from './conventions.js';

/** The attribute fields the mapper reads from a span (and its resource), as AliasIndex fields. */
export const FIELD = {
  provider: 0, requestModel: 1, responseModel: 2,
  inputTokens: 3, outputTokens: 4, totalTokens: 5, cacheReadTokens: 6, cacheWriteTokens: 7,
  reasoningTokens: 8, inputAudioTokens: 9, outputAudioTokens: 10,
  reportedCost: 11, errorType: 12, environment: 13,
  org: 14, user: 15, feature: 16, conversation: 17,
  cacheWrite1hTokens: 18,
  langfuseUsage: 19, langfuseCost: 20, langfuseLevel: 21,
} as const;

/** The fields' alias keys (KEYS, and the attribution keys in use), indexed by FIELD. */
export function spanFieldSpecs(attribution: AttributionKeys): FieldSpec[] {
  const specs: FieldSpec[] = [];
  const put = (field: number, keys: readonly string[], kind: FieldSpec['kind']) => (specs[field] = { keys, kind });
  put(FIELD.provider, KEYS.provider, 'string');
  put(FIELD.requestModel, KEYS.requestModel, 'string');
  put(FIELD.responseModel, KEYS.responseModel, 'string');
  put(FIELD.inputTokens, KEYS.inputTokens, 'count');
  put(FIELD.outputTokens, KEYS.outputTokens, 'count');
  put(FIELD.totalTokens, KEYS.totalTokens, 'count');
  put(FIELD.cacheReadTokens, KEYS.cacheReadTokens, 'count');
  put(FIELD.cacheWriteTokens, KEYS.cacheWriteTokens, 'count');
  put(FIELD.reasoningTokens, KEYS.reasoningTokens, 'count');
  put(FIELD.inputAudioTokens, KEYS.inputAudioTokens, 'count');
  put(FIELD.outputAudioTokens, KEYS.outputAudioTokens, 'count');
  put(FIELD.reportedCost, KEYS.reportedCost, 'quantity');
  put(FIELD.errorType, KEYS.errorType, 'string');
  put(FIELD.environment, KEYS.environment, 'string');
  put(FIELD.org, attribution.org, 'string');
  put(FIELD.user, attribution.user, 'string');
  put(FIELD.feature, attribution.feature, 'string');
  put(FIELD.conversation, attribution.conversation, 'string');
  put(FIELD.cacheWrite1hTokens, KEYS.cacheWrite1hTokens, 'count');
  put(FIELD.langfuseUsage, KEYS.langfuseUsageDetails, 'string');
  put(FIELD.langfuseCost, KEYS.langfuseCostDetails, 'string');
  put(FIELD.langfuseLevel, KEYS.langfuseLevel, 'string');
  return specs;
}
