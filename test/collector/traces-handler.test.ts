/**
 * POST /v1/traces over real HTTP, in process, against a stand-in ledger (no store): every answer
 * the OTLP/HTTP spec and the issue ask for, and the write path's order (decode → hook → admission
 * → ingest).
 */
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { QueueAdmission } from '../../collector/admission.js';
import { TokenAuthenticator } from '../../collector/auth.js';
import { createRouter, listen, type HttpServerHandle } from '../../collector/http.js';
import { silentLogger } from '../../collector/log.js';
import { CollectorMetrics } from '../../collector/metrics.js';
import { decodeTraceRequest } from '../../collector/otlp/decode.js';
import { ExportTraceServiceResponse } from '../../collector/otlp/schema.js';
import { createTracesHandler, type LedgerSink, type TraceBatch } from '../../collector/traces-handler.js';
import type { IngestResult, LedgerStats } from '../../delivery/ledger.js';
import { UsageMapper } from '../../usage/mapper.js';
import type { SpanRecord } from '../../usage/span-record.js';
import { createWriterStats } from '../../delivery/writer/batch-writer.js';
import { request, scrape, type HttpResult } from './support/collector-process.js';
import { makeSpans, withSpanId } from './support/spans.js';

/** Maps for real (no prices), "enqueues" into a counter. */
class FakeLedger implements LedgerSink {
  readonly stats: LedgerStats = { ...createWriterStats(), spansReceived: 0, rowsMapped: 0, spansSkipped: 0, spansAggregate: 0, spansMalformed: 0, rowsUnpriced: 0 };
  readonly calls: Array<{ spans: readonly SpanRecord[]; orgId: string | undefined; rows: number }> = [];
  readonly mapper = new UsageMapper();
  capacity = 1000;

  ingest(spans: readonly SpanRecord[], orgId?: string): IngestResult {
    const r = this.mapper.mapAll(spans);
    const accepted = Math.min(r.rows.length, this.capacity - this.stats.queuedRows);
    this.stats.queuedRows += accepted;
    this.stats.spansSkipped += r.skipped;
    this.stats.rowsMapped += r.rows.length;
    this.calls.push({ spans, orgId, rows: r.rows.length });
    return { rows: r.rows.length, skipped: r.skipped, malformed: r.malformed, dropped: r.rows.length - accepted, errors: r.errors };
  }

  async flush(): Promise<void> {
    this.stats.writtenRows += this.stats.queuedRows;
    this.stats.queuedRows = 0;
  }
}

const TOKENS = [{ token: 'tok-acme-0123456789', org: 'acme' }, { token: 'tok-open-0123456789' }];
const ACME = { authorization: 'Bearer tok-acme-0123456789' };
const OPEN = { authorization: 'Bearer tok-open-0123456789' };
const PB = 'application/x-protobuf';

let ledger: FakeLedger;
let hookCalls: TraceBatch[];
let hookFails = false;
let draining = false;
let server: HttpServerHandle;
let metrics: CollectorMetrics;

beforeAll(async () => {
  ledger = new FakeLedger();
  metrics = new CollectorMetrics(() => ledger.stats, { rows: 1000, bytes: 1 << 30 });
  const handler = createTracesHandler({
    ledger,
    auth: new TokenAuthenticator(TOKENS),
    admission: new QueueAdmission(ledger.stats, { rows: 1000, bytes: 1 << 30 }),
    metrics,
    log: silentLogger,
    maxBodyBytes: 64 * 1024,
    maxDecompressedBytes: 256 * 1024,
    retryAfterSeconds: 2,
    hook: (batch) => {
      if (hookFails) throw new Error('spool full');
      hookCalls.push(batch);
    },
  });
  const router = createRouter([
    { methods: ['POST'], path: '/v1/traces', handler },
    { methods: ['GET'], path: '/metrics', handler: (_q, s) => void s.end(metrics.render()), duringDrain: true },
  ], { metrics, log: silentLogger, draining: () => draining, retryAfterSeconds: 2 });
  server = await listen(router, { host: '127.0.0.1', port: 0 });
});

afterAll(async () => {
  await server.stop(1000);
});

beforeEach(() => {
  ledger.calls.length = 0;
  ledger.stats.queuedRows = 0;
  ledger.capacity = 1000;
  hookCalls = [];
  hookFails = false;
  draining = false;
});

