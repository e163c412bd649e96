/**
 * SpanWire: what export() hands the mapping thread. The mapper must make the very same rows from
 * the packed spans as from the SDK's spans, ordinary spans never leave the app's thread, and
 * prompt text never travels.
 */
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SpanStatusCode } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { generateSpans } from '../../bench/support/traffic.js';
import { UsageMapper, type MapperOptions } from '../../exporter/mapper.js';
import { loadPriceBook } from '../../exporter/pricing/index.js';
import { fromReadableSpan } from '../../exporter/readable-span.js';
import { SpanWire } from '../../exporter/span-wire.js';
import { CAPTURED_FIXTURES_DIR, loadCapturedSpans } from '../support/span-json.js';

const prices = await loadPriceBook();

/** Packs, clones (as postMessage does) and unpacks; the rows must equal those of the direct path. */
function roundTrip(spans: ReadableSpan[], options: Omit<MapperOptions, 'prices'> = {}) {
  const wire = new SpanWire(options);
  const encoded = wire.encode(spans);
  const records = new SpanWire(options).decode(structuredClone(encoded.batch));
  const mapper = new UsageMapper({ ...options, prices });
  return { encoded, records, viaWire: mapper.mapAll(records), direct: () => mapper.mapAll(spans.map(fromReadableSpan)) };
}

/** An SDK chat span, as a plain object whose fields a test may replace. */
function chatSpan(seed: number): ReadableSpan {
  const span = generateSpans({ spans: 50, aiShare: 1, seed }).find((s) => s.attributes['gen_ai.operation.name'] === 'chat')!;
  return {
    name: span.name, kind: span.kind, spanContext: () => span.spanContext(), parentSpanContext: span.parentSpanContext,
    startTime: span.startTime, endTime: span.endTime, status: span.status, attributes: span.attributes, links: [], events: [],
    duration: span.duration, ended: true, resource: span.resource, instrumentationScope: span.instrumentationScope,
    droppedAttributesCount: 0, droppedEventsCount: 0, droppedLinksCount: 0,
  };
}

describe('SpanWire', () => {
  const fixtures = readdirSync(CAPTURED_FIXTURES_DIR).filter((f) => f.endsWith('.json') && f !== 'index.json').map((f) => f.slice(0, -5));

  it.each(fixtures)('%s: the same rows and counts as mapping the SDK spans', (id) => {
    const { encoded, viaWire, direct } = roundTrip(loadCapturedSpans(id), { attributeAllowList: ['server.*', 'llm.*', 'gen_ai.*'] });
    const expected = direct();
    expect(viaWire.rows).toEqual(expected.rows);
    expect(encoded.skipped + viaWire.skipped).toBe(expected.skipped);
    expect(viaWire.malformed).toBe(expected.malformed);
  });

  it('carries generated traffic with several resources, and keeps ordinary spans on the app thread', () => {
    const spans = generateSpans({ spans: 3000, aiShare: 0.3, seed: 9 });
    const { encoded, viaWire, direct } = roundTrip(spans, { attribution: { org: ['tenant.id'] } });
    expect(viaWire.rows).toEqual(direct().rows);
    expect(encoded.batch.resources.length).toBeGreaterThan(1);
    expect(encoded.sent + encoded.skipped).toBe(spans.length);
    expect(encoded.skipped).toBeGreaterThan(spans.length / 2);
  });

  it('sends only what the mapper reads: no prompt text, even when an allow-list prefix covers it', () => {
    const span = chatSpan(1);
    const attributes = {
      ...span.attributes, 'gen_ai.prompt.0.content': 'secret prompt', 'http.request.header.authorization': 'Bearer x',
      'app.unrelated': 'x'.repeat(10_000), 'gen_ai.request.temperature': 0.2,
    };
    const { encoded, records } = roundTrip([{ ...span, attributes }], { attributeAllowList: ['gen_ai.*', 'http.*'] });
    const text = JSON.stringify(encoded.batch);
    expect(text).not.toContain('secret prompt');
    expect(text).not.toContain('Bearer');
    expect(text).not.toContain('xxxxxxxx');
    expect(records[0]!.attributes['gen_ai.request.temperature']).toBe(0.2);
  });

  it('carries the exception type of an error span without other attributes', () => {
    const failed: ReadableSpan = {
      ...chatSpan(2), status: { code: SpanStatusCode.ERROR },
      events: [{ name: 'log', time: [0, 0] }, { name: 'exception', time: [0, 0], attributes: { 'exception.type': 'RateLimitError', 'exception.stacktrace': 'long' } }],
    };
    const { viaWire, direct, encoded } = roundTrip([failed]);
    expect(viaWire.rows[0]!.error_type).toBe('RateLimitError');
    expect(viaWire.rows).toEqual(direct().rows);
    expect(JSON.stringify(encoded.batch)).not.toContain('long');
  });

  it('counts a span it cannot read and packs the others', () => {
    const spans = generateSpans({ spans: 40, aiShare: 1, seed: 3 });
    const broken: ReadableSpan = { ...chatSpan(3), spanContext: () => { throw new Error('no context'); } };
    const { encoded, viaWire } = roundTrip([...spans, broken]);
    expect(encoded.malformed).toBe(1);
    expect(encoded.errors[0]).toContain('no context');
    expect(encoded.sent + encoded.skipped + encoded.malformed).toBe(spans.length + 1);
    expect(viaWire.rows.length).toBeGreaterThan(0);
    expect(viaWire.malformed).toBe(0);
  });
});
