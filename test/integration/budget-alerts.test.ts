/**
 * Budget alerts against the embedded store and a local webhook (127.0.0.1) that fails before it
 * answers: each threshold fires once, in order, across restarts and two trackers on one store;
 * spend is exact under duplicate deliveries; a claim whose owner died is taken over.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { budgetSpend } from '../../clickhouse/budgets.js';
import { claimAlert } from '../../clickhouse/budget-alerts.js';
import { clientRunner } from '../../clickhouse/query-runner.js';
import { BudgetAlerts, type BudgetAlert } from '../../delivery/budgets/alerts.js';
import { signBody } from '../../delivery/budgets/webhook.js';
import { formatDec } from '../../pricing/decimal.js';
import { parseBudgets } from '../../pricing/budgets/index.js';
import { openTestStore, queryOne, usageRow, type TestStore } from '../support/store.js';
import { WebhookReceiver } from '../support/webhook-receiver.js';

const SECRET = 'test-secret';
/** usageRow's calls are on 2026-03-14: "now" is later that month, same ISO week (Mon 9 – Sun 15). */
const NOW = Date.parse('2026-03-15T12:00:00Z');

let store: TestStore;
let hook: WebhookReceiver<BudgetAlert>;
let written = 0;
let rowIndex = 0;

beforeAll(async () => {
  store = await openTestStore({ migrate: true });
  hook = await WebhookReceiver.start();
}, 120_000);

afterAll(async () => {
  await hook?.close();
  await store?.close();
});

beforeEach(() => hook.reset());

/** Writes calls costing `costs` (USD strings) for `org`, as the writer would; `written` counts them. */
async function spend(org: string, costs: string[], extra: Record<string, string> = {}): Promise<void> {
  const rows = costs.map((cost) => usageRow(rowIndex++, { org_id: org, cost_usd: cost, ...extra }));
  await store.client.insert({ table: `${store.database}.ai_usage`, values: rows, format: 'JSONEachRow' });
  written += rows.length;
}

function tracker(budgets: unknown[], options: { owner?: string; leaseMs?: number } = {}): Promise<BudgetAlerts> {
  return BudgetAlerts.start({
    client: store.client, database: store.database, budgets: parseBudgets({ budgets }),
    writtenRows: () => written, webhook: { url: hook.url, secret: SECRET, initialBackoffMs: 10, maxBackoffMs: 50 },
    pollMs: 3_600_000, now: () => NOW, ...options,
  });
}

