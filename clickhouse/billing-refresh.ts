/**
 * Keeps billed_daily current without `reprice --billing`. One refresh re-bills, through
 * rebillDays() (the code `reprice --billing` runs), the UTC days of the calls inserted since the
 * last refresh (by each call's own time, so a late arrival re-bills its day and nothing else), and
 * every day from a changed card's effective_from when rate_cards changed; then it moves
 * billing_watermark (0011) forward. The marks are read from the store, so a refresh that never ran
 * (process down) is caught up by the next one, whichever process runs it, and its cost follows
 * what arrived, not the history.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import { rebillDays, storedRateCards } from './billing.js';
import { DEFAULT_WATERMARK_LAG_SECONDS } from './migrate.js';
import { clientRunner } from './query-runner.js';

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
const DAY_MS = 86_400_000;
const MARK = "{mark:DateTime64(6, 'UTC')}";

export interface BillingRefreshOptions {
  database: string;
  /**
   * Overlap with the previous refresh, seconds: calls inserted up to this long before its mark are
   * looked at again, covering inserts still committing then. Default: the rollups' (300).
   */
  lagSeconds?: number;
  /** Days before this one (YYYY-MM-DD) are never re-billed: their raw rows may have expired (TTL). */
  firstDay?: string;
  /** Today, for a card change's range (Unix ms). Default Date.now(). */
  nowMs?: number;
}

export interface BillingRefreshResult {
  /** Days re-billed. */
  days: number;
  /** Calls read, (org, day, feature, model) groups written and tombstoned, summed over the days. */
  calls: number;
  written: number;
  deleted: number;
  /** True when a card changed since the last refresh (its days were re-billed). */
  cardsChanged: boolean;
}

interface Mark { what: string; upto: string }

/** Re-bills what arrived or changed since the last refresh; nothing when the store holds no cards. */
export async function refreshBilling(client: ClickHouseClient, options: BillingRefreshOptions): Promise<BillingRefreshResult> {
  const db = options.database;
  if (!IDENTIFIER.test(db)) throw new Error(`invalid database name '${db}'`);
  const runner = clientRunner(client);
  const result: BillingRefreshResult = { days: 0, calls: 0, written: 0, deleted: 0, cardsChanged: false };
  const cards = await storedRateCards(runner, db);
  if (cards.length === 0) return result;

  const marks = new Map((await runner.query<Mark>(`SELECT what, toString(max(upto)) AS upto FROM ${db}.billing_watermark GROUP BY what`)).map((m) => [m.what, m.upto]));
  const epoch = '1970-01-01 00:00:00.000000';
  const [card] = await runner.query<{ upto: string; changed: number; changed_from: string }>(
    `SELECT toString(max(loaded_at)) AS upto, countIf(loaded_at > ${MARK}) AS changed, toString(minIf(effective_from, loaded_at > ${MARK})) AS changed_from FROM ${db}.rate_cards`,
    { mark: marks.get('cards') ?? epoch });
  // Read before the calls are: a call inserted meanwhile is re-billed now and looked at again next time.
  const [touched] = await runner.query<{ days: string[]; upto: string; n: number }>(
    `SELECT arraySort(groupUniqArray(toString(toDate(ts)))) AS days, toString(max(inserted_at)) AS upto, count() AS n
FROM ${db}.ai_usage WHERE inserted_at > ${MARK} - INTERVAL {lag:UInt32} SECOND`,
    { mark: marks.get('calls') ?? epoch, lag: options.lagSeconds ?? DEFAULT_WATERMARK_LAG_SECONDS });

  const firstMs = options.firstDay !== undefined ? dayMs(options.firstDay) : -Infinity;
  const ranges: Array<[number, number]> = [];
  result.cardsChanged = card !== undefined && card.changed > 0;
  if (result.cardsChanged) ranges.push([Math.max(firstMs, dayMs(card!.changed_from)), Math.floor((options.nowMs ?? Date.now()) / DAY_MS) * DAY_MS + DAY_MS]);
  for (const day of touched?.days ?? []) {
    const from = dayMs(day);
    if (from >= firstMs) ranges.push([from, from + DAY_MS]);
  }
  for (const [fromMs, toMs] of mergeRanges(ranges)) {
    const r = await rebillDays(client, runner, { database: db, fromMs, toMs, cards });
    result.days += (toMs - fromMs) / DAY_MS;
    result.calls += r.calls;
    result.written += r.written;
    result.deleted += r.deleted;
  }

  const moved: Mark[] = [];
  if (touched !== undefined && touched.n > 0) moved.push({ what: 'calls', upto: touched.upto });
  if (result.cardsChanged) moved.push({ what: 'cards', upto: card!.upto });
  if (moved.length > 0) await client.insert({ table: `${db}.billing_watermark`, values: moved, format: 'JSONEachRow' });
  return result;
}

function dayMs(day: string): number {
  return Date.parse(`${day}T00:00:00Z`);
}

/** [from, to) ranges sorted and joined where they touch or overlap: one rebillDays per run of days. */
export function mergeRanges(ranges: ReadonlyArray<readonly [number, number]>): Array<[number, number]> {
  const sorted = [...ranges].filter(([from, to]) => to > from).sort((a, b) => a[0] - b[0]);
  const out: Array<[number, number]> = [];
  for (const [from, to] of sorted) {
    const last = out[out.length - 1];
    if (last && from <= last[1]) last[1] = Math.max(last[1], to);
    else out.push([from, to]);
  }
  return out;
}
