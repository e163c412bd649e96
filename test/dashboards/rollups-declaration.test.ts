/**
 * clickhouse/rollups.ts against the tables the migrations create: each declared rollup's `_exact`
 * view has exactly its bucket, dimensions and measures, and the refresh order folds every rollup
 * after the one it reads.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { REFRESH_VIEWS } from '../../clickhouse/migrate.js';
import { exact, ROLLUPS } from '../../clickhouse/rollups.js';
import { openTestStore, queryRows, type TestStore } from '../support/store.js';

let store: TestStore;
beforeAll(async () => {
  store = await openTestStore({ migrate: { database: 'genai_ledger', refreshSeconds: 315_360_000 } });
});
afterAll(async () => store?.close());

test.each(ROLLUPS.map((r) => [r.name, r] as const))('%s: the declared columns are the view\'s columns', async (_name, r) => {
  const rows = await queryRows<{ name: string }>(store.client, `DESCRIBE TABLE genai_ledger.${exact(r)}`);
  const actual = rows.map((row) => row.name).filter((n) => n !== 'rollup_version');
  expect([...actual].sort()).toEqual([r.bucket, ...r.dimensions, ...r.measures].sort());
});

test('refresh order: each rollup after the one it folds; every refresh view the migrations create, once', async () => {
  ROLLUPS.forEach((r, i) => {
    if (r.from !== 'ai_usage') expect(ROLLUPS.slice(0, i).map((x) => x.name), r.name).toContain(r.from);
  });
  const views = await queryRows<{ name: string }>(store.client, "SELECT name FROM system.tables WHERE database = 'genai_ledger' AND name LIKE '%_refresh' ORDER BY name");
  expect([...REFRESH_VIEWS].sort()).toEqual(views.map((v) => v.name));
});
