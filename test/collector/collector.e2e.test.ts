/**
 * The collector as deployed: a child process (`genai-ledger collect`) owning its embedded store,
 * fed by the official OTLP exporters (protobuf and JSON) from an app instrumented with the official
 * OpenAI instrumentation (the real `openai` SDK against the fake provider) and from hand-made GenAI
 * spans; read back with the real CLI (`report`, `query`) while it runs, which finds the collector
 * through <store>/collector.json.
 */
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { SpanKind } from '@opentelemetry/api';
import { OTLPTraceExporter as ProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { OTLPTraceExporter as JsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { ExportTraceServiceResponse } from '../../collector/otlp/schema.js';
import { collectorRunner, CollectorQueryError } from '../../collector/query-client.js';
import { readDiscoveryFile } from '../../collector/discovery.js';
import { installInstrumentation, openaiClient } from '../support/capture.js';
import { startFakeProvider, type FakeProvider } from '../support/fake-provider.js';
import { request, runCli, scrape, startCollectorProcess, waitUntilWritten, type CollectorProcess } from './support/collector-process.js';
import { CACHED_GPT4O, makeSpans, withSpanId } from './support/spans.js';

const TOKEN_ACME = 'tok-acme-0123456789abcdef';
const TOKEN_OPEN = 'tok-open-0123456789abcdef';

const base = mkdtempSync(join(tmpdir(), 'genai-ledger-collector-e2e-'));
const store = join(base, 'store');
let fake: FakeProvider;
let collector: CollectorProcess;

beforeAll(async () => {
  [fake, collector] = await Promise.all([
    startFakeProvider(),
    startCollectorProcess(store, ['--max-body-bytes', '1MiB'], {
      GENAI_LEDGER_TOKENS: JSON.stringify([{ token: TOKEN_ACME, org: 'acme' }, { token: TOKEN_OPEN }]),
    }),
  ]);
});

afterAll(async () => {
  await collector?.stop('SIGKILL').catch(() => undefined);
  await fake?.close();
  rmSync(base, { recursive: true, force: true });
});

function provider(exporter: ProtoExporter | JsonExporter, resource: Record<string, string>): NodeTracerProvider {
  return new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'support-api', ...resource }),
    spanProcessors: [new BatchSpanProcessor(exporter)],
  });
}

const json = <T>(text: string): T => JSON.parse(text) as T;

