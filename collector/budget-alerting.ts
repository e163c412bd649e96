/**
 * The collector's budget alerts (--budgets, --alert-webhook): the budgets file is read at start
 * (an invalid one stops the start with its one-line error), and the alerts start once the store is
 * set up, since they sync the `budgets` table and read spend from it. They fire as rows are
 * written (delivery/budgets/alerts.ts), once per budget × period × threshold across restarts and
 * collectors.
 */
import type { Ledger } from '../delivery/ledger.js';
import { BudgetAlerts, type BudgetAlertStats } from '../delivery/budgets/alerts.js';
import { loadBudgetsFile } from '../pricing/budgets/index.js';
import type { CollectorConfig } from './config.js';
import type { Logger } from './log.js';

export interface BudgetAlerting {
  /** The alerts' counters once they run. */
  stats(): BudgetAlertStats | undefined;
  close(): Promise<void>;
}

/** Undefined without `config.budgets`. Throws BudgetConfigError for a budgets file with an error. */
export function startBudgetAlerting(config: CollectorConfig, ledger: Ledger, log: Logger): BudgetAlerting | undefined {
  if (config.budgets === undefined) return undefined;
  const budgets = loadBudgetsFile(config.budgets);
  const webhook = config.alertWebhook ? { url: config.alertWebhook, secret: config.alertWebhookSecret } : undefined;
  let closed = false;
  let alerts: Promise<BudgetAlerts | undefined> = Promise.resolve(undefined);
  let running: BudgetAlerts | undefined;
  ledger.onStoreReady(() => {
    if (closed) return;
    alerts = BudgetAlerts.start({
      client: ledger.client, database: ledger.database, budgets, webhook, writtenRows: () => ledger.stats.writtenRows,
    }).then(
      (started) => {
        running = started;
        log.info('budget alerts on', { budgets: budgets.length, webhook: webhook !== undefined, signed: config.alertWebhookSecret !== undefined });
        return started;
      },
      (error: unknown) => {
        log.error('budget alerts cannot start', { error: (error as Error).message });
        return undefined;
      },
    );
  });
  if (!webhook) log.warn('budget alerts without --alert-webhook: crossings are only logged');
  return {
    stats: () => running?.stats,
    async close() {
      closed = true;
      await (await alerts)?.close();
    },
  };
}
