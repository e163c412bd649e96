/**
 * refreshBilling() (clickhouse/billing-refresh.ts), the step the collector's billing refresh runs:
 * it re-bills only the groups the calls that arrived since the last refresh can be in (their day,
 * org and model: its cost follows what arrived, not the history), exactly even when a re-delivery
 * changes a call's feature, every day a changed card covers, and two refreshes at once write the
 * same rows. On one embedded store; calls inserted as rows with hand-set costs, $0.001 each.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { compileRateCards } from '../../billing/rate-cards.js';
import { syncRateCards } from '../../clickhouse/billing.js';
import { refreshBilling } from '../../clickhouse/billing-refresh.js';
import { createStoreClient } from '../../clickhouse/store.js';
import { BillingRefresher } from '../../delivery/billing-refresher.js';
import type { UsageRow } from '../../usage/usage-row.js';
import { waitFor } from '../collector/support/collector-process.js';
import { openTestStore, queryRows, usageRow, type TestStore } from '../support/store.js';

let store: TestStore;
beforeAll(async () => {
  store = await openTestStore({ migrate: true });
});
afterAll(async () => store?.close());

const cards = (markup: string) => compileRateCards({ rate_cards: [{ org_id: '*', effective_from: '2026-01-01', markup }] }, 'test cards');
// The overlap for inserts still committing is 0 here: every row of this file is inserted within
// seconds, and the default (300 s) would look at all of them again each time.
const options = { database: 'genai_ledger', lagSeconds: 0, nowMs: Date.parse('2026-10-31T12:00:00Z') };

let next = 0;
/** One gpt-4o call of $0.001 on `day`. */
const call = (day: string, feature = 'chat', org = 'acme'): UsageRow => usageRow(next++, { ts: `${day} 10:00:00.000000`, org_id: org, request_model: 'gpt-4o', feature, cost_usd: '0.001' });

async function insert(rows: UsageRow[]): Promise<void> {
  await store.client.insert({ table: 'genai_ledger.ai_usage', values: rows, format: 'JSONEachRow' });
}

/** Calls and billed USD per day, over its groups. */
async function billedByDay(): Promise<Record<string, [number, string]>> {
  const rows = await queryRows<{ day: string; calls: number; billed: string }>(store.client,
    'SELECT toString(day) AS day, sum(calls) AS calls, toString(sum(billed_usd)) AS billed FROM genai_ledger.billed_daily_exact GROUP BY day ORDER BY day');
  return Object.fromEntries(rows.map((r) => [r.day, [Number(r.calls), r.billed.replace(/0+$/, '')]]));
}

const october = Array.from({ length: 30 }, (_, i) => `2026-10-${String(i + 1).padStart(2, '0')}`);

test('the first refresh bills the history; later ones only the groups that received calls', async () => {
  await syncRateCards(store.client, 'genai_ledger', cards('0.20'));
  // Every day: acme's chat and search calls, and beta's chat call.
  await insert(october.flatMap((day) => [call(day), call(day, 'search'), call(day, 'chat', 'beta')]));
  const first = await refreshBilling(store.client, options);
  // The cards are new: every day from their effective_from to today, 2026-01-01 to 2026-10-31.
  expect(first).toMatchObject({ cardsChanged: true, days: 304, calls: 90, written: 90, deleted: 0 });
  // Three calls a day at 0.001 × 1.20.
  expect(Object.values(await billedByDay())).toEqual(october.map(() => [3, '0.0036']));

  expect(await refreshBilling(store.client, options)).toEqual({ days: 0, calls: 0, written: 0, deleted: 0, cardsChanged: false });

  // A late acme call for Oct 5 and one for Oct 30: acme's gpt-4o groups of two days are re-billed
  // (chat and search: three calls each), not beta's, nor the other 28 days.
  await insert([call('2026-10-05'), call('2026-10-30')]);
  expect(await refreshBilling(store.client, options)).toEqual({ days: 2, calls: 6, written: 2, deleted: 0, cardsChanged: false });
  const billed = await billedByDay();
  expect(billed['2026-10-05']).toEqual([4, '0.0048']);
  expect(billed['2026-10-30']).toEqual([4, '0.0048']);
  expect(billed['2026-10-06']).toEqual([3, '0.0036']);
});

