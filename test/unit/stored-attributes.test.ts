/**
 * What a row may copy into `attributes` (usage/stored-attributes.ts): `*` selects known
 * non-content keys only, a named key or prefix is copied unless it is content by rule, and no
 * convention's content key is stored whatever the allow-list says, on the app's thread or after
 * the span wire (the exporter's hand-over to the mapping thread).
 */
import { readdirSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { diag, DiagLogLevel, type DiagLogger } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { UsageMapper, type MapperOptions } from '../../usage/mapper.js';
import { SpanWire, wireTransferList } from '../../exporter/span-wire.js';
import type { Attributes } from '../../usage/span-record.js';
import { CONTENT_KEYS, contentAttributes, NON_CONTENT_ATTRIBUTES, SECRET } from '../support/content-attributes.js';
import { spanRecord } from '../support/span-record.js';
import { CAPTURED_FIXTURES_DIR, loadCapturedSpans } from '../support/span-json.js';
import { fromReadableSpan } from '../../exporter/readable-span.js';

const BASE = { 'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'openai', 'gen_ai.request.model': 'gpt-4o' };

function storedByMapper(attributes: Attributes, options: MapperOptions): Record<string, string> {
  return new UsageMapper(options).map(spanRecord({ ...BASE, ...attributes }))!.attributes;
}

/** A real SDK span packed for the mapping thread, moved as postMessage moves it, unpacked and mapped. */
function storedThroughWire(attributes: Attributes, options: MapperOptions): { stored: Record<string, string>; wire: string } {
  const memory = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(memory)] });
  provider.getTracer('stored-attributes-test').startSpan('chat gpt-4o', { attributes: { ...BASE, ...attributes } }).end();
  const spans: ReadableSpan[] = memory.getFinishedSpans();
  const { batch } = new SpanWire(options).encode(spans);
  const wire = Buffer.from(batch.buffer).toString('latin1') + JSON.stringify(batch.resources);
  const records = new SpanWire(options).decode(structuredClone(batch, { transfer: wireTransferList(batch) }));
  return { stored: new UsageMapper(options).map(records[0]!)!.attributes, wire };
}

const byConvention = Object.entries(CONTENT_KEYS).flatMap(([convention, keys]) => keys.map((key) => [convention, key] as const));

describe('content is never stored', () => {
  it.each(byConvention)('%s: %s, with *, named, or under a named prefix', (_convention, key) => {
    const prefix = `${key.slice(0, key.indexOf('.') + 1)}*`;
    for (const allow of [['*'], [key], [prefix], ['*', key, prefix]]) {
      const options = { attributeAllowList: allow, attribution: {} };
      const stored = storedByMapper({ [key]: SECRET }, options);
      expect(stored, `${JSON.stringify(allow)} on the app's thread`).not.toHaveProperty([key]);
      const viaWire = storedThroughWire({ [key]: SECRET }, options);
      expect(viaWire.stored, `${JSON.stringify(allow)} through the wire`).not.toHaveProperty([key]);
      expect(viaWire.wire, `${JSON.stringify(allow)}: the content travelled`).not.toContain(SECRET);
    }
  });

  it('stores the known non-content keys with *, next to all content at once', () => {
    const attributes = { ...NON_CONTENT_ATTRIBUTES, ...contentAttributes() };
    const expected = Object.fromEntries(Object.entries({ ...BASE, ...NON_CONTENT_ATTRIBUTES })
      .map(([key, value]) => [key, typeof value === 'string' ? value : JSON.stringify(value)]));
    const stored = storedByMapper(attributes, { attributeAllowList: ['*'] });
    expect(stored).toMatchObject(expected);
    expect(JSON.stringify(stored)).not.toContain(SECRET);
    const viaWire = storedThroughWire(attributes, { attributeAllowList: ['*'] });
    expect(viaWire.stored).toMatchObject(expected);
    expect(JSON.stringify(viaWire.stored)).not.toContain(SECRET);
    expect(viaWire.wire).toContain('api.openai.com'); // the wire is readable here: the absence below means something
    expect(viaWire.wire).not.toContain(SECRET);
  });
});

