/**
 * The tenant's "Top conversations by cost" ranks each day's candidates (0014: the day's 20
 * costliest and those seen on an earlier day) and every conversation of the range's partial days.
 * The calls below are laid out so that ranking only the days' 20 costliest would get it wrong, and
 * the expected top 20 is summed from them here, per conversation, over the calls in the range.
 *
 * Org acme; range Mar 9 12:00 .. Mar 13 12:00 UTC (partial days Mar 9 and 13, whole days 10-12):
 *   s-D-K   on each whole day D, 25 one-call conversations costing 100 + K (K = 1..25): a day's 20th
 *           costliest costs 106
 *   x       50 on each of Mar 10, 11, 12: 150, the costliest, in no day's 20
 *   y       61 on Mar 10 and 61 on Mar 12 (not 11): 122
 *   v       90 on Mar 11, 90 on Mar 13 at 11:00 (partial day): 180
 *   z       200 on Mar 9 at 13:00 (partial day, in the range)
 *   w       300 on Mar 9 at 08:00: before the range
 *   p       500 on Mar 9 at 08:00 (before the range) and 50 on Mar 11: 50 in the range
 *   late    added later: 60 on Mar 10 and on Mar 11, once the candidates were folded
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { refreshRollups } from '../../clickhouse/migrate.js';
import { openTestStore, queryRows, usageRow, type TestStore } from '../support/store.js';
import { DashboardRunner, pick, type Row } from './support.js';

const TITLE = 'Top conversations by cost';
const FROM = Date.parse('2026-03-09T12:00:00Z');
const TO = Date.parse('2026-03-13T12:00:00Z');

interface Call { conversation: string; at: string; cost: number }
const calls: Call[] = [];
let n = 0;
const call = (conversation: string, at: string, cost: number): void => void calls.push({ conversation, at, cost });
for (const day of ['10', '11', '12']) for (let k = 1; k <= 25; k++) call(`s-${day}-${String(k).padStart(2, '0')}`, `03-${day} 10:${String(k).padStart(2, '0')}`, 100 + k);
for (const day of ['10', '11', '12']) call('x', `03-${day} 15:00`, 50);
call('y', '03-10 16:00', 61);
call('y', '03-12 16:00', 61);
call('v', '03-11 17:00', 90);
call('v', '03-13 11:00', 90);
call('z', '03-09 13:00', 200);
call('w', '03-09 08:00', 300);
call('p', '03-09 08:00', 500);
call('p', '03-11 18:00', 50);

const row = (c: Call) => usageRow(++n, { ts: `2026-${c.at}:00.000000`, org_id: 'acme', user_id: 'u1', conversation_id: c.conversation, cost_usd: String(c.cost) });

/** The top 20 worked from the calls: spend in the range per conversation, most first, then id. */
function expected(all: readonly Call[], from = FROM): Array<[string, number]> {
  const spend = new Map<string, number>();
  for (const c of all) {
    const at = Date.parse(`2026-${c.at.replace(' ', 'T')}:00Z`);
    if (at >= from && at < TO) spend.set(c.conversation, (spend.get(c.conversation) ?? 0) + c.cost);
  }
  return [...spend].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, 20);
}

let store: TestStore;
let tenant: DashboardRunner;
const panel = (from = FROM, variables: Record<string, { value: string[] | string }> = {}): Promise<Row[]> =>
  tenant.run(TITLE, {
    from: new Date(from),
    to: new Date(TO - 1000),
    variables: { org: { value: 'acme' }, service: pick('$__all'), environment: pick('$__all'), provider: pick('$__all'), model: pick('$__all'), feature: pick('$__all'), ...variables },
  });
const ranked = (rows: Row[]): Array<[string, number]> => rows.map((r) => [String(r.conversation), Number(r.spend)]);

beforeAll(async () => {
  store = await openTestStore({ migrate: { refreshSeconds: 315_360_000 } });
  await store.client.insert({ table: 'genai_ledger.ai_usage', values: calls.map(row), format: 'JSONEachRow' });
  await refreshRollups(store.client, { database: 'genai_ledger' });
  tenant = new DashboardRunner(store.client, 'genai-ledger-tenant');
}, 120_000);

afterAll(async () => {
  await store?.close();
});

describe('top conversations from the days\' candidates', () => {
  test('each whole day lists its 20 costliest and the conversations seen on an earlier day', async () => {
    const days = await queryRows<{ day: string; n: number; listed: string[] }>(store.client, `
      SELECT toString(day) AS day, count() AS n, arraySort(groupArrayIf(conversation_id, NOT startsWith(conversation_id, 's-'))) AS listed
      FROM genai_ledger.ai_usage_daily_top_conversations_exact WHERE org_id = 'acme' AND day BETWEEN '2026-03-10' AND '2026-03-12'
      GROUP BY day ORDER BY day`);
    expect(days.map((d) => [d.day, Number(d.n), d.listed])).toEqual([
      ['2026-03-10', 20, []],
      ['2026-03-11', 22, ['p', 'x']],
      ['2026-03-12', 22, ['x', 'y']],
    ]);
  });

  test('the panel\'s top 20 is the one worked from the calls, conversations in no day\'s 20 included', async () => {
    const top = expected(calls);
    expect(top.slice(0, 4)).toEqual([['z', 200], ['v', 180], ['x', 150], ['s-10-25', 125]]);
    expect(top.map(([c]) => c)).toContain('y');
    expect(ranked(await panel())).toEqual(top);
  });

  test('a range over more than 35 days ranks every conversation: the same answer', async () => {
    const from = FROM - 40 * 86_400_000;
    const top = expected(calls, from);
    // p's and w's calls before Mar 9 12:00 are in this range.
    expect(top.slice(0, 2)).toEqual([['p', 550], ['w', 300]]);
    expect(ranked(await panel(from))).toEqual(top);
  });

  test('a filter set ranks every conversation: the same answer', async () => {
    expect(ranked(await panel(FROM, { feature: pick('summarize') }))).toEqual(expected(calls));
  });

  test('calls arriving later: the next refresh lists them', async () => {
    const late: Call[] = [{ conversation: 'late', at: '03-10 19:00', cost: 60 }, { conversation: 'late', at: '03-11 19:00', cost: 60 }];
    await store.client.insert({ table: 'genai_ledger.ai_usage', values: late.map(row), format: 'JSONEachRow' });
    await refreshRollups(store.client, { database: 'genai_ledger' });
    const top = expected([...calls, ...late]);
    expect(top.map(([c]) => c)).toContain('late');
    expect(ranked(await panel())).toEqual(top);
  });

  test('the panel ranks the listed candidates only: withdraw x\'s rows and x is gone', async () => {
    await store.client.command({
      query: `INSERT INTO genai_ledger.ai_usage_daily_top_conversations (org_id, day, conversation_id, max_version, version, is_deleted)
              SELECT org_id, day, conversation_id, max_version, now64(6), 1 FROM genai_ledger.ai_usage_daily_top_conversations FINAL WHERE conversation_id = 'x'`,
    });
    const names = ranked(await panel()).map(([c]) => c);
    expect(names).not.toContain('x');
    expect(names).toContain('z');
  });
});
