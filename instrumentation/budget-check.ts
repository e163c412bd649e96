/**
 * Limits an app can enforce: `checkBudget(ctx)` answers at once from an in-memory snapshot of
 * budget spend that `startBudgetChecks()` keeps refreshed in the background; `enforceBudget(ctx)`
 * throws a BudgetExceededError when the answer is "not allowed". Attribution not given falls back
 * to the active `withUsageContext`.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import { createStoreClient, parseStore, resolveStoreOption, storeDatabase } from '../clickhouse/store.js';
import { BudgetSnapshot, type BudgetCheck, type BudgetSnapshotOptions } from '../delivery/budgets/snapshot.js';
import { loadBudgetsFile, type BudgetSubject } from '../pricing/budgets/index.js';
import { getUsageContext } from './usage-context.js';

export type { BudgetCheck } from '../delivery/budgets/snapshot.js';

/** Who a call is for: any of these narrows which budgets apply. */
export interface BudgetCheckContext {
  orgId?: string;
  userId?: string;
  feature?: string;
  serviceName?: string;
  environment?: string;
  provider?: string;
  model?: string;
}

export interface BudgetChecksOptions extends Pick<BudgetSnapshotOptions, 'refreshMs' | 'staleAfterMs' | 'failOpen'> {
  /** A client to read spend through (e.g. the one your app already holds; an embedded store opens in one place only). */
  client?: ClickHouseClient;
  database?: string;
  /** Else a store to open: ClickHouse URL or embedded directory. Default GENAI_LEDGER_STORE, CLICKHOUSE_URL, ./.genai-ledger. */
  store?: string;
  /** A budgets file; default GENAI_LEDGER_BUDGETS, else the budgets the collector put in force (the store's table). */
  budgets?: string;
}

export interface BudgetChecks {
  check(ctx?: BudgetCheckContext): BudgetCheck;
  /** Stops refreshing (and closes the store it opened). */
  stop(): Promise<void>;
}

export class BudgetExceededError extends Error {
  override readonly name = 'BudgetExceededError';
  constructor(readonly check: BudgetCheck) {
    super(check.stale
      ? `genai-ledger: budget check failed closed: ${check.reason}`
      : `genai-ledger: budget '${check.budget}' exceeded: spent ${check.spent_usd} of ${check.limit_usd} USD`);
  }
}

const NOT_STARTED: BudgetCheck = Object.freeze({
  allowed: true, state: 'unknown', budget: undefined, spent_usd: undefined, limit_usd: undefined, remaining_usd: undefined,
  stale: true, reason: 'budget checks not started (call startBudgetChecks())',
});

let active: BudgetChecks | undefined;

/** Reads spend now (resolves once read), then every `refreshMs`; `checkBudget` answers from it. */
export async function startBudgetChecks(options: BudgetChecksOptions = {}): Promise<BudgetChecks> {
  let client = options.client;
  let database = options.database ?? 'genai_ledger';
  const owned = client === undefined;
  if (!client) {
    const store = parseStore(options.store ?? resolveStoreOption());
    database = storeDatabase(store);
    client = await createStoreClient(store);
  }
  const file = options.budgets ?? (process.env.GENAI_LEDGER_BUDGETS?.trim() || undefined);
  const snapshot = new BudgetSnapshot({
    client, database,
    ...(file !== undefined ? { budgets: loadBudgetsFile(file) } : {}),
    ...(options.refreshMs !== undefined ? { refreshMs: options.refreshMs } : {}),
    ...(options.staleAfterMs !== undefined ? { staleAfterMs: options.staleAfterMs } : {}),
    ...(options.failOpen !== undefined ? { failOpen: options.failOpen } : {}),
  });
  await snapshot.start();
  const checks: BudgetChecks = {
    check: (ctx) => snapshot.check(subjectOf(ctx)),
    async stop() {
      if (active === checks) active = undefined;
      await snapshot.close();
      if (owned) await client.close();
    },
  };
  active = checks;
  return checks;
}

/** The tightest matching budget's answer; never waits on the store. Fails open with `stale` before startBudgetChecks(). */
export function checkBudget(ctx?: BudgetCheckContext): BudgetCheck {
  return active ? active.check(ctx) : NOT_STARTED;
}

/** checkBudget, throwing BudgetExceededError when not allowed. */
export function enforceBudget(ctx?: BudgetCheckContext): BudgetCheck {
  const check = checkBudget(ctx);
  if (!check.allowed) throw new BudgetExceededError(check);
  return check;
}

function subjectOf(ctx: BudgetCheckContext = {}): BudgetSubject {
  const usage = getUsageContext();
  const subject: BudgetSubject = {};
  const orgId = ctx.orgId ?? usage?.orgId;
  const userId = ctx.userId ?? usage?.userId;
  const feature = ctx.feature ?? usage?.feature;
  if (orgId !== undefined) subject.org_id = orgId;
  if (userId !== undefined) subject.user_id = userId;
  if (feature !== undefined) subject.feature = feature;
  if (ctx.serviceName !== undefined) subject.service_name = ctx.serviceName;
  if (ctx.environment !== undefined) subject.environment = ctx.environment;
  if (ctx.provider !== undefined) subject.provider = ctx.provider;
  if (ctx.model !== undefined) subject.model = ctx.model;
  return subject;
}