describe('real instrumentations\' spans, with *', () => {
  // Every captured prompt holds PROMPT-CONTENT-MARKER and every completion COMPLETION-CONTENT-MARKER (test/support/capture.ts).
  const MARKER = /(PROMPT|COMPLETION)-CONTENT-MARKER/;
  // The fixtures whose span attributes carry content (the others have none, or only in events).
  const fixtures = readdirSync(CAPTURED_FIXTURES_DIR).filter((f) => f.endsWith('.json') && f !== 'index.json').map((f) => f.slice(0, -5))
    .filter((id) => MARKER.test(JSON.stringify(loadCapturedSpans(id).map((s) => s.attributes))));

  it('has fixtures of every instrumentation with content in attributes', () => {
    expect(new Set(fixtures.map((id) => id.split('-').slice(0, 2).join('-')))).toEqual(new Set(['ai-sdk', 'openinference-openai', 'otel-openai', 'traceloop-openai', 'traceloop-anthropic', 'mastra-otel']));
  });

  it.each(fixtures)('%s: rows hold known keys and no content', (id) => {
    const spans = loadCapturedSpans(id);
    const options = { attributeAllowList: ['*'] };
    const rows = new UsageMapper(options).mapAll(spans.map(fromReadableSpan)).rows;
    expect(JSON.stringify(rows)).not.toMatch(MARKER);
    for (const row of rows) expect(Object.keys(row.attributes)).toContain('service.name');
    const { batch } = new SpanWire(options).encode(spans);
    expect(Buffer.from(batch.buffer).toString('latin1') + JSON.stringify(batch.resources)).not.toMatch(MARKER);
  });
});

describe('the allow-list rule', () => {
  it.each([
    ['* selects known keys', ['*'], 'gen_ai.response.id', true],
    ['* selects token counts whose names say "input"', ['*'], 'gen_ai.usage.input_tokens', true],
    ['* selects a family member not listed one by one', ['*'], 'ai.usage.outputTokenDetails.textTokens', true],
    ['* selects default attribution keys', ['*'], 'ai.telemetry.metadata.userId', true],
    ['* selects configured attribution keys', ['*'], 'acct.id', true],
    ['* does not select an unknown key', ['*'], 'app.tier', false],
    ['* does not select an unknown key of a known namespace', ['*'], 'gen_ai.request.new_setting', false],
    ['* does not select other metadata', ['*'], 'ai.telemetry.metadata.plan', false],
    ['a named key', ['app.tier'], 'app.tier', true],
    ['a named prefix', ['app.*'], 'app.tier', true],
    ['a named prefix, unknown key', ['gen_ai.*'], 'gen_ai.request.new_setting', true],
    ['a named metadata prefix', ['ai.telemetry.metadata.*'], 'ai.telemetry.metadata.plan', true],
    ['a named key that is content by rule', ['app.user_prompt'], 'app.user_prompt', false],
    ['a named prefix, content key', ['ai.telemetry.metadata.*'], 'ai.telemetry.metadata.promptText', false],
    ['a named known key whose name says "prompt"', ['llm.token_count.prompt'], 'llm.token_count.prompt', true],
    ['another key than the one named', ['app.tier'], 'app.tiers', false],
  ] as const)('%s', (_name, allow, key, stored) => {
    const options = { attributeAllowList: allow, attribution: { org: ['acct.id'] } };
    // A count, so that keys the mapper reads as token counts are valid.
    expect(storedByMapper({ [key]: '7' }, options)[key]).toBe(stored ? '7' : undefined);
    expect(storedThroughWire({ [key]: '7' }, options).stored[key]).toBe(stored ? '7' : undefined);
  });

  it('copies nothing without an allow-list', () => {
    expect(storedByMapper(NON_CONTENT_ATTRIBUTES, {})).toEqual({});
  });
});

describe('a content key named in the allow-list', () => {
  afterEach(() => diag.disable());

  // Once per process (the exporter and the mapper read the same list): a key no other test names.
  it('is reported once, as a one-line warning', () => {
    const warnings: string[] = [];
    const logger = { warn: (message: string) => warnings.push(message) } as unknown as DiagLogger;
    diag.setLogger({ ...logger, error() {}, info() {}, debug() {}, verbose() {} }, { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true });
    const options = { attributeAllowList: ['app.tier', 'app.system_prompt', 'gen_ai.usage.input_tokens'] };
    new UsageMapper(options);
    new SpanWire(options);
    expect(warnings).toEqual(['genai-ledger: attributeAllowList names "app.system_prompt", which holds content: it is never stored']);
  });
});
