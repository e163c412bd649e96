/**
 * AI spend overview: every panel and variable query, expanded as the plugin expands it, run on
 * the fixture (fixture.ts) for Nov 1-7 2026, with All selected and with a selection. The expected
 * figures are worked out by hand from the fixture's schedule (a normal day: acme 0.135, globex
 * 0.0624, initech 0.036; extras: acme +0.045 on Nov 5, the globex spike +0.612 on Nov 6) and
 * cross-checked against the oracle.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { oracle, select } from './fixture.js';
import { ALL, ALL_FILTERS, DashboardRunner, openFixtureStore, pick, RANGE, RANGE_FILTER, usd, type FixtureStore } from './support.js';

let fx: FixtureStore;
let overview: DashboardRunner;
beforeAll(async () => {
  fx = await openFixtureStore();
  overview = new DashboardRunner(fx.client, 'genai-ledger-overview');
});
afterAll(async () => fx?.store.close());

const all = { ...RANGE, variables: ALL_FILTERS };
/** acme and initech, OpenAI only. */
const some = { ...RANGE, variables: { ...ALL_FILTERS, org: pick('acme', 'initech'), provider: pick('openai') } };

describe('AI spend overview, Nov 1-7, everything selected', () => {
  test('the store holds duplicate deliveries: only exact readers get the numbers below', () => {
    expect(fx.stored).toBeGreaterThan(fx.truth.length);
  });

  test('spend, calls, tokens, cost per call', async () => {
    const row = await overview.one('Spend, calls, tokens, cost per call', all);
    // 7 × (0.135 + 0.0624 + 0.036) + 0.045 + 0.612
    expect(usd(row.spend, 4)).toBe('2.2908');
    expect(usd(row.spend)).toBe('2.29');
    // 7 × (10 + 5 + 22 + 4) + 3 unpriced + 5 + 60
    expect(row.calls).toBe(355);
    expect(row.tokens).toBe(2_386_600);
    // 2.2908 ÷ 352 priced calls
    expect(usd(row.cost_per_call, 5)).toBe('0.00651');
    const truth = select(fx.truth, RANGE_FILTER);
    expect(usd(row.spend, 4)).toBe(usd(oracle.spend(truth), 4));
    expect(row.calls).toBe(oracle.calls(truth));
    expect(row.tokens).toBe(oracle.tokens(truth));
  });

  test('prompt caching saved: cached tokens at the uncached price minus what they were billed', async () => {
    const row = await overview.one('Prompt caching saved', all);
    // gpt-4o 800 × (2.5 − 1.25)/1M = 0.001 per call (103 calls), claude 4000 × (3 − 0.3)/1M = 0.0108 (109 calls)
    expect(usd(row.saved, 4)).toBe('1.2802');
    expect(oracle.cacheSaved(select(fx.truth, RANGE_FILTER))).toBe('1.2802');
  });

  test('spend on failed calls', async () => {
    const row = await overview.one('Spend on failed calls', all);
    expect(usd(row.failed_spend, 4)).toBe('0.0294'); // 7 timeouts × 0.0042
    expect(row.failed_calls).toBe(7);
  });

  test('unpriced calls: 3, red, with a link to the table of those calls', async () => {
    const row = await overview.one('Unpriced calls', all);
    expect(row.unpriced_calls).toBe(3);
    const stat = overview.dashboard.panels.find((p) => p.title === 'Unpriced calls');
    const defaults = stat?.fieldConfig?.defaults as { thresholds: { steps: Array<{ color: string; value: number | null }> }; links: Array<{ url: string }> };
    expect(defaults.thresholds.steps).toEqual([{ color: 'green', value: null }, { color: 'red', value: 1 }]);
    const table = overview.dashboard.panels.find((p) => p.title === 'Unpriced calls (latest 500)');
    expect(defaults.links[0]?.url).toContain(`/d/genai-ledger-overview/`);
    expect(defaults.links[0]?.url).toContain(`viewPanel=${table?.id}`);
    const rows = await overview.run('Unpriced calls (latest 500)', all);
    expect(rows.map((r) => [r.time, r.org, r.model, r.user])).toEqual([
      ['2026-11-06 11:45:00.000000', 'acme', 'ft:gpt-4o-mini:acme::x1', 'acme-u2'],
      ['2026-11-04 11:45:00.000000', 'acme', 'ft:gpt-4o-mini:acme::x1', 'acme-u2'],
      ['2026-11-02 11:45:00.000000', 'acme', 'ft:gpt-4o-mini:acme::x1', 'acme-u2'],
    ]);
  });

  test('spend over time, stacked by provider and by model', async () => {
    const byProvider = await overview.run('Spend over time by provider', all);
    const sum = (rows: typeof byProvider, key: string, value: string) =>
      usd(rows.filter((r) => r[key] === value).reduce((a, r) => a + Number(r.spend), 0), 4);
    expect(sum(byProvider, 'provider', 'openai')).toBe('1.2210'); // 103 × 0.009 + 140 × 0.0021
    expect(sum(byProvider, 'provider', 'anthropic')).toBe('1.0698');
    // Nov 6 14:00: acme's 14:30 claude call and the 60-call spike
    expect(byProvider.find((r) => r.time === '2026-11-06 14:00:00' && r.provider === 'anthropic')?.spend).toBeCloseTo(0.6222, 10);
    const byModel = await overview.run('Spend over time by model', all);
    expect(sum(byModel, 'model', 'gpt-4o')).toBe('0.9270');
    expect(sum(byModel, 'model', 'gpt-4o-mini')).toBe('0.2940');
    expect(sum(byModel, 'model', 'claude-sonnet-4')).toBe('1.0698');
    expect(sum(byModel, 'model', 'ft:gpt-4o-mini:acme::x1')).toBe('0.0000');
    // hourly buckets (the panel's min interval), ordered
    expect(byModel[0]?.time).toBe('2026-11-01 09:00:00');
    const times = byModel.map((r) => String(r.time));
    expect([...times].sort()).toEqual(times);
  });

  test('top orgs and features', async () => {
    const orgs = await overview.run('Top orgs', all);
    expect(orgs.map((r) => [r.org, usd(r.spend, 4), r.calls])).toEqual([
      ['globex', '1.0488', 214],
      ['acme', '0.9900', 113],
      ['initech', '0.2520', 28],
    ]);
    const features = await overview.run('Top features', all);
    expect(features.map((r) => [r.feature, usd(r.spend, 4), r.calls])).toEqual([
      ['search', '1.0698', 109],
      ['chat', '0.9270', 106],
      ['summarize', '0.2940', 140],
    ]);
  });

  test('latency p50 / p95 by model', async () => {
    const rows = await overview.run('Latency p50 / p95 by model', all);
    const by = Object.fromEntries(rows.map((r) => [r.model, r]));
    expect(rows[0]?.model).toBe('claude-sonnet-4'); // 7 of 109 calls timed out after 30 s
    expect(by['claude-sonnet-4']?.p50_ms).toBe(2400);
    expect(Number(by['claude-sonnet-4']?.p95_ms)).toBeGreaterThan(2400);
    expect(by['gpt-4o']?.p50_ms).toBe(1000);
    expect(Number(by['gpt-4o']?.p95_ms)).toBeGreaterThan(1000);
    expect(by['gpt-4o-mini']?.p95_ms).toBe(800);
    expect(by['ft:gpt-4o-mini:acme::x1']?.p50_ms).toBe(900);
    expect(by['gpt-4o']?.calls).toBe(103);
  });
});

