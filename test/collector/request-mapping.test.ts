/**
 * Requests decoded and mapped on the mapping thread (the collector's default) answer and ingest
 * exactly as requests handled on the collector's own thread: the same rows (byte for byte, with
 * the token's org and exact prices), counts, partial_success messages and 400s; oversized requests
 * are fed in parts; a thread that loses a request makes it a 503 (retried), never a lost row.
 * Two handlers over real HTTP, one with a real MappingThread, one without, against recording ledgers.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { QueueAdmission } from '../../collector/admission.js';
import { TokenAuthenticator } from '../../collector/auth.js';
import { createRouter, listen, type HttpServerHandle } from '../../collector/http.js';
import { silentLogger } from '../../collector/log.js';
import { CollectorMetrics } from '../../collector/metrics.js';
import { ExportTraceServiceResponse } from '../../collector/otlp/schema.js';
import type { Logger } from '../../collector/log.js';
import { createTracesHandler, requestMapping, type LedgerSink, type RequestMapping } from '../../collector/traces-handler.js';
import { OTLP_REQUEST_JOB } from '../../collector/request-job.js';
import type { IngestResult, LedgerStats, MappedBatch } from '../../delivery/ledger.js';
import { UsageMapper } from '../../usage/mapper.js';
import { MappingThread } from '../../delivery/mapping-thread.js';
import { loadPriceBook } from '../../pricing/index.js';
import type { SpanRecord } from '../../usage/span-record.js';
import { createWriterStats } from '../../delivery/writer/batch-writer.js';
import { linesOfChunk } from '../../clickhouse/row-chunk.js';
import { serializeRows } from '../../clickhouse/serialize.js';
import { request, scrape, type HttpResult } from './support/collector-process.js';
import { makeSpans, withSpanId } from './support/spans.js';

/** Keeps the rows it is given as JSONCompactEachRow lines, in a queue of `capacity` rows. */
class RecordingLedger implements LedgerSink {
  readonly stats: LedgerStats = { ...createWriterStats(), spansReceived: 0, rowsMapped: 0, spansSkipped: 0, spansAggregate: 0, spansMalformed: 0, rowsUnpriced: 0 };
  readonly lines: string[] = [];
  readonly ingests: string[] = [];
  capacity = 1000;
  durable = false;

  constructor(private readonly mapper: UsageMapper) {}

  ingest(spans: readonly SpanRecord[], orgId?: string): IngestResult {
    const r = this.mapper.mapAll(spans);
    if (orgId !== undefined) for (const row of r.rows) row.org_id = orgId;
    this.#count(spans.length, r.skipped, r.malformed);
    return this.#queue(serializeRows(r.rows).lines, { rows: r.rows.length, skipped: r.skipped, malformed: r.malformed, errors: r.errors }, 'spans');
  }

  ingestMapped(batch: MappedBatch): IngestResult {
    this.#count(batch.spans, batch.skipped, batch.malformed);
    return this.#queue(linesOfChunk(batch.chunk), { rows: batch.chunk.rows, skipped: batch.skipped, malformed: batch.malformed, errors: batch.errors }, 'mapped');
  }

  async ingestDurable(spans: readonly SpanRecord[], orgId?: string): Promise<IngestResult> {
    return { ...this.ingest(spans, orgId), durable: true };
  }

  async ingestMappedDurable(batch: MappedBatch): Promise<IngestResult> {
    return { ...this.ingestMapped(batch), durable: true };
  }

  async flush(): Promise<void> {
    this.stats.writtenRows += this.stats.queuedRows;
    this.stats.queuedRows = 0;
  }

  #count(spans: number, skipped: number, malformed: number): void {
    this.stats.spansReceived += spans;
    this.stats.spansSkipped += skipped;
    this.stats.spansMalformed += malformed;
  }

  #queue(lines: string[], result: Omit<IngestResult, 'dropped'>, how: string): IngestResult {
    const accepted = Math.min(lines.length, this.capacity - this.stats.queuedRows);
    this.stats.queuedRows += accepted;
    this.stats.rowsMapped += lines.length;
    this.lines.push(...lines.slice(0, accepted));
    this.ingests.push(`${how}:${lines.length}`);
    return { ...result, dropped: lines.length - accepted };
  }
}

const TOKENS = [{ token: 'tok-acme-0123456789', org: 'acme' }, { token: 'tok-open-0123456789' }];
const ACME = { authorization: 'Bearer tok-acme-0123456789' };
const OPEN = { authorization: 'Bearer tok-open-0123456789' };
const PB = { 'content-type': 'application/x-protobuf' };
const JSON_TYPE = { 'content-type': 'application/json' };

interface Side {
  ledger: RecordingLedger;
  metrics: CollectorMetrics;
  path: string;
}

let thread: MappingThread;
let server: HttpServerHandle;
let onThread: Side;
let here: Side;
let lost: Side;
/** Sides whose queue holds 10 rows. */
let smallOnThread: Side;
let smallHere: Side;

