/**
 * OTLP/protobuf ExportTraceServiceRequest bodies of GenAI chat spans with known ids: span `i` has
 * trace id traceIdOf(i) and span id spanIdOf(i) (test/faults/support/spans.ts), so a test can tell
 * exactly which spans were acknowledged and check each is stored once. Also used by bench/soak.ts.
 */
import { encodeProtobuf, type KeyValueModel, type RequestModel } from '../../support/fuzz.js';
import { spanIdOf, traceIdOf } from '../../faults/support/spans.js';

const s = (key: string, value: string): KeyValueModel => ({ key, value: { stringValue: value } });
const n = (key: string, value: number): KeyValueModel => ({ key, value: { intValue: BigInt(value) } });

/** Start of span `i` (ns): one fixed hour, spread by i. */
const BASE_NS = BigInt(Date.UTC(2026, 2, 14, 9, 0, 0)) * 1_000_000n;

/** Spans `from` .. `from + count - 1`, gpt-4o chat calls (1000 in / 200 out), as one request. */
export function genaiRequest(from: number, count: number, service = 'spool-test'): RequestModel {
  const spans = Array.from({ length: count }, (_, k) => {
    const i = from + k;
    const start = BASE_NS + BigInt(i % 3_000_000) * 1000n;
    return {
      traceId: Buffer.from(traceIdOf(i), 'hex'),
      spanId: Buffer.from(spanIdOf(i), 'hex'),
      parentSpanId: new Uint8Array(0),
      name: 'chat gpt-4o',
      startTimeUnixNano: start,
      endTimeUnixNano: start + 750_000_000n,
      attributes: [
        s('gen_ai.operation.name', 'chat'),
        s('gen_ai.provider.name', 'openai'),
        s('gen_ai.request.model', 'gpt-4o'),
        s('gen_ai.response.model', 'gpt-4o-2024-08-06'),
        n('gen_ai.usage.input_tokens', 1000),
        n('gen_ai.usage.output_tokens', 200),
      ],
      events: [],
    };
  });
  return {
    resourceSpans: [{
      resource: { attributes: [s('service.name', service)] },
      scopeSpans: [{ scope: { name: '@opentelemetry/instrumentation-openai' }, spans }],
    }],
  };
}

/** genaiRequest as an OTLP/protobuf body. */
export function genaiBody(from: number, count: number, service?: string): Uint8Array {
  return encodeProtobuf(genaiRequest(from, count, service));
}

/**
 * The same spans in reverse order: a re-delivery (a client resending after a lost answer) that is
 * not byte-identical to the first, so the writer's insert dedup token (a hash of the rows) does
 * not drop it and the raw table really holds it twice.
 */
export function genaiBodyReversed(from: number, count: number, service?: string): Uint8Array {
  const request = genaiRequest(from, count, service);
  for (const rs of request.resourceSpans) for (const ss of rs.scopeSpans) ss.spans.reverse();
  return encodeProtobuf(request);
}

export { spanIdOf, traceIdOf };
