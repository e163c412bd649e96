/**
 * The collector with --rates keeps billed_daily current by itself: calls sent over OTLP show up
 * billed, by the card in force, without `reprice --billing`; a late arrival re-bills its own day;
 * a duplicate delivery is billed once; a changed card file and a restart re-bill the days the card
 * covers. Counted in /metrics.
 *
 * Every call is CACHED_GPT4O: gpt-4o at OpenAI's published $2.50 input, $1.25 cached input and
 * $10 output per 1M tokens: (1200 - 1024) × 2.5 + 1024 × 1.25 + 300 × 10 = 440 + 1280 + 3000
 * millionths = $0.00472 a call.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { SpanKind } from '@opentelemetry/api';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { startCollector } from '../../collector/collector.js';
import { parseCollectorConfig } from '../../collector/config.js';
import { request, scrape, startCollectorProcess, waitFor, waitUntilWritten, type CollectorProcess } from './support/collector-process.js';
import { CACHED_GPT4O } from './support/spans.js';

const base = mkdtempSync(join(tmpdir(), 'genai-ledger-billing-refresh-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));
const store = join(base, 'store');
const rates = join(base, 'rates.yaml');

/** The default card marks cost up `markup`; acme pays 25 % on top with whole credits per call, rounded up. */
const ratesFile = (markup: string): string => `rate_cards:
  - org_id: "*"
    effective_from: 2026-01-01
    markup: "${markup}"
  - org_id: acme
    effective_from: 2026-01-01
    markup: "0.25"
    credits_per_usd: 100
    credit_rounding: call_ceil
`;

/** Finished gpt-4o spans made by the real SDK, one per (org, start time). */
function calls(list: Array<[org: string, at: string]>): ReadableSpan[] {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ resource: resourceFromAttributes({ 'service.name': 'billing-test' }), spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const tracer = provider.getTracer('@opentelemetry/instrumentation-openai');
  for (const [org, at] of list) {
    const start = Date.parse(at);
    tracer.startSpan('chat gpt-4o', { kind: SpanKind.CLIENT, startTime: start, attributes: { ...CACHED_GPT4O, 'genai_ledger.org_id': org } }).end(start + 800);
  }
  return exporter.getFinishedSpans();
}

async function send(url: string, spans: ReadableSpan[]): Promise<void> {
  const exporter = new OTLPTraceExporter({ url: `${url}/v1/traces` });
  try {
    const result = await new Promise<ExportResult>((resolve) => exporter.export(spans, resolve));
    expect(result.code).toBe(ExportResultCode.SUCCESS);
  } finally {
    await exporter.shutdown();
  }
}

interface Billed { org_id: string; day: string; calls: number; cost: string; billed: string; credits: string; rate_card: string }

/** billed_daily_exact through the collector's read-only endpoint, amounts without trailing zeros. */
async function billed(collector: CollectorProcess): Promise<Billed[]> {
  const res = await request(`${collector.url}/v1/query`, {
    method: 'POST',
    headers: { authorization: `Bearer ${collector.queryToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      sql: `SELECT org_id, toString(day) AS day, calls, toString(cost_usd) AS cost, toString(billed_usd) AS billed, toString(credits) AS credits, rate_card
FROM billed_daily_exact ORDER BY org_id, day`,
    }),
  });
  expect(res.status).toBe(200);
  return (JSON.parse(res.body.toString('utf8')) as { rows: Billed[] }).rows;
}

const ARGS = ['--rates', rates, '--billing-refresh', '0.2', '--no-spool', '--idle-flush', '0.05'];

test('calls sent are billed without reprice --billing: by call day, late arrivals and duplicates once', async () => {
  writeFileSync(rates, ratesFile('0.20'));
  const collector = await startCollectorProcess(store, ARGS);
  try {
    const today = calls([['acme', '2026-11-21T09:00:00Z'], ['acme', '2026-11-21T17:30:00Z'], ['beta', '2026-11-21T12:00:00Z']]);
    await send(collector.url, today);
    await waitUntilWritten(collector.url, 3);
    // Sent again (an SDK retry): the same spans. And a call from the day before, arriving late.
    await send(collector.url, today);
    await send(collector.url, calls([['acme', '2026-11-20T23:59:00Z']]));
    await waitUntilWritten(collector.url, 7);

    const expected: Billed[] = [
      // acme: 0.00472 × 1.25 = 0.0059 a call; credits ⌈0.59⌉ = 1 a call.
      { org_id: 'acme', day: '2026-11-20', calls: 1, cost: '0.00472', billed: '0.0059', credits: '1', rate_card: 'acme@2026-01-01' },
      { org_id: 'acme', day: '2026-11-21', calls: 2, cost: '0.00944', billed: '0.0118', credits: '2', rate_card: 'acme@2026-01-01' },
      // beta: the default card, 0.00472 × 1.20 = 0.005664; no credits.
      { org_id: 'beta', day: '2026-11-21', calls: 1, cost: '0.00472', billed: '0.005664', credits: '0', rate_card: '*@2026-01-01' },
    ];
    await waitFor(async () => {
      const rows = await billed(collector);
      return JSON.stringify(rows) === JSON.stringify(expected) ? rows : undefined;
    }, 60_000, 'billed_daily to hold the three calls billed').catch(async (error: Error) => {
      throw new Error(`${error.message}: ${JSON.stringify(await billed(collector))}`);
    });

    const m = await scrape(collector.url);
    expect(m.get('genai_ledger_billing_refreshes_total')).toBeGreaterThanOrEqual(1);
    expect(m.get('genai_ledger_billing_refresh_failures_total')).toBe(0);
    expect(m.get('genai_ledger_billing_days_rebilled_total')).toBeGreaterThanOrEqual(2);
    expect(m.get('genai_ledger_billing_last_success_timestamp_seconds')).toBeGreaterThan(Date.now() / 1000 - 60);
  } finally {
    expect(await collector.stop()).toBe(0);
  }
}, 180_000);

test('a changed card file and a restart re-bill the days the card covers', async () => {
  // The default card from 20 % to 50 %: beta's call is billed 0.00472 × 1.5 = 0.00708; acme keeps its own card.
  writeFileSync(rates, ratesFile('0.50'));
  const collector = await startCollectorProcess(store, ARGS);
  try {
    const rows = await waitFor(async () => {
      const now = await billed(collector);
      return now.find((r) => r.org_id === 'beta')?.billed === '0.00708' ? now : undefined;
    }, 60_000, 'beta re-billed by the changed default card');
    expect(rows.map((r) => [r.org_id, r.day, r.calls, r.billed])).toEqual([
      ['acme', '2026-11-20', 1, '0.0059'],
      ['acme', '2026-11-21', 2, '0.0118'],
      ['beta', '2026-11-21', 1, '0.00708'],
    ]);
  } finally {
    expect(await collector.stop()).toBe(0);
  }
}, 180_000);

test('a rate-card file with an error stops the start, before the store is opened, with one line naming the card and field', async () => {
  const bad = join(base, 'bad-rates.yaml');
  writeFileSync(bad, 'rate_cards:\n  - org_id: acme\n    effective_from: 2026-01-01\n    markup: "lots"\n');
  const config = parseCollectorConfig(['--rates', bad, '--store', join(base, 'never-opened'), '--no-spool'], {});
  const error = await startCollector(config).then(() => undefined, (e: Error) => e);
  expect(error?.message.split('\n')).toHaveLength(1);
  expect(error?.message).toMatch(/bad-rates\.yaml.*acme.*markup/);
  expect(existsSync(join(base, 'never-opened'))).toBe(false);
});
