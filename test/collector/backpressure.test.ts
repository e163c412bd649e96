/**
 * A full write queue answers 429 + Retry-After before anything is ingested, and the official OTLP
 * exporter's retry (which honours Retry-After) lands: nothing lost, nothing doubled.
 * The collector runs with a 5-row queue that only empties on the writer's 1 s tick.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { collectorRunner } from '../../collector/query-client.js';
import { scrape, startCollectorProcess, waitUntilWritten, type CollectorProcess } from './support/collector-process.js';
import { makeSpans } from './support/spans.js';

const base = mkdtempSync(join(tmpdir(), 'genai-ledger-backpressure-'));
let collector: CollectorProcess;

beforeAll(async () => {
  collector = await startCollectorProcess(join(base, 'store'), [
    // The in-memory queue's admission (with the spool, the spool bounds what waits instead).
    '--max-queue-rows', '5', '--flush-interval', '1', '--idle-flush', '0', '--retry-after', '1', '--no-spool',
  ]);
});

afterAll(async () => {
  await collector?.stop('SIGKILL').catch(() => undefined);
  rmSync(base, { recursive: true, force: true });
});

test('queue full → 429 with Retry-After; the OTLP exporter retries and every row lands once', async () => {
  const exporter = new OTLPTraceExporter({ url: `${collector.url}/v1/traces` });
  const batches = [makeSpans({ ai: 5, plain: 20 }), makeSpans({ ai: 5, plain: 20 }), makeSpans({ ai: 5 })];
  const results = await Promise.all(batches.map((spans) => new Promise<ExportResult>((resolve) => exporter.export(spans, resolve))));
  expect(results.map((r) => r.code)).toEqual([ExportResultCode.SUCCESS, ExportResultCode.SUCCESS, ExportResultCode.SUCCESS]);
  await exporter.shutdown();

  const m = await waitUntilWritten(collector.url, 15);
  expect(m.get('genai_ledger_http_requests_total{route="/v1/traces",code="429"}')).toBeGreaterThanOrEqual(1);
  expect(m.get('genai_ledger_requests_refused_total{reason="queue_full"}')).toBe(m.get('genai_ledger_http_requests_total{route="/v1/traces",code="429"}'));
  expect(m.get('genai_ledger_rows_written_total')).toBe(15);
  expect(m.get('genai_ledger_rows_dropped_total')).toBe(0);
  // Refused requests were not half-ingested: exactly 15 rows, 15 distinct calls.
  const runner = collectorRunner({ url: collector.url, token: collector.queryToken! });
  expect(await runner.query('SELECT count() AS n, uniqExact(span_id) AS calls FROM ai_usage')).toEqual([{ n: 15, calls: 15 }]);
  expect((await scrape(collector.url)).get('genai_ledger_queue_capacity_rows')).toBe(5);
}, 30_000);