const pb = (spans: ReadableSpan[]) => ProtobufTraceSerializer.serializeRequest(spans)!;
const json = (spans: ReadableSpan[]) => JsonTraceSerializer.serializeRequest(spans)!;

function post(body: Uint8Array | string, headers: Record<string, string>): Promise<HttpResult> {
  return request(`${server.url}/v1/traces`, { method: 'POST', headers, body });
}

function pbResponse(res: HttpResult): { partialSuccess?: { rejectedSpans: number | { low: number }; errorMessage: string } } {
  return ExportTraceServiceResponse.toObject(ExportTraceServiceResponse.decode(res.body), { longs: Number }) as never;
}

describe('POST /v1/traces', () => {
  test('protobuf: 200 with an empty ExportTraceServiceResponse; rows go in with the token\'s org', async () => {
    const res = await post(pb(makeSpans({ ai: 3, plain: 5, extra: { 'tenant.id': 'from-span' } })), { 'content-type': PB, ...ACME });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe(PB);
    expect(pbResponse(res)).toEqual({});
    expect(ledger.calls).toHaveLength(1);
    // Ordinary spans never reached the decoder's output, let alone the mapper.
    expect(ledger.calls[0]!.spans).toHaveLength(3);
    expect(ledger.calls[0]!.orgId).toBe('acme');
    expect(ledger.calls[0]!.rows).toBe(3);
  });

  test('JSON (and gzip): 200 with {} in JSON; an unbound token leaves the org to the spans', async () => {
    const body = gzipSync(json(makeSpans({ ai: 2, plain: 2 })));
    const res = await post(body, { 'content-type': 'application/json; charset=utf-8', 'content-encoding': 'gzip', ...OPEN });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json');
    expect(JSON.parse(res.body.toString())).toEqual({});
    expect(ledger.calls[0]!.spans).toHaveLength(4);
    expect(ledger.calls[0]!.orgId).toBeUndefined();
  });

  test('partial success for an invalid span id, protobuf and JSON, counted among rejected spans', async () => {
    const spans = makeSpans({ ai: 3, plain: 3 });
    const aiIndex = spans.findIndex((s) => s.name.startsWith('chat'));
    const plainIndex = spans.findIndex((s) => s.name.startsWith('GET'));
    const bad = spans.map((s, i) => (i === aiIndex || i === plainIndex ? withSpanId(s, '0000000000000000') : s));
    const before = (await scrape(server.url)).get('genai_ledger_spans_rejected_total{stage="decode"}') ?? 0;

    const body = pb(bad);
    const res = await post(body, { 'content-type': PB, ...ACME });
    expect(res.status).toBe(200);
    const partial = pbResponse(res).partialSuccess!;
    expect(Number(partial.rejectedSpans)).toBe(2);
    // The reasons (and span indices) are the decoder's for the request as sent, although ordinary spans were skipped unread.
    const whole = decodeTraceRequest(body, 'protobuf');
    expect(whole.errors).toHaveLength(2);
    expect(partial.errorMessage).toBe(`2 of 6 spans rejected: ${whole.errors.join('; ')}`);
    expect(ledger.calls[0]!.rows).toBe(2);

    const text = Buffer.from(json(spans)).toString().replace(`"spanId":"${spans[aiIndex]!.spanContext().spanId}"`, '"spanId":"not-hex"');
    const jsonRes = await post(text, { 'content-type': 'application/json', ...ACME });
    expect(jsonRes.status).toBe(200);
    const answer = JSON.parse(jsonRes.body.toString()) as { partialSuccess: { rejectedSpans: string; errorMessage: string } };
    expect(answer.partialSuccess.rejectedSpans).toBe('1');
    expect(answer.partialSuccess.errorMessage).toMatch(/^1 of 6 spans rejected: span \d+: invalid span_id "not-hex"/);
    expect((await scrape(server.url)).get('genai_ledger_spans_rejected_total{stage="decode"}')).toBe(before + 3);
  });

  test('401 with WWW-Authenticate when the token is missing or wrong', async () => {
    for (const headers of [{}, { authorization: 'Bearer nope' }, { authorization: 'Basic dG9r' }] as Array<Record<string, string>>) {
      const res = await post(pb(makeSpans({ ai: 1 })), { 'content-type': PB, ...headers });
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
    }
    expect(ledger.calls).toHaveLength(0);
  });

  test('400 for an undecodable body (protobuf or JSON), with a google.rpc.Status body', async () => {
    const res = await post('garbage that is not protobuf', { 'content-type': PB, ...ACME });
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toBe(PB);
    expect(res.body.toString()).toContain('invalid OTLP/protobuf ExportTraceServiceRequest');
    const j = await post('{"resourceSpans": 12', { 'content-type': 'application/json', ...ACME });
    expect(j.status).toBe(400);
    expect(JSON.parse(j.body.toString())).toMatchObject({ code: 3 });
    const z = await post('not gzip', { 'content-type': PB, 'content-encoding': 'gzip', ...ACME });
    expect(z.status).toBe(400);
  });

  test('415 for an unknown content type or content encoding', async () => {
    expect((await post('x', { 'content-type': 'text/plain', ...ACME })).status).toBe(415);
    expect((await post('x', { ...ACME })).status).toBe(415);
    expect((await post(pb(makeSpans({ ai: 1 })), { 'content-type': PB, 'content-encoding': 'br', ...ACME })).status).toBe(415);
  });

  test('413 over the body limit, as sent and after gunzip', async () => {
    const big = Buffer.alloc(100 * 1024, 1);
    const res = await post(big, { 'content-type': PB, ...ACME });
    expect(res.status).toBe(413);
    expect(res.headers.connection).toBe('close');
    const bomb = gzipSync(Buffer.alloc(1024 * 1024));
    expect(bomb.byteLength).toBeLessThan(64 * 1024);
    expect((await post(bomb, { 'content-type': PB, 'content-encoding': 'gzip', ...ACME })).status).toBe(413);
    expect(ledger.calls).toHaveLength(0);
  });

  test('429 + Retry-After when the rows would not fit in the queue, checked before ingesting', async () => {
    ledger.stats.queuedRows = 999;
    const res = await post(pb(makeSpans({ ai: 2, plain: 50 })), { 'content-type': PB, ...ACME });
    expect(res.status).toBe(429);
    expect(res.headers['retry-after']).toBe('2');
    expect(ledger.calls).toHaveLength(0);
    // Ordinary spans need no room.
    expect((await post(pb(makeSpans({ ai: 0, plain: 50 })), { 'content-type': PB, ...ACME })).status).toBe(200);
    expect((await post(pb(makeSpans({ ai: 1, plain: 50 })), { 'content-type': PB, ...ACME })).status).toBe(200);
  });

  test('a request larger than the whole queue goes in slice by slice as room frees', async () => {
    ledger.capacity = 1000;
    const res = await post(pb(makeSpans({ ai: 40, plain: 10 })), { 'content-type': PB, ...ACME });
    expect(res.status).toBe(200);
    expect(ledger.calls.reduce((n, c) => n + c.rows, 0)).toBe(40);
  });

  test('the hook sees the decoded batch before anything is ingested; a failing hook → 503, retried', async () => {
    const res = await post(pb(makeSpans({ ai: 2, plain: 1 })), { 'content-type': PB, ...ACME });
    expect(res.status).toBe(200);
    expect(hookCalls).toHaveLength(1);
    expect(hookCalls[0]).toMatchObject({ encoding: 'protobuf', rejected: 0, org: 'acme' });
    expect(hookCalls[0]!.spans).toHaveLength(2);
    hookFails = true;
    const refused = await post(pb(makeSpans({ ai: 2 })), { 'content-type': PB, ...ACME });
    expect(refused.status).toBe(503);
    expect(refused.headers['retry-after']).toBe('2');
    expect(ledger.calls).toHaveLength(1);
  });

  test('404, 405 and 503 while draining', async () => {
    expect((await request(`${server.url}/v1/logs`, { method: 'POST' })).status).toBe(404);
    const get = await request(`${server.url}/v1/traces`);
    expect(get.status).toBe(405);
    expect(get.headers.allow).toBe('POST');
    draining = true;
    const res = await post(pb(makeSpans({ ai: 1 })), { 'content-type': PB, ...ACME });
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('2');
    expect((await request(`${server.url}/metrics`)).status).toBe(200);
  });
});
