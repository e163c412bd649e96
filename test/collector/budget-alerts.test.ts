/**
 * The collector fires budget alerts (--budgets, --alert-webhook): each threshold a call crosses
 * is POSTed once, in order, signed with GENAI_LEDGER_ALERT_WEBHOOK_SECRET, and counted in
 * /metrics; a budgets file with an error stops the start with one line naming the budget and field.
 * A budget of $0.01 a day with alerts at 50 % and 100 %; each call costs $0.00472 (CACHED_GPT4O:
 * 176 × $2.50 + 1024 × $1.25 + 300 × $10 per 1M tokens), so the second call crosses 50 % ($0.00944)
 * and the third 100 % ($0.01416).
 */
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { WebhookReceiver } from '../support/webhook-receiver.js';
import { runCli, scrape, startCollectorProcess } from './support/collector-process.js';
import { makeSpans } from './support/spans.js';

const base = mkdtempSync(join(tmpdir(), 'genai-ledger-budget-alerts-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

const SECRET = 'alert-signing-secret';
const BUDGETS = `budgets:
  - name: acme-daily
    match: { org_id: acme }
    period: day
    limit_usd: "0.01"
    alert_at: [0.5, 1.0]
`;

async function exportCall(url: string): Promise<number> {
  const exporter = new OTLPTraceExporter({ url: `${url}/v1/traces` });
  try {
    const result = await new Promise<ExportResult>((resolve) => exporter.export(makeSpans({ ai: 1, extra: { 'genai_ledger.org_id': 'acme' } }), resolve));
    expect(result.code).toBe(ExportResultCode.SUCCESS);
    return Date.now();
  } finally {
    await exporter.shutdown();
  }
}

test('each threshold crossed is POSTed once, in order, signed, and counted', async () => {
  const webhook = await WebhookReceiver.start<Record<string, unknown>>();
  const { received } = webhook;
  const budgets = join(base, 'budgets.yaml');
  writeFileSync(budgets, BUDGETS);
  const collector = await startCollectorProcess(join(base, 'store'), [
    '--flush-interval', '0.2', '--budgets', budgets, '--alert-webhook', webhook.url,
  ], { GENAI_LEDGER_ALERT_WEBHOOK_SECRET: SECRET });
  try {
    await exportCall(collector.url);
    const crossedHalf = await exportCall(collector.url);
    await webhook.waitFor(1);
    const crossedAll = await exportCall(collector.url);
    await webhook.waitFor(2);

    const alerts = received.map((r) => r.body);
    expect(alerts.map((a) => [a.budget, a.threshold, a.spent_usd, a.limit_usd])).toEqual([
      ['acme-daily', '0.5', '0.00944', '0.01'],
      ['acme-daily', '1', '0.01416', '0.01'],
    ]);
    expect(new Set(alerts.map((a) => a.id)).size).toBe(2);
    for (const r of received) {
      expect(r.signature).toBe(`sha256=${createHmac('sha256', SECRET).update(r.raw).digest('hex')}`);
    }
    // How long after the crossing call was acknowledged each alert arrived (informative: no wall-clock assertion).
    console.log(`budget alerts arrived ${received[0]!.at - crossedHalf} ms and ${received[1]!.at - crossedAll} ms after the crossing call's acknowledgement`);

    // More spend crosses nothing new: no third alert.
    await exportCall(collector.url);
    await new Promise((r) => setTimeout(r, 2500));
    expect(received).toHaveLength(2);
    const metrics = await scrape(collector.url);
    expect(metrics.get('genai_ledger_budget_alerts_sent_total')).toBe(2);
    expect(metrics.get('genai_ledger_budget_alerts_pending')).toBe(0);
  } finally {
    expect(await collector.stop('SIGTERM')).toBe(0);
    await webhook.close();
  }
}, 180_000);

test('a budgets file with an error stops the start with one line naming the budget and the field', async () => {
  const budgets = join(base, 'bad.yaml');
  writeFileSync(budgets, BUDGETS.replace('limit_usd: "0.01"', 'limit_usd: "lots"'));
  const result = await runCli(['collect', '--port', '0', '--store', join(base, 'bad-store'), '--budgets', budgets]);
  expect(result.code).toBe(1);
  const lines = result.stderr.trim().split('\n').filter((l) => l.startsWith('genai-ledger:'));
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/budget 'acme-daily': limit_usd/);
}, 60_000);

test('--alert-webhook must be an http(s) URL', async () => {
  const result = await runCli(['collect', '--port', '0', '--store', join(base, 'url-store'), '--alert-webhook', 'ftp://example.test/x']);
  expect(result.code).toBe(2);
  expect(result.stderr).toMatch(/alert-webhook.*http\(s\) URL/);
}, 60_000);
