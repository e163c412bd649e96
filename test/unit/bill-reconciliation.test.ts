import { describe, expect, it } from 'vitest';
import { impliedOverrides, impliedPrices, reconcile, type BillGroup, type LedgerGroup } from '../../pricing/bill-reconciliation.js';

// Prices worked by hand from the providers' published lists:
// gpt-4o-mini $0.15 / 1M input, $0.075 / 1M cached input, $0.60 / 1M output;
// claude-sonnet-4-5 $3 / 1M input, $15 / 1M output.
const tokens = (input: number, output: number, cacheRead = 0, cacheWrite = 0) => ({
  input_tokens: input, output_tokens: output, cache_read_tokens: cacheRead, cache_write_tokens: cacheWrite,
});

function ledger(day: string, model: string, cost: string, t: ReturnType<typeof tokens>, calls = 10): LedgerGroup {
  return { day, provider: model.split('/')[0]!, model, cost_usd: cost, calls, ...t };
}

function bill(day: string, model: string, names: string[], costByType: Record<string, string>, usage: ReturnType<typeof tokens> | null, requests: number | null = 10): BillGroup {
  return { day, provider: model.split('/')[0]!, model, provider_models: names, cost_by_type: costByType, usage: usage ? { ...usage, requests } : null };
}

const MINI = 'openai/gpt-4o-mini';
const MINI_NAMES = ['gpt-4o-mini-2024-07-18'];

describe('reconcile: one group at a time', () => {
  it.each([
    {
      name: 'agree: 1M input 0.15 + 200k output 0.12 on both sides',
      l: [ledger('2026-11-01', MINI, '0.27', tokens(1_000_000, 200_000))],
      b: [bill('2026-11-01', MINI, MINI_NAMES, { input: '0.15', output: '0.12' }, tokens(1_000_000, 200_000))],
      expected: { status: 'ok', cause: null, variance_usd: '0', variance_pct: '0', billed_cost_usd: '0.27' },
    },
    {
      name: 'bill 10 % higher with 10 % more tokens (1.1M × 0.15 + 220k × 0.60 = 0.297): ledger low, calls missing',
      l: [ledger('2026-11-02', MINI, '0.27', tokens(1_000_000, 200_000))],
      b: [bill('2026-11-02', MINI, MINI_NAMES, { input: '0.165', output: '0.132' }, tokens(1_100_000, 220_000), 11)],
      // -0.027 / 0.297 = -9.0909…%
      expected: { status: 'ledger_low', cause: 'uninstrumented_or_dropped', variance_usd: '-0.027', variance_pct: '-9.09', billed_requests: 11 },
    },
    {
      name: 'within 5 %: 0.27 against 0.28 (|−0.01| ≤ 0.014)',
      l: [ledger('2026-11-01', MINI, '0.27', tokens(1_000_000, 200_000))],
      b: [bill('2026-11-01', MINI, MINI_NAMES, { input: '0.16', output: '0.12' }, tokens(1_000_000, 200_000))],
      expected: { status: 'ok', cause: null, variance_usd: '-0.01', variance_pct: '-3.57' },
    },
    {
      name: 'same tokens, billed at $3.30/$16.50 (100k × 3.3 + 10k × 16.5 = 0.495) against $3/$15 (0.45): a price',
      l: [ledger('2026-11-01', 'anthropic/claude-sonnet-4-5', '0.45', tokens(100_000, 10_000))],
      b: [bill('2026-11-01', 'anthropic/claude-sonnet-4-5', ['claude-sonnet-4-5-20250929'], { input: '0.33', output: '0.165' }, tokens(100_000, 10_000), null)],
      expected: { status: 'ledger_low', cause: 'price', variance_pct: '-9.09', implied_prices: { input_mtok: '3.3', output_mtok: '16.5' }, billed_requests: null },
    },
    {
      name: '800k of 1M input read from the cache (0.03 + 0.06 + 0.12 = 0.21), the ledger priced it uncached (0.27)',
      l: [ledger('2026-11-01', MINI, '0.27', tokens(1_000_000, 200_000))],
      b: [bill('2026-11-01', MINI, MINI_NAMES, { input: '0.03', cache_read: '0.06', output: '0.12' }, tokens(1_000_000, 200_000, 800_000))],
      expected: { status: 'ledger_high', cause: 'caching_not_reported', variance_usd: '0.06', variance_pct: '28.57', implied_prices: null },
    },
    {
      name: 'a model the ledger never saw',
      l: [],
      b: [bill('2026-11-01', 'openai/o3', ['o3-2025-04-16'], { input: '1' }, tokens(500_000, 0))],
      expected: { status: 'missing_in_ledger', cause: 'not_in_ledger', ledger_cost_usd: '0', variance_usd: '-1', variance_pct: '-100' },
    },
    {
      name: 'ledger calls on no bill',
      l: [ledger('2026-11-01', 'openai/gpt-4.1', '0.5', tokens(100_000, 10_000))],
      b: [],
      expected: { status: 'missing_in_bill', cause: 'not_in_bill', billed_cost_usd: '0', variance_pct: null, billed_input_tokens: null },
    },
    {
      name: 'a cost report without usage: no tokens to tell the cause',
      l: [ledger('2026-11-01', MINI, '0.27', tokens(1_000_000, 200_000))],
      b: [bill('2026-11-01', MINI, MINI_NAMES, { input: '0.2', output: '0.2' }, null)],
      expected: { status: 'ledger_low', cause: 'no_usage_report', billed_input_tokens: null, billed_requests: null },
    },
    {
      name: 'more ledger tokens than billed',
      l: [ledger('2026-11-01', MINI, '0.54', tokens(2_000_000, 400_000))],
      b: [bill('2026-11-01', MINI, MINI_NAMES, { input: '0.15', output: '0.12' }, tokens(1_000_000, 200_000))],
      expected: { status: 'ledger_high', cause: 'ledger_tokens_high', variance_pct: '100' },
    },
  ])('$name', ({ l, b, expected }) => {
    const rows = reconcile(l, b, { by: ['day', 'provider', 'model'], tolerance: '0.05' });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject(expected);
  });
});

