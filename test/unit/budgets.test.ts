import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatDec, parseDecimal } from '../../pricing/decimal.js';
import {
  budgetFigures, budgetKey, BudgetConfigError, loadBudgetsFile, parseBudgets, periodBounds, reachedThresholds, type Budget,
} from '../../pricing/budgets/index.js';

const iso = (ms: number): string => new Date(ms).toISOString();

function budget(fields: Record<string, unknown>): Budget {
  return parseBudgets({ budgets: [{ name: 'b', period: 'month', limit_usd: '500', ...fields }] })[0]!;
}

describe('periodBounds: calendar periods in UTC', () => {
  it.each([
    // 2026-03-01 is a Sunday: its week started Monday 2026-02-23.
    ['day', '2026-03-01T23:59:59.999Z', '2026-03-01T00:00:00.000Z', '2026-03-02T00:00:00.000Z'],
    ['day', '2026-03-02T00:00:00.000Z', '2026-03-02T00:00:00.000Z', '2026-03-03T00:00:00.000Z'],
    ['week', '2026-03-01T23:59:59.999Z', '2026-02-23T00:00:00.000Z', '2026-03-02T00:00:00.000Z'],
    ['week', '2026-03-02T00:00:00.000Z', '2026-03-02T00:00:00.000Z', '2026-03-09T00:00:00.000Z'],
    ['week', '2026-12-31T12:00:00.000Z', '2026-12-28T00:00:00.000Z', '2027-01-04T00:00:00.000Z'],
    ['month', '2026-02-28T23:59:59.999Z', '2026-02-01T00:00:00.000Z', '2026-03-01T00:00:00.000Z'],
    ['month', '2026-03-01T00:00:00.000Z', '2026-03-01T00:00:00.000Z', '2026-04-01T00:00:00.000Z'],
    ['month', '2026-12-15T08:00:00.000Z', '2026-12-01T00:00:00.000Z', '2027-01-01T00:00:00.000Z'],
    ['month', '2028-02-29T10:00:00.000Z', '2028-02-01T00:00:00.000Z', '2028-03-01T00:00:00.000Z'],
  ] as const)('%s at %s → [%s, %s)', (period, at, start, end) => {
    const bounds = periodBounds(period, Date.parse(at));
    expect([iso(bounds.startMs), iso(bounds.endMs)]).toEqual([start, end]);
  });
});

describe('parseBudgets', () => {
  it('reads the issue\'s example with defaults', () => {
    const [monthly, daily] = parseBudgets({
      budgets: [
        { name: 'acme-monthly', match: { org_id: 'acme' }, period: 'month', limit_usd: '500', alert_at: [1.0, 0.5, 0.8], enforce: true },
        { name: 'per-user-daily', match: { org_id: 'acme' }, per: 'user_id', period: 'day', limit_usd: '5' },
      ],
    });
    expect(monthly).toMatchObject({ name: 'acme-monthly', match: { org_id: 'acme' }, period: 'month', enforce: true, per: undefined });
    expect(monthly!.alertAt.map(formatDec)).toEqual(['0.5', '0.8', '1']);
    expect(formatDec(monthly!.limitUsd)).toBe('500');
    expect(daily).toMatchObject({ per: 'user_id', enforce: false });
    expect(daily!.alertAt.map(formatDec)).toEqual(['0.8', '1']);
  });

  it.each([
    [{}, 'budgets: expected a mapping with a "budgets" list'],
    [{ budgets: [], extra: 1 }, 'budgets: unknown top-level key "extra" (expected "budgets")'],
    [{ budgets: [{ name: 'a', period: 'month', limit_usd: 500 }] }, "budgets: budget 'a': limit_usd: a positive decimal string such as \"500\", got 500"],
    [{ budgets: [{ name: 'a', period: 'month', limit_usd: '-1' }] }, "budgets: budget 'a': limit_usd: a positive decimal string such as \"500\", got \"-1\""],
    [{ budgets: [{ name: 'a', period: 'year', limit_usd: '1' }] }, "budgets: budget 'a': period: one of day, week, month, got \"year\""],
    [{ budgets: [{ name: 'a', period: 'day', limit_usd: '1', per: 'team' }] }, "budgets: budget 'a': per: one of org_id, user_id, feature, service_name, environment, provider, model, got \"team\""],
    [{ budgets: [{ name: 'a', period: 'day', limit_usd: '1', match: { org: 'x' } }] }, "budgets: budget 'a': match.org: unknown field (known: org_id, user_id, feature, service_name, environment, provider, model)"],
    [{ budgets: [{ name: 'a', period: 'day', limit_usd: '1', match: { org_id: 3 } }] }, "budgets: budget 'a': match.org_id: a non-empty string, got 3"],
    [{ budgets: [{ name: 'a', period: 'day', limit_usd: '1', alert_at: [] }] }, "budgets: budget 'a': alert_at: a non-empty list of fractions of the limit, got []"],
    [{ budgets: [{ name: 'a', period: 'day', limit_usd: '1', alert_at: [0.5, 0] }] }, "budgets: budget 'a': alert_at[1]: a positive number, got 0"],
    [{ budgets: [{ name: 'a', period: 'day', limit_usd: '1', alert_at: [0.5, '0.50'] }] }, "budgets: budget 'a': alert_at: a fraction is given twice"],
    [{ budgets: [{ name: 'a', period: 'day', limit_usd: '1', enforce: 'yes' }] }, "budgets: budget 'a': enforce: true or false, got \"yes\""],
    [{ budgets: [{ name: 'a', period: 'day', limit_usd: '1', limit: '2' }] }, "budgets: budget 'a': limit: unknown field (known: name, match, per, period, limit_usd, alert_at, enforce)"],
    [{ budgets: [{ period: 'day', limit_usd: '1' }] }, 'budgets: budget #1: name: letters, digits and _ . : - (at most 128), got nothing'],
    [{ budgets: [{ name: 'a', period: 'day', limit_usd: '1' }, { name: 'a', period: 'day', limit_usd: '2' }] }, "budgets: budget 'a': name: given to two budgets"],
    [{ budgets: ['a'] }, 'budgets: budget #1: entry: must be a mapping'],
  ])('refuses %j: %s', (doc, message) => {
    expect(() => parseBudgets(doc)).toThrow(new BudgetConfigError(message));
  });

  it('loads YAML and JSON files; a file with an error is refused in one line naming the budget and field', () => {
    const dir = mkdtempSync(join(tmpdir(), 'budgets-'));
    writeFileSync(join(dir, 'ok.yaml'), 'budgets:\n  - name: all\n    match: {}\n    period: week\n    limit_usd: "10.50"\n');
    writeFileSync(join(dir, 'ok.json'), JSON.stringify({ budgets: [{ name: 'all', period: 'week', limit_usd: '10.50' }] }));
    writeFileSync(join(dir, 'bad.yaml'), 'budgets:\n  - name: acme\n    period: month\n    limit_usd: 500\n');
    expect(loadBudgetsFile(join(dir, 'ok.yaml'))).toEqual(loadBudgetsFile(join(dir, 'ok.json')));
    expect(() => loadBudgetsFile(join(dir, 'bad.yaml'))).toThrow(`${join(dir, 'bad.yaml')}: budget 'acme': limit_usd: a positive decimal string such as "500", got 500`);
    expect(() => loadBudgetsFile(join(dir, 'missing.yaml'))).toThrow(/missing\.yaml: cannot read the budgets file \(ENOENT\)$/);
  });
});

