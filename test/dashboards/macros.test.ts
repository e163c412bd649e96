/**
 * The macro expander reproduces the plugin: these are the plugin's own documented expansions
 * (pkg/macros/macros.go, CHDatasource.applyConditionalAll/format) and Grafana's variable formats,
 * checked one by one, so that the dashboard tests run exactly the SQL Grafana would send.
 */
import { describe, expect, test } from 'vitest';
import { applyConditionalAll, applyMacros, expandQuery, panelIntervalMs, replaceVariables, roundInterval, type ExpandContext } from './macros.js';

const ctx: ExpandContext = {
  from: new Date('2026-11-01T00:00:00Z'), // 1793491200
  to: new Date('2026-11-07T23:59:59.999Z'), // 1794095999
  intervalMs: 3_600_000,
  variables: {
    org: { value: ['acme', "o'brien"], options: ['acme', 'globex', "o'brien"] },
    model: { value: ['$__all'], options: ['gpt-4o', 'claude'] },
    env: { value: 'prod' },
    empty: { value: '' },
    single: { value: ['only'] },
    custom: { value: '$__all', allValue: '.*' },
  },
};

describe('backend macros (sqlds + pkg/macros)', () => {
  test('time filters and bounds', () => {
    expect(applyMacros('WHERE $__timeFilter(ts)', ctx)).toBe('WHERE ts >= toDateTime(1793491200) AND ts <= toDateTime(1794095999)');
    expect(applyMacros('WHERE $__timeFilter_ms(ts)', ctx)).toBe('WHERE ts >= fromUnixTimestamp64Milli(1793491200000) AND ts <= fromUnixTimestamp64Milli(1794095999999)');
    expect(applyMacros('WHERE $__dateFilter(day)', ctx)).toBe("WHERE day >= toDate('2026-11-01') AND day <= toDate('2026-11-07')");
    expect(applyMacros('$__dateTimeFilter(day, ts)', ctx)).toBe("(day >= toDate('2026-11-01') AND day <= toDate('2026-11-07')) AND (ts >= toDateTime(1793491200) AND ts <= toDateTime(1794095999))");
    expect(applyMacros('$__fromTime, $__toTime', ctx)).toBe('toDateTime(1793491200), toDateTime(1794095999)');
    expect(applyMacros('$__fromTime_ms, $__toTime_ms', ctx)).toBe('fromUnixTimestamp64Milli(1793491200000), fromUnixTimestamp64Milli(1794095999999)');
    // sqlds replaces the literal match everywhere, in map order: $__fromTime could eat the head of $__fromTime_ms
    expect(() => applyMacros('$__fromTime, $__fromTime_ms', ctx)).toThrow(/sqlds may rewrite/);
  });

  test('intervals', () => {
    expect(applyMacros('$__timeInterval(hour)', ctx)).toBe('toStartOfInterval(toDateTime(hour), INTERVAL 3600 second)');
    expect(applyMacros('$__timeInterval_ms(ts)', ctx)).toBe('toStartOfInterval(toDateTime64(ts, 3), INTERVAL 3600000 millisecond)');
    expect(applyMacros('$__interval_s', ctx)).toBe('3600');
    expect(applyMacros('$__interval_s', { ...ctx, intervalMs: 10 })).toBe('1'); // at least a second
  });

  test('a macro argument with parentheses is refused (sqlds cuts it at the first ")")', () => {
    expect(() => applyMacros('$__timeFilter(toDateTime(ts))', ctx)).toThrow(/parentheses/);
  });

  test('unknown macros are left for ClickHouse to reject; the expander reports them', () => {
    expect(() => applyMacros('$__unknown(x)', ctx)).toThrow(/unexpanded macro/);
  });
});

