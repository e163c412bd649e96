/** Deterministic chat-call spans for the fault tests (and the crash child process). */
import type { SpanRecord } from '../../../usage/span-record.js';

const hex = (n: number, width: number): string => n.toString(16).padStart(width, '0');

/** Trace id of span `i` (32 hex chars, never all zero). */
export function traceIdOf(i: number): string {
  return `fa${hex(i + 1, 30)}`;
}

/** Span id of span `i` (16 hex chars, never all zero). */
export function spanIdOf(i: number): string {
  return hex(i + 1, 16);
}

/** Span `i`: an OpenAI gpt-4o chat call, 1000 input / 200 output tokens, in one fixed hour. */
export function chatSpan(i: number, overrides: Partial<SpanRecord> = {}): SpanRecord {
  const start = Date.UTC(2026, 2, 14, 9, 0, 0) * 1000 + (i % 3_000_000);
  return {
    traceId: traceIdOf(i),
    spanId: spanIdOf(i),
    parentSpanId: '',
    name: 'chat gpt-4o',
    startUnixMicros: start,
    endUnixMicros: start + 750_000,
    attributes: {
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai',
      'gen_ai.request.model': 'gpt-4o',
      'gen_ai.response.model': 'gpt-4o-2024-08-06',
      'gen_ai.usage.input_tokens': 1000,
      'gen_ai.usage.output_tokens': 200,
    },
    resource: { 'service.name': 'faults', 'deployment.environment.name': 'test' },
    scopeName: 'genai-ledger-faults',
    statusCode: 0,
    statusMessage: '',
    events: [],
    ...overrides,
  };
}

export function chatSpans(from: number, count: number): SpanRecord[] {
  return Array.from({ length: count }, (_, k) => chatSpan(from + k));
}
