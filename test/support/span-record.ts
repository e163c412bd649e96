import type { Attributes, SpanRecord } from '../../usage/span-record.js';

/** A span as the mapper sees it, with realistic defaults; tests override what they are about. */
export function spanRecord(attributes: Attributes, overrides: Partial<SpanRecord> = {}): SpanRecord {
  return {
    traceId: '0af7651916cd43dd8448eb211c80319c',
    spanId: 'b7ad6b7169203331',
    parentSpanId: '',
    name: 'chat gpt-4o',
    startUnixMicros: Date.UTC(2026, 10, 23, 12, 0, 0) * 1000 + 123_456,
    endUnixMicros: Date.UTC(2026, 10, 23, 12, 0, 1) * 1000 + 623_456,
    attributes,
    resource: { 'service.name': 'support-api', 'deployment.environment.name': 'prod' },
    scopeName: 'test',
    statusCode: 0,
    statusMessage: '',
    events: [],
    ...overrides,
  };
}