test('a re-delivery that changes a call\'s feature moves it: the old group is removed', async () => {
  const [row] = await queryRows<UsageRow>(store.client, "SELECT * EXCEPT (inserted_at) FROM genai_ledger.ai_usage_exact WHERE toDate(ts) = '2026-10-09' AND org_id = 'acme' AND feature = 'chat'");
  await insert([{ ...row!, feature: 'search' }]);
  expect(await refreshBilling(store.client, options)).toEqual({ days: 1, calls: 2, written: 1, deleted: 1, cardsChanged: false });
  const groups = await queryRows<{ feature: string; calls: number }>(store.client,
    "SELECT feature, calls FROM genai_ledger.billed_daily_exact WHERE day = '2026-10-09' AND org_id = 'acme' ORDER BY feature");
  expect(groups.map((g) => [g.feature, Number(g.calls)])).toEqual([['search', 2]]);

  // A call without a requested model is billed under the answering one, which a re-delivery may
  // change: its org's whole day is re-billed (beta's chat call, and this one).
  await insert([usageRow(next++, { ts: '2026-10-11 12:00:00.000000', org_id: 'beta', request_model: '', response_model: 'gpt-4o-2024-08-06', feature: 'chat', cost_usd: '0.001' })]);
  expect(await refreshBilling(store.client, options)).toEqual({ days: 1, calls: 2, written: 1, deleted: 0, cardsChanged: false });
});

test('a duplicate delivery re-bills its day and changes nothing', async () => {
  const [row] = await queryRows<UsageRow>(store.client, "SELECT * EXCEPT (inserted_at) FROM genai_ledger.ai_usage_exact WHERE toDate(ts) = '2026-10-07' AND org_id = 'acme' AND feature = 'chat'");
  await insert([row!]);
  expect(await refreshBilling(store.client, options)).toEqual({ days: 1, calls: 2, written: 0, deleted: 0, cardsChanged: false });
  expect((await billedByDay())['2026-10-07']).toEqual([3, '0.0036']);
});

test('two refreshes at once after a card change write the same rows', async () => {
  await syncRateCards(store.client, 'genai_ledger', cards('0.50'));
  const other = await createStoreClient({ kind: 'embedded', path: store.dir }, { database: 'genai_ledger' });
  try {
    const results = await Promise.all([refreshBilling(store.client, options), refreshBilling(other, options)]);
    expect(results.map((r) => r.cardsChanged)).toEqual([true, true]);
  } finally {
    await other.close();
  }
  // 0.001 × 1.50 a call.
  const billed = await billedByDay();
  expect(billed['2026-10-05']).toEqual([4, '0.006']);
  expect(billed['2026-10-06']).toEqual([3, '0.0045']);
  expect(billed['2026-10-11']).toEqual([4, '0.006']);
  // Every row written at 50 %, by either refresh, carries the same figures and version: whichever
  // lands last, the group reads the same.
  const written = await queryRows<{ day: string; versions: number; figures: number }>(store.client, `
SELECT toString(day) AS day, uniqExact(version) AS versions, uniqExact(billed_usd, calls) AS figures
FROM genai_ledger.billed_daily WHERE billed_usd = cost_usd * 1.5 AND cost_usd > 0 GROUP BY day, org_id, feature, model ORDER BY day`);
  // 30 days × 3 groups, less acme's chat group of Oct 9 (gone), plus beta's call without a requested model.
  expect(written).toHaveLength(90);
  expect(written.every((w) => Number(w.versions) === 1 && Number(w.figures) === 1)).toBe(true);
});

test('the background refresher never throws: with the store down it counts failures, and catches up once it answers', async () => {
  let down = true;
  const refused = async (): Promise<never> => {
    throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8123'), { code: 'ECONNREFUSED' });
  };
  // The store's client, refusing every read while `down` (the card sync and the refresh both read first).
  const flaky = new Proxy(store.client, {
    get(target, prop) {
      if (prop === 'query' && down) return refused;
      const value = Reflect.get(target, prop, target) as unknown;
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  await insert([call('2026-10-08')]);
  let written = 1;
  const refresher = BillingRefresher.start({ client: flaky, database: 'genai_ledger', cards: cards('0.50'), intervalMs: 20, writtenRows: () => written });
  try {
    await waitFor(() => (refresher.stats.failures >= 2 ? true : undefined), 30_000, 'two failed refreshes');
    expect(refresher.stats).toMatchObject({ refreshes: 0, lastSuccessMs: 0 });
    down = false;
    await waitFor(() => (refresher.stats.refreshes >= 1 ? true : undefined), 30_000, 'a refresh once the store answers');
    expect(refresher.stats.lastSuccessMs).toBeGreaterThan(0);
    // The call of Oct 8 that arrived while it was down: billed at 50 %.
    expect((await billedByDay())['2026-10-08']).toEqual([4, '0.006']);
    // No rows written since the last refresh: the ticks after it do nothing.
    const { refreshes } = refresher.stats;
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(refresher.stats.refreshes).toBe(refreshes);
    written++;
    await waitFor(() => (refresher.stats.refreshes > refreshes ? true : undefined), 30_000, 'a refresh after new rows');
  } finally {
    await refresher.close();
  }
});
