/**
 * bench/billing-refresh: what one billing refresh (the collector's --rates) costs once calls keep
 * arriving, against `reprice --billing` over the whole history (the manual step it replaces), in
 * one run on one embedded store. The store holds `--days` days of seeded traffic (bench/support/
 * seed.ts); then a minute of new calls lands on the last day and one late call on a day ten days
 * earlier, and the refresh re-bills the (org, model) groups of those two days that they touched.
 * Goal: the refresh reads what arrived, not the history: its time ≤ 1/5 of the full re-bill at 30
 * days (ratio = full ÷ refresh).
 *
 * The overlap for inserts still committing (300 s by default) is 0 here: every seeded row was
 * inserted seconds ago. In steady state the overlap makes a refresh look at the last five minutes'
 * calls: `--minutes 5` measures that.
 *   npm run bench:billing-refresh [-- --rows 300000 --days 30 --minutes 1]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { compileRateCards } from '../billing/rate-cards.js';
import { rebillDays, storedRateCards, syncRateCards } from '../clickhouse/billing.js';
import { refreshBilling } from '../clickhouse/billing-refresh.js';
import { migrate } from '../clickhouse/migrate.js';
import { clientRunner } from '../clickhouse/query-runner.js';
import { createStoreClient } from '../clickhouse/store.js';
import { printFigure } from './support/measure.js';
import { insertSeedRows, seedUsage } from './support/seed.js';

const { values } = parseArgs({ options: { rows: { type: 'string', default: '300000' }, days: { type: 'string', default: '30' }, minutes: { type: 'string', default: '1' } } });
const rows = Number(values.rows);
const days = Number(values.days);
const minutes = Number(values.minutes);
const end = new Date(Date.UTC(2026, 11, 1));
const database = 'genai_ledger';
const dir = mkdtempSync(join(tmpdir(), 'bench-billing-refresh-'));
const client = await createStoreClient({ kind: 'embedded', path: dir }, { database });
const runner = clientRunner(client);
const ms = async (fn: () => Promise<unknown>): Promise<number> => {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
};

try {
  await migrate(client, { database });
  const seeded = await seedUsage(client, { database, rows, days, end, duplicateShare: 0 });
  await syncRateCards(client, database, compileRateCards({ rate_cards: [
    { org_id: '*', effective_from: '2026-01-01', markup: '0.20' },
    { org_id: 'org-0000', effective_from: '2026-01-01', markup: '0.10', credits_per_usd: 100, credit_rounding: 'call_floor' },
  ] }, 'bench cards'));
  const cards = await storedRateCards(runner, database);
  const whole = { database, fromMs: end.getTime() - days * 86_400_000, toMs: end.getTime(), cards };
  // The first refresh bills the history (the cards are new to it); the full re-bill after it writes nothing, like a rerun.
  const first = await refreshBilling(client, { database, lagSeconds: 0, nowMs: end.getTime() - 1 });
  let calls = 0;
  const full = await ms(async () => { calls = (await rebillDays(client, runner, whole)).calls; });

  // `minutes` of traffic on the last day (the seed's density), and one late call ten days back.
  const fresh = Math.max(1, Math.round((rows / days / 1440) * minutes));
  const last = end.getTime() - 3_600_000;
  await insertSeedRows(client, { database, rows: fresh * 60, days: 1 / 24, end: new Date(last) }, { first: rows * 10, count: fresh });
  await insertSeedRows(client, { database, rows: 1, days: 1 / 24, end: new Date(last - 10 * 86_400_000) }, { first: rows * 20, count: 1 });
  let refreshed = { days: 0, calls: 0, written: 0 };
  const refresh = await ms(async () => { refreshed = await refreshBilling(client, { database, lagSeconds: 0, nowMs: end.getTime() - 1 }); });

  process.stdout.write(`bench/billing-refresh: ${seeded.rows} calls over ${days} days (${Math.round(seeded.rows / days)} a day, 300 orgs); first refresh billed ${first.calls} calls\n`);
  printFigure(`reprice --billing over ${days} days (baseline: ${calls} calls)`, `${full.toFixed(0)} ms`, 1, '-');
  printFigure(`refresh after ${fresh + 1} new calls (${refreshed.days} days, ${refreshed.calls} calls read, ${refreshed.written} groups written)`, `${refresh.toFixed(0)} ms`, full / refresh, '≥ 5');
} finally {
  await client.close();
  rmSync(dir, { recursive: true, force: true });
}
