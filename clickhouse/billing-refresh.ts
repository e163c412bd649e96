/**
 * Keeps billed_daily current without `reprice --billing`. One refresh re-bills, through
 * rebillDays() (the code `reprice --billing` runs), the groups that the calls inserted since the
 * last refresh can be in: each call's own UTC day (a late arrival re-bills its day, not today), its
 * org and model. A call's org, day and requested model are part of its identity in ai_usage (its
 * sorting key), so an earlier delivery of it was in one of those groups, whatever its feature: the
 * scope is exact. (Calls without a requested model are billed under the answering one, which is
 * not: their org's whole day is re-billed.) And every day from a changed card's effective_from when
 * rate_cards changed. Then it moves
 * billing_watermark (0011) forward. The marks are read from the store, so a refresh that never ran
 * (process down) is caught up by the next one, whichever process runs it, and its cost follows
 * what arrived, not the history nor the day's volume (bench/billing-refresh.ts).
 */
import type { ClickHouseClient } from '@clickhouse/client';
import { rebillDays, storedRateCards, type BillingScope } from './billing.js';
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
  /** Days re-billed (the scope of what arrived, or all of them for a card change). */
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
  const marks = new Map((await runner.query<Mark>(`SELECT what, toString(max(upto)) AS upto FROM ${db}.billing_watermark GROUP BY what`)).map((m) => [m.what, m.upto]));
  const epoch = '1970-01-01 00:00:00.000000';
  // The card changes, then the cards: a card loaded in between is billed now and seen as changed next time.
  const [card] = await runner.query<{ upto: string; changed: number; changed_from: string }>(
    `SELECT toString(max(loaded_at)) AS upto, countIf(loaded_at > ${MARK}) AS changed, toString(minIf(effective_from, loaded_at > ${MARK})) AS changed_from FROM ${db}.rate_cards`,
    { mark: marks.get('cards') ?? epoch });
  const cards = await storedRateCards(runner, db);
  if (cards.length === 0) return result;
  // Read before the calls are: a call inserted meanwhile is re-billed now and looked at again next time.
  const touched = await runner.query<BillingScope & { day: string; upto: string }>(
    `SELECT toString(toDate(ts)) AS day, groupUniqArrayIf(org_id, request_model = '') AS orgs,
  groupUniqArrayIf([org_id, toString(request_model)], request_model != '') AS orgModels, toString(max(inserted_at)) AS upto
FROM ${db}.ai_usage WHERE inserted_at > ${MARK} - INTERVAL {lag:UInt32} SECOND GROUP BY day ORDER BY day`,
    { mark: marks.get('calls') ?? epoch, lag: options.lagSeconds ?? DEFAULT_WATERMARK_LAG_SECONDS });

  const firstMs = options.firstDay !== undefined ? dayMs(options.firstDay) : -Infinity;
  const rebill = async (fromMs: number, toMs: number, scope?: BillingScope): Promise<void> => {
    const r = await rebillDays(client, runner, { database: db, fromMs, toMs, cards, ...(scope ? { scope } : {}) });
    result.days += (toMs - fromMs) / DAY_MS;
    result.calls += r.calls;
    result.written += r.written;
    result.deleted += r.deleted;
  };
  // A changed card: every day from its effective_from to today, every group.
  let whole: [number, number] = [0, 0];
  result.cardsChanged = card !== undefined && card.changed > 0;
  if (result.cardsChanged) {
    whole = [Math.max(firstMs, dayMs(card!.changed_from)), Math.floor((options.nowMs ?? Date.now()) / DAY_MS) * DAY_MS + DAY_MS];
    if (whole[1] > whole[0]) await rebill(...whole);
  }
  for (const { day, orgs, orgModels } of touched) {
    const from = dayMs(day);
    if (from >= firstMs && !(from >= whole[0] && from < whole[1])) await rebill(from, from + DAY_MS, { orgs, orgModels });
  }

  const moved: Mark[] = [];
  if (touched.length > 0) moved.push({ what: 'calls', upto: touched.reduce((max, t) => (t.upto > max ? t.upto : max), epoch) });
  if (result.cardsChanged) moved.push({ what: 'cards', upto: card!.upto });
  if (moved.length > 0) await client.insert({ table: `${db}.billing_watermark`, values: moved, format: 'JSONEachRow' });
  return result;
}

function dayMs(day: string): number {
  return Date.parse(`${day}T00:00:00Z`);
}
