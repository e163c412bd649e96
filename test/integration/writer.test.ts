/**
 * BatchWriter into the embedded engine, and the exactly-once guarantee end to end:
 * raw (ai_usage_exact), hourly and daily rollups count every span once, whether it is
 * re-delivered in another batch, by another writer, or as a retried batch whose first attempt
 * landed.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { refreshRollups } from '../../clickhouse/migrate.js';
import { clientRunner } from '../../clickhouse/query-runner.js';
import { BatchWriter, type InsertClient } from '../../delivery/writer/batch-writer.js';
import type { UsageRow } from '../../usage/usage-row.js';
import { deliveryCounts, miscounts, rollupTables, type DeliveryCounts } from '../support/delivery-counts.js';
import { openTestStore, queryOne, queryRows, usageRow, type TestStore } from '../support/store.js';

let store: TestStore;
let client: ClickHouseClient;
const database = 'genai_ledger';
beforeAll(async () => {
  // Rollups refresh only when a test asks (refreshRollups): a scheduled refresh landing between a
  // test's TRUNCATE and its writes would fold the previous test's rows in.
  // (Every 10 years: the next scheduled run is years away.)
  store = await openTestStore({ migrate: { database, refreshSeconds: 315_360_000 } });
  client = store.client;
});
afterAll(async () => store?.close());

const fast = { initialBackoffMs: 1, maxBackoffMs: 5 };
const range = (n: number, from = 0, overrides: Partial<UsageRow> = {}): UsageRow[] =>
  Array.from({ length: n }, (_, i) => usageRow(from + i, overrides));

type Exec = InsertClient['exec'];

/** Wraps the real client: `before(n)` may throw instead of inserting, `after(n)` may throw after a successful insert. */
function faulty(opts: { before?: (n: number) => Error | undefined; after?: (n: number) => Error | undefined }) {
  let calls = 0;
  const wrapper: InsertClient = {
    exec: (async (params: Parameters<Exec>[0]) => {
      const n = ++calls;
      const early = opts.before?.(n);
      if (early) throw early;
      const result = await client.exec(params);
      const late = opts.after?.(n);
      if (late) {
        result.stream.destroy();
        throw late;
      }
      return result;
    }) as Exec,
  };
  return { wrapper, calls: () => calls };
}

const networkError = () => Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });

async function truncate(): Promise<void> {
  for (const t of ['ai_usage', ...rollupTables()]) await client.command({ query: `TRUNCATE TABLE ${database}.${t}` });
}

/** Raw rows, distinct spans, the exact view and every rollup (refreshed now). */
async function totals(): Promise<DeliveryCounts> {
  await refreshRollups(client, { database });
  return deliveryCounts(clientRunner(client), database);
}

