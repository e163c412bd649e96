/**
 * billed_daily kept current from the in-process exporter: GenAiLedgerExporter given `rates` syncs
 * them into rate_cards and bills its calls without `reprice --billing`; register() refuses rate
 * cards with an error in one line.
 *
 * Each call is gpt-4o with 1200 input tokens of which 1024 cache reads, and 300 output tokens; at
 * OpenAI's published gpt-4o prices ($2.50 input, $1.25 cached input, $10 output per 1M tokens):
 * 176 × 2.50 + 1024 × 1.25 + 300 × 10 = 4720 per 1M = $0.00472. acme's card: markup 0.10, so
 * $0.005192 a call; three calls: $0.01416 cost, $0.015576 billed.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { GenAiLedgerExporter } from '../../exporter/span-exporter.js';
import { register } from '../../instrumentation/register.js';
import { makeSpans } from '../collector/support/spans.js';
import { waitFor } from '../collector/support/collector-process.js';
import { openTestStore, queryRows, type TestStore } from '../support/store.js';

let store: TestStore;
beforeAll(async () => {
  store = await openTestStore();
}, 120_000);
afterAll(async () => store?.close());

const RATES = { rate_cards: [{ org_id: 'acme', effective_from: '2026-01-01', markup: '0.10' }] };

test('the exporter with rates bills its calls into billed_daily by itself', async () => {
  const exporter = new GenAiLedgerExporter({
    client: store.client, database: store.database, rates: RATES, billingRefreshMs: 100,
    writer: { meter: false, flushIntervalMs: 50 },
  });
  try {
    expect(await exporter.ready()).toBe(true);
    const result = await new Promise<ExportResult>((resolve) => exporter.export(makeSpans({ ai: 3, extra: { 'genai_ledger.org_id': 'acme' } }), resolve));
    expect(result.code).toBe(ExportResultCode.SUCCESS);
    await exporter.forceFlush();
    const billed = await waitFor(async () => {
      const rows = await queryRows<{ org_id: string; calls: number; cost: string; billed: string; rate_card: string }>(store.client,
        'SELECT org_id, calls, toString(cost_usd) AS cost, toString(billed_usd) AS billed, rate_card FROM genai_ledger.billed_daily_exact');
      return rows.length === 1 && Number(rows[0]!.calls) === 3 ? rows : undefined;
    }, 60_000, 'three calls billed');
    expect(billed).toEqual([{ org_id: 'acme', calls: 3, cost: '0.01416', billed: '0.015576', rate_card: 'acme@2026-01-01' }]);
    const cards = await queryRows<{ org_id: string }>(store.client, 'SELECT org_id FROM genai_ledger.rate_cards_exact');
    expect(cards).toEqual([{ org_id: 'acme' }]);
    expect(exporter.stats()?.billing).toMatchObject({ failures: 0 });
    expect(exporter.stats()?.billing?.refreshes).toBeGreaterThanOrEqual(1);
  } finally {
    await exporter.shutdown();
  }
}, 120_000);

test('register() refuses rate cards with an error in one line naming the card and the field', async () => {
  const bad = { rate_cards: [{ org_id: 'acme', effective_from: '2026-01-01', markup: 'lots' }] };
  const error = await register({ client: store.client, database: store.database, instrumentations: [], rates: bad }).then(() => undefined, (e: unknown) => e as Error);
  expect(error?.message).toMatch(/^rates: .*acme.*markup/);
  expect(error?.message).not.toContain('\n');
});
