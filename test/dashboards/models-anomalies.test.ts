/**
 * Model comparison and anomalies on the fixture, Nov 1-7 2026.
 * Per model over the range: gpt-4o 103 calls × 0.009 (input 2000 of which 800 cached, output 500;
 * 96 at 1000 ms, 7 at 5000 ms); gpt-4o-mini 140 × 0.0021 (input 10000, output 1000; 600/800 ms);
 * claude-sonnet-4 109 calls, 1.0698 (input 5000 of which 4000 cached; 102 × output 400 at
 * 2400 ms, 7 timeouts at 30000 ms); the fine-tune 3 unpriced calls.
 * Anomalies: every day repeats the same hourly spend, except Nov 5 19:00 (+0.045, acme) and the
 * globex spike Nov 6 14:00 (+0.612).
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ALL_FILTERS, DashboardRunner, openFixtureStore, pick, RANGE, usd, type FixtureStore, type Row } from './support.js';

let fx: FixtureStore;
let models: DashboardRunner;
let anomalies: DashboardRunner;
beforeAll(async () => {
  fx = await openFixtureStore();
  models = new DashboardRunner(fx.client, 'genai-ledger-models');
  anomalies = new DashboardRunner(fx.client, 'genai-ledger-anomalies');
});
afterAll(async () => fx?.store.close());

const all = { ...RANGE, variables: ALL_FILTERS };
const round = (v: unknown, d = 4) => (v === null ? null : Number(Number(v).toFixed(d)));

describe('model comparison, Nov 1-7', () => {
  test('models side by side', async () => {
    const rows = await models.run('Models side by side', all);
    expect(rows.map((r) => [r.model, r.calls, round(r.cost_per_1k_calls), r.input_tokens_per_call, round(r.output_tokens_per_call, 2), r.cache_hit_ratio, round(r.error_rate), r.mean_latency_ms, usd(r.spend, 4), r.unpriced_calls])).toEqual([
      // 1.0698 × 1000 ÷ 109; 7 of 109 failed; (102 × 2400 + 7 × 30000) ÷ 109
      ['claude-sonnet-4', 109, 9.8147, 5000, 374.31, 0.8, 0.0642, 4172.5, '1.0698', 0],
      ['gpt-4o', 103, 9, 2000, 500, 0.4, 0, 1271.8, '0.9270', 0],
      ['gpt-4o-mini', 140, 2.1, 10000, 1000, 0, 0, 700, '0.2940', 0],
      ['ft:gpt-4o-mini:acme::x1', 3, null, 1000, 100, 0, 0, 900, '0.0000', 3],
    ]);
  });

  test('latency percentiles by model', async () => {
    const rows = await models.run('Latency percentiles by model', all);
    expect(rows[0]).toMatchObject({ model: 'claude-sonnet-4', p50_ms: 2400 });
    expect(Number(rows[0]?.p99_ms)).toBeGreaterThan(2400);
    const mini = rows.find((r) => r.model === 'gpt-4o-mini');
    expect(mini?.p95_ms).toBe(800);
  });

  test('cost per 1000 calls, error rate and cache hit ratio over time', async () => {
    const cost = await models.run('Cost per 1000 calls over time', all);
    expect(new Set(cost.filter((r) => r.model === 'gpt-4o').map((r) => r.cost_per_1k_calls))).toEqual(new Set([9]));
    // the spike hour: acme's and the 60 spike calls, all 0.0102; acme's 18:00 hour holds only the failed call (0.0042)
    expect(cost.find((r) => r.time === '2026-11-06 14:00:00' && r.model === 'claude-sonnet-4')?.cost_per_1k_calls).toBeCloseTo(10.2, 9);
    expect(cost.find((r) => r.time === '2026-11-03 18:00:00' && r.model === 'claude-sonnet-4')?.cost_per_1k_calls).toBeCloseTo(4.2, 9);
    expect(cost.filter((r) => r.model === 'ft:gpt-4o-mini:acme::x1').every((r) => r.cost_per_1k_calls === null)).toBe(true);
    const errors = await models.run('Error rate over time', all);
    const failing = errors.filter((r) => Number(r.error_rate) > 0);
    expect(failing.length).toBe(7);
    expect(failing.every((r) => r.model === 'claude-sonnet-4' && String(r.time).endsWith('18:00:00') && r.error_rate === 1)).toBe(true);
    const cache = await models.run('Cache hit ratio over time', all);
    const ratios = (m: string) => new Set(cache.filter((r) => r.model === m).map((r) => r.cache_hit_ratio));
    expect([ratios('gpt-4o'), ratios('claude-sonnet-4'), ratios('gpt-4o-mini')]).toEqual([new Set([0.4]), new Set([0.8]), new Set([0])]);
  });

  test('narrowed to Anthropic, and to globex', async () => {
    const anthropic = await models.run('Models side by side', { ...RANGE, variables: { ...ALL_FILTERS, provider: pick('anthropic') } });
    expect(anthropic.map((r) => r.model)).toEqual(['claude-sonnet-4']);
    const globex = await models.run('Models side by side', { ...RANGE, variables: { ...ALL_FILTERS, org: pick('globex') } });
    // globex's claude calls never fail: 14 + 60
    expect(globex.map((r) => [r.model, r.calls, r.error_rate, usd(r.spend, 4)])).toEqual([
      ['claude-sonnet-4', 74, 0, '0.7548'],
      ['gpt-4o-mini', 140, 0, '0.2940'],
    ]);
  });
});

describe('anomalies, Nov 1-7', () => {
  const vars = (factor: string, min: string) => ({ ...RANGE, variables: { ...ALL_FILTERS, factor: { value: factor }, min_spend: { value: min } } });

  test('hourly spend against the same hour of the 7 days before', async () => {
    const rows = await anomalies.run('Hourly spend against the trailing 7-day baseline', vars('2', '0.1'));
    expect(rows.length).toBe(7 * 24); // every hour of the range, empty ones as zero
    expect(rows[0]?.time).toBe('2026-11-01 00:00:00');
    const at = (t: string): Row => rows.find((r) => r.time === t) as Row;
    // 09:00 on a normal day: acme gpt-4o 0.009 + globex 2 × 0.0021 + initech 0.009, same every day before
    expect([round(at('2026-11-01 09:00:00').spend), round(at('2026-11-01 09:00:00').baseline)]).toEqual([0.0222, 0.0222]);
    // the spike hour: 0.009 + 0.0102 + 2 × 0.0021 + 0.612 against 0.0234, threshold 2 × 0.0234
    expect([round(at('2026-11-06 14:00:00').spend), round(at('2026-11-06 14:00:00').baseline), round(at('2026-11-06 14:00:00').threshold)]).toEqual([0.6354, 0.0234, 0.0468]);
    // the day after, the spike is a seventh of the baseline
    expect(round(at('2026-11-07 14:00:00').baseline)).toBe(round(0.0234 + 0.612 / 7));
    expect([at('2026-11-01 03:00:00').spend, at('2026-11-01 03:00:00').baseline]).toEqual([0, 0]);
  });

  test('anomalous hours: factor 2 and at least 0.1 over; without the minimum also the extra evening', async () => {
    const rows = await anomalies.run('Anomalous hours', vars('2', '0.1'));
    expect(rows.map((r) => [r.time, round(r.spend), round(r.baseline), round(r.ratio, 2), round(r.excess)])).toEqual([
      ['2026-11-06 14:00:00', 0.6354, 0.0234, 27.15, 0.612],
    ]);
    const any = await anomalies.run('Anomalous hours', vars('2', '0'));
    expect(any.map((r) => [r.time, round(r.spend), r.ratio])).toEqual([
      ['2026-11-06 14:00:00', 0.6354, expect.any(Number)],
      ['2026-11-05 19:00:00', 0.045, null], // nothing at 19:00 the days before
    ]);
  });

  test('orgs and features whose spend jumped', async () => {
    const orgs = await anomalies.run('Orgs whose spend jumped', vars('2', '0.1'));
    // globex: 7 × 0.0624 + 0.612 against the 7 × 0.0624 of Oct 25-31
    expect(orgs.map((r) => [r.org, round(r.spend), round(r.expected), round(r.ratio, 2), round(r.excess)])).toEqual([['globex', 1.0488, 0.4368, 2.4, 0.612]]);
    const features = await anomalies.run('Features whose spend jumped', vars('2', '0.1'));
    expect(features.map((r) => [r.feature, round(r.spend), round(r.expected), round(r.ratio, 2)])).toEqual([['search', 1.0698, 0.4578, 2.34]]);
    expect(await anomalies.run('Orgs whose spend jumped', vars('3', '0.1'))).toEqual([]);
  });

  test('one day, Nov 6: the spike is a tenfold jump', async () => {
    const day = { from: new Date('2026-11-06T00:00:00Z'), to: new Date('2026-11-06T23:59:59.999Z'), variables: { ...ALL_FILTERS, factor: { value: '5' }, min_spend: { value: '0.1' } } };
    const orgs = await anomalies.run('Orgs whose spend jumped', day);
    // 0.0624 + 0.612 against (7 × 0.0624) ÷ 7
    expect(orgs.map((r) => [r.org, round(r.spend), round(r.expected), round(r.ratio, 2)])).toEqual([['globex', 0.6744, 0.0624, 10.81]]);
    const narrowed = await anomalies.run('Orgs whose spend jumped', { ...day, variables: { ...day.variables, feature: pick('summarize') } });
    expect(narrowed).toEqual([]);
  });
});

describe.each([['genai-ledger-models'], ['genai-ledger-anomalies']])('%s variables', (uid) => {
  test('each lists the values in the range, narrowed by the ones before it', async () => {
    const runner = new DashboardRunner(fx.client, uid);
    const values = async (name: string, variables = ALL_FILTERS) => (await runner.run(`$${name}`, { ...RANGE, variables })).map((r) => Object.values(r)[0]);
    expect(await values('org')).toEqual(['acme', 'globex', 'initech']);
    expect(await values('service')).toEqual(['api', 'worker']);
    expect(await values('environment')).toEqual(['prod', 'staging']);
    expect(await values('provider')).toEqual(['anthropic', 'openai']);
    expect(await values('model')).toEqual(['claude-sonnet-4', 'ft:gpt-4o-mini:acme::x1', 'gpt-4o', 'gpt-4o-mini']);
    expect(await values('feature')).toEqual(['chat', 'search', 'summarize']);
    expect(await values('model', { ...ALL_FILTERS, provider: pick('openai'), org: pick('initech') })).toEqual(['gpt-4o']);
    expect(await values('environment', { ...ALL_FILTERS, org: pick('acme', 'initech'), service: pick('api') })).toEqual(['prod', 'staging']);
  });
});

