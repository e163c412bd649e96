/**
 * SpanWire: what export() hands the mapping thread. The mapper must make the very same rows from
 * the packed spans as from the SDK's spans, ordinary spans never leave the app's thread, and
 * prompt text never travels. Every value the mapper may read must survive the binary form exactly.
 */
import { readdirSync } from 'node:fs';
import { once } from 'node:events';
import { MessageChannel } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { SpanStatusCode } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { generateSpans } from '../../bench/support/traffic.js';
import { UsageMapper, type MapperOptions } from '../../usage/mapper.js';
import { loadPriceBook } from '../../pricing/index.js';
import { fromReadableSpan } from '../../exporter/readable-span.js';
import type { AttributeValue, SpanRecord } from '../../usage/span-record.js';
import { SpanWire, wireTransferList, type EncodedSpans, type WireBatch } from '../../exporter/span-wire.js';
import { CAPTURED_FIXTURES_DIR, loadCapturedSpans } from '../support/span-json.js';

const prices = await loadPriceBook();

/** Everything of a batch that leaves the app's thread, as text (its text section decoded as packed). */
function wireText(batch: WireBatch): string {
  const textAt = batch.numbers * 8 + batch.words * 2;
  return Buffer.from(batch.buffer, textAt).toString(batch.ascii ? 'latin1' : 'utf16le') + JSON.stringify({ ...batch, buffer: undefined }, (_, v: unknown) => (typeof v === 'bigint' ? String(v) : v));
}

/** Transfers the batch as postMessage does (the sender's buffer is detached) and unpacks it. */
function transfer(batch: WireBatch, options: Omit<MapperOptions, 'prices'> = {}): SpanRecord[] {
  const moved = structuredClone(batch, { transfer: wireTransferList(batch) });
  expect(batch.buffer.byteLength).toBe(0);
  return new SpanWire(options).decode(moved);
}