describe('budget alerts', () => {
  it('fires each threshold once, in order, even when one call crosses several; a failing webhook is retried until it answers', async () => {
    const budgets = [{ name: 'org-a', match: { org_id: 'org-a' }, period: 'month', limit_usd: '1', alert_at: [0.5, 0.8, 1] }];
    const alerts = await tracker(budgets);
    await spend('org-a', ['0.25']);
    await alerts.poll();
    await alerts.settled();
    expect(hook.received).toEqual([]);

    hook.failuresLeft = 2;
    // 0.25 + 0.6 = 0.85 crosses 0.5 (0.50 USD) and 0.8 (0.80 USD) at once.
    await spend('org-a', ['0.6']);
    await alerts.poll();
    await alerts.settled();
    expect(hook.attempts).toBe(4); // two 503s, then both alerts
    expect(alerts.stats.failedAttempts).toBe(2);
    expect(hook.received.map((r) => [r.body.threshold, r.body.spent_usd, r.body.threshold_usd])).toEqual([['0.5', '0.85', '0.5'], ['0.8', '0.85', '0.8']]);
    expect(hook.received[0]!.body).toMatchObject({
      id: 'org-a//2026-03-01T00:00:00.000Z/0.5', budget: 'org-a', limit_usd: '1', period: 'month',
      period_start: '2026-03-01T00:00:00.000Z', period_end: '2026-04-01T00:00:00.000Z', match: { org_id: 'org-a' },
    });
    for (const r of hook.received) expect(r.signature).toBe(signBody(r.raw, SECRET));

    // Nothing new crossed: nothing sent; 0.85 + 0.15 = 1 reaches the limit: 1.0 fires.
    await spend('org-a', ['0.1']);
    await alerts.poll();
    await spend('org-a', ['0.05']);
    await alerts.poll();
    await alerts.settled();
    expect(hook.received.map((r) => r.body.threshold)).toEqual(['0.5', '0.8', '1']);
    expect(hook.received.at(-1)!.body.spent_usd).toBe('1');
    await alerts.close();

    // A restart (a new owner) finds every alert already sent.
    hook.received.length = 0;
    const restarted = await tracker(budgets);
    await spend('org-a', ['0.5']);
    await restarted.poll();
    await restarted.settled();
    await restarted.close();
    expect(hook.received).toEqual([]);
  }, 120_000);

  it('two trackers on one store send each alert once', async () => {
    const budgets = [{ name: 'org-b', match: { org_id: 'org-b' }, period: 'week', limit_usd: '2', alert_at: [0.5, 1] }];
    const [one, two] = await Promise.all([tracker(budgets, { owner: 'one' }), tracker(budgets, { owner: 'two' })]);
    await spend('org-b', ['2.5']);
    await Promise.all([one.poll(), two.poll()]);
    await Promise.all([one.settled(), two.settled()]);
    expect(hook.received.map((r) => r.body.id).sort()).toEqual(['org-b//2026-03-09T00:00:00.000Z/0.5', 'org-b//2026-03-09T00:00:00.000Z/1']);
    expect(one.stats.sent + two.stats.sent).toBe(2);
    await Promise.all([one.close(), two.close()]);
  }, 120_000);

  it('per budgets fire per value; spend is exact when a span is stored twice', async () => {
    const budgets = [{ name: 'per-user', match: { org_id: 'org-c' }, per: 'user_id', period: 'day', limit_usd: '1', alert_at: [1] }];
    const row = usageRow(rowIndex++, { org_id: 'org-c', user_id: 'u1', cost_usd: '0.7' });
    // The same span delivered twice, in two inserts: the raw table holds it twice until a merge.
    for (let i = 0; i < 2; i++) await store.client.insert({ table: `${store.database}.ai_usage`, values: [row], format: 'JSONEachRow' });
    written += 2;
    await spend('org-c', ['0.3'], { user_id: 'u2' });
    const raw = await queryOne<{ n: string }>(store.client, `SELECT toString(count()) AS n FROM ${store.database}.ai_usage WHERE org_id = 'org-c' AND user_id = 'u1'`);
    expect(raw.n).toBe('2');
    const spent = await budgetSpend(clientRunner(store.client), store.database, parseBudgets({ budgets }), NOW - 86_400_000);
    // 2026-03-14: u1 spent 0.7 (once), u2 0.3.
    expect(spent.map((s) => [s.key, formatDec(s.spent)])).toEqual([['u1', '0.7'], ['u2', '0.3']]);

    await spend('org-c', ['0.3'], { user_id: 'u1' }); // u1: 0.7 + 0.3 = 1 ≥ 1 → fires; u2 stays at 0.3
    // A day budget: "now" is 2026-03-14, the calls' day.
    const day = await BudgetAlerts.start({
      client: store.client, database: store.database, budgets: parseBudgets({ budgets }), writtenRows: () => written,
      webhook: { url: hook.url, secret: SECRET, initialBackoffMs: 10 }, pollMs: 3_600_000, now: () => Date.parse('2026-03-14T23:00:00Z'), owner: 'day',
    });
    await day.poll();
    await day.settled();
    await day.close();
    expect(hook.received.map((r) => [r.body.id, r.body.spent_usd, r.body.match])).toEqual([
      ['per-user/u1/2026-03-14T00:00:00.000Z/1', '1', { org_id: 'org-c', user_id: 'u1' }],
    ]);
  }, 120_000);

  it('takes over a claim whose owner died before delivering, with the same id', async () => {
    const body = { id: 'orphan/x', budget: 'orphan', threshold: '1', period_start: '2026-03-01T00:00:00.000Z' };
    expect(await claimAlert(store.client, store.database, {
      id: 'orphan/x', attempt: 0, owner: 'dead', budget: 'orphan', perValue: '', periodStartMs: Date.parse(body.period_start),
      threshold: '1', payload: JSON.stringify(body),
    })).toBe(true);
    // A second claim of the same attempt loses, whoever asks.
    expect(await claimAlert(store.client, store.database, {
      id: 'orphan/x', attempt: 0, owner: 'late', budget: 'orphan', perValue: '', periodStartMs: 0, threshold: '1', payload: '{}',
    })).toBe(false);
    const alerts = await tracker([], { owner: 'heir', leaseMs: 0 });
    await alerts.poll();
    await alerts.settled();
    await alerts.close();
    expect(hook.received.map((r) => r.body)).toEqual([body]);
    const again = await tracker([], { owner: 'heir2', leaseMs: 0 });
    await again.poll();
    await again.settled();
    await again.close();
    expect(hook.received).toHaveLength(1);
  }, 120_000);
});
