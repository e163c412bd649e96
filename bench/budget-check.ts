/**
 * bench/budget-check: the cost of `checkBudget()` on the app's thread, against the same loop
 * calling a no-op function, in one run. 20 budgets (10 of them per user, 10 000 users with spend),
 * answered from the snapshot (no store on the check path: spend comes from a stub client).
 * Goal: ≤ 5 µs p99 per check.
 *   npm run bench:budget-check [-- --samples 200000]
 */
import { parseArgs } from 'node:util';
import type { ClickHouseClient } from '@clickhouse/client';
import { checkBudget, startBudgetChecks, type BudgetCheckContext } from '../instrumentation/index.js';
import { printFigure } from './support/measure.js';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const { values } = parseArgs({ options: { samples: { type: 'string', default: '200000' } } });
const samples = Number(values.samples);
const USERS = 10_000;
/** Calls timed together: one clock read costs more than a check. */
const BATCH = 10;

const budgets = Array.from({ length: 20 }, (_, i) => i % 2 === 0
  ? `  - { name: org-${i}, match: { org_id: org-${i % 5} }, period: month, limit_usd: "500", enforce: true }`
  : `  - { name: user-${i}, match: { org_id: org-${i % 5} }, per: user_id, period: day, limit_usd: "5" }`);
const file = join(mkdtempSync(join(tmpdir(), 'bench-budgets-')), 'budgets.yaml');
writeFileSync(file, ['budgets:', ...budgets].join('\n'));

// Spend as the store would answer: each per-user budget has every user; org budgets one row.
const stub = {
  query: async ({ query }: { query: string }) => ({
    json: async () => query.includes("SELECT '' AS key")
      ? [{ key: '', spent: '123.456' }]
      : Array.from({ length: USERS }, (_, u) => ({ key: `u${u}`, spent: `${(u % 700) / 100}` })),
  }),
} as unknown as ClickHouseClient;
const checks = await startBudgetChecks({ client: stub, database: 'genai_ledger', budgets: file, refreshMs: 3_600_000, staleAfterMs: 3_600_000 });

const contexts: BudgetCheckContext[] = Array.from({ length: 1024 }, (_, i) => ({ orgId: `org-${i % 5}`, userId: `u${(i * 7919) % USERS}`, feature: 'chat' }));
let sink = 0;
const noop = (ctx: BudgetCheckContext): { allowed: boolean } => ({ allowed: ctx.orgId !== undefined });

function perCallNs(fn: (ctx: BudgetCheckContext) => { allowed: boolean }): number[] {
  const out = new Array<number>(samples);
  for (let s = 0; s < samples; s++) {
    const t0 = process.hrtime.bigint();
    for (let j = 0; j < BATCH; j++) if (fn(contexts[(s * BATCH + j) & 1023]!).allowed) sink++;
    out[s] = Number(process.hrtime.bigint() - t0) / BATCH;
  }
  return out.sort((a, b) => a - b);
}

const pct = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
perCallNs(noop);
perCallNs(checkBudget); // warm-up
const base = perCallNs(noop);
const check = perCallNs(checkBudget);
await checks.stop();

process.stdout.write(`bench/budget-check: ${samples} samples of ${BATCH} calls, 20 budgets, ${USERS} users with spend (sink ${sink})\n`);
printFigure('no-op function (baseline), p50', `${(pct(base, 0.5) / 1000).toFixed(3)} µs`, 1, '-');
printFigure('no-op function (baseline), p99', `${(pct(base, 0.99) / 1000).toFixed(3)} µs`, 1, '-');
printFigure('checkBudget(), p50', `${(pct(check, 0.5) / 1000).toFixed(3)} µs`, pct(check, 0.5) / pct(base, 0.5), '-');
printFigure('checkBudget(), p99', `${(pct(check, 0.99) / 1000).toFixed(3)} µs`, pct(check, 0.99) / pct(base, 0.99), '≤ 5 µs');
