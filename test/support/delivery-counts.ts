/**
 * Exactly-once, counted so that the check can fail. `ai_usage` is a ReplacingMergeTree keyed by the
 * span: a span delivered twice is two raw rows until a background merge collapses them, and FINAL
 * (ai_usage_exact, every rollup's source) collapses them by construction. So "0 doubled" means
 * something only next to the raw rows: with merges held (holdMerges), `raw` is every delivery that
 * reached the table, `distinct` the spans among them, and the exact view and every rollup must
 * count `distinct` calls while `raw − distinct` duplicates sit in the table.
 *
 * Used by the durability and crash tests and by bench/soak.ts.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import { migrate, refreshRollups, ROLLUP_REFRESH_VIEWS } from '../../clickhouse/migrate.js';
import { clientRunner, type QueryRunner } from '../../clickhouse/query-runner.js';
import { createStoreClient } from '../../clickhouse/store.js';

/**
 * Stops background merges of ai_usage for good: no merge over one byte is allowed. A table
 * setting, kept in the table's metadata, so unlike `SYSTEM STOP MERGES` (in memory, per process)
 * it holds in a collector child process and across restarts on the same store. On the embedded
 * engine (chDB has no system.part_log or query_log to count inserts by) this is what keeps
 * every delivery visible. OPTIMIZE ... FINAL still merges when asked. Parts then pile up (about
 * one per insert: ~230 a minute in the soak bench), so the part-count limits that would delay
 * (1000) or refuse (3000) inserts are lifted: a long soak must not measure those instead.
 */
export async function holdMerges(client: ClickHouseClient, database: string): Promise<void> {
  await client.command({
    query: `ALTER TABLE ${database}.ai_usage MODIFY SETTING max_bytes_to_merge_at_max_space_in_pool = 1, max_bytes_to_merge_at_min_space_in_pool = 1, parts_to_delay_insert = 1000000, parts_to_throw_insert = 1000000`,
  });
}

/**
 * Prepares an embedded store for a process that opens it later (a collector or ledger child):
 * migrated, ai_usage merges held. Closes it again (a directory is open in one process at a time).
 */
export async function prepareHeldStore(dir: string, database = 'genai_ledger'): Promise<void> {
  const client = await createStoreClient({ kind: 'embedded', path: dir }, { database });
  try {
    await migrate(client, { database });
    await holdMerges(client, database);
  } finally {
    await client.close();
  }
}

export interface RollupCount {
  /** The _exact view read. */
  view: string;
  /** Calls it counts: sum(calls), or rows for the list of unpriced calls. */
  calls: number;
  /** Its total cost, exact decimal; undefined for the rollups that carry none (latency, unpriced list). */
  cost?: string;
}

export interface DeliveryCounts {
  /** Rows in ai_usage without FINAL: every delivery, as long as merges are held. */
  raw: number;
  /** Distinct spans (trace_id, span_id) among the raw rows. */
  distinct: number;
  /** Deliveries beyond a span's first, still stored: raw − distinct. */
  duplicates: number;
  /** Active parts of ai_usage (with merges held, about one per insert). */
  parts: number;
  /** Rows of ai_usage_exact, and distinct spans among them. */
  exact: number;
  exactDistinct: number;
  /** sum(cost_usd) of ai_usage_exact (unpriced as 0), and its calls without a price. */
  cost: string;
  unpriced: number;
  /** Every rollup the refresh views maintain, in refresh order. */
  rollups: RollupCount[];
}

/** The rollups that carry no cost column, and the one that lists unpriced calls (one row each). */
const WITHOUT_COST = new Set(['ai_usage_latency_hourly', 'ai_usage_latency_daily', 'ai_usage_unpriced']);
const UNPRICED_LIST = 'ai_usage_unpriced';
/** The rollup tables, one per refresh view, in refresh order (a test truncating between cases clears them all). */
export const rollupTables = (): string[] => ROLLUP_REFRESH_VIEWS.map((view) => view.replace(/_refresh$/, ''));

/**
 * Reads the counts in one statement. Refresh the rollups first (refreshRollups) when they are to
 * be compared: a scheduled refresh runs only every minute.
 */