function side(path: string, mapper: UsageMapper, mapping: RequestMapping | undefined, capacity = { rows: 1000, bytes: 1 << 30 }): { side: Side; route: Parameters<typeof createRouter>[0][number] } {
  const ledger = new RecordingLedger(mapper);
  const metrics = new CollectorMetrics(() => ledger.stats, capacity);
  const handler = createTracesHandler({
    ledger, auth: new TokenAuthenticator(TOKENS), admission: new QueueAdmission(ledger.stats, capacity), metrics, log: silentLogger,
    maxBodyBytes: 1 << 20, maxDecompressedBytes: 1 << 22, retryAfterSeconds: 2, oversizedWaitMs: 5_000,
    ...(mapping ? { mapping } : {}),
  });
  return { side: { ledger, metrics, path }, route: { methods: ['POST'], path, handler } };
}

beforeAll(async () => {
  const mapper = new UsageMapper({ prices: await loadPriceBook() });
  thread = MappingThread.start({ mappingThreadNice: 0 }, [OTLP_REQUEST_JOB])!;
  for (const deadline = Date.now() + 20_000; !thread.ready; await new Promise((r) => setTimeout(r, 20))) {
    if (Date.now() > deadline || thread.failed) throw new Error(`the mapping thread did not start: ${thread.failed?.message}`);
  }
  const mapping = requestMapping(thread, silentLogger);
  const failing: RequestMapping = { usable: true, map: async () => Promise.reject(new Error('the mapping thread exited with code 1')) };
  const a = side('/thread/v1/traces', mapper, mapping);
  const b = side('/here/v1/traces', mapper, undefined);
  const c = side('/lost/v1/traces', mapper, failing);
  const small = { rows: 10, bytes: 1 << 30 };
  const d = side('/small-thread/v1/traces', mapper, mapping, small);
  const e = side('/small-here/v1/traces', mapper, undefined, small);
  [onThread, here, lost, smallOnThread, smallHere] = [a.side, b.side, c.side, d.side, e.side];
  for (const s of [smallOnThread, smallHere]) s.ledger.capacity = 10;
  const metricsRoute = (s: Side, path: string) => ({ methods: ['GET'], path, handler: (_q: unknown, r: { end(t: string): void }) => void r.end(s.metrics.render()) });
  server = await listen(createRouter([a.route, b.route, c.route, d.route, e.route, metricsRoute(onThread, '/thread/metrics'), metricsRoute(here, '/here/metrics')] as never,
    { metrics: onThread.metrics, log: silentLogger, draining: () => false, retryAfterSeconds: 2 }), { host: '127.0.0.1', port: 0 });
});

afterAll(async () => {
  await server.stop(1000);
  await thread.close();
});

beforeEach(() => {
  for (const s of [onThread, here]) {
    s.ledger.lines.length = 0;
    s.ledger.ingests.length = 0;
    s.ledger.stats.queuedRows = 0;
    s.ledger.capacity = 1000;
    s.ledger.durable = false;
  }
});

const pb = (spans: ReadableSpan[]) => ProtobufTraceSerializer.serializeRequest(spans)!;
const json = (spans: ReadableSpan[]) => JsonTraceSerializer.serializeRequest(spans)!;

function post(s: Side, body: Uint8Array, headers: Record<string, string>): Promise<HttpResult> {
  return request(`${server.url}${s.path}`, { method: 'POST', headers, body });
}

function answer(res: HttpResult): unknown {
  return res.headers['content-type'] === 'application/json'
    ? JSON.parse(res.body.toString())
    : ExportTraceServiceResponse.toObject(ExportTraceServiceResponse.decode(res.body), { longs: Number });
}

/** The same request to both sides: statuses, answers, rows and counts must agree. */
async function both(body: Uint8Array, headers: Record<string, string>, [a, b] = [onThread, here]): Promise<{ status: number; answer: unknown; lines: string[] }> {
  const [t, h] = [await post(a, body, headers), await post(b, body, headers)];
  expect(t.status).toBe(h.status);
  expect(answer(t)).toEqual(answer(h));
  expect(a.ledger.lines).toEqual(b.ledger.lines);
  expect(a.ledger.stats).toEqual(b.ledger.stats);
  return { status: t.status, answer: answer(t), lines: a.ledger.lines };
}