describe('AI spend overview, Nov 1-7, acme and initech on OpenAI', () => {
  test('totals, caching, failures and unpriced follow the selection', async () => {
    const row = await overview.one('Spend, calls, tokens, cost per call', some);
    // acme 75 gpt-4o + initech 28 gpt-4o at 0.009; acme's 3 unpriced calls
    expect(usd(row.spend, 4)).toBe('0.9270');
    expect(row.calls).toBe(106);
    expect(usd((await overview.one('Prompt caching saved', some)).saved, 4)).toBe('0.1030');
    expect(await overview.one('Spend on failed calls', some)).toEqual({ failed_spend: 0, failed_calls: 0 });
    expect((await overview.one('Unpriced calls', some)).unpriced_calls).toBe(3);
    expect((await overview.run('Unpriced calls (latest 500)', some)).length).toBe(3);
    const truth = select(fx.truth, { ...RANGE_FILTER, org: ['acme', 'initech'], provider: ['openai'] });
    expect(usd(row.spend, 4)).toBe(usd(oracle.spend(truth), 4));
    expect(row.calls).toBe(oracle.calls(truth));
  });

  test('top orgs, features and the series show only the selection', async () => {
    const orgs = await overview.run('Top orgs', some);
    expect(orgs.map((r) => [r.org, usd(r.spend, 4)])).toEqual([['acme', '0.6750'], ['initech', '0.2520']]);
    const features = await overview.run('Top features', some);
    expect(features.map((r) => [r.feature, usd(r.spend, 4)])).toEqual([['chat', '0.9270']]);
    const providers = new Set((await overview.run('Spend over time by provider', some)).map((r) => r.provider));
    expect([...providers]).toEqual(['openai']);
  });

  test('staging only is initech; search on claude-sonnet-4 is every Anthropic call', async () => {
    const staging = await overview.one('Spend, calls, tokens, cost per call', { ...RANGE, variables: { ...ALL_FILTERS, environment: pick('staging') } });
    expect([usd(staging.spend, 4), staging.calls]).toEqual(['0.2520', 28]);
    const search = await overview.one('Spend, calls, tokens, cost per call', { ...RANGE, variables: { ...ALL_FILTERS, feature: pick('search'), model: pick('claude-sonnet-4') } });
    expect([usd(search.spend, 4), search.calls]).toEqual(['1.0698', 109]);
    const worker = await overview.one('Spend on failed calls', { ...RANGE, variables: { ...ALL_FILTERS, service: pick('worker') } });
    expect(worker).toEqual({ failed_spend: 0, failed_calls: 0 }); // the timeouts are acme's (service api)
  });
});