export async function deliveryCounts(runner: QueryRunner, database = 'genai_ledger'): Promise<DeliveryCounts> {
  const tables = rollupTables();
  const rollupColumns = tables.flatMap((table, i) => [
    `(SELECT ${table === UNPRICED_LIST ? 'count()' : 'sum(calls)'} FROM ${database}.${table}_exact) AS calls_${i}`,
    ...(WITHOUT_COST.has(table) ? [] : [`(SELECT toString(sum(cost_usd)) FROM ${database}.${table}_exact) AS cost_${i}`]),
  ]);
  const [row] = await runner.query<Record<string, number | string>>(`SELECT
      (SELECT count() FROM ${database}.ai_usage) AS raw,
      (SELECT uniqExact(trace_id, span_id) FROM ${database}.ai_usage) AS distinct,
      (SELECT count() FROM system.parts WHERE database = '${database}' AND table = 'ai_usage' AND active) AS parts,
      (SELECT count() FROM ${database}.ai_usage_exact) AS exact,
      (SELECT uniqExact(trace_id, span_id) FROM ${database}.ai_usage_exact) AS exact_distinct,
      (SELECT toString(sum(ifNull(cost_usd, toDecimal128(0, 18)))) FROM ${database}.ai_usage_exact) AS cost,
      (SELECT countIf(cost_usd IS NULL) FROM ${database}.ai_usage_exact) AS unpriced,
      ${rollupColumns.join(',\n      ')}`);
  if (row === undefined) throw new Error('deliveryCounts: the count query returned no row');
  const n = (key: string): number => Number(row[key]);
  return {
    raw: n('raw'),
    distinct: n('distinct'),
    duplicates: n('raw') - n('distinct'),
    parts: n('parts'),
    exact: n('exact'),
    exactDistinct: n('exact_distinct'),
    cost: String(row.cost),
    unpriced: n('unpriced'),
    rollups: tables.map((table, i) => ({
      view: `${table}_exact`,
      calls: n(`calls_${i}`),
      ...(WITHOUT_COST.has(table) ? {} : { cost: String(row[`cost_${i}`]) }),
    })),
  };
}

/**
 * Counts an embedded store once its writer process is gone (a collector or ledger child stopped):
 * opens it here, refreshes the rollups, counts, closes.
 */
export async function countStoppedStore(dir: string, database = 'genai_ledger'): Promise<DeliveryCounts> {
  const client = await createStoreClient({ kind: 'embedded', path: dir }, { database });
  try {
    await refreshRollups(client, { database });
    return await deliveryCounts(clientRunner(client), database);
  } finally {
    await client.close();
  }
}

/**
 * Where a span is not counted exactly once: [] when ai_usage_exact holds each distinct stored span
 * once and every rollup counts as many calls (the unpriced list: as many unpriced calls) at the
 * exact view's cost, whatever duplicates the raw table holds.
 */
export function miscounts(c: DeliveryCounts): string[] {
  const found: string[] = [];
  if (c.exact !== c.distinct || c.exactDistinct !== c.distinct) {
    found.push(`ai_usage_exact: ${c.exact} rows, ${c.exactDistinct} distinct spans; the raw table holds ${c.distinct}`);
  }
  for (const r of c.rollups) {
    const want = r.view === `${UNPRICED_LIST}_exact` ? c.unpriced : c.distinct;
    if (r.calls !== want) found.push(`${r.view}: ${r.calls} calls, expected ${want}`);
    if (r.cost !== undefined && r.cost !== c.cost) found.push(`${r.view}: cost ${r.cost}, ai_usage_exact ${c.cost}`);
  }
  return found;
}

/** One line for a report: raw deliveries, distinct spans, duplicates stored, and what the exact view and rollups count. */
export function describeCounts(c: DeliveryCounts): string {
  const wrong = miscounts(c);
  return `raw deliveries ${c.raw} (ai_usage without FINAL, merges held, ${c.parts} parts), distinct spans ${c.distinct}, ` +
    `duplicates stored ${c.duplicates}; ai_usage_exact ${c.exact}; ${c.rollups.length} rollups ` +
    (wrong.length === 0 ? `each count ${c.distinct}` : `MISCOUNT: ${wrong.join('; ')}`);
}
