/**
 * What `checkBudget` answers from: each budget's spend in its current period, read from the store
 * in the background every `refreshMs`, with every possible answer built at refresh time so a
 * check on the app's thread is a few comparisons and no allocation. A snapshot older than
 * `staleAfterMs` (or none yet) answers by `failOpen`, and says so.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import { diag } from '@opentelemetry/api';
import { budgetSpend, readBudgets } from '../../clickhouse/budgets.js';
import { clientRunner } from '../../clickhouse/query-runner.js';
import { formatDec, pow10, subDec, ZERO, type Dec } from '../../pricing/decimal.js';
import { budgetKeyOf, budgetState, periodBounds, type Budget, type BudgetState, type BudgetSubject } from '../../pricing/budgets/index.js';

export const DEFAULT_BUDGET_REFRESH_MS = 5_000;
export const DEFAULT_BUDGET_STALE_AFTER_MS = 30_000;

export interface BudgetCheck {
  /** False when an enforced budget is at or over its limit (or a stale snapshot fails closed). */
  readonly allowed: boolean;
  /** The budget's state; 'unknown' when the snapshot is stale. */
  readonly state: BudgetState | 'unknown';
  /** The budget answering (the tightest that matches: an exceeded enforced one first, else the least remaining); undefined when none matches. */
  readonly budget: string | undefined;
  readonly spent_usd: string | undefined;
  readonly limit_usd: string | undefined;
  readonly remaining_usd: string | undefined;
  /** True when the answer comes from `failOpen`, not from spend. */
  readonly stale: boolean;
  readonly reason: string | undefined;
}

export interface BudgetSnapshotOptions {
  client: ClickHouseClient;
  database: string;
  /** The budgets to check; default the store's `budgets` table (what the collector put in force), re-read at each refresh. */
  budgets?: readonly Budget[];
  refreshMs?: number;
  staleAfterMs?: number;
  /** When the snapshot is stale: allow (default) or refuse. */
  failOpen?: boolean;
  now?: () => number;
}

/** One budget's answers in the current snapshot. */
interface BudgetAnswers {
  key: (subject: BudgetSubject) => string | undefined;
  byKey: Map<string, Answer>;
  /** The answer for a key without spend. */
  zero: Answer;
  /** Answers are valid until the period ends (then spend restarts at 0). */
  periodEndMs: number;
}

interface Answer {
  check: BudgetCheck;
  /** remaining × 10^64 (limits and sums have far fewer places), for comparing budgets without decimals. */
  remaining: bigint;
}

const NO_BUDGET: BudgetCheck = Object.freeze({
  allowed: true, state: 'ok', budget: undefined, spent_usd: undefined, limit_usd: undefined, remaining_usd: undefined, stale: false, reason: undefined,
});

function staleCheck(allowed: boolean, reason: string): BudgetCheck {
  return Object.freeze({ allowed, state: 'unknown', budget: undefined, spent_usd: undefined, limit_usd: undefined, remaining_usd: undefined, stale: true, reason });
}

export class BudgetSnapshot {
  readonly #o: BudgetSnapshotOptions;
  readonly #now: () => number;
  readonly #staleAfterMs: number;
  readonly #stale: BudgetCheck;
  #answers: BudgetAnswers[] = [];
  #refreshedAtMs = -Infinity;
  #timer: NodeJS.Timeout | undefined;
  #refreshing: Promise<void> = Promise.resolve();

  constructor(options: BudgetSnapshotOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
    this.#staleAfterMs = options.staleAfterMs ?? DEFAULT_BUDGET_STALE_AFTER_MS;
    const failOpen = options.failOpen ?? true;
    this.#stale = staleCheck(failOpen, `budget spend not read from the store within ${this.#staleAfterMs} ms: failing ${failOpen ? 'open' : 'closed'}`);
  }

  /** Starts refreshing in the background (the first read at once); resolves after the first read. */
  start(): Promise<void> {
    this.#timer = setInterval(() => void this.refresh(), this.#o.refreshMs ?? DEFAULT_BUDGET_REFRESH_MS);
    this.#timer.unref();
    return this.refresh();
  }

  /** Re-reads spend; never rejects (a failure leaves the snapshot to grow stale). */
  refresh(): Promise<void> {
    this.#refreshing = this.#refreshing.then(async () => {
      try {
        const runner = clientRunner(this.#o.client);
        const budgets = this.#o.budgets ?? await readBudgets(runner, this.#o.database);
        const at = this.#now();
        const spend = await budgetSpend(runner, this.#o.database, budgets, at);
        this.#answers = budgets.map((budget) => ({
          key: budgetKeyOf(budget),
          byKey: new Map(spend.filter((s) => s.budget === budget).map((s) => [s.key, answer(budget, s.spent)])),
          zero: answer(budget, ZERO),
          periodEndMs: periodBounds(budget.period, at).endMs,
        }));
        this.#refreshedAtMs = at;
      } catch (error) {
        diag.warn(`genai-ledger: budget checks: cannot read spend: ${(error as Error).message}`);
      }
    });
    return this.#refreshing;
  }

  /** The answer for a call attributed as `subject`, from the snapshot; never waits. */
  check(subject: BudgetSubject): BudgetCheck {
    const now = this.#now();
    if (now - this.#refreshedAtMs > this.#staleAfterMs) return this.#stale;
    let best: Answer | undefined;
    for (const a of this.#answers) {
      const key = a.key(subject);
      if (key === undefined) continue;
      const answer = now >= a.periodEndMs ? a.zero : (a.byKey.get(key) ?? a.zero);
      if (!answer.check.allowed) return answer.check;
      if (best === undefined || answer.remaining < best.remaining) best = answer;
    }
    return best === undefined ? NO_BUDGET : best.check;
  }

  async close(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    await this.#refreshing;
  }
}

function answer(budget: Budget, spent: Dec): Answer {
  const state = budgetState(budget, spent);
  const remaining = subDec(budget.limitUsd, spent);
  return {
    check: Object.freeze({
      allowed: !(budget.enforce && state === 'exceeded'), state, budget: budget.name, spent_usd: formatDec(spent),
      limit_usd: formatDec(budget.limitUsd), remaining_usd: formatDec(remaining), stale: false, reason: undefined,
    }),
    remaining: remaining.n * pow10(64 - remaining.s),
  };
}