describe('variables', () => {
  test('each lists the values in the range, narrowed by the ones before it', async () => {
    const values = async (name: string, variables = ALL_FILTERS) => (await overview.run(`$${name}`, { ...RANGE, variables })).map((r) => Object.values(r)[0]);
    expect(await values('org')).toEqual(['acme', 'globex', 'initech']);
    expect(await values('service')).toEqual(['api', 'worker']);
    expect(await values('environment')).toEqual(['prod', 'staging']);
    expect(await values('provider')).toEqual(['anthropic', 'openai']);
    expect(await values('model')).toEqual(['claude-sonnet-4', 'ft:gpt-4o-mini:acme::x1', 'gpt-4o', 'gpt-4o-mini']);
    expect(await values('feature')).toEqual(['chat', 'search', 'summarize']);
    expect(await values('service', { ...ALL_FILTERS, org: pick('globex') })).toEqual(['worker']);
    expect(await values('environment', { ...ALL_FILTERS, service: pick('worker') })).toEqual(['prod']);
    expect(await values('model', { ...ALL_FILTERS, provider: pick('anthropic') })).toEqual(['claude-sonnet-4']);
    expect(await values('feature', { ...ALL_FILTERS, org: pick('initech') })).toEqual(['chat']);
  });

  test("a value with a quote is escaped, not injected", async () => {
    const rows = await overview.run('Top orgs', { ...RANGE, variables: { ...ALL_FILTERS, org: pick("o'brien", 'acme') } });
    expect(rows.map((r) => r.org)).toEqual(['acme']);
  });

  test('All costs nothing: no IN list reaches ClickHouse', () => {
    const sql = overview.sql('Spend, calls, tokens, cost per call', all);
    expect(sql).not.toMatch(/ IN \(/);
    expect(sql).toContain('1=1');
    expect(overview.sql('Spend, calls, tokens, cost per call', some)).toContain("org_id IN ('acme','initech')");
    expect(ALL).toEqual({ value: ['$__all'] });
  });
});