describe('requests mapped on the mapping thread', () => {
  test.each<[string, () => Uint8Array, Record<string, string>]>([
    ['protobuf, AI among ordinary spans, the token\'s org', () => pb(makeSpans({ ai: 3, plain: 5, extra: { 'tenant.id': 'from-span' } })), { ...PB, ...ACME }],
    ['protobuf, the spans\' own org', () => pb(makeSpans({ ai: 4, plain: 1, extra: { 'tenant.id': 'globex' } })), { ...PB, ...OPEN }],
    ['JSON', () => json(makeSpans({ ai: 2, plain: 2 })), { ...JSON_TYPE, ...ACME }],
    ['no AI span at all', () => pb(makeSpans({ ai: 0, plain: 6 })), { ...PB, ...ACME }],
  ])('%s: the same rows and answer as on the collector\'s thread', async (_label, body, headers) => {
    const result = await both(body(), headers);
    expect(result.status).toBe(200);
    expect(result.answer).toEqual({});
    expect(onThread.ledger.ingests.every((i) => i.startsWith('mapped:'))).toBe(true);
    for (const line of result.lines) expect(JSON.parse(line)[24]).toBe('0.00472'); // cost_usd, priced on the thread
    if (headers.authorization === ACME.authorization) for (const line of result.lines) expect(JSON.parse(line)[12]).toBe('acme');
  });

  test('malformed spans: the same partial_success, errors numbered as in the request', async () => {
    const spans = makeSpans({ ai: 3, plain: 3 });
    spans[4] = withSpanId(spans[4]!, '0000000000000000');
    const result = await both(pb(spans), { ...PB, ...ACME });
    expect(result.status).toBe(200);
    expect(result.answer).toMatchObject({ partialSuccess: { rejectedSpans: 1, errorMessage: expect.stringMatching(/^1 of 6 spans rejected: span \d: invalid span_id \(all zeros\)$/) } });
  });

  test('an undecodable body: the same 400', async () => {
    const res = await post(onThread, new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0x0f]), { ...PB, ...ACME });
    const ref = await post(here, new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0x0f]), { ...PB, ...ACME });
    expect(res.status).toBe(400);
    expect(res.body.toString()).toBe(ref.body.toString());
  });

  test('metrics count received, prefiltered and rejected spans alike', async () => {
    const spans = makeSpans({ ai: 2, plain: 7 });
    spans[0] = withSpanId(spans[0]!, '0000000000000000');
    const series = ['genai_ledger_spans_received_total', 'genai_ledger_spans_prefiltered_total', 'genai_ledger_spans_rejected_total{stage="decode"}'];
    const scrapeBoth = () => Promise.all([scrape(`${server.url}/thread`), scrape(`${server.url}/here`)]);
    const before = await scrapeBoth();
    await both(pb(spans), { ...PB, ...OPEN });
    const after = await scrapeBoth();
    const delta = (i: number) => series.map((name) => (after[i]!.get(name) ?? 0) - (before[i]!.get(name) ?? 0));
    expect(delta(0)).toEqual([9, 6, 1]);
    expect(delta(1)).toEqual(delta(0));
  });

  test('durable: rows go through ingestMappedDurable', async () => {
    onThread.ledger.durable = true;
    (onThread.ledger as { ingestDurable?: unknown }).ingestDurable = undefined;
    try {
      const res = await post(onThread, pb(makeSpans({ ai: 2 })), { ...PB, ...ACME });
      expect(res.status).toBe(200);
      expect(onThread.ledger.ingests).toEqual(['mapped:2']);
    } finally {
      delete (onThread.ledger as { ingestDurable?: unknown }).ingestDurable;
    }
  });

  test('a request larger than the whole queue is fed in parts as room frees, counted once', async () => {
    const spans = makeSpans({ ai: 25, plain: 5 });
    // The queue empties only when the ledger flushes: the handler waits for room between parts.
    const result = await both(pb(spans), { ...PB, ...ACME }, [smallOnThread, smallHere]);
    expect(result.status).toBe(200);
    expect(result.lines).toHaveLength(25);
    expect(smallOnThread.ledger.stats.spansReceived).toBe(25);
    expect(smallOnThread.ledger.ingests).toEqual(['mapped:10', 'mapped:10', 'mapped:5']);
    expect(smallHere.ledger.ingests).toEqual(['spans:10', 'spans:10', 'spans:5']);
  });

  test('a failed mapping thread is not used, and its failure is logged once', () => {
    const errors: string[] = [];
    const log = { ...silentLogger, error: (msg: string) => void errors.push(msg) } as Logger;
    const failed = requestMapping({ ready: true, failed: new Error('the mapping thread exited with code 1'), submit: () => undefined }, log);
    expect(failed.usable).toBe(false);
    expect(failed.usable).toBe(false);
    expect(errors).toEqual(["the mapping thread failed; requests are decoded and mapped on the collector's thread from now on"]);
    const starting = requestMapping({ ready: false, failed: undefined, submit: () => undefined }, log);
    expect(starting.usable).toBe(false);
    expect(errors).toHaveLength(1);
  });

  test('a request the thread loses is answered 503 with Retry-After (the client retries it)', async () => {
    const res = await request(`${server.url}/lost/v1/traces`, { method: 'POST', headers: { ...PB, ...ACME }, body: pb(makeSpans({ ai: 1 })) });
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('2');
    expect(lost.ledger.lines).toEqual([]);
  });
});