/** Packs, transfers and unpacks; the rows must equal those of the direct path. */
function roundTrip(spans: ReadableSpan[], options: Omit<MapperOptions, 'prices'> = {}) {
  const wire = new SpanWire(options);
  const encoded = wire.encode(spans);
  const text = wireText(encoded.batch);
  const records = transfer(encoded.batch, options);
  const mapper = new UsageMapper({ ...options, prices });
  return { encoded, text, records, viaWire: mapper.mapAll(records), direct: () => mapper.mapAll(spans.map(fromReadableSpan)) };
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

const BASE = chatSpan(1);

/** A chat span with its own span id, extra attributes and optional field overrides. */
function spanWith(id: number, attributes: Record<string, unknown>, fields: Partial<ReadableSpan> = {}): ReadableSpan {
  const base = BASE;
  const context = { ...base.spanContext(), spanId: id.toString(16).padStart(16, '0') };
  return { ...base, spanContext: () => context, attributes: { ...base.attributes, ...attributes } as ReadableSpan['attributes'], ...fields };
}

/** A value's exact identity as comparable data: type, -0, NaN, and holes vs undefined in arrays. */
function exact(value: unknown): unknown {
  if (Array.isArray(value)) return { array: Array.from({ length: value.length }, (_, i) => (i in value ? exact(value[i]) : 'hole')) };
  if (typeof value === 'number') return Object.is(value, -0) ? 'number -0' : `number ${value}`;
  if (typeof value === 'bigint') return `bigint ${value}`;
  if (value !== null && typeof value === 'object') return { object: value };
  return [typeof value, value];
}

/** Same value, element by element: Object.is for numbers (NaN, -0), and holes stay holes. */
function expectSame(got: unknown, want: unknown): void {
  expect(exact(got)).toStrictEqual(exact(want));
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
      'app.unrelated': 'x'.repeat(10_000), 'gen_ai.request.temperature': 0.2, 'http.route': '/v1/chat',
    };
    const { text, records } = roundTrip([{ ...span, attributes }], { attributeAllowList: ['gen_ai.*', 'http.*'] });
    expect(text).toContain('/v1/chat'); // what is sent can be read here, so the absences below mean something
    expect(text).not.toContain('secret prompt');
    expect(text).not.toContain('Bearer');
    expect(text).not.toContain('xxxxxxxx');
    expect(records[0]!.attributes['gen_ai.request.temperature']).toBe(0.2);
    expect(records[0]!.attributes['http.route']).toBe('/v1/chat');
  });

  it('carries the exception type of an error span without other attributes', () => {
    const failed: ReadableSpan = {
      ...chatSpan(2), status: { code: SpanStatusCode.ERROR },
      events: [{ name: 'log', time: [0, 0] }, { name: 'exception', time: [0, 0], attributes: { 'exception.type': 'RateLimitError', 'exception.stacktrace': 'long' } }],
    };
    const { viaWire, direct, text, records } = roundTrip([failed]);
    expect(viaWire.rows[0]!.error_type).toBe('RateLimitError');
    expect(viaWire.rows).toEqual(direct().rows);
    expect(text).toContain('RateLimitError');
    expect(text).not.toContain('long');
    expect(records[0]!.statusCode).toBe(SpanStatusCode.ERROR);
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

  // -------------------------------------------------------------------------------------------
  // The binary form: values, fields and batches the traffic above does not exercise.

  const LONG = 'ab\u00e9\u{1F600}'.repeat(20_000); // 100k code units: a two-word length
  const values: Array<[string, AttributeValue | unknown]> = [
    ['NaN', NaN], ['-0', -0], ['+0', 0], ['Infinity', Infinity], ['-Infinity', -Infinity],
    ['2^53 + 2', 2 ** 53 + 2], ['-(2^63)', -(2 ** 63)], ['MAX_VALUE', Number.MAX_VALUE], ['MIN_VALUE', Number.MIN_VALUE],
    ['0.1', 0.1], ['-1.5e-300', -1.5e-300], ['a fraction', 1234567.000001],
    ['empty string', ''], ['ascii', 'gpt-4o'], ['latin-1', 'héllo wörld'], ['CJK', '日本語のモデル'], ['emoji', '😀 👩‍👩‍👧'],
    ['lone high surrogate', 'a\ud800b'], ['lone low surrogate', '\udc00'], ['reversed pair', '\udc00\ud800'],
    ['NUL and tag-like code units', '\u0000\ufff0\ufff3\uffff'], ['a long string', LONG], ['32767 code units', 'y'.repeat(0x7fff)],
    ['32768 code units', 'z'.repeat(0x8000)],
    ['true', true], ['false', false],
    ['empty array', []], ['mixed array', ['a', 1, true, false, null, undefined, -0, NaN, '', '😀']],
    // eslint-disable-next-line no-sparse-arrays
    ['array with holes', [1, , 3, , ]], ['only holes', new Array(3)], ['surrogates in an array', ['\ud800', '\u{1F600}']],
    ['a long array', Array.from({ length: 0x8001 }, (_, i) => i % 3 === 0 ? i : String(i))],
    // Not OTel attribute values, but the structured clone carried them, so they still travel.
    ['an object', { nested: { deep: [1, 'x'] } }], ['a nested array', [[1, 2], 'x']], ['a bigint', 10n ** 30n],
  ];

  it.each(values)('carries %s exactly (text key and known key)', (_, value) => {
    const span = spanWith(1, { 'app.field': value, 'gen_ai.request.model': value, 'genai_ledger.usage.credits': value });
    const { encoded, records } = roundTrip([span], { attributeAllowList: ['app.*'] });
    expect(encoded.sent).toBe(1);
    expect(records).toHaveLength(1);
    for (const key of ['app.field', 'gen_ai.request.model', 'genai_ledger.usage.credits']) {
      expect(key in records[0]!.attributes, key).toBe(true);
      expectSame(records[0]!.attributes[key], value);
    }
    const others = typeof value === 'object' && value !== null && (!Array.isArray(value) || value.some((v) => typeof v === 'object' && v !== null));
    expect(encoded.batch.other.length).toBe(others || typeof value === 'bigint' ? 3 : 0);
  });

  it.each([
    ['ASCII up to DEL', 'gpt-4o \u007f', true],
    ['the first code unit past ASCII', 'a\u0080', false],
    ['latin-1 (one byte in JS, two in UTF-8)', 'héllo', false],
    ['three-byte UTF-8 only (more UTF-8 bytes than the UTF-16 room)', '€'.repeat(100), false],
    ['a lone surrogate', '\ud800', false],
  ])('text as one byte per code unit only when all of it is ASCII: %s', (_, value, ascii) => {
    const spans = [spanWith(1, { 'app.v': 'plain' }), spanWith(2, { 'app.v': value })];
    const { encoded, records } = roundTrip(spans, { attributeAllowList: ['app.*'] });
    expect(encoded.batch.ascii).toBe(ascii);
    expect(records.map((r) => r.attributes['app.v'])).toEqual(['plain', value]);
    expect(records.map((r) => r.traceId)).toEqual(spans.map((sp) => sp.spanContext().traceId));
  });

  it('a batch mixing short and long span texts (sliced from the span\'s text, or read string by string)', () => {
    const lengths = [0, 1, 12, 13, 200, 400, 602, 5002, 3]; // 4k + 2 ends on a lone high surrogate
    const spans = lengths.map((n, i) => spanWith(i + 1, { 'app.v': 'é😀x'.repeat(n).slice(0, n), 'app.w': `w${i}` }));
    const { records } = roundTrip(spans, { attributeAllowList: ['app.*'] });
    const fields = (r: { name: string; attributes: Record<string, unknown> }) => [r.name, r.attributes['app.v'], r.attributes['app.w']];
    expect(records.map(fields)).toEqual(spans.map(fields));
  });

  it('carries every field the mapper reads, odd strings included', () => {
    const base = chatSpan(4);
    const odd: ReadableSpan = {
      ...base,
      name: 'chat 😀 \ud800', instrumentationScope: { name: '' }, status: { code: SpanStatusCode.ERROR, message: 'not sent' },
      events: [{ name: 'exception', time: [0, 0], attributes: { 'exception.type': 'Ошибка\udfff' } }],
      startTime: [1_790_000_000, 123_456_789], endTime: [1_790_000_001, 999_999_999],
      attributes: { ...base.attributes, 'app.ключ': 'значение', 'genai_ledger.usage.audio_seconds': 1.25 },
    };
    const [record] = roundTrip([odd], { attributeAllowList: ['app.*'] }).records;
    const direct = fromReadableSpan(odd);
    expect(record).toEqual({
      ...direct, statusMessage: '', attributes: expect.any(Object),
      events: [{ name: 'exception', attributes: { 'exception.type': 'Ошибка\udfff' } }], resource: expect.any(Object),
    });
    expect(record!.startUnixMicros).toBe(1_790_000_000_123_456);
    expect(record!.endUnixMicros).toBe(1_790_000_001_999_999);
    expect(record!.attributes['app.ключ']).toBe('значение');
    expect(record!.attributes['genai_ledger.usage.audio_seconds']).toBe(1.25);
    expect(record!.resource).toEqual({ 'service.name': direct.resource['service.name'], 'deployment.environment.name': 'prod' });
    expect(record!.parentSpanId).toBe(direct.parentSpanId);
  });

  it('carries fields that are not what the SDK makes (a number as the name, no status code) as they are', () => {
    const span = spanWith(7, {}, { name: 42 as unknown as string, status: {} as ReadableSpan['status'] });
    const { encoded, records } = roundTrip([span]);
    expect(encoded.malformed).toBe(0);
    expect(records[0]!.name).toBe(42);
    expect(records[0]!.statusCode).toBeUndefined();
    expect(records[0]!.spanId).toBe('0000000000000007');
  });

  it('an empty batch', () => {
    const { encoded, records } = roundTrip([]);
    expect(encoded).toMatchObject({ sent: 0, skipped: 0, malformed: 0, errors: [] });
    expect(records).toEqual([]);
  });

  it('a batch of ordinary spans only: nothing is packed', () => {
    const spans = generateSpans({ spans: 200, aiShare: 0, seed: 5 });
    const encoded = new SpanWire().encode(spans);
    expect(encoded).toMatchObject({ sent: 0, skipped: 200, malformed: 0 });
    expect(encoded.batch.buffer.byteLength).toBe(0);
    expect(encoded.batch.resources).toEqual([]);
    expect(transfer(encoded.batch)).toEqual([]);
  });

  it.each([
    ['spanContext() throws', { spanContext: () => { throw new Error('no context'); } }, 'no context'],
    ['an attribute getter throws after some were packed', {
      attributes: Object.defineProperties({ ...BASE.attributes, 'app.object': { a: 1 }, 'app.list': ['packed text'] }, {
        'app.boom': { enumerable: true, get: () => { throw new Error('bad getter'); } },
      }),
    }, 'bad getter'],
    ['the end time is missing', { endTime: undefined as unknown as ReadableSpan['endTime'] }, 'span 00000000000000c8'],
  ])('a malformed span in the middle (%s): counted, the others decoded in order', (_, fields, reason) => {
    const spans = [spanWith(100, { 'app.n': 1 }), spanWith(200, { 'app.n': 2 }, fields as Partial<ReadableSpan>), spanWith(300, { 'app.n': 3 })];
    const { encoded, records } = roundTrip(spans, { attributeAllowList: ['app.*'] });
    expect(encoded).toMatchObject({ sent: 2, malformed: 1 });
    expect(encoded.errors[0]).toContain(reason);
    expect(encoded.batch.other).toEqual([]); // what the broken span had packed is gone
    expect(records.map((r) => [r.spanId, r.attributes['app.n']])).toEqual([['0000000000000064', 1], ['000000000000012c', 3]]);
  });

  it('grows past its scratch buffers (many spans, a huge value), and later batches are not disturbed', () => {
    const wire = new SpanWire({ attributeAllowList: ['app.*'] });
    const many = generateSpans({ spans: 6000, aiShare: 1, seed: 11 });
    const numbers = Object.fromEntries(Array.from({ length: 2000 }, (_, i) => [`app.n${i}`, i + 0.5]));
    const huge = 'h'.repeat(9_000_000);
    const first = wire.encode([...many, spanWith(1, numbers), spanWith(2, { 'app.huge': huge })]);
    const second = wire.encode([spanWith(3, { 'app.small': 's' })]);
    expect(first.sent).toBe(second.sent + many.filter((s) => s.name !== 'ai.generateText').length + 1);

    const records = transfer(first.batch, { attributeAllowList: ['app.*'] });
    const mapper = new UsageMapper({ prices });
    expect(mapper.mapAll(records.slice(0, -2)).rows).toEqual(mapper.mapAll(many.map(fromReadableSpan)).rows);
    const withNumbers = records.at(-2)!;
    expect(Object.keys(withNumbers.attributes).filter((k) => k.startsWith('app.n'))).toHaveLength(2000);
    expect(withNumbers.attributes['app.n1999']).toBe(1999.5);
    expect(records.at(-1)!.attributes['app.huge']).toBe(huge);
    expect(transfer(second.batch, { attributeAllowList: ['app.*'] })[0]!.attributes['app.small']).toBe('s');
  });

  it('batches stay independent: an earlier batch decodes correctly after later ones were packed', () => {
    const wire = new SpanWire();
    const a = generateSpans({ spans: 300, aiShare: 1, seed: 21 });
    const b = generateSpans({ spans: 300, aiShare: 1, seed: 22 });
    const encodedA = wire.encode(a);
    wire.encode(b);
    const mapper = new UsageMapper({ prices });
    expect(mapper.mapAll(transfer(encodedA.batch)).rows).toEqual(mapper.mapAll(a.map(fromReadableSpan)).rows);
  });

  it('decodes many distinct, near-identical strings exactly, batch after batch with one decoder', () => {
    // A key of its own per span too: the encoder's tree of key orders must not take it for another.
    const spans = Array.from({ length: 6000 }, (_, i) => spanWith(i + 1, { [`app.k${i}`]: i, 'app.id': `id-${i % 5000}`, 'app.same': `v${i % 7}` }));
    const decoder = new SpanWire({ attributeAllowList: ['app.*'] });
    const encoder = new SpanWire({ attributeAllowList: ['app.*'] });
    for (let round = 0; round < 2; round++) {
      const records = decoder.decode(structuredClone(encoder.encode(spans).batch));
      expect(records.map((r) => r.attributes['app.id'])).toEqual(spans.map((s) => s.attributes['app.id']));
      expect(records.map((r) => r.attributes['app.same'])).toEqual(spans.map((s) => s.attributes['app.same']));
      expect(records.map((r, i) => r.attributes[`app.k${i}`])).toEqual(spans.map((_, i) => i));
    }
  });

  it('packs a nested export() (a span getter that ends spans) apart from the batch it interrupts', () => {
    const wire = new SpanWire();
    const inner = generateSpans({ spans: 60, aiShare: 1, seed: 41 });
    let nested: EncodedSpans | undefined;
    const base = spanWith(9, {});
    const outer: ReadableSpan = { ...base, get attributes() { nested ??= wire.encode(inner); return base.attributes; } };
    const encoded = wire.encode([spanWith(8, {}), outer, spanWith(10, {})]);
    expect(transfer(encoded.batch).map((r) => r.spanId)).toEqual(['0000000000000008', '0000000000000009', '000000000000000a']);
    const mapper = new UsageMapper({ prices });
    expect(mapper.mapAll(transfer(nested!.batch)).rows).toEqual(mapper.mapAll(inner.map(fromReadableSpan)).rows);
  });

  it('goes through a real postMessage transfer', async () => {
    const spans = generateSpans({ spans: 100, aiShare: 1, seed: 31 });
    const { batch } = new SpanWire().encode(spans);
    const { port1, port2 } = new MessageChannel();
    try {
      const received = once(port2, 'message');
      port1.postMessage({ id: 1, batch }, wireTransferList(batch));
      expect(batch.buffer.byteLength).toBe(0);
      const [{ batch: moved }] = (await received) as [{ batch: WireBatch }];
      const mapper = new UsageMapper({ prices });
      expect(mapper.mapAll(new SpanWire().decode(moved)).rows).toEqual(mapper.mapAll(spans.map(fromReadableSpan)).rows);
    } finally {
      port1.close();
    }
  });
});
