/**
 * Budget alerts as an entrance starts them (the collector's --budgets and --alert-webhook, the
 * exporter's and register()'s `budgets` and `alertWebhook` options): the settings are read when
 * the entrance is configured (a budgets file with an error, or a webhook that is not an http(s)
 * URL, throws its one-line error there), and the alerts start once the ledger's store is set up,
 * since they sync the `budgets` table and read spend from it. They fire as rows are written
 * (alerts.ts), once per budget × period × threshold across restarts and processes. Failures after
 * the start are logged, never thrown.
 */
import { diag } from '@opentelemetry/api';
import type { Ledger } from '../ledger.js';
import { loadBudgetsFile, parseBudgets, type Budget, type BudgetField, type BudgetPeriod } from '../../pricing/budgets/index.js';
import { BudgetAlerts, type BudgetAlertStats } from './alerts.js';
import type { WebhookOptions } from './webhook.js';

/** One budget as a budgets file holds it (see the README's "Budgets"). */
export interface BudgetSpec {
  name: string;
  match?: Partial<Record<BudgetField, string>>;
  per?: BudgetField;
  period: BudgetPeriod;
  /** A decimal string, e.g. "500". */
  limit_usd: string;
  alert_at?: Array<number | string>;
  enforce?: boolean;
}

export interface BudgetAlertingOptions {
  /** A budgets file (JSON or YAML), or its content (`{ budgets: [...] }`). Default: GENAI_LEDGER_BUDGETS; none: no alerts. */
  budgets?: string | { budgets: readonly BudgetSpec[] };
  /** Where alerts are POSTed, retried until a 2xx. Default: GENAI_LEDGER_ALERT_WEBHOOK; none: crossings are logged. */
  alertWebhook?: string;
  /** Signs each alert body (HMAC-SHA256, `X-GenAI-Ledger-Signature`). Default: GENAI_LEDGER_ALERT_WEBHOOK_SECRET. */
  alertWebhookSecret?: string;
}

/** What the alerts run with: budgets validated, the webhook checked. */
export interface BudgetAlertSettings {
  budgets: Budget[];
  webhook: WebhookOptions | undefined;
}

/** Where the alerts say they started, or could not: the collector's logger, or `diag` in an app. */
export interface AlertingLog {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export interface BudgetAlerting {
  /** The alerts' counters once they run. */
  stats(): BudgetAlertStats | undefined;
  close(): Promise<void>;
}

export class AlertWebhookError extends Error {
  override readonly name = 'AlertWebhookError';
}

/** True for an http: or https: URL, the only webhooks alerts are POSTed to. */
export function isWebhookUrl(value: string): boolean {
  try {
    const { protocol } = new URL(value);
    return protocol === 'http:' || protocol === 'https:';
  } catch {
    return false;
  }
}

/**
 * The options, each defaulting to its GENAI_LEDGER_* variable in `env` as the collector reads
 * them; undefined without budgets. Throws BudgetConfigError for budgets with an error and
 * AlertWebhookError for a webhook that is not an http(s) URL (one line each).
 */
export function budgetAlertSettings(options: BudgetAlertingOptions, env: NodeJS.ProcessEnv = process.env): BudgetAlertSettings | undefined {
  const source = options.budgets ?? variable(env, 'GENAI_LEDGER_BUDGETS');
  if (source === undefined) return undefined;
  const budgets = typeof source === 'string' ? loadBudgetsFile(source) : parseBudgets(source);
  const url = options.alertWebhook ?? variable(env, 'GENAI_LEDGER_ALERT_WEBHOOK');
  if (url !== undefined && !isWebhookUrl(url)) throw new AlertWebhookError(`genai-ledger: alertWebhook: an http(s) URL, got ${JSON.stringify(url)}`);
  const secret = options.alertWebhookSecret ?? variable(env, 'GENAI_LEDGER_ALERT_WEBHOOK_SECRET');
  return { budgets, webhook: url === undefined ? undefined : { url, secret } };
}

/** Starts the alerts once `ledger`'s store is set up; `close()` stops them (and any start still to come). */
export function startBudgetAlerting(settings: BudgetAlertSettings, ledger: Ledger, log: AlertingLog): BudgetAlerting {
  const { budgets, webhook } = settings;
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
        log.info('budget alerts on', { budgets: budgets.length, webhook: webhook !== undefined, signed: Boolean(webhook?.secret) });
        return started;
      },
      (error: unknown) => {
        log.error('budget alerts cannot start', { error: (error as Error).message });
        return undefined;
      },
    );
  });
  if (!webhook) log.warn('budget alerts without a webhook (--alert-webhook, GENAI_LEDGER_ALERT_WEBHOOK): crossings are only logged');
  return {
    stats: () => running?.stats,
    async close() {
      closed = true;
      await (await alerts)?.close();
    },
  };
}

/** `diag` as an AlertingLog, for the alerts an app's exporter runs. */
export const diagAlertingLog: AlertingLog = {
  info: (msg, fields) => diag.info(line(msg, fields)),
  warn: (msg, fields) => diag.warn(line(msg, fields)),
  error: (msg, fields) => diag.error(line(msg, fields)),
};

function line(msg: string, fields: Record<string, unknown> | undefined): string {
  return `genai-ledger: ${msg}${fields ? ` ${JSON.stringify(fields)}` : ''}`;
}

function variable(env: NodeJS.ProcessEnv, name: string): string | undefined {
  return env[name]?.trim() || undefined;
}
