/**
 * A request's `baggage` header cannot move AI spend to another tenant. An app instrumented by the
 * real @opentelemetry/instrumentation-http receives forged `genai_ledger.*` baggage and makes an AI
 * call in its handler: the span (and the ledger's row) keeps the app's own attribution unless the
 * receiver opted in to trusting baggage; the sender's context reaches a downstream service only
 * when it opted in to propagating it.
 */
import type * as Http from 'node:http';
import { createRequire } from 'node:module';
import { SpanKind, type Attributes } from '@opentelemetry/api';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { recordUsage } from '../../instrumentation/record-usage.js';
import { register, type Registration } from '../../instrumentation/register.js';
import { UsageContextSpanProcessor, withUsageContext, type UsageContextSpanProcessorOptions } from '../../instrumentation/usage-context.js';
import { openTestStore, queryRows, type TestStore } from '../support/store.js';

let store: TestStore;
const httpInstrumentation = new HttpInstrumentation();
let registration: Registration;
let http: typeof Http;
const servers: Http.Server[] = [];

beforeAll(async () => {
  // The app's setup: register() installs the context manager and the W3C trace-context and baggage
  // propagators; the HTTP instrumentation patches `http` when the app requires it, after that.
  store = await openTestStore();
  registration = await register({
    client: store.client, database: store.database, serviceName: 'support-api', instrumentations: [httpInstrumentation], trustBaggage: ['genai_ledger.feature'],
  });
  http = createRequire(import.meta.url)('node:http') as typeof Http;
});

afterEach(() => httpInstrumentation.setTracerProvider(registration.provider));

afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  await registration?.shutdown();
  await store?.close();
});

