/**
 * Budgets as data: the budgets file (JSON or YAML) parsed and validated into {@link Budget}s.
 * Pure but for reading the file. Every refusal is one line naming the budget and the field.
 */
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { cmpDec, decFromNumber, formatDec, parseDecimal, ZERO, type Dec } from '../decimal.js';

/** Row fields a budget can match on or split by (`model` is the requested model). */
export const BUDGET_FIELDS = ['org_id', 'user_id', 'feature', 'service_name', 'environment', 'provider', 'model'] as const;
export type BudgetField = (typeof BUDGET_FIELDS)[number];

export const BUDGET_PERIODS = ['day', 'week', 'month'] as const;
export type BudgetPeriod = (typeof BUDGET_PERIODS)[number];

/** Fractions of the limit that alert when `alert_at` is not given. */
export const DEFAULT_ALERT_AT: readonly string[] = ['0.8', '1'];

export interface Budget {
  name: string;
  /** Field → value every matching row has; empty = every row. */
  match: Partial<Record<BudgetField, string>>;
  /** One budget per distinct value of this field. */
  per: BudgetField | undefined;
  period: BudgetPeriod;
  limitUsd: Dec;
  /** Ascending, distinct, each > 0. */
  alertAt: Dec[];
  /** A hard limit: checks answer "not allowed" once spent >= limit. */
  enforce: boolean;
}

export class BudgetConfigError extends Error {
  override readonly name = 'BudgetConfigError';
}

const BUDGET_KEYS: ReadonlySet<string> = new Set(['name', 'match', 'per', 'period', 'limit_usd', 'alert_at', 'enforce']);
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;

/** Reads a budgets file (`.json` as JSON, anything else as YAML) and validates it. */
export function loadBudgetsFile(path: string): Budget[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new BudgetConfigError(`${path}: cannot read the budgets file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  const json = extname(path).toLowerCase() === '.json';
  let doc: unknown;
  try {
    doc = json ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new BudgetConfigError(`${path}: not valid ${json ? 'JSON' : 'YAML'}: ${(err as Error).message.split('\n')[0]}`);
  }
  return parseBudgets(doc, path);
}

/** Validates a parsed budgets document (`{ budgets: [...] }`). `label` starts every error message. */
export function parseBudgets(doc: unknown, label = 'budgets'): Budget[] {
  if (!isRecord(doc) || !Array.isArray(doc.budgets)) throw new BudgetConfigError(`${label}: expected a mapping with a "budgets" list`);
  const extra = Object.keys(doc).find((key) => key !== 'budgets');
  if (extra !== undefined) throw new BudgetConfigError(`${label}: unknown top-level key "${extra}" (expected "budgets")`);
  const names = new Set<string>();
  return doc.budgets.map((entry: unknown, i: number) => {
    const name = isRecord(entry) && typeof entry.name === 'string' ? entry.name : undefined;
    const fail = (field: string, message: string): never => {
      throw new BudgetConfigError(`${label}: budget ${name === undefined ? `#${i + 1}` : `'${name}'`}: ${field}: ${message}`);
    };
    if (!isRecord(entry)) return fail('entry', 'must be a mapping');
    const budget = parseBudget(entry, fail);
    if (names.has(budget.name)) fail('name', 'given to two budgets');
    names.add(budget.name);
    return budget;
  });
}

type Fail = (field: string, message: string) => never;

function parseBudget(entry: Record<string, unknown>, fail: Fail): Budget {
  const unknown = Object.keys(entry).find((key) => !BUDGET_KEYS.has(key));
  if (unknown !== undefined) fail(unknown, `unknown field (known: ${[...BUDGET_KEYS].join(', ')})`);
  const name = entry.name;
  if (typeof name !== 'string' || !NAME_RE.test(name)) fail('name', `letters, digits and _ . : - (at most 128), got ${show(name)}`);
  const period = entry.period;
  if (!BUDGET_PERIODS.includes(period as BudgetPeriod)) fail('period', `one of ${BUDGET_PERIODS.join(', ')}, got ${show(period)}`);
  const per = entry.per;
  if (per !== undefined && !isField(per)) fail('per', `one of ${BUDGET_FIELDS.join(', ')}, got ${show(per)}`);
  const limitUsd = positiveDecimal(entry.limit_usd, 'limit_usd', fail, true);
  const alertAt = entry.alert_at === undefined
    ? DEFAULT_ALERT_AT.map(parseDecimal)
    : Array.isArray(entry.alert_at) && entry.alert_at.length > 0
      ? entry.alert_at.map((f, j) => positiveDecimal(f, `alert_at[${j}]`, fail, false))
      : fail('alert_at', `a non-empty list of fractions of the limit, got ${show(entry.alert_at)}`);
  alertAt.sort(cmpDec);
  if (alertAt.some((f, j) => j > 0 && cmpDec(f, alertAt[j - 1]!) === 0)) fail('alert_at', 'a fraction is given twice');
  if (entry.enforce !== undefined && typeof entry.enforce !== 'boolean') fail('enforce', `true or false, got ${show(entry.enforce)}`);
  return {
    name: name as string,
    match: parseMatch(entry.match, fail),
    per: per as BudgetField | undefined,
    period: period as BudgetPeriod,
    limitUsd,
    alertAt,
    enforce: entry.enforce === true,
  };
}

function parseMatch(value: unknown, fail: Fail): Budget['match'] {
  if (value === undefined) return {};
  if (!isRecord(value)) return fail('match', `a mapping of field to value, got ${show(value)}`);
  const match: Budget['match'] = {};
  for (const [field, v] of Object.entries(value)) {
    if (!isField(field)) fail(`match.${field}`, `unknown field (known: ${BUDGET_FIELDS.join(', ')})`);
    if (typeof v !== 'string' || v === '') fail(`match.${field}`, `a non-empty string, got ${show(v)}`);
    match[field as BudgetField] = v as string;
  }
  return match;
}

/** Money as a decimal string only (a YAML float would already be rounded); fractions may be numbers. */
function positiveDecimal(value: unknown, field: string, fail: Fail, stringOnly: boolean): Dec {
  let dec: Dec | undefined;
  try {
    if (typeof value === 'string') dec = parseDecimal(value);
    else if (typeof value === 'number' && !stringOnly) dec = decFromNumber(value);
  } catch {
    dec = undefined;
  }
  if (dec === undefined || cmpDec(dec, ZERO) <= 0) {
    return fail(field, `a positive ${stringOnly ? 'decimal string such as "500"' : 'number'}, got ${show(value)}`);
  }
  return dec;
}

function isField(value: unknown): value is BudgetField {
  return BUDGET_FIELDS.includes(value as BudgetField);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function show(value: unknown): string {
  return value === undefined ? 'nothing' : (JSON.stringify(value) ?? String(value));
}

/** The fractions as decimal text (storage, alert ids). */
export function alertAtText(budget: Budget): string[] {
  return budget.alertAt.map(formatDec);
}