describe('reconcile: grain and order', () => {
  const l = [
    ledger('2026-11-01', MINI, '0.27', tokens(1_000_000, 200_000)),
    ledger('2026-11-02', MINI, '0.27', tokens(1_000_000, 200_000)),
  ];
  const b = [
    bill('2026-11-01', MINI, MINI_NAMES, { input: '0.15', output: '0.12' }, tokens(1_000_000, 200_000)),
    bill('2026-11-02', MINI, MINI_NAMES, { input: '0.165', output: '0.132' }, tokens(1_100_000, 220_000)),
    bill('2026-11-01', 'openai/o3', ['o3-2025-04-16'], { input: '1' }, tokens(500_000, 0)),
  ];

  it('by day, provider, model: one row per group, sorted', () => {
    const rows = reconcile(l, b, { by: ['day', 'provider', 'model'], tolerance: '0.05' });
    expect(rows.map((r) => [r.day, r.model, r.status])).toEqual([
      ['2026-11-01', MINI, 'ok'],
      ['2026-11-01', 'openai/o3', 'missing_in_ledger'],
      ['2026-11-02', MINI, 'ledger_low'],
    ]);
  });

  it('by provider: the sums (0.54 against 0.27 + 0.297 + 1 = 1.567)', () => {
    const rows = reconcile(l, b, { by: ['provider'], tolerance: '0.05' });
    expect(rows).toEqual([expect.objectContaining({
      provider: 'openai', ledger_cost_usd: '0.54', billed_cost_usd: '1.567', variance_usd: '-1.027', status: 'ledger_low',
      ledger_input_tokens: 2_000_000, billed_input_tokens: 2_600_000, ledger_calls: 20, billed_requests: 30,
      provider_models: ['gpt-4o-mini-2024-07-18', 'o3-2025-04-16'],
    })]);
    expect(rows[0]).not.toHaveProperty('day');
  });

  it('a negative tolerance is refused', () => {
    expect(() => reconcile(l, b, { by: ['day'], tolerance: '-0.1' })).toThrow(/tolerance/);
  });
});

describe('implied prices and overrides', () => {
  it.each([
    // 0.33 / 100k × 1M = 3.3; 0.165 / 10k × 1M = 16.5
    [{ input: '0.33', output: '0.165' }, tokens(100_000, 10_000), { input_mtok: '3.3', output_mtok: '16.5' }],
    // input is charged on the 200k not read from the cache: 0.03 / 200k × 1M = 0.15; 0.06 / 800k × 1M = 0.075
    [{ input: '0.03', cache_read: '0.06' }, tokens(1_000_000, 0, 800_000), { input_mtok: '0.15', cache_read_mtok: '0.075' }],
    // 1 / 3 tokens × 1M = 333333.333333… → 6 places
    [{ output: '1' }, tokens(0, 3), { output_mtok: '333333.333333' }],
  ])('%j over %j → %j', (costs, usage, expected) => {
    expect(impliedPrices(costs, usage)).toEqual(expected);
  });

  it('one override per model whose tokens agree and cost does not, from its first billed day', () => {
    const l = [
      ledger('2026-11-01', 'anthropic/claude-sonnet-4-5', '0.45', tokens(100_000, 10_000)),
      ledger('2026-11-02', 'anthropic/claude-sonnet-4-5', '0.45', tokens(100_000, 10_000)),
      ledger('2026-11-01', MINI, '0.27', tokens(1_000_000, 200_000)),
    ];
    const names = ['claude-sonnet-4-5-20250929'];
    const b = [
      bill('2026-11-01', 'anthropic/claude-sonnet-4-5', names, { input: '0.33', output: '0.165' }, tokens(100_000, 10_000)),
      bill('2026-11-02', 'anthropic/claude-sonnet-4-5', names, { input: '0.33', output: '0.165' }, tokens(100_000, 10_000)),
      bill('2026-11-01', MINI, MINI_NAMES, { input: '0.15', output: '0.12' }, tokens(1_000_000, 200_000)),
    ];
    expect(impliedOverrides(l, b, '0.05')).toEqual([{
      provider: 'anthropic', model: 'claude-sonnet-4-5-20250929', effective_from: '2026-11-01',
      prices: { input_mtok: '3.3', output_mtok: '16.5' },
    }]);
  });
});
