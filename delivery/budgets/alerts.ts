/**
 * Budget alerts that fire once. While rows are being written, the tracker re-reads each budget's
 * spend for its current period from the exact view (at most every `pollMs`), and for every alert
 * fraction a budget has reached and nobody claimed yet, claims the alert in the store
 * (clickhouse/budget-alerts.ts) and, when it won the claim, POSTs it to the webhook until a 2xx,
 * then records the delivery. A claim whose owner died before delivering is taken over after
 * `leaseMs`, with the same body (same `id`). Without a webhook, a crossing is logged instead.
 * Never throws into its host: failures are `diag` warnings and the next poll tries again.
 */
import { randomUUID } from 'node:crypto';
import type { ClickHouseClient } from '@clickhouse/client';
import { diag } from '@opentelemetry/api';
import { budgetSpend, matchedValues, syncBudgets, type BudgetSpend } from '../../clickhouse/budgets.js';
import { claimAlert, claimedAlertIds, markDelivered, undeliveredAlerts, type AlertClaim } from '../../clickhouse/budget-alerts.js';
import { clientRunner } from '../../clickhouse/query-runner.js';
import { formatDec, type Dec } from '../../pricing/decimal.js';
import { reachedThresholds, thresholdUsd, type Budget } from '../../pricing/budgets/index.js';
import { deliverWebhook, type WebhookOptions } from './webhook.js';

/** How often the tracker looks for new rows (and so, at most, re-reads spend). */
export const DEFAULT_ALERT_POLL_MS = 1000;
/** A claim not delivered after this long is taken over (its owner is presumed gone). */
export const DEFAULT_ALERT_LEASE_MS = 120_000;

export interface BudgetAlertsOptions {
  client: ClickHouseClient;
  database: string;
  budgets: readonly Budget[];
  /** Rows written so far (e.g. `() => ledger.stats.writtenRows`): spend is re-read when it moves. */
  writtenRows: () => number;
  webhook?: WebhookOptions | undefined;
  pollMs?: number;
  leaseMs?: number;
  /** This process's name in claims. Default a random UUID. */
  owner?: string;
  now?: () => number;
}

export interface BudgetAlertStats {
  /** Alerts this process won and delivered (or logged, without a webhook). */
  sent: number;
  /** Failed webhook attempts (each is retried). */
  failedAttempts: number;
  /** Alerts won and waiting for the webhook. */
  pending: number;
  /** Spend reads that failed (retried at the next poll). */
  refreshErrors: number;
}

/** The webhook body of one alert. */
export interface BudgetAlert {
  id: string;
  budget: string;
  threshold: string;
  spent_usd: string;
  limit_usd: string;
  threshold_usd: string;
  period: Budget['period'];
  period_start: string;
  period_end: string;
  /** The budget's match, plus the `per` field's value for a `per` budget. */
  match: Record<string, string>;
}

export class BudgetAlerts {
  readonly stats: BudgetAlertStats = { sent: 0, failedAttempts: 0, pending: 0, refreshErrors: 0 };
  readonly #o: BudgetAlertsOptions;
  readonly #owner: string;
  readonly #now: () => number;
  readonly #abort = new AbortController();
  /** Alert ids known to be claimed (by anyone): never claimed again by this process. */
  readonly #claimed = new Set<string>();
  #timer: NodeJS.Timeout | undefined;
  #seenRows = -1;
  #lastTakeOverMs = -Infinity;
  #running: Promise<void> = Promise.resolve();
  #deliveries: Promise<void> = Promise.resolve();

  private constructor(options: BudgetAlertsOptions) {
    this.#o = options;
    this.#owner = options.owner ?? randomUUID();
    this.#now = options.now ?? Date.now;
  }

  /** Syncs the `budgets` table with `options.budgets` and starts polling. */
  static async start(options: BudgetAlertsOptions): Promise<BudgetAlerts> {
    await syncBudgets(options.client, options.database, options.budgets);
    const alerts = new BudgetAlerts(options);
    alerts.#timer = setInterval(() => void alerts.poll(), options.pollMs ?? DEFAULT_ALERT_POLL_MS);
    alerts.#timer.unref();
    return alerts;
  }

  /** One poll: when rows were written since the last one, re-read spend and fire what was crossed. Serialized. */
  poll(): Promise<void> {
    this.#running = this.#running.then(() => this.#poll());
    return this.#running;
  }

  /** Resolves once every alert won so far is delivered (tests; the webhook must answer). */
  async settled(): Promise<void> {
    await this.#running;
    await this.#deliveries;
  }

  async close(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#abort.abort();
    await this.#running;
    await this.#deliveries;
  }

