/**
 * The usage context lives in the ledger's own OTel context key: nesting, empty values, opt-in
 * propagation as W3C baggage, and the span processor's opt-in trust of inbound baggage. The same
 * behaviours through real HTTP requests are in test/integration/attribution-forgery.test.ts.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { propagation, ROOT_CONTEXT, type Context } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import {
  contextWithUsage, getUsageContext, UsageContextSpanProcessor, withUsageContext, type UsageContextSpanProcessorOptions,
} from '../../instrumentation/usage-context.js';
import { ensureContextManager } from '../support/otel-context.js';

beforeAll(ensureContextManager);

/** What an HTTP instrumentation puts in the context for a request with a forged `baggage` header. */
function inbound(entries: Record<string, string>, parent: Context = ROOT_CONTEXT): Context {
  const baggage = propagation.createBaggage(Object.fromEntries(Object.entries(entries).map(([k, value]) => [k, { value }])));
  return propagation.setBaggage(parent, baggage);
}

function baggageOf(ctx: Context): Record<string, string> {
  return Object.fromEntries((propagation.getBaggage(ctx)?.getAllEntries() ?? []).map(([k, e]) => [k, e.value]));
}

const FORGED = { 'genai_ledger.org_id': 'victim', 'genai_ledger.user_id': 'mallory', 'genai_ledger.feature': 'forged', 'other.key': 'kept' };

describe('withUsageContext', () => {
  it('nests: inner values override, empty and missing values keep the outer ones, the outer context comes back', () => {
    const seen = withUsageContext({ orgId: 'acme', userId: 'u1', feature: 'bot' }, () => {
      const inner = withUsageContext({ feature: 'search', userId: '', conversationId: 'c-9' }, () => getUsageContext());
      return { inner, after: getUsageContext() };
    });
    expect(seen).toEqual({
      inner: { orgId: 'acme', userId: 'u1', feature: 'search', conversationId: 'c-9' },
      after: { orgId: 'acme', userId: 'u1', feature: 'bot' },
    });
    expect(getUsageContext()).toBeUndefined();
  });

  it('is not read from inbound baggage', () => {
    expect(getUsageContext(inbound(FORGED))).toBeUndefined();
    expect(getUsageContext(contextWithUsage({ feature: 'bot' }, inbound(FORGED)))).toEqual({ feature: 'bot' });
  });

  it('leaves baggage alone unless asked to propagate', () => {
    expect(propagation.getBaggage(contextWithUsage({ orgId: 'acme' }, ROOT_CONTEXT))).toBeUndefined();
    expect(baggageOf(contextWithUsage({ orgId: 'acme' }, inbound({ 'other.key': 'kept' })))).toEqual({ 'other.key': 'kept' });
  });

  it('propagates when asked: nested calls inherit it and update the entries; propagate: false removes them', () => {
    const outer = contextWithUsage({ orgId: 'acme', feature: 'bot' }, inbound({ 'other.key': 'kept' }), { propagate: true });
    expect(baggageOf(outer)).toEqual({ 'other.key': 'kept', 'genai_ledger.org_id': 'acme', 'genai_ledger.feature': 'bot' });

    const inherited = contextWithUsage({ feature: 'search', userId: '' }, outer);
    expect(baggageOf(inherited)).toEqual({ 'other.key': 'kept', 'genai_ledger.org_id': 'acme', 'genai_ledger.feature': 'search' });

    const stopped = contextWithUsage({ userId: 'u1' }, inherited, { propagate: false });
    expect(baggageOf(stopped)).toEqual({ 'other.key': 'kept' });
    expect(getUsageContext(stopped)).toEqual({ orgId: 'acme', feature: 'search', userId: 'u1' });
    expect(baggageOf(contextWithUsage({ feature: 'x' }, stopped))).toEqual({ 'other.key': 'kept' });
  });

  it('passes inbound entries on as they came unless it propagates its own over them', () => {
    expect(baggageOf(contextWithUsage({ orgId: 'acme' }, inbound(FORGED)))).toEqual(FORGED);
    const ctx = contextWithUsage({ orgId: 'acme' }, inbound(FORGED), { propagate: true });
    expect(baggageOf(ctx)).toEqual({ ...FORGED, 'genai_ledger.org_id': 'acme' });
  });
});

describe('UsageContextSpanProcessor', () => {
  function attributesOf(options: UsageContextSpanProcessorOptions, ctx: Context) {
    const memory = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({
      spanProcessors: [new UsageContextSpanProcessor(options), new SimpleSpanProcessor(memory)],
    });
    provider.getTracer('test').startSpan('chat gpt-4o', {}, ctx).end();
    return memory.getFinishedSpans()[0]!.attributes;
  }

  // The app sets its own feature; baggage for org, user and feature arrives on top of it (as a
  // request's, or a middleware's would): the ledger's own context still wins.
  const app = () => inbound(FORGED, contextWithUsage({ feature: 'bot' }, ROOT_CONTEXT));
  it.each([
    { trustBaggage: undefined, expected: { 'genai_ledger.feature': 'bot' } },
    { trustBaggage: false, expected: { 'genai_ledger.feature': 'bot' } },
    { trustBaggage: true, expected: { 'genai_ledger.org_id': 'victim', 'genai_ledger.user_id': 'mallory', 'genai_ledger.feature': 'bot' } },
    { trustBaggage: ['genai_ledger.user_id', 'genai_ledger.feature'] as const, expected: { 'genai_ledger.user_id': 'mallory', 'genai_ledger.feature': 'bot' } },
  ])('trustBaggage $trustBaggage: own context first, then only trusted baggage', ({ trustBaggage, expected }) => {
    expect(attributesOf({ trustBaggage }, app())).toEqual(expected);
  });

  it('copies nothing outside a usage context with untrusted baggage, and ignores empty trusted entries', () => {
    expect(attributesOf({}, inbound(FORGED))).toEqual({});
    expect(attributesOf({ trustBaggage: true }, inbound({ 'genai_ledger.org_id': '' }))).toEqual({});
  });

  it('rejects an unknown trusted key with a one-line error', () => {
    expect(() => new UsageContextSpanProcessor({ trustBaggage: ['genai_ledger.org', 'genai_ledger.feature'] as never }))
      .toThrowError(/^trustBaggage: unknown key 'genai_ledger.org' \(expected some of genai_ledger.org_id, .*\)$/);
  });
});
