/** checkBudget / enforceBudget from a snapshot of the embedded store: fresh, tightest budget, usage context, stale (open and closed). */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BudgetExceededError, checkBudget, enforceBudget, startBudgetChecks, withUsageContext } from '../../instrumentation/index.js';
import { ensureContextManager } from '../support/otel-context.js';
import { openTestStore, usageRow, type TestStore } from '../support/store.js';

let store: TestStore;
let file: string;

beforeAll(async () => {
  ensureContextManager(); // withUsageContext needs one, as register() installs
  store = await openTestStore({ migrate: true });
  // Now, so the rows fall in every budget's current period.
  const ts = new Date().toISOString().replace('T', ' ').replace('Z', '');
  const rows = [
    usageRow(1, { ts, org_id: 'org-x', user_id: 'u1', cost_usd: '1.5' }),
    usageRow(2, { ts, org_id: 'org-y', user_id: 'u1', cost_usd: '1.8' }),
  ];
  await store.client.insert({ table: `${store.database}.ai_usage`, values: rows, format: 'JSONEachRow' });
  file = join(store.dir, 'budgets.yaml');
  writeFileSync(file, [
    'budgets:',
    '  - { name: hard, match: { org_id: org-x }, period: month, limit_usd: "1", enforce: true }',
    '  - { name: user-day, match: { org_id: org-y }, per: user_id, period: day, limit_usd: "2" }',
    '  - { name: org-y-month, match: { org_id: org-y }, period: month, limit_usd: "100", enforce: true }',
  ].join('\n'));
}, 120_000);

afterAll(async () => {
  await store?.close();
});

describe('checkBudget', () => {
  it('fails open and says so before startBudgetChecks()', () => {
    expect(checkBudget({ orgId: 'org-x' })).toMatchObject({ allowed: true, stale: true, reason: 'budget checks not started (call startBudgetChecks())' });
  });

  it('answers from a fresh snapshot: the exceeded enforced budget first, else the least remaining', async () => {
    const checks = await startBudgetChecks({ client: store.client, database: store.database, budgets: file, refreshMs: 3_600_000 });
    try {
      // org-x: 1.5 of 1 → exceeded, remaining 1 − 1.5 = −0.5.
      expect(checkBudget({ orgId: 'org-x' })).toEqual({
        allowed: false, state: 'exceeded', budget: 'hard', spent_usd: '1.5', limit_usd: '1', remaining_usd: '-0.5', stale: false, reason: undefined,
      });
      expect(() => enforceBudget({ orgId: 'org-x' })).toThrow(new BudgetExceededError(checkBudget({ orgId: 'org-x' })));
      expect(() => enforceBudget({ orgId: 'org-x' })).toThrow("genai-ledger: budget 'hard' exceeded: spent 1.5 of 1 USD");
      // org-y u1: user-day has 2 − 1.8 = 0.2 left (warning: 1.8 ≥ 0.8 × 2), org-y-month 98.2.
      expect(checkBudget({ orgId: 'org-y', userId: 'u1' })).toMatchObject({ allowed: true, state: 'warning', budget: 'user-day', spent_usd: '1.8', remaining_usd: '0.2' });
      // u2 has spent nothing: user-day's 2 left is still tighter than 98.2.
      expect(checkBudget({ orgId: 'org-y', userId: 'u2' })).toMatchObject({ allowed: true, state: 'ok', budget: 'user-day', spent_usd: '0', remaining_usd: '2' });
      // Without a user, the per-user budget does not apply.
      expect(checkBudget({ orgId: 'org-y' })).toMatchObject({ allowed: true, budget: 'org-y-month', spent_usd: '1.8', remaining_usd: '98.2' });
      expect(checkBudget({ orgId: 'org-z' })).toMatchObject({ allowed: true, budget: undefined, stale: false });
      // Attribution from the active usage context.
      expect(withUsageContext({ orgId: 'org-x' }, () => checkBudget()).budget).toBe('hard');
      expect(enforceBudget({ orgId: 'org-y', userId: 'u1' }).allowed).toBe(true);
    } finally {
      await checks.stop();
    }
  }, 60_000);

  it.each([
    [undefined, true],
    [true, true],
    [false, false],
  ])('a stale snapshot (failOpen %s) answers allowed = %s and says so', async (failOpen, allowed) => {
    const checks = await startBudgetChecks({
      client: store.client, database: store.database, budgets: file, refreshMs: 3_600_000, staleAfterMs: 50,
      ...(failOpen !== undefined ? { failOpen } : {}),
    });
    try {
      await new Promise((resolve) => setTimeout(resolve, 200)); // past staleAfterMs, before any refresh
      const check = checkBudget({ orgId: 'org-y' });
      expect(check).toMatchObject({ allowed, stale: true, state: 'unknown', budget: undefined });
      expect(check.reason).toBe(`budget spend not read from the store within 50 ms: failing ${allowed ? 'open' : 'closed'}`);
      if (!allowed) expect(() => enforceBudget({ orgId: 'org-y' })).toThrow(/^genai-ledger: budget check failed closed: budget spend not read/);
    } finally {
      await checks.stop();
    }
  }, 60_000);
});