describe('$__conditionalAll (frontend)', () => {
  test('All or empty → 1=1; a selection keeps the condition', () => {
    expect(applyConditionalAll('WHERE $__conditionalAll(m IN (${model:singlequote}), $model)', ctx.variables)).toBe('WHERE 1=1');
    expect(applyConditionalAll('WHERE $__conditionalAll(x = 1, $empty)', ctx.variables)).toBe('WHERE 1=1');
    expect(applyConditionalAll('WHERE $__conditionalAll(o IN (${org:singlequote}), $org)', ctx.variables)).toBe('WHERE o IN (${org:singlequote})');
    expect(applyConditionalAll('WHERE $__conditionalAll(o IN (${org:singlequote}), ${org})', ctx.variables)).toBe('WHERE o IN (${org:singlequote})');
  });

  test('nested brackets and several macros, last first', () => {
    const sql = 'WHERE $__conditionalAll(f(a, b) IN (${org:singlequote}), $org) AND $__conditionalAll(m IN (${model:singlequote}), $model)';
    expect(applyConditionalAll(sql, ctx.variables)).toBe('WHERE f(a, b) IN (${org:singlequote}) AND 1=1');
  });
});

describe('template variables (frontend)', () => {
  test("the plugin's own format: multi-value '…','…' (unescaped), single value raw", () => {
    expect(replaceVariables('IN ($org)', ctx.variables)).toBe("IN ('acme','o'brien')");
    expect(replaceVariables("= '$env'", ctx.variables)).toBe("= 'prod'");
    expect(replaceVariables('IN (${single})', ctx.variables)).toBe("IN ('only')");
    expect(replaceVariables('IN ([[org]])', ctx.variables)).toBe("IN ('acme','o'brien')");
  });

  test("Grafana formats: singlequote escapes quotes, sqlstring doubles them, csv, pipe, raw", () => {
    expect(replaceVariables('${org:singlequote}', ctx.variables)).toBe("'acme','o\\'brien'");
    expect(replaceVariables('${org:sqlstring}', ctx.variables)).toBe("'acme','o''brien'");
    expect(replaceVariables('${org:csv}', ctx.variables)).toBe("acme,o'brien");
    expect(replaceVariables('${org:pipe}', ctx.variables)).toBe("acme|o'brien");
    expect(replaceVariables('${env:singlequote}', ctx.variables)).toBe("'prod'");
  });

  test('All expands to every option (or a custom All value, raw); unknown names stay', () => {
    expect(replaceVariables('${model:singlequote}', ctx.variables)).toBe("'gpt-4o','claude'");
    expect(replaceVariables('$custom', ctx.variables)).toBe('.*');
    expect(replaceVariables('$__timeFilter(ts) $nope', ctx.variables)).toBe('$__timeFilter(ts) $nope');
  });
});

test('the whole pipeline, in the plugin order', () => {
  const sql = 'SELECT $__timeInterval(hour) AS t FROM x WHERE $__timeFilter(hour) AND $__conditionalAll(org_id IN (${org:singlequote}), $org) AND $__conditionalAll(m IN (${model:singlequote}), $model)';
  expect(expandQuery(sql, ctx)).toBe(
    "SELECT toStartOfInterval(toDateTime(hour), INTERVAL 3600 second) AS t FROM x WHERE hour >= toDateTime(1793491200) AND hour <= toDateTime(1794095999) AND org_id IN ('acme','o\\'brien') AND 1=1",
  );
  expect(() => expandQuery('SELECT $undefined_var', ctx)).toThrow(/unresolved variable/);
});

test("Grafana's interval: range ÷ max data points, rounded, at least the panel's min interval", () => {
  expect(roundInterval(1_209_600)).toBe(1_200_000); // 7 days ÷ 500 points → 20 min
  expect(panelIntervalMs(ctx.from, ctx.to, 500)).toBe(1_200_000);
  expect(panelIntervalMs(ctx.from, ctx.to, 500, '1h')).toBe(3_600_000);
  expect(panelIntervalMs(ctx.from, new Date(ctx.from.getTime() + 30 * 86_400_000), 500)).toBe(3_600_000);
  expect(panelIntervalMs(ctx.from, new Date(ctx.from.getTime() + 90 * 86_400_000), 100)).toBe(43_200_000); // 21.6 h → 12 h
});