/** Serves `handle` on an ephemeral port; answers 200 when it resolves. */
async function serve(handle: (req: Http.IncomingMessage) => unknown): Promise<string> {
  const server = http.createServer((req, res) => {
    void Promise.resolve().then(() => handle(req)).then(
      () => res.end('ok'),
      (error: unknown) => { res.statusCode = 500; res.end(String(error)); },
    );
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return `http://127.0.0.1:${port}/`;
}

/** A request from outside: Node's fetch, which the HTTP instrumentation does not patch. */
async function send(url: string, headers: Record<string, string> = {}): Promise<void> {
  const response = await fetch(url, { headers });
  expect(response.status, await response.text()).toBe(200);
}

/** A GET through the instrumented `http`, as the app calls a downstream service. */
function get(url: string): Promise<void> {
  return new Promise((resolve, reject) => {
    http.get(url, (res) => res.resume().on('end', resolve)).on('error', reject);
  });
}

/** A tracer provider of its own for the HTTP instrumentation, with the processor under test. */
function captureWith(options: UsageContextSpanProcessorOptions) {
  const memory = new InMemorySpanExporter();
  const provider = new NodeTracerProvider({
    spanProcessors: [new UsageContextSpanProcessor(options), new SimpleSpanProcessor(memory)],
  });
  httpInstrumentation.setTracerProvider(provider);
  const aiCall = () => provider.getTracer('app').startSpan('chat gpt-4o', {
    kind: SpanKind.CLIENT,
    attributes: { 'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'openai', 'gen_ai.request.model': 'gpt-4o' },
  }).end();
  /** The AI spans' attribution, once `requests` server spans ended; each AI span a child of one of them. */
  const aiSpans = async (requests: number): Promise<Attributes[]> => {
    const servers = () => memory.getFinishedSpans().filter((s) => s.kind === SpanKind.SERVER);
    await vi.waitFor(() => expect(servers()).toHaveLength(requests));
    const ai = memory.getFinishedSpans().filter((s) => s.name === 'chat gpt-4o');
    const serverIds = servers().map((s) => s.spanContext().spanId);
    for (const span of ai) expect(serverIds).toContain(span.parentSpanContext?.spanId);
    return ai.map(attribution);
  };
  return { aiCall, aiSpans };
}

function attribution(span: ReadableSpan): Attributes {
  return Object.fromEntries(Object.entries(span.attributes).filter(([key]) => key.startsWith('genai_ledger.')));
}

const FORGED = { baggage: 'genai_ledger.org_id=victim,genai_ledger.user_id=mallory,genai_ledger.feature=forged' };

describe('forged baggage on an inbound request', () => {
  it('does not attribute the AI call unless the receiver trusts baggage, and then only the trusted keys', async () => {
    const cases: Array<{ trustBaggage?: UsageContextSpanProcessorOptions['trustBaggage']; own: Attributes; none: Attributes }> = [
      { trustBaggage: undefined, own: { 'genai_ledger.org_id': 'acme' }, none: {} },
      { trustBaggage: ['genai_ledger.user_id'], own: { 'genai_ledger.org_id': 'acme', 'genai_ledger.user_id': 'mallory' }, none: { 'genai_ledger.user_id': 'mallory' } },
      { trustBaggage: true,
        own: { 'genai_ledger.org_id': 'acme', 'genai_ledger.user_id': 'mallory', 'genai_ledger.feature': 'forged' },
        none: { 'genai_ledger.org_id': 'victim', 'genai_ledger.user_id': 'mallory', 'genai_ledger.feature': 'forged' } },
    ];
    for (const { trustBaggage, own, none } of cases) {
      const { aiCall, aiSpans } = captureWith({ trustBaggage });
      // The app attributes the call itself on one path and not on the other.
      const url = await serve((req) => req.url === '/own' ? withUsageContext({ orgId: 'acme' }, aiCall) : aiCall());
      await send(`${url}own`, FORGED);
      await send(`${url}none`, FORGED);
      expect(await aiSpans(2), `trustBaggage: ${JSON.stringify(trustBaggage)}`).toEqual([own, none]);
    }
  });

  it('through register(): the rows keep the app\'s org, and take only the trusted key from baggage', async () => {
    // A caller's trace id, so the rows show the instrumentation continued the request's trace.
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const url = await serve((req) => {
      const call = () => recordUsage({ provider: 'openai', model: 'gpt-4o', inputTokens: 1000, outputTokens: 100 });
      return req.url === '/own' ? withUsageContext({ orgId: 'acme', userId: 'u1' }, call) : call();
    });
    for (const path of ['own', 'none']) {
      await send(`${url}${path}`, { ...FORGED, traceparent: `00-${traceId}-00f067aa0ba902b7-01` });
    }
    await registration.flush();

    const rows = await queryRows(store.client, `
      SELECT trace_id, org_id, user_id, feature, toString(cost_usd) AS cost
      FROM genai_ledger.ai_usage_exact ORDER BY org_id DESC`);
    // gpt-4o: 1000 input × $2.50 + 100 output × $10 per Mtok = $0.0025 + $0.001
    expect(rows).toEqual([
      { trace_id: traceId, org_id: 'acme', user_id: 'u1', feature: 'forged', cost: '0.0035' },
      { trace_id: traceId, org_id: '', user_id: '', feature: 'forged', cost: '0.0035' },
    ]);
  });
});

describe('the usage context towards a downstream service', () => {
  it('is sent as baggage only when the sender propagates it', async () => {
    // Both services in one process: the downstream one trusts baggage, as behind a trusted gateway.
    const { aiCall, aiSpans } = captureWith({ trustBaggage: true });
    const seen: Array<Http.IncomingHttpHeaders['baggage']> = [];
    const downstream = await serve((req) => {
      seen.push(req.headers.baggage);
      aiCall();
    });
    const upstream = await serve((req) => withUsageContext(
      { orgId: 'acme', feature: 'bot' }, () => get(downstream), { propagate: req.url === '/propagate' }));

    await send(`${upstream}local`);
    await send(`${upstream}propagate`);
    expect(seen).toEqual([undefined, 'genai_ledger.org_id=acme,genai_ledger.feature=bot']);
    expect(await aiSpans(4)).toEqual([{}, { 'genai_ledger.org_id': 'acme', 'genai_ledger.feature': 'bot' }]);
  });
});
