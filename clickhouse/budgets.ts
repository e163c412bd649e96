/**
 * Budgets in the store: the `budgets` table synced from a budgets file, read back, and each
 * budget's spend over its current period from `ai_usage_exact` (exact under duplicate delivery).
 * Field names come from a fixed list; every value travels as a query parameter.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import { formatDec, parseDecimal, type Dec } from '../pricing/decimal.js';
import {
  alertAtText, budgetFigures, parseBudgets, periodBounds, type Budget, type BudgetField, type BudgetState, type PeriodBounds,
} from '../pricing/budgets/index.js';
import { clientRunner, type QueryRunner } from './query-runner.js';

/** The ai_usage column of each budget field. */
/** The ledger column each budget field matches (`model` is the requested model). */
export const FIELD_COLUMN: Readonly<Record<BudgetField, string>> = {
  org_id: 'org_id', user_id: 'user_id', feature: 'feature', service_name: 'service_name',
  environment: 'environment', provider: 'provider', model: 'request_model',
};

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

function checkDatabase(database: string): void {
  if (!IDENTIFIER.test(database)) throw new Error(`invalid database name '${database}'`);
}

interface BudgetRow {
  name: string;
  match: Record<string, string>;
  per: string;
  period: string;
  limit_usd: string;
  alert_at: string[];
  enforce: number;
  is_deleted?: number;
}

/** Makes the `budgets` table hold exactly `budgets`: each written anew, the others tombstoned. */
export async function syncBudgets(client: ClickHouseClient, database: string, budgets: readonly Budget[]): Promise<void> {
  checkDatabase(database);
  const current = await clientRunner(client).query<BudgetRow>(budgetsSql(database));
  const names = new Set(budgets.map((b) => b.name));
  const rows: BudgetRow[] = budgets.map((b) => ({
    name: b.name, match: b.match as Record<string, string>, per: b.per ?? '', period: b.period,
    limit_usd: formatDec(b.limitUsd), alert_at: alertAtText(b), enforce: b.enforce ? 1 : 0,
  }));
  for (const row of current) if (!names.has(row.name)) rows.push({ ...row, is_deleted: 1 });
  if (rows.length > 0) await client.insert({ table: `${database}.budgets`, values: rows, format: 'JSONEachRow' });
}

function budgetsSql(database: string): string {
  return `SELECT name, match, per, period, toString(limit_usd) AS limit_usd, arrayMap(x -> toString(x), alert_at) AS alert_at, enforce FROM ${database}.budgets FINAL ORDER BY name`;
}

/** The budgets in force (the `budgets` table), validated as a file would be. */
export async function readBudgets(runner: QueryRunner, database: string): Promise<Budget[]> {
  checkDatabase(database);
  const rows = await runner.query<BudgetRow>(budgetsSql(database));
  return parseBudgets({
    budgets: rows.map((r) => ({
      name: r.name, match: r.match, period: r.period, limit_usd: r.limit_usd, alert_at: r.alert_at, enforce: Number(r.enforce) === 1,
      ...(r.per !== '' ? { per: r.per } : {}),
    })),
  }, `${database}.budgets`);
}

/** One budget's spend in one period: for a `per` budget, one per value that has spend. */
export interface BudgetSpend {
  budget: Budget;
  /** The `per` field's value; '' for a budget without `per`. */
  key: string;
  period: PeriodBounds;
  spent: Dec;
}

/**
 * Each budget's spend over its period holding `atMs`, from the exact view. A budget without
 * `per` always has an entry (0 when nothing matched); a `per` budget one per value with rows.
 */
export async function budgetSpend(runner: QueryRunner, database: string, budgets: readonly Budget[], atMs: number): Promise<BudgetSpend[]> {
  checkDatabase(database);
  const out: BudgetSpend[] = [];
  for (const budget of budgets) {
    const period = periodBounds(budget.period, atMs);
    const { sql, params } = spendQuery(database, budget, period);
    const rows = await runner.query<{ key: string; spent: string }>(sql, params);
    if (budget.per === undefined && rows.length === 0) out.push({ budget, key: '', period, spent: parseDecimal('0') });
    for (const row of rows) out.push({ budget, key: row.key, period, spent: parseDecimal(String(row.spent)) });
  }
  return out;
}

export function spendQuery(database: string, budget: Budget, period: PeriodBounds): { sql: string; params: Record<string, unknown> } {
  const params: Record<string, unknown> = { from: period.startMs, to: period.endMs };
  const where = ['ts >= fromUnixTimestamp64Milli({from:Int64})', 'ts < fromUnixTimestamp64Milli({to:Int64})'];
  for (const [field, value] of Object.entries(budget.match) as Array<[BudgetField, string]>) {
    where.push(`${FIELD_COLUMN[field]} = {m_${field}:String}`);
    params[`m_${field}`] = value;
  }
  const key = budget.per === undefined ? "''" : FIELD_COLUMN[budget.per];
  if (budget.per !== undefined) where.push(`${key} != ''`);
  return {
    sql: [
      `SELECT ${key} AS key, toString(sumOrDefault(cost_usd)) AS spent`,
      `FROM ${database}.ai_usage_exact`,
      `WHERE ${where.join(' AND ')}`,
      'GROUP BY key',
      'ORDER BY key',
    ].join('\n'),
    params,
  };
}

/** One line of `genai-ledger budgets`: where a budget (a `per` budget: one value of it) stands. */
// A type, not an interface: rows render as tables (Record<string, unknown>).
export type BudgetStatusRow = {
  name: string;
  /** The budget's match, plus the `per` field's value for a `per` budget. */
  match: Record<string, string>;
  period_start: string;
  period_end: string;
  spent_usd: string;
  limit_usd: string;
  /** spent ÷ limit, exact decimal text. */
  used: string;
  forecast_usd: string;
  state: BudgetState;
};

export function budgetStatusRows(spend: readonly BudgetSpend[], atMs: number): BudgetStatusRow[] {
  return spend.map(({ budget, key, period, spent }) => {
    const f = budgetFigures(budget, spent, period, atMs);
    return {
      name: budget.name,
      match: matchedValues({ budget, key }),
      period_start: new Date(period.startMs).toISOString(),
      period_end: new Date(period.endMs).toISOString(),
      spent_usd: formatDec(spent),
      limit_usd: formatDec(budget.limitUsd),
      used: formatDec(f.used),
      forecast_usd: formatDec(f.forecast),
      state: f.state,
    };
  });
}

/** The budget's match, plus the `per` field's value for a `per` budget. */
export function matchedValues({ budget, key }: Pick<BudgetSpend, 'budget' | 'key'>): Record<string, string> {
  return { ...budget.match, ...(budget.per !== undefined ? { [budget.per]: key } : {}) } as Record<string, string>;
}
