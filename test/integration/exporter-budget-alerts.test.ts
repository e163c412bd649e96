/**
 * Budget alerts from the in-process exporter: GenAiLedgerExporter with a budgets file and a local
 * webhook (127.0.0.1) POSTs each threshold its calls cross once, in order, signed with the secret;
 * register() refuses a budgets document with an error in one line.
 *
 * A budget of $0.01 a day for org acme, alerts at 30 %, 50 % and 100 %. Each call is gpt-4o with
 * 1200 input tokens of which 1024 cache reads, and 300 output tokens; at OpenAI's published
 * gpt-4o prices ($2.50 input, $1.25 cached input, $10 output per 1M tokens):
 * 176 × 2.50 + 1024 × 1.25 + 300 × 10 = 440 + 1280 + 3000 = 4720 per 1M = $0.00472.
 * One call ($0.00472) crosses 30 % ($0.003); two more in one batch ($0.01416) cross 50 % ($0.005)
 * and 100 % ($0.01) together; a fourth crosses nothing new.
 */
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import type { BudgetAlert } from '../../delivery/budgets/alerts.js';
import { GenAiLedgerExporter } from '../../exporter/span-exporter.js';
import { register } from '../../instrumentation/register.js';
import { makeSpans } from '../collector/support/spans.js';
import { openTestStore, type TestStore } from '../support/store.js';
import { WebhookReceiver } from '../support/webhook-receiver.js';

const SECRET = 'exporter-alert-secret';
const BUDGETS = `budgets:
  - name: acme-daily
    match: { org_id: acme }
    period: day
    limit_usd: "0.01"
    alert_at: [0.3, 0.5, 1]
  - name: globex-daily
    match: { org_id: globex }
    period: day
    limit_usd: "0.01"
`;

let dir: string;
let store: TestStore;
let hook: WebhookReceiver<BudgetAlert>;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'genai-ledger-exporter-alerts-'));
  store = await openTestStore();
  hook = await WebhookReceiver.start();
}, 120_000);

afterAll(async () => {
  await hook?.close();
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** `calls` acme calls in one export, then written to the store; when they were written (ms). */
async function spend(exporter: GenAiLedgerExporter, calls: number): Promise<number> {
  const result = await new Promise<ExportResult>((resolve) => exporter.export(makeSpans({ ai: calls, extra: { 'genai_ledger.org_id': 'acme' } }), resolve));
  expect(result.code).toBe(ExportResultCode.SUCCESS);
  await exporter.forceFlush();
  return Date.now();
}

test('the exporter POSTs each threshold its calls cross once, in order, signed', async () => {
  const file = join(dir, 'budgets.yaml');
  writeFileSync(file, BUDGETS);
  const exporter = new GenAiLedgerExporter({
    client: store.client, database: store.database, budgets: file, alertWebhook: hook.url, alertWebhookSecret: SECRET,
    writer: { meter: false, flushIntervalMs: 50 },
  });
  try {
    expect(await exporter.ready()).toBe(true);
    const first = await spend(exporter, 1);
    await hook.waitFor(1);
    const second = await spend(exporter, 2);
    await hook.waitFor(3);
    // Informative, no wall-clock assertion: the poll runs every second.
    console.log(`exporter budget alerts arrived ${hook.received[0]!.at - first} ms and ${hook.received[2]!.at - second} ms after the crossing rows were written`);
    await spend(exporter, 1);
    // Two polls (1 s apart) see the fourth call's row: no threshold is left to cross.
    await new Promise((resolve) => setTimeout(resolve, 2_500));

    const alerts = hook.received.map((r) => r.body);
    expect(alerts.map((a) => [a.budget, a.threshold, a.spent_usd, a.limit_usd, a.threshold_usd])).toEqual([
      ['acme-daily', '0.3', '0.00472', '0.01', '0.003'],
      ['acme-daily', '0.5', '0.01416', '0.01', '0.005'],
      ['acme-daily', '1', '0.01416', '0.01', '0.01'],
    ]);
    expect(alerts.every((a) => a.match.org_id === 'acme' && a.period === 'day')).toBe(true);
    expect(new Set(alerts.map((a) => a.id)).size).toBe(3);
    for (const r of hook.received) expect(r.signature).toBe(`sha256=${createHmac('sha256', SECRET).update(r.raw).digest('hex')}`);
    expect(exporter.stats()?.budgetAlerts).toMatchObject({ sent: 3, pending: 0, failedAttempts: 0 });
  } finally {
    await exporter.shutdown();
  }
}, 180_000);

test('register() refuses budgets with an error in one line naming the budget and the field', async () => {
  const bad = { budgets: [{ name: 'acme-daily', match: { org_id: 'acme' }, period: 'day' as const, limit_usd: 'lots' }] };
  const error = await register({ client: store.client, database: store.database, instrumentations: [], budgets: bad }).then(() => undefined, (e: unknown) => e as Error);
  expect(error?.name).toBe('BudgetConfigError');
  expect(error?.message).toMatch(/^budgets: budget 'acme-daily': limit_usd: a positive decimal string/);
  expect(error?.message).not.toContain('\n');
});