describe('budgetKey: matching and per', () => {
  const acme = budget({ match: { org_id: 'acme' } });
  const perUser = budget({ match: { org_id: 'acme' }, per: 'user_id' });
  const all = budget({ match: {} });
  it.each([
    [acme, { org_id: 'acme', user_id: 'u1' }, ''],
    [acme, { org_id: 'globex' }, undefined],
    [acme, {}, undefined],
    [perUser, { org_id: 'acme', user_id: 'u1' }, 'u1'],
    [perUser, { org_id: 'acme' }, undefined],
    [perUser, { org_id: 'acme', user_id: '' }, undefined],
    [perUser, { org_id: 'globex', user_id: 'u1' }, undefined],
    [all, {}, ''],
  ])('%#', (b, subject, key) => {
    expect(budgetKey(b, subject)).toBe(key);
  });
});

describe('budgetFigures and thresholds', () => {
  // March 2026 has 31 days; at 2026-03-11T00:00Z, 10 of them have passed.
  const march = periodBounds('month', Date.parse('2026-03-11T00:00:00Z'));
  const at = Date.parse('2026-03-11T00:00:00Z');
  const b = budget({ alert_at: [0.5, 0.8, 1] });
  it.each([
    // spent, used = spent / 500, remaining = 500 - spent, forecast = spent × 31 / 10, state
    ['0', '0', '500', '0', 'ok'],
    ['249.99', '0.49998', '250.01', '774.969', 'ok'],
    ['250', '0.5', '250', '775', 'warning'],
    ['399.999999999999999999', '0.799999999999999999998', '100.000000000000000001', '1239.9999999999999999969', 'warning'],
    ['500', '1', '0', '1550', 'exceeded'],
    ['612.5', '1.225', '-112.5', '1898.75', 'exceeded'],
  ])('spent %s → used %s, remaining %s, forecast %s, %s', (spent, used, remaining, forecast, state) => {
    const f = budgetFigures(b, parseDecimal(spent), march, at);
    expect([formatDec(f.used), formatDec(f.remaining), formatDec(f.forecast), f.state]).toEqual([used, remaining, forecast, state]);
  });

  it('rounds a forecast that does not terminate half-even to 18 places', () => {
    // 1 × 31 days / 3 days = 10.333…
    const f = budgetFigures(b, parseDecimal('1'), march, Date.parse('2026-03-04T00:00:00Z'));
    expect(formatDec(f.forecast)).toBe('10.333333333333333333');
  });

  it('a forecast after the period ends is the spend', () => {
    expect(formatDec(budgetFigures(b, parseDecimal('3'), march, Date.parse('2026-04-05T00:00:00Z')).forecast)).toBe('3');
  });

  it.each([
    ['249.999999', []],
    ['250', ['0.5']],
    // One exact call can cross several thresholds: all reached, in order.
    ['400', ['0.5', '0.8']],
    ['500.000000000000000001', ['0.5', '0.8', '1']],
  ])('spent %s reaches %j', (spent, fractions) => {
    expect(reachedThresholds(b, parseDecimal(spent)).map(formatDec)).toEqual(fractions);
  });
});
