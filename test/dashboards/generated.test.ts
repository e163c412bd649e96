/**
 * The dashboards in code (grafana/src/) against the provisioned files: the committed JSON is
 * exactly what `npm run dashboards` writes, and the one function that chooses between the small
 * rollups, the fine rollup and the raw ledger derives each branch from the rollups' declaration
 * (clickhouse/rollups.ts).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { BY_MODEL, BY_ORG, BY_ORG_CONVERSATION, DAILY_BY_ORG, HOURLY_BY_TIME, LATENCY_DAILY, type Rollup } from '../../clickhouse/rollups.js';
import { dashboardsDir, renderDashboards } from '../../grafana/src/build.js';
import { FEATURE, FILTERS, ORG, PROVIDER, TENANT_FILTERS } from '../../grafana/src/query/filters.js';
import { LEDGER, rollupQuery } from '../../grafana/src/query/rollup-query.js';

describe('generated JSON', () => {
  const rendered = renderDashboards();

  test('the committed files are the generated ones, byte for byte (else run `npm run dashboards`)', () => {
    const committed = readdirSync(dashboardsDir()).filter((f) => f.endsWith('.json')).sort();
    expect(committed).toEqual(Object.keys(rendered).sort());
    for (const [file, text] of Object.entries(rendered)) {
      expect(readFileSync(join(dashboardsDir(), file), 'utf8'), `${file} differs from grafana/src: run npm run dashboards`).toBe(text);
    }
  });

  test('rendering twice gives the same bytes', () => {
    expect(renderDashboards()).toEqual(rendered);
  });
});

/** The SQL lines of a branch read, stripped of indentation. */
const lines = (sql: string): string[] => sql.split('\n').map((l) => l.trim());
const branches = (sql: string): string[] => sql.split('\nUNION ALL\n');

describe('rollupQuery: branches from the rollups declaration', () => {
  test.each([
    // small rollup, filters → the condition under which it is read (the filters on columns it lacks All)
    { small: BY_MODEL, filters: FILTERS, applies: '$__conditionalAll(0, $org) AND $__conditionalAll(0, $feature)', reads: 2 },
    { small: BY_ORG, filters: FILTERS, applies: '$__conditionalAll(0, $service) AND $__conditionalAll(0, $environment) AND $__conditionalAll(0, $provider) AND $__conditionalAll(0, $model) AND $__conditionalAll(0, $feature)', reads: 2 },
    { small: LATENCY_DAILY, filters: FILTERS, applies: '$__conditionalAll(0, $org) AND $__conditionalAll(0, $service) AND $__conditionalAll(0, $environment) AND $__conditionalAll(0, $feature)', reads: 3 },
    { small: BY_MODEL, filters: [ORG, PROVIDER], applies: '$__conditionalAll(0, $org)', reads: 2 },
  ])('$small.name with $filters.length filters: small branch(es) when $applies', ({ small, filters, applies, reads }) => {
    const sql = rollupQuery({ select: ['calls'], filters, small, fine: HOURLY_BY_TIME });
    const parts = branches(sql);
    expect(parts).toHaveLength(reads);
    for (const part of parts.slice(0, -1)) expect(lines(part)).toContain(`AND ${applies}`);
    const fine = lines(parts.at(-1)!);
    expect(fine).toContain(`FROM ${HOURLY_BY_TIME.name}_exact`);
    expect(fine).toContain(`AND NOT (${applies})`);
    // The fine branch applies every filter; a small one only those on its own columns.
    for (const f of filters) expect(fine.some((l) => l.includes(`(${f.column} IN (\${${f.variable}:singlequote})`)), f.variable).toBe(true);
    for (const f of filters.filter((x) => !small.dimensions.includes(x.column))) expect(parts[0]).not.toContain(`\${${f.variable}:singlequote}`);
  });

  test('a small rollup that can apply every filter is read alone', () => {
    const sql = rollupQuery({ select: ['org_id'], filters: [], small: DAILY_BY_ORG, fine: HOURLY_BY_TIME });
    expect(sql).not.toContain(HOURLY_BY_TIME.name);
    expect(sql).not.toContain('NOT (');
    // whole days from the daily rollup, the edge hours from the hourly one it folds
    expect(branches(sql).map((b) => lines(b).find((l) => l.startsWith('FROM')))).toEqual(['FROM ai_usage_daily_by_org_exact', 'FROM ai_usage_hourly_by_org_exact']);
  });

  test('next to the raw ledger: the rollup for whole hours, each measure as its ledger expression at the edges', () => {
    const sql = rollupQuery({ select: ['user_id', ['n', 'calls'], ['cost', 'cost_usd']], filters: TENANT_FILTERS, small: BY_ORG_CONVERSATION, fine: LEDGER });
    const [hours, edges] = branches(sql) as [string, string];
    expect(lines(hours)).toContain('SELECT user_id, calls AS n, cost_usd AS cost');
    expect(lines(edges)).toContain('SELECT user_id, toUInt64(1) AS n, ifNull(cost_usd, toDecimal128(0, 18)) AS cost');
    expect(lines(edges)).toContain('FROM ai_usage_exact');
    expect(edges).toContain('$__conditionalAll(feature IN (${feature:singlequote}), $feature)');
    expect(hours).not.toContain('${feature:singlequote}');
  });

  test.each([
    { small: BY_ORG, column: 'input_tokens', error: 'ai_usage_hourly_by_org has no column input_tokens' },
    { small: BY_MODEL, column: 'usage_details', error: 'ai_usage_hourly_by_model has no column usage_details' },
  ])('a column the chosen rollup does not keep is an error at build time: $error', ({ small, column, error }) => {
    expect(() => rollupQuery({ select: [column], filters: FILTERS, small, fine: HOURLY_BY_TIME })).toThrow(error);
  });

  test('a fine rollup that cannot apply a filter is an error', () => {
    expect(() => rollupQuery({ select: ['calls'], filters: [FEATURE], fine: BY_MODEL })).toThrow('ai_usage_hourly_by_model cannot be filtered by $feature');
  });

  test('a measure added to the declaration is readable by a panel with no other change', () => {
    const withMeasure = (r: Rollup): Rollup => ({ ...r, measures: [...r.measures, 'refunds_usd'] });
    expect(() => rollupQuery({ select: ['refunds_usd'], filters: FILTERS, small: BY_MODEL, fine: HOURLY_BY_TIME })).toThrow('has no column refunds_usd');
    const sql = rollupQuery({ select: ['refunds_usd'], filters: FILTERS, small: withMeasure(BY_MODEL), fine: withMeasure(HOURLY_BY_TIME) });
    expect(branches(sql).map((b) => lines(b).find((l) => l.startsWith('SELECT')))).toEqual(['SELECT refunds_usd', 'SELECT refunds_usd']);
  });
});