  async #poll(): Promise<void> {
    if (this.#abort.signal.aborted) return;
    const written = this.#o.writtenRows();
    const first = this.#seenRows < 0;
    if (!first && written === this.#seenRows) return;
    this.#seenRows = written;
    try {
      if (first || Date.now() - this.#lastTakeOverMs >= (this.#o.leaseMs ?? DEFAULT_ALERT_LEASE_MS)) await this.#takeOver();
      const spend = await budgetSpend(clientRunner(this.#o.client), this.#o.database, this.#o.budgets, this.#now());
      await this.#fire(spend);
    } catch (error) {
      this.stats.refreshErrors++;
      this.#seenRows = -1; // read again at the next poll
      diag.warn(`genai-ledger: budget alerts: cannot read spend: ${(error as Error).message}`);
    }
  }

  /** Claims, in ascending order, every reached threshold nobody claimed; sends those this process won. */
  async #fire(spend: BudgetSpend[]): Promise<void> {
    const due: Array<{ entry: BudgetSpend; fraction: Dec; id: string }> = [];
    for (const entry of spend) {
      for (const fraction of reachedThresholds(entry.budget, entry.spent)) {
        const id = alertId(entry, fraction);
        if (!this.#claimed.has(id)) due.push({ entry, fraction, id });
      }
    }
    if (due.length === 0) return;
    const already = await claimedAlertIds(this.#o.client, this.#o.database, due.map((d) => d.id));
    for (const { entry, fraction, id } of due) {
      if (!already.has(id)) {
        const payload = JSON.stringify(alertBody(entry, fraction, id));
        const claim: AlertClaim = {
          id, attempt: 0, owner: this.#owner, budget: entry.budget.name, perValue: entry.key,
          periodStartMs: entry.period.startMs, threshold: formatDec(fraction), payload,
        };
        if (await claimAlert(this.#o.client, this.#o.database, claim)) this.#send(id, payload);
      }
      this.#claimed.add(id);
    }
  }

  /** Claims left undelivered past the lease by an owner that is gone: take them over. */
  async #takeOver(): Promise<void> {
    const leaseMs = this.#o.leaseMs ?? DEFAULT_ALERT_LEASE_MS;
    this.#lastTakeOverMs = Date.now();
    for (const alert of await undeliveredAlerts(this.#o.client, this.#o.database)) {
      this.#claimed.add(alert.id);
      if (Date.now() - alert.claimedAtMs < leaseMs) continue; // server time, not the period clock
      const body = JSON.parse(alert.payload) as BudgetAlert;
      const won = await claimAlert(this.#o.client, this.#o.database, {
        id: alert.id, attempt: alert.attempt + 1, owner: this.#owner, budget: body.budget, perValue: '',
        periodStartMs: Date.parse(body.period_start), threshold: body.threshold, payload: alert.payload,
      });
      if (won) this.#send(alert.id, alert.payload);
    }
  }

  /** Queues one delivery; deliveries go one at a time, in the order the thresholds were crossed. */
  #send(id: string, payload: string): void {
    this.stats.pending++;
    this.#deliveries = this.#deliveries.then(async () => {
      const webhook = this.#o.webhook;
      const delivered = webhook
        ? await deliverWebhook(webhook, payload, this.#abort.signal, (reason) => {
            this.stats.failedAttempts++;
            diag.warn(`genai-ledger: budget alert ${id}: webhook failed (${reason}); retrying`);
          })
        : (diag.warn(`genai-ledger: budget alert (no webhook configured): ${payload}`), true);
      this.stats.pending--;
      if (!delivered) return;
      this.stats.sent++;
      await markDelivered(this.#o.client, this.#o.database, id, this.#owner).catch((error: unknown) => {
        diag.warn(`genai-ledger: budget alert ${id} was delivered but cannot be recorded: ${(error as Error).message}`);
      });
    });
  }
}

/** `<budget>/<per value>/<period start>/<fraction>`: unique per budget × period × threshold. */
export function alertId(entry: BudgetSpend, fraction: Dec): string {
  return `${entry.budget.name}/${encodeURIComponent(entry.key)}/${new Date(entry.period.startMs).toISOString()}/${formatDec(fraction)}`;
}

export function alertBody(entry: BudgetSpend, fraction: Dec, id: string): BudgetAlert {
  const { budget } = entry;
  return {
    id,
    budget: budget.name,
    threshold: formatDec(fraction),
    spent_usd: formatDec(entry.spent),
    limit_usd: formatDec(budget.limitUsd),
    threshold_usd: formatDec(thresholdUsd(budget, fraction)),
    period: budget.period,
    period_start: new Date(entry.period.startMs).toISOString(),
    period_end: new Date(entry.period.endMs).toISOString(),
    match: matchedValues(entry),
  };
}
