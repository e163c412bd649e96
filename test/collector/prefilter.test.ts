/**
 * The protobuf prefilter must never lose an AI call nor a rejection: for every captured fixture
 * (real instrumentations) and the benchmark traffic, decoding the prefiltered request gives exactly
 * the spans the classifier accepts (same records as decoding everything), and the same rejections.
 */
import { readdirSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { decodeTraceRequest } from '../../collector/otlp/decode.js';
import { CLASSIFIER_KEYS, prefilterProtobuf, renumberErrors } from '../../collector/prefilter.js';
import { callOperation } from '../../usage/classify.js';
import { UsageMapper } from '../../usage/mapper.js';
import { generateSpans } from '../../bench/support/traffic.js';
import { CAPTURED_FIXTURES_DIR, loadCapturedSpans } from '../support/span-json.js';
import { makeSpans, withSpanId } from './support/spans.js';

function check(spans: ReadableSpan[]): { total: number; kept: number } {
  const body = ProtobufTraceSerializer.serializeRequest(spans)!;
  const whole = decodeTraceRequest(body, 'protobuf');
  const filtered = prefilterProtobuf(body);
  const part = filtered.body ? decodeTraceRequest(filtered.body, 'protobuf') : { spans: [], rejected: 0, errors: [] };
  const calls = whole.spans.filter((s) => callOperation(s.attributes, s.name) !== undefined);
  const kept = new Map(part.spans.map((s) => [s.spanId, s]));
  for (const call of calls) expect(kept.get(call.spanId)).toEqual(call);
  // The mapper sees the same rows either way.
  const mapper = new UsageMapper();
  expect(mapper.mapAll(part.spans).rows).toEqual(mapper.mapAll(whole.spans).rows);
  expect(part.rejected).toBe(whole.rejected);
  expect(renumberErrors(part.errors, filtered.keptIndex)).toEqual(whole.errors);
  expect(filtered.keptIndex ? filtered.total : part.spans.length + part.rejected).toBe(whole.spans.length + whole.rejected);
  return { total: whole.spans.length + whole.rejected, kept: filtered.kept };
}

describe('protobuf prefilter', () => {
  const fixtures = readdirSync(CAPTURED_FIXTURES_DIR).filter((f) => f.endsWith('.json') && f !== 'index.json').map((f) => f.slice(0, -5));

  test.each(fixtures)('keeps every AI call of %s', (id) => {
    check(loadCapturedSpans(id));
  });

  test('benchmark traffic, 10% AI: ordinary spans are dropped unread, AI calls kept', () => {
    const { total, kept } = check(generateSpans({ spans: 3000, aiShare: 0.1, seed: 7 }));
    expect(total).toBe(3000);
    expect(kept).toBeLessThan(500);
    expect(kept).toBeGreaterThan(200);
  });

  test('every span kept: the original body is decoded as is; none kept: nothing to decode', () => {
    const ai = ProtobufTraceSerializer.serializeRequest(makeSpans({ ai: 5 }))!;
    expect(prefilterProtobuf(ai)).toEqual({ body: ai, total: 5, kept: 5 });
    const plain = prefilterProtobuf(ProtobufTraceSerializer.serializeRequest(makeSpans({ ai: 0, plain: 5 }))!);
    expect(plain).toMatchObject({ body: null, total: 5, kept: 0 });
  });

  test('malformed ordinary spans are kept, so the decoder rejects them with its own reason', () => {
    const spans = makeSpans({ ai: 2, plain: 6 });
    const plainAt = spans.map((s, i) => (s.name.startsWith('GET') ? i : -1)).filter((i) => i >= 0);
    const bad = spans.map((s, i) => (i === plainAt[0] ? withSpanId(s, '0000000000000000') : i === plainAt[3] ? withSpanId(s, 'abcd') : s));
    const { kept } = check(bad);
    expect(kept).toBe(4);
  });

  test('an unreadable body is passed through for the decoder to report', () => {
    const garbage = Buffer.from('garbage that is not protobuf');
    expect(prefilterProtobuf(garbage).body).toBe(garbage);
    expect(() => decodeTraceRequest(garbage, 'protobuf')).toThrow();
  });

  test('the keys are the ones the classifier reads', () => {
    expect(CLASSIFIER_KEYS).toEqual(expect.arrayContaining([
      'gen_ai.operation.name', 'gen_ai.request.model', 'gen_ai.response.model', 'ai.operationId', 'openinference.span.kind',
      'llm.request.type', 'llm.model_name', 'ai.model.id', 'langfuse.observation.type',
    ]));
  });
});