describe('genai-ledger collect', () => {
  test('serves probes and publishes itself in <store>/collector.json', async () => {
    expect((await request(`${collector.url}/healthz`)).status).toBe(200);
    const ready = await request(`${collector.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(json<{ status: string }>(ready.body.toString()).status).toBe('ready');
    expect(readDiscoveryFile(store)).toMatchObject({ pid: collector.pid, url: collector.url, database: 'genai_ledger' });
    expect(collector.queryToken).toBeDefined();
  });

  test('the official OpenAI instrumentation → OTLP/protobuf exporter → rows priced exactly', async () => {
    const exporter = new ProtoExporter({ url: `${collector.url}/v1/traces`, headers: { Authorization: `Bearer ${TOKEN_OPEN}` } });
    const app = provider(exporter, { 'tenant.id': 'globex' });
    const uninstall = await installInstrumentation('otel-openai', app, { notes: [] });
    try {
      const openai = openaiClient({ url: fake.url });
      for (let i = 0; i < 3; i++) {
        await openai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
      }
    } finally {
      uninstall();
    }
    await app.forceFlush();
    await app.shutdown();
    await waitUntilWritten(collector.url, 3);
  });

  test('hand-made GenAI spans → OTLP/JSON exporter; a token bound to an org wins over tenant.id', async () => {
    const send = async (token: string, tenant: string, count: number) => {
      const app = provider(new JsonExporter({ url: `${collector.url}/v1/traces`, headers: { Authorization: `Bearer ${token}` } }), {});
      const tracer = app.getTracer('hand-made');
      for (let i = 0; i < count; i++) {
        tracer.startSpan('chat gpt-4o', { kind: SpanKind.CLIENT, attributes: { ...CACHED_GPT4O, 'tenant.id': tenant } }).end();
        tracer.startSpan('GET /health', { kind: SpanKind.SERVER, attributes: { 'http.route': '/health' } }).end();
      }
      await app.forceFlush();
      await app.shutdown();
    };
    await send(TOKEN_ACME, 'span-says-umbrella', 2);
    await send(TOKEN_OPEN, 'initech', 1);
    await waitUntilWritten(collector.url, 6);
  });

  test('`genai-ledger report --store DIR` reads through the running collector: exact totals', async () => {
    const [result, total] = await Promise.all([
      runCli(['report', '--store', store, '--by', 'org_id', '--format', 'json']),
      runCli(['report', '--store', store, '--format', 'json']),
    ]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const rows = json<Array<Record<string, unknown>>>(result.stdout);
    expect(rows.map((r) => [r.org_id, r.calls, r.input_tokens, r.output_tokens, r.cache_read_tokens, r.cost_usd])).toEqual([
      // The official instrumentation reports no cached tokens: 3 × (1200 in + 300 out of gpt-4o) = 3 × $0.006.
      ['globex', 3, 3600, 900, 0, '0.018'],
      // Hand-made spans carry 1024 cache reads of 1200: $0.00472 each; the token's org, not the span's.
      ['acme', 2, 2400, 600, 2048, '0.00944'],
      ['initech', 1, 1200, 300, 1024, '0.00472'],
    ]);
    expect(json<Array<{ calls: number; cost_usd: string }>>(total.stdout)).toMatchObject([{ calls: 6, cost_usd: '0.03216' }]);
  });

  test('`genai-ledger query` works while collecting and refuses writes; GENAI_LEDGER_QUERY_URL reaches a remote collector; a second collector is refused', async () => {
    const [ok, refused, remote, second] = await Promise.all([
      runCli(['query', 'SELECT org_id, count() AS n FROM ai_usage_exact GROUP BY org_id ORDER BY org_id', '--store', store, '--format', 'json']),
      runCli(['query', 'DROP TABLE ai_usage', '--store', store]),
      runCli(['report', '--format', 'json'], { GENAI_LEDGER_QUERY_URL: collector.url, GENAI_LEDGER_QUERY_TOKEN: collector.queryToken! }),
      runCli(['collect', '--port', '0', '--store', store]),
    ]);
    expect(ok.code).toBe(0);
    expect(json(ok.stdout)).toEqual([{ org_id: 'acme', n: 2 }, { org_id: 'globex', n: 3 }, { org_id: 'initech', n: 1 }]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('refused');
    expect(remote.code).toBe(0);
    expect(json<Array<{ calls: number; cost_usd: string }>>(remote.stdout)).toMatchObject([{ calls: 6, cost_usd: '0.03216' }]);
    expect(second.code).toBe(1);
    expect(second.stderr).toContain(`is open in another process (pid ${collector.pid})`);
  });

  test('the query endpoint (the QueryRunner the CLI uses) is read-only and authenticated', async () => {
    const runner = collectorRunner({ url: collector.url, token: collector.queryToken! });
    expect(await runner.query('SELECT count() AS n, getSetting(\'readonly\') AS ro FROM ai_usage_exact')).toEqual([{ n: 6, ro: 1 }]);
    expect(await runner.query('SELECT sum(cost_usd) AS usd FROM ai_usage_exact WHERE org_id = {org:String}', { org: 'acme' })).toEqual([{ usd: '0.00944' }]);
    for (const sql of [
      "INSERT INTO ai_usage (trace_id, span_id) VALUES ('a', 'b')",
      'DROP TABLE ai_usage',
      'CREATE TABLE t (x UInt8) ENGINE = Memory',
      'SELECT 1; DROP TABLE ai_usage',
      "SELECT 1 INTO OUTFILE '/tmp/genai-ledger-outfile'",
      "SELECT * FROM file('/etc/hostname', 'LineAsString')",
      'SELECT 1 SETTINGS readonly = 0',
      'SELECT number FROM numbers(1000000)',
    ]) {
      const error = await runner.query(sql).then(() => undefined, (e: unknown) => e);
      expect(error, sql).toBeInstanceOf(CollectorQueryError);
      expect((error as CollectorQueryError).status, sql).toBe(400);
    }
    expect(existsSync('/tmp/genai-ledger-outfile')).toBe(false);
    expect((await runner.query('SELECT count() AS n FROM ai_usage'))[0]).toEqual({ n: 6 });
    const wrong = collectorRunner({ url: collector.url, token: 'not-the-token' });
    await expect(wrong.query('SELECT 1')).rejects.toMatchObject({ status: 401 });
    // An ingest token does not open the query endpoint.
    await expect(collectorRunner({ url: collector.url, token: TOKEN_OPEN }).query('SELECT 1')).rejects.toMatchObject({ status: 401 });
  });

  test('401, 400, 413, 415 and partial success over the wire', async () => {
    const body = ProtobufTraceSerializer.serializeRequest(makeSpans({ ai: 1 }))!;
    const pb = { 'content-type': 'application/x-protobuf' };
    const missing = await request(`${collector.url}/v1/traces`, { method: 'POST', headers: pb, body });
    expect(missing.status).toBe(401);
    expect(missing.headers['www-authenticate']).toMatch(/^Bearer/);
    expect((await request(`${collector.url}/v1/traces`, { method: 'POST', headers: { ...pb, authorization: 'Bearer wrong' }, body })).status).toBe(401);
    const auth = { authorization: `Bearer ${TOKEN_ACME}` };
    expect((await request(`${collector.url}/v1/traces`, { method: 'POST', headers: { ...pb, ...auth }, body: 'garbage' })).status).toBe(400);
    expect((await request(`${collector.url}/v1/traces`, { method: 'POST', headers: { 'content-type': 'text/xml', ...auth }, body })).status).toBe(415);
    expect((await request(`${collector.url}/v1/traces`, { method: 'POST', headers: { ...pb, ...auth }, body: Buffer.alloc(2 * 1024 * 1024) })).status).toBe(413);

    const spans = makeSpans({ ai: 2, extra: { 'gen_ai.request.model': 'gpt-4o' } });
    const bad = ProtobufTraceSerializer.serializeRequest([spans[0]!, withSpanId(spans[1]!, '0000000000000000')])!;
    const partial = await request(`${collector.url}/v1/traces`, { method: 'POST', headers: { ...pb, ...auth }, body: bad });
    expect(partial.status).toBe(200);
    const answer = ExportTraceServiceResponse.toObject(ExportTraceServiceResponse.decode(partial.body), { longs: Number }) as { partialSuccess: { rejectedSpans: number; errorMessage: string } };
    expect(answer.partialSuccess.rejectedSpans).toBe(1);
    expect(answer.partialSuccess.errorMessage).toContain('invalid span_id (all zeros)');
    await waitUntilWritten(collector.url, 7);

    const m = await scrape(collector.url);
    expect(m.get('genai_ledger_http_requests_total{route="/v1/traces",code="401"}')).toBe(2);
    expect(m.get('genai_ledger_http_requests_total{route="/v1/traces",code="413"}')).toBe(1);
    expect(m.get('genai_ledger_rows_written_total')).toBe(7);
    expect(m.get('genai_ledger_spans_rejected_total{stage="decode"}')).toBe(1);
    expect(m.get('genai_ledger_rows_dropped_total')).toBe(0);
    expect(m.get('genai_ledger_queue_rows')).toBe(0);
    expect(m.get('genai_ledger_spans_received_total')).toBeGreaterThanOrEqual(11);
    expect(m.get('genai_ledger_insert_batches_total')).toBeGreaterThanOrEqual(1);
  });

  test('logs are JSON lines without tokens', () => {
    const text = collector.stderr();
    expect(text).not.toContain(TOKEN_ACME);
    expect(text).not.toContain(TOKEN_OPEN);
    expect(text).not.toContain(collector.queryToken!);
    expect(collector.logs().map((l) => l.msg)).toEqual(expect.arrayContaining(['starting', 'listening']));
  });

  test('SIGTERM: drains, removes collector.json, exits 0; the store then opens directly with every row', async () => {
    // Rows acknowledged just before the signal, which the drain must deliver. The total expected is
    // what this collector mapped, whatever the tests before sent (one failing must not fail this one).
    const body = ProtobufTraceSerializer.serializeRequest(makeSpans({ ai: 2, plain: 1 }))!;
    const last = await request(`${collector.url}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf', authorization: `Bearer ${TOKEN_OPEN}` }, body });
    expect(last.status).toBe(200);
    const mapped = (await scrape(collector.url)).get('genai_ledger_rows_mapped_total')!;
    expect(mapped).toBeGreaterThanOrEqual(2);
    expect(await collector.stop('SIGTERM')).toBe(0);
    expect(existsSync(join(store, 'collector.json'))).toBe(false);
    expect(collector.logs().find((l) => l.msg === 'stopped')).toMatchObject({ clean: true, writtenRows: mapped, droppedRows: 0, spoolPendingRows: 0 });
    const direct = await runCli(['report', '--store', store, '--format', 'json']);
    expect(direct.code).toBe(0);
    expect(json<Array<{ calls: number; cost_usd: string }>>(direct.stdout)).toMatchObject([{ calls: mapped }]);
  });
});
