/**
 * billed_daily kept current in the background, for an entrance given rate cards (the collector's
 * --rates, the exporter's and register()'s `rates`): the cards are synced into rate_cards once the
 * store answers, then refreshBilling() (clickhouse/billing-refresh.ts) re-bills what arrived (the
 * groups of the calls' days, orgs and models), `intervalMs` after the previous refresh ended and
 * only once this process wrote rows since (or a refresh failed, or none ran yet). It never throws into the host: a failure is counted and logged, and the
 * next tick tries again (the sync too, until it succeeds).
 */
import type { ClickHouseClient } from '@clickhouse/client';
import { diag } from '@opentelemetry/api';
import { compileRateCards, loadRateCardsFile, type RateCard } from '../billing/rate-cards.js';
import { syncRateCards } from '../clickhouse/billing.js';
import { refreshBilling, type BillingRefreshResult } from '../clickhouse/billing-refresh.js';
import type { Ledger } from './ledger.js';

export const DEFAULT_BILLING_REFRESH_MS = 60_000;

/**
 * An app's billing refresh (the exporter's and register()'s options). Given explicitly, never
 * from GENAI_LEDGER_RATES: every process with rates re-bills what arrives, so they are given to one
 * writer (a collector, or one app), not to every instance by a shared environment.
 */
export interface BillingOptions {
  /** A rate-cards file (YAML or JSON) or its content (`{ rate_cards: [...] }`); none: billed_daily is left to `reprice --billing`. */
  rates?: string | { rate_cards: readonly unknown[] };
  /** With `rates`: billed_daily is refreshed at most this often, ms. Default 60 000. */
  billingRefreshMs?: number;
}

/** The cards of `options.rates`, validated; throws a RateCardError (one line naming the card and field). */
export function rateCardsOption(options: BillingOptions): RateCard[] | undefined {
  const rates = options.rates;
  if (rates === undefined) return undefined;
  return typeof rates === 'string' ? loadRateCardsFile(rates) : compileRateCards(rates, 'rates');
}

export interface BillingRefresherOptions {
  client: ClickHouseClient;
  database: string;
  /** The cards to hold in rate_cards (a file's, validated). */
  cards: readonly RateCard[];
  /** Between refreshes, ms. Default 60 s (the rollups' refresh). */
  intervalMs?: number;
  /** Rows this process has written so far: a tick with none new since the last refresh does nothing. */
  writtenRows: () => number;
  /** Raw rows' retention: older days are never re-billed. */
  ttlDays?: number;
  /** Called after each successful refresh (logs, tests). */
  onRefresh?: (result: BillingRefreshResult) => void;
}

export interface BillingRefreshStats {
  /** Refreshes that completed (whether or not they had days to re-bill). */
  refreshes: number;
  /** Refreshes (or card syncs) that failed; retried at the next tick. */
  failures: number;
  /** Unix ms of the last successful refresh; 0 before the first. */
  lastSuccessMs: number;
  /** Days re-billed, summed over refreshes. */
  daysRebilled: number;
}

export class BillingRefresher {
  readonly stats: BillingRefreshStats = { refreshes: 0, failures: 0, lastSuccessMs: 0, daysRebilled: 0 };
  readonly #o: BillingRefresherOptions;
  #synced = false;
  /** writtenRows() at the last successful refresh; -1 = refresh at the next tick. */
  #seenRows = -1;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  #running: Promise<void> = Promise.resolve();

  private constructor(options: BillingRefresherOptions) {
    this.#o = options;
  }

  /** Starts at once: the first tick syncs the cards and catches up what arrived while none ran. */
  static start(options: BillingRefresherOptions): BillingRefresher {
    const refresher = new BillingRefresher(options);
    refresher.#schedule(0);
    return refresher;
  }

  /** An entrance's refresher: on the ledger's client, started once its store is set up. */
  static forLedger(ledger: Pick<Ledger, 'client' | 'database' | 'stats' | 'onStoreReady'>, options: Omit<BillingRefresherOptions, 'client' | 'database' | 'writtenRows'>): BillingRefresher {
    const refresher = new BillingRefresher({ ...options, client: ledger.client, database: ledger.database, writtenRows: () => ledger.stats.writtenRows });
    ledger.onStoreReady(() => refresher.#schedule(0));
    return refresher;
  }

  /** One tick now, after any running one; resolves when it is done, never rejects. */
  refresh(): Promise<void> {
    this.#running = this.#running.then(() => this.#tick());
    return this.#running;
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    await this.#running;
  }

  #schedule(ms: number): void {
    if (this.#closed) return;
    this.#timer = setTimeout(() => void this.refresh().then(() => this.#schedule(this.#o.intervalMs ?? DEFAULT_BILLING_REFRESH_MS)), ms);
    this.#timer.unref();
  }

  async #tick(): Promise<void> {
    const written = this.#o.writtenRows();
    if (this.#closed || written === this.#seenRows) return;
    try {
      const { client, database } = this.#o;
      if (!this.#synced) {
        await syncRateCards(client, database, this.#o.cards);
        this.#synced = true;
      }
      const firstDay = this.#o.ttlDays === undefined ? undefined : new Date(Date.now() - (this.#o.ttlDays - 1) * 86_400_000).toISOString().slice(0, 10);
      const result = await refreshBilling(client, { database, ...(firstDay ? { firstDay } : {}) });
      this.#seenRows = written;
      this.stats.refreshes++;
      this.stats.daysRebilled += result.days;
      this.stats.lastSuccessMs = Date.now();
      this.#o.onRefresh?.(result);
    } catch (error) {
      this.stats.failures++;
      diag.warn(`genai-ledger: billing refresh failed (tried again in ${(this.#o.intervalMs ?? DEFAULT_BILLING_REFRESH_MS) / 1000} s): ${(error as Error).message.split('\n', 1)[0]}`);
    }
  }
}
