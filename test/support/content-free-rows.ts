/**
 * The rows of captured spans, checked as every conformance file checks them: each span mapped (none
 * malformed), and no prompt or completion in any row, whatever the instrumentation recorded.
 */
import { expect } from 'vitest';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { COMPLETION_MARKER } from '../../demo/fake-provider.js';
import { PROMPT_MARKER } from './capture.js';
import { mapSpans } from './conformance-rows.js';

export async function contentFreeRows(spans: readonly ReadableSpan[]) {
  const result = await mapSpans(spans, { attributeAllowList: ['*'] });
  expect(result.malformed).toBe(0);
  const text = JSON.stringify(result.rows);
  expect(text).not.toContain(PROMPT_MARKER);
  expect(text).not.toContain(COMPLETION_MARKER);
  return result.rows;
}