describe('BatchWriter → ClickHouse', () => {
  test('25k rows in ≥3 batches, exact decimal cost sums in raw, hourly and daily', async () => {
    await truncate();
    const writer = new BatchWriter(client, { meter: false });
    expect(writer.enqueue(range(25_000))).toBe(25_000);
    await writer.flush();
    expect(writer.stats).toMatchObject({ writtenRows: 25_000, droppedRows: 0, rejectedRows: 0 });
    expect(writer.stats.writtenBatches).toBeGreaterThanOrEqual(3);
    await writer.shutdown();

    // 25 000 × 0.00472 = 118 exactly (a Float64 sum would not be), in the exact view and every rollup.
    const t = await totals();
    expect(t).toMatchObject({ raw: 25_000, distinct: 25_000, exact: 25_000, cost: '118' });
    expect(miscounts(t)).toEqual([]);
    const parts = await queryOne(
      client,
      `SELECT toString(sum(cost_breakdown['input'])) AS input, toString(sum(cost_breakdown['output'])) AS output,
              toString(sum(input_tokens)) AS input_tokens
       FROM ai_usage_daily_exact`,
    );
    expect(parts).toEqual({ input: '56.25', output: '58.625', input_tokens: '25000000' });
    const perModel = await queryRows(
      client,
      `SELECT request_model, toString(sum(calls)) AS calls, toString(sum(cost_usd)) AS cost,
              arrayMap(x -> round(x), quantilesTDigestMerge(0.5, 0.99)(duration_ms_quantiles)) AS p
       FROM ai_usage_daily_exact GROUP BY request_model ORDER BY request_model`,
    );
    expect(perModel).toEqual([
      { request_model: 'gpt-4o', calls: '12500', cost: '59', p: [expect.any(Number), expect.any(Number)] },
      { request_model: 'gpt-4o-mini', calls: '12500', cost: '59', p: [expect.any(Number), expect.any(Number)] },
    ]);
  }, 60_000);

  test('duplicates count once: re-delivered in other batches, by another writer, and retried batches', async () => {
    await truncate();
    // Hold merges so the raw count shows what was inserted (ReplacingMergeTree would collapse it).
    await client.command({ query: `SYSTEM STOP MERGES ${database}.ai_usage` });
    const rows = range(3_000);
    const first = new BatchWriter(client, { meter: false, maxBatchRows: 1_000 });
    first.enqueue(rows);
    await first.flush();

    // The same spans again, differently batched, through a second writer (a second collector).
    const second = new BatchWriter(client, { meter: false, maxBatchRows: 700 });
    second.enqueue(rows.slice(500, 2_500).reverse());
    await second.flush();

    // A batch whose insert landed but whose response was lost: the retry carries the same token
    // and ClickHouse drops it at insert time (the raw, un-merged count does not grow).
    const lost = faulty({ after: (n) => (n === 1 ? networkError() : undefined) });
    const third = new BatchWriter(lost.wrapper, { meter: false, retry: fast });
    third.enqueue(range(100, 10_000));
    await third.flush();
    expect(lost.calls()).toBe(2);
    expect(third.stats).toMatchObject({ writtenRows: 100, retriedBatches: 1 });

    // The same spans twice within one insert: the writer skips the engine's insert-time dedup
    // pass (optimize_on_insert = 0), so both stay stored until a merge.
    const fourth = new BatchWriter(client, { meter: false });
    fourth.enqueue([...range(100, 20_000), ...range(100, 20_000)]);
    await fourth.flush();

    const t = await totals();
    // Stored: 3000 + 2000 re-delivered + 100 + 200; the retried batch was dropped at insert by its token ...
    expect(t).toMatchObject({ raw: 5_300, distinct: 3_200, duplicates: 2_100 });
    // ... and exactly once wherever anyone reads (3200 × 0.00472, as an exact decimal).
    const cost = '15.104';
    expect(t.cost).toBe(cost);
    expect(miscounts(t)).toEqual([]);

    // Merging changes nothing that readers see.
    await client.command({ query: `SYSTEM START MERGES ${database}.ai_usage` });
    await client.command({ query: 'OPTIMIZE TABLE ai_usage FINAL' });
    const merged = await totals();
    expect(merged).toMatchObject({ raw: 3_200, distinct: 3_200, cost });
    expect(miscounts(merged)).toEqual([]);
    await Promise.all([first.shutdown(), second.shutdown(), third.shutdown(), fourth.shutdown()]);
  }, 60_000);

  test('a re-delivered span whose dimensions changed moves between rollup groups (no stale group)', async () => {
    await truncate();
    const writer = new BatchWriter(client, { meter: false });
    writer.enqueue(range(100));
    await writer.flush();
    await refreshRollups(client, { database });
    // Replay of 10 spans with a corrected feature: the latest delivery wins.
    writer.enqueue(range(10, 0, { feature: 'corrected' }));
    await writer.flush();
    await refreshRollups(client, { database });
    const byFeature = await queryRows(client, 'SELECT feature, toString(sum(calls)) AS calls FROM ai_usage_hourly_exact GROUP BY feature ORDER BY feature');
    expect(byFeature).toEqual([
      { feature: 'corrected', calls: '10' },
      { feature: 'summarize', calls: '90' },
    ]);
    const daily = await queryRows(client, 'SELECT feature, toString(sum(calls)) AS calls FROM ai_usage_daily_exact GROUP BY feature ORDER BY feature');
    expect(daily).toEqual(byFeature);
    await writer.shutdown();
  }, 60_000);

  test('a backfill of an old hour is folded into the rollups by the next refresh', async () => {
    await truncate();
    const writer = new BatchWriter(client, { meter: false });
    writer.enqueue(range(50));
    await writer.flush();
    await refreshRollups(client, { database });
    writer.enqueue(range(20, 100_000, { ts: '2025-01-02 03:04:05.000000' }));
    await writer.flush();
    const t = await totals();
    expect(t.distinct).toBe(70);
    expect(miscounts(t)).toEqual([]);
    const days = await queryRows(client, 'SELECT toString(day) AS day, toString(sum(calls)) AS calls FROM ai_usage_daily_exact GROUP BY day ORDER BY day');
    expect(days).toEqual([
      { day: '2025-01-02', calls: '20' },
      { day: '2026-03-14', calls: '50' },
    ]);
    await writer.shutdown();
  }, 60_000);

  test('fault injection: refused N times then accepted → rows land once', async () => {
    await truncate();
    const flaky = faulty({ before: (n) => (n <= 3 ? networkError() : undefined) });
    const writer = new BatchWriter(flaky.wrapper, { meter: false, retry: fast });
    writer.enqueue(range(500));
    await writer.flush();
    expect(flaky.calls()).toBe(4);
    expect(writer.stats).toMatchObject({ writtenRows: 500, retriedBatches: 1, failedBatches: 0, droppedRows: 0 });
    expect(await queryOne(client, 'SELECT toString(count()) AS n FROM ai_usage')).toEqual({ n: '500' });
    await writer.shutdown();
  });

  test('fault injection: always failing → dropped and counted, flush resolves, nothing thrown', async () => {
    await truncate();
    const down = faulty({ before: () => Object.assign(new Error('Code: 252. DB::Exception: Too many parts'), { code: '252', type: 'TOO_MANY_PARTS' }) });
    const writer = new BatchWriter(down.wrapper, { meter: false, retry: fast, maxBatchRows: 100 });
    writer.enqueue(range(250));
    await expect(writer.flush()).resolves.toBeUndefined();
    expect(down.calls()).toBe(15); // 3 batches × 5 attempts
    expect(writer.stats).toMatchObject({ writtenRows: 0, droppedRows: 250, failedBatches: 3, retriedBatches: 3 });
    expect(await queryOne(client, 'SELECT toString(count()) AS n FROM ai_usage')).toEqual({ n: '0' });
    await expect(writer.shutdown()).resolves.toBeUndefined();
  });

  test('queue overflow is dropped and counted', async () => {
    await truncate();
    const writer = new BatchWriter(client, { meter: false, maxQueueRows: 1_000, maxBatchRows: 10_000 });
    expect(writer.enqueue(range(1_500))).toBe(1_000);
    expect(writer.stats.droppedRows).toBe(500);
    await writer.flush();
    expect(await queryOne(client, 'SELECT toString(count()) AS n FROM ai_usage')).toEqual({ n: '1000' });
    await writer.shutdown();
  });

  test('one bad row (garbage ts) is isolated; the rest of its batch is written', async () => {
    await truncate();
    const rejected: Array<{ rows: UsageRow[]; error: Error }> = [];
    const writer = new BatchWriter(client, { meter: false, onReject: (rows, error) => rejected.push({ rows, error }) });
    const rows = range(1_000);
    rows[617] = usageRow(617, { ts: 'garbage' });
    writer.enqueue(rows);
    await writer.flush();
    expect(rejected).toHaveLength(1);
    expect(rejected[0]?.rows).toEqual([rows[617]]);
    expect(rejected[0]?.error.message).toMatch(/DateTime|parse/i);
    expect(writer.stats).toMatchObject({ writtenRows: 999, rejectedRows: 1, droppedRows: 0 });
    expect(await queryOne(client, 'SELECT toString(count()) AS n FROM ai_usage_exact')).toEqual({ n: '999' });
    await writer.shutdown();
  }, 60_000);
});
