/**
 * A collector started while ClickHouse is down (issue 15, part 8), as deployed: a child process
 * whose ClickHouse client refuses every call from its first one, as a stopped server does (the
 * test-only fault switch started "down": GENAI_LEDGER_FAULT_INJECTION=1 and
 * GENAI_LEDGER_FAULT_CLICKHOUSE=down), on a fresh store: no database, no tables, no prices yet.
 *
 * With the spool it starts anyway, acknowledges the official OTLP exporter's requests from disk,
 * says in /readyz what it waits for, survives a restart during the outage, and once ClickHouse is
 * up applies the migrations and delivers every row exactly once (raw rows, not only FINAL).
 * The same against a ClickHouse URL where nothing listens (the real HTTP client, refused).
 * Without a spool it refuses to start, as before: nothing could hold the data.
 * The three cases run at once: separate stores, ports and processes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { collectorRunner } from '../../collector/query-client.js';
import { request, runCli, scrape, startCollectorProcess, waitFor, type CollectorProcess } from './support/collector-process.js';
import { CACHED_GPT4O_COST, makeSpans } from './support/spans.js';

const base = mkdtempSync(join(tmpdir(), 'genai-ledger-store-down-'));
const started: CollectorProcess[] = [];
afterAll(async () => {
  for (const c of started) await c.stop('SIGKILL').catch(() => undefined);
  rmSync(base, { recursive: true, force: true });
});

const DOWN = { GENAI_LEDGER_FAULT_INJECTION: '1', GENAI_LEDGER_FAULT_CLICKHOUSE: 'down' };

interface Ready {
  status: string;
  degraded?: boolean;
  waiting?: string;
  store?: string;
  spool?: { pendingRows: number };
}

async function readyz(url: string): Promise<{ status: number; body: Ready }> {
  const res = await request(`${url}/readyz`);
  return { status: res.status, body: JSON.parse(res.body.toString()) as Ready };
}

/** Sends through the official OTLP/protobuf exporter; resolves with its result. */
async function exportSpans(url: string, ai: number, service: string): Promise<ExportResult> {
  const exporter = new OTLPTraceExporter({ url: `${url}/v1/traces` });
  try {
    return await new Promise<ExportResult>((resolve) => exporter.export(makeSpans({ ai, plain: ai, service }), resolve));
  } finally {
    await exporter.shutdown();
  }
}

