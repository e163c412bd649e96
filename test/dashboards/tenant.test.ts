/**
 * Tenant drill-down for acme, Nov 1-7 2026. acme's normal day: 10 gpt-4o calls (0.009 each,
 * users acme-u1/u2/u3 by hour 9,12,15,18 / 10,13,16 / 11,14,17, conversation acme-c-MMDD),
 * 5 claude-sonnet-4 calls on acme-s-MMDD by acme-u1 (4 × 0.0102 + a failed 0.0042), and on even
 * days one unpriced call (acme-u2, in acme-c-MMDD). Nov 5 adds 5 gpt-4o calls to acme-c-1105.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { oracle, select } from './fixture.js';
import { ALL_FILTERS, DashboardRunner, openFixtureStore, pick, RANGE, RANGE_FILTER, usd, type FixtureStore } from './support.js';

let fx: FixtureStore;
let tenant: DashboardRunner;
beforeAll(async () => {
  fx = await openFixtureStore();
  tenant = new DashboardRunner(fx.client, 'genai-ledger-tenant');
});
afterAll(async () => fx?.store.close());

const acme = { ...RANGE, variables: { ...ALL_FILTERS, org: { value: 'acme' } } };

describe('tenant drill-down: acme, Nov 1-7', () => {
  test('spend, calls, tokens, cost per call', async () => {
    const row = await tenant.one('Spend, calls, tokens, cost per call', acme);
    expect(usd(row.spend, 4)).toBe('0.9900'); // 7 × 0.135 + 0.045
    expect(row.calls).toBe(113);
    expect(row.tokens).toBe(377_000);
    expect(usd(row.cost_per_call, 5)).toBe('0.00900'); // 0.99 ÷ 110 priced calls
    const truth = select(fx.truth, { ...RANGE_FILTER, org: ['acme'] });
    expect(usd(row.spend, 4)).toBe(usd(oracle.spend(truth), 4));
  });

  test('caching saved at list prices (model_prices in force on the call day)', async () => {
    // 75 gpt-4o × 800 × (2.5 − 1.25)/1M + 35 claude × 4000 × (3 − 0.3)/1M; gpt-4o's older price (5) and
    // a tombstoned 99 must not apply
    expect(usd((await tenant.one('Prompt caching saved (list prices)', acme)).saved, 4)).toBe('0.4530');
    expect(oracle.cacheSaved(select(fx.truth, { ...RANGE_FILTER, org: ['acme'] }))).toBe('0.453');
  });

  test('unpriced calls', async () => {
    expect((await tenant.one('Unpriced calls', acme)).unpriced_calls).toBe(3);
  });

  test('month to date against last month, with a linear forecast', async () => {
    const row = await tenant.one('Month to date against last month, with a linear forecast', acme);
    expect(usd(row.month_to_date, 4)).toBe('0.9900');
    expect(usd(row.last_month, 4)).toBe('4.1850'); // 31 × 0.135
    expect(usd(row.last_month_same_point, 4)).toBe('0.9450'); // Oct 1-7
    // 0.99 × 30 days ÷ (7 days − 1 s): the range ends at Nov 7 23:59:59
    expect(usd(row.forecast)).toBe('4.24');
    expect(Number(row.forecast)).toBeCloseTo((0.99 * 2_592_000) / 604_799, 9);
  });

  test('spend by feature and by model over time', async () => {
    const total = (rows: Array<Record<string, unknown>>, key: string, value: string) => usd(rows.filter((r) => r[key] === value).reduce((a, r) => a + Number(r.spend), 0), 4);
    const byFeature = await tenant.run('Spend by feature', acme);
    expect(total(byFeature, 'feature', 'chat')).toBe('0.6750');
    expect(total(byFeature, 'feature', 'search')).toBe('0.3150');
    expect(new Set(byFeature.map((r) => r.feature))).toEqual(new Set(['chat', 'search']));
    const byModel = await tenant.run('Spend by model', acme);
    expect(total(byModel, 'model', 'gpt-4o')).toBe('0.6750');
    expect(total(byModel, 'model', 'claude-sonnet-4')).toBe('0.3150');
    expect(total(byModel, 'model', 'ft:gpt-4o-mini:acme::x1')).toBe('0.0000');
  });

  test('spend by user over time, and the top users', async () => {
    const byUser = await tenant.run('Spend by user (top 8, others summed)', acme);
    const total = (u: string) => usd(byUser.filter((r) => r.user === u).reduce((a, r) => a + Number(r.spend), 0), 4);
    expect([total('acme-u1'), total('acme-u2'), total('acme-u3')]).toEqual(['0.5670', '0.2340', '0.1890']);
    expect(byUser.some((r) => r.user === 'other')).toBe(false);
    const users = await tenant.run('Top users', acme);
    expect(users.map((r) => [r.user, usd(r.spend, 4), r.calls, r.conversations, r.models])).toEqual([
      ['acme-u1', '0.5670', 63, 14, 'claude-sonnet-4, gpt-4o'],
      ['acme-u2', '0.2340', 29, 7, 'ft:gpt-4o-mini:acme::x1, gpt-4o'],
      ['acme-u3', '0.1890', 21, 7, 'gpt-4o'],
    ]);
  });

  test('top conversations by cost', async () => {
    const rows = await tenant.run('Top conversations by cost', acme);
    expect(rows.length).toBe(14);
    expect(rows[0]).toMatchObject({ conversation: 'acme-c-1105', calls: 15, first_call: '2026-11-05 09:15:00.000000', last_call: '2026-11-05 19:04:00.000000', users: 'acme-u1, acme-u2, acme-u3', models: 'gpt-4o' });
    expect(usd(rows[0]?.spend, 4)).toBe('0.1350');
    expect(rows.slice(1, 7).map((r) => [r.conversation, usd(r.spend, 4), r.calls])).toEqual([
      ['acme-c-1101', '0.0900', 10],
      ['acme-c-1102', '0.0900', 11],
      ['acme-c-1103', '0.0900', 10],
      ['acme-c-1104', '0.0900', 11],
      ['acme-c-1106', '0.0900', 11],
      ['acme-c-1107', '0.0900', 10],
    ]);
    expect(rows.slice(7).every((r) => String(r.conversation).startsWith('acme-s-') && usd(r.spend, 4) === '0.0450')).toBe(true);
  });
});

describe('tenant drill-down: narrowed', () => {
  const claude = { ...RANGE, variables: { ...ALL_FILTERS, org: { value: 'acme' }, model: pick('claude-sonnet-4') } };
  test('acme on claude-sonnet-4 only', async () => {
    const row = await tenant.one('Spend, calls, tokens, cost per call', claude);
    expect([usd(row.spend, 4), row.calls]).toEqual(['0.3150', 35]);
    expect(usd((await tenant.one('Prompt caching saved (list prices)', claude)).saved, 4)).toBe('0.3780');
    expect((await tenant.one('Unpriced calls', claude)).unpriced_calls).toBe(0);
    const month = await tenant.one('Month to date against last month, with a linear forecast', claude);
    expect(usd(month.last_month, 4)).toBe('1.3950'); // 31 × 0.045
    expect((await tenant.run('Top conversations by cost', claude)).length).toBe(7);
  });

  test('another org: globex with its spike', async () => {
    const globex = { ...RANGE, variables: { ...ALL_FILTERS, org: { value: 'globex' } } };
    const row = await tenant.one('Spend, calls, tokens, cost per call', globex);
    expect([usd(row.spend, 4), row.calls]).toEqual(['1.0488', 214]);
    const top = await tenant.run('Top conversations by cost', globex);
    expect([top[0]?.conversation, usd(top[0]?.spend, 4), top[0]?.calls]).toEqual(['globex-spike-1106', '0.6120', 60]);
  });

  test('variables list the org and its values', async () => {
    const values = async (name: string, variables: Record<string, unknown>) => (await tenant.run(`$${name}`, { ...RANGE, variables: variables as typeof ALL_FILTERS })).map((r) => Object.values(r)[0]);
    expect(await values('org', acme.variables)).toEqual(['acme', 'globex', 'initech']);
    expect(await values('feature', acme.variables)).toEqual(['chat', 'search']);
    expect(await values('model', acme.variables)).toEqual(['claude-sonnet-4', 'ft:gpt-4o-mini:acme::x1', 'gpt-4o']);
    expect(await values('service', { ...ALL_FILTERS, org: { value: 'globex' } })).toEqual(['worker']);
    expect(await values('environment', { ...ALL_FILTERS, org: { value: 'initech' } })).toEqual(['staging']);
    expect(await values('provider', { ...ALL_FILTERS, org: { value: 'initech' } })).toEqual(['openai']);
  });
});