test.concurrent('with a spool: starts while ClickHouse is down, acknowledges from disk, and delivers every row once it is up, across a restart', async () => {
  const store = join(base, 'store');
  const args = ['--flush-interval', '0.2'];

  // First run: down from the start. It listens and takes requests durably.
  const first = await startCollectorProcess(store, args, DOWN);
  started.push(first);
  const waitingFirst = await readyz(first.url);
  expect(waitingFirst.status).toBe(200);
  expect(waitingFirst.body).toMatchObject({ status: 'ready', degraded: true });
  expect(waitingFirst.body.waiting).toMatch(/^clickhouse: migrations not applied: connect ECONNREFUSED/);
  expect((await exportSpans(first.url, 20, 'before-restart')).code).toBe(ExportResultCode.SUCCESS);
  const spooled = await scrape(first.url);
  expect(spooled.get('genai_ledger_spool_pending_rows')).toBe(20);
  expect(spooled.get('genai_ledger_rows_written_total')).toBe(0);
  expect(spooled.get('genai_ledger_store_waiting')).toBe(1);
  // Nothing reached the store: the migrations never ran (the query connection is not faulted).
  const runner = collectorRunner({ url: first.url, token: first.queryToken! });
  expect(await runner.query("SELECT count() AS n FROM system.tables WHERE database = 'genai_ledger' AND name = 'ai_usage'")).toEqual([{ n: 0 }]);
  expect(first.logs().find((l) => l.msg === 'the store is not ready: accepting into the spool, setting it up in the background'))
    .toMatchObject({ waiting: expect.stringMatching(/^clickhouse: migrations not applied: /) });
  expect(await first.stop('SIGTERM')).toBe(0);
  expect(first.logs().find((l) => l.msg === 'stopped')).toMatchObject({ clean: true, writtenRows: 0, spoolPendingRows: 20 });

  // Restarted during the same outage: the spool's rows wait, new requests join them.
  const second = await startCollectorProcess(store, args, DOWN);
  started.push(second);
  expect((await readyz(second.url)).body.waiting).toMatch(/^clickhouse: migrations not applied: /);
  expect((await exportSpans(second.url, 30, 'after-restart')).code).toBe(ExportResultCode.SUCCESS);
  expect((await scrape(second.url)).get('genai_ledger_spool_pending_rows')).toBe(50);

  // ClickHouse comes back: the setup retries (backoff), then the pump delivers.
  expect((await request(`${second.url}/debug/faults`, { method: 'POST', body: '{"clickhouse":"up"}' })).status).toBe(200);
  const ready = await waitFor(async () => {
    const r = await readyz(second.url);
    return r.body.waiting === undefined && r.body.spool?.pendingRows === 0 ? r : undefined;
  }, 60_000, 'the store set up and the spool delivered');
  expect(ready.status).toBe(200);
  expect(ready.body).toMatchObject({ status: 'ready', store: 'ok' });
  expect(ready.body.degraded).toBeUndefined();
  expect((await scrape(second.url)).get('genai_ledger_store_waiting')).toBe(0);

  const rows = await collectorRunner({ url: second.url, token: second.queryToken! }).query<Record<string, unknown>>(
    `SELECT service_name, count() AS raw, uniqExact(trace_id, span_id) AS spans, toString(sum(cost_usd)) AS cost
       FROM ai_usage GROUP BY service_name ORDER BY service_name`,
  );
  // Every span once, raw (no FINAL collapsing a duplicate): 20 + 30 calls at CACHED_GPT4O_COST ($0.00472).
  expect(CACHED_GPT4O_COST).toBe('0.00472');
  expect(rows).toEqual([
    { service_name: 'after-restart', raw: 30, spans: 30, cost: '0.1416' },
    { service_name: 'before-restart', raw: 20, spans: 20, cost: '0.0944' },
  ]);
  expect(second.logs().find((l) => l.msg === 'the store is ready: delivering the spool')).toMatchObject({ pendingRows: 50 });
  expect(await second.stop('SIGTERM')).toBe(0);
  expect(second.logs().find((l) => l.msg === 'stopped')).toMatchObject({ clean: true, writtenRows: 50, spoolPendingRows: 0 });
}, 180_000); // four collector processes in turn: about 30 s on a quiet machine

/** A local port nothing listens on (connections are refused at once, as by a stopped server). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

test.concurrent('a ClickHouse URL nobody answers at: starts on the spool, acknowledges, and says what it waits for', async () => {
  const url = `http://127.0.0.1:${await closedPort()}/genai_ledger`;
  const collector = await startCollectorProcess(url, ['--spool-dir', join(base, 'url-spool')]);
  started.push(collector);
  const ready = await readyz(collector.url);
  expect(ready.status).toBe(200);
  expect(ready.body).toMatchObject({ status: 'ready', degraded: true, store: expect.stringMatching(/^store unreachable: /) });
  expect(ready.body.waiting).toMatch(/^clickhouse: database not created: cannot reach ClickHouse at http:\/\/127\.0\.0\.1:\d+\/genai_ledger: connect ECONNREFUSED/);
  expect((await exportSpans(collector.url, 5, 'url')).code).toBe(ExportResultCode.SUCCESS);
  expect((await scrape(collector.url)).get('genai_ledger_spool_pending_rows')).toBe(5);
  expect(await collector.stop('SIGTERM')).toBe(0);
}, 120_000);

test.concurrent('without a spool: still refuses to start while ClickHouse is down, with one clear line', async () => {
  const result = await runCli(['collect', '--port', '0', '--store', join(base, 'no-spool'), '--no-spool'], DOWN);
  expect(result.code).toBe(1);
  expect(result.stderr).toContain('ECONNREFUSED');
  expect(result.stderr).not.toContain('listening');
});
