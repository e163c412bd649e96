/**
 * KNOWN usage for the dashboard and cookbook tests: three tenants, four models (one unpriced),
 * 45 days (2026-10-01 .. 2026-11-14), failed calls, cached calls, a spend spike, duplicate
 * deliveries, and a re-delivery that corrects a wrongly priced row. Every figure a panel shows can
 * be worked out by hand from the schedule below (the test files spell out the arithmetic), and
 * `oracle` recomputes any of them from the rows in exact decimals.
 *
 * A normal day (UTC):
 *   acme    (service api, prod)      10 × gpt-4o          09:15..18:15, feature chat,   user acme-u{h%3+1}, conv acme-c-MMDD
 *                                     5 × claude-sonnet-4  10,12,14,16,18:30, feature search, user acme-u1, conv acme-s-MMDD
 *                                         (the 18:30 call fails: error timeout, no output, 30 s)
 *                                     1 × ft:gpt-4o-mini:acme::x1 (unpriced) at 11:45 on even days, chat, acme-u2
 *   globex  (service worker, prod)   20 × gpt-4o-mini     09..18 at :05 and :35, feature summarize, user globex-u{h%4+1}
 *                                     2 × claude-sonnet-4  13:30, 15:30, feature search, user globex-u1
 *   initech (service api, staging)    4 × gpt-4o          09,11,13,15:15, feature chat, user initech-u1
 * Extras: 2026-11-05 19:00..19:04 five more acme gpt-4o calls in acme-c-1105 (user acme-u2);
 *         2026-11-06 14:00..14:59 a globex spike: 60 × claude-sonnet-4, feature search, user globex-u9.
 * Calls (exact costs at the prices below):
 *   gpt-4o          input 2000 (800 cached), output 500  → 0.003 + 0.001 + 0.005      = 0.009
 *   gpt-4o-mini     input 10000, output 1000             → 0.0015 + 0.0006            = 0.0021
 *   claude-sonnet-4 input 5000 (4000 cached), output 400 → 0.003 + 0.0012 + 0.006     = 0.0102
 *   claude failed   input 5000 (4000 cached), output 0   → 0.003 + 0.0012             = 0.0042
 *   unpriced        input 1000, output 100               → NULL
 * Deliveries: every call at 09:xx on odd days and every spike call is delivered twice (a second
 * insert); initech's 2026-11-03 09:15 call is first delivered wrongly priced (0.02) and corrected
 * by its second delivery. Exact readers see each call once, at its latest price.
 */
import type { UsageRow } from '../../usage/usage-row.js';

// ---- exact decimals (1e-18 fixed point) ----

const SCALE = 10n ** 18n;

export function dec(text: string): bigint {
  const m = /^(-?)(\d*)(?:\.(\d*))?$/.exec(text.trim());
  if (!m) throw new Error(`not a decimal: ${text}`);
  const frac = (m[3] ?? '').padEnd(18, '0');
  if (frac.length > 18) throw new Error(`more than 18 decimals: ${text}`);
  const v = BigInt(m[2] || '0') * SCALE + BigInt(frac);
  return m[1] === '-' ? -v : v;
}

export function fmt(v: bigint): string {
  const neg = v < 0n;
  const a = neg ? -v : v;
  const int = a / SCALE;
  const frac = (a % SCALE).toString().padStart(18, '0').replace(/0+$/, '');
  return `${neg ? '-' : ''}${int}${frac ? `.${frac}` : ''}`;
}

/** tokens × (USD per million tokens). */
function perMillion(tokens: number, priceMtok: string): bigint {
  return (BigInt(tokens) * dec(priceMtok)) / 1_000_000n;
}

// ---- prices ----

export interface FixturePrice {
  provider: string;
  model: string;
  input: string;
  cacheRead: string;
  output: string;
  cacheWrite?: string;
}

/** USD per million tokens, in force from 2026-10-01 (gpt-4o cost double before: see PRICE_ROWS). */
export const PRICES: Record<string, FixturePrice> = {
  'openai/gpt-4o': { provider: 'openai', model: 'gpt-4o', input: '2.5', cacheRead: '1.25', output: '10' },
  'openai/gpt-4o-mini': { provider: 'openai', model: 'gpt-4o-mini', input: '0.15', cacheRead: '0.075', output: '0.6' },
  'anthropic/claude-sonnet-4': { provider: 'anthropic', model: 'claude-sonnet-4', input: '3', cacheRead: '0.3', cacheWrite: '3.75', output: '15' },
};

export const PRICE_SOURCE = 'genai-prices@0.1.8';

/** model_prices rows as syncModelPrices writes them (plus history and a tombstone to prove the readers pick the right one). */
export function priceRows(): Array<Record<string, unknown>> {
  const rows: Array<Record<string, unknown>> = [];
  const push = (p: FixturePrice, effective: string, key: string, price: string, loadedAt: string, isDeleted = 0) =>
    rows.push({
      source: PRICE_SOURCE, provider_id: p.provider, model_id: p.model, model_match: JSON.stringify({ equals: p.model }),
      effective_from: effective, time_of_day: '', price_key: key, unit: key.replace('_mtok', '_tokens'), per: 1_000_000, price,
      tiers: [], loaded_at: loadedAt, is_deleted: isDeleted,
    });
  for (const p of Object.values(PRICES)) {
    const effective = p.model === 'gpt-4o' ? '2026-10-01' : '1970-01-01';
    push(p, effective, 'input_mtok', p.input, '2026-09-01 00:00:00.000000');
    push(p, effective, 'cache_read_mtok', p.cacheRead, '2026-09-01 00:00:00.000000');
    push(p, effective, 'output_mtok', p.output, '2026-09-01 00:00:00.000000');
    if (p.cacheWrite) push(p, effective, 'cache_write_mtok', p.cacheWrite, '2026-09-01 00:00:00.000000');
  }
  const gpt4o = PRICES['openai/gpt-4o'] as FixturePrice;
  // gpt-4o's earlier, higher price (not in force for any fixture call) ...
  push(gpt4o, '1970-01-01', 'input_mtok', '5', '2026-09-01 00:00:00.000000');
  push(gpt4o, '1970-01-01', 'cache_read_mtok', '2.5', '2026-09-01 00:00:00.000000');
  push(gpt4o, '1970-01-01', 'output_mtok', '15', '2026-09-01 00:00:00.000000');
  // ... and a price that was loaded and then removed from the book (a tombstone hides it).
  push(gpt4o, '2026-11-01', 'input_mtok', '99', '2026-09-01 00:00:00.000000');
  push(gpt4o, '2026-11-01', 'input_mtok', '99', '2026-09-02 00:00:00.000000', 1);
  return rows;
}

// ---- calls ----

type Shape = 'gpt-4o' | 'gpt-4o-mini' | 'claude' | 'claude-failed' | 'unpriced';

const SHAPES: Record<Shape, { provider: string; model: string; priced: string; input: number; cacheRead: number; output: number; error: string }> = {
  'gpt-4o': { provider: 'openai', model: 'gpt-4o', priced: 'openai/gpt-4o', input: 2000, cacheRead: 800, output: 500, error: '' },
  'gpt-4o-mini': { provider: 'openai', model: 'gpt-4o-mini', priced: 'openai/gpt-4o-mini', input: 10000, cacheRead: 0, output: 1000, error: '' },
  claude: { provider: 'anthropic', model: 'claude-sonnet-4', priced: 'anthropic/claude-sonnet-4', input: 5000, cacheRead: 4000, output: 400, error: '' },
  'claude-failed': { provider: 'anthropic', model: 'claude-sonnet-4', priced: 'anthropic/claude-sonnet-4', input: 5000, cacheRead: 4000, output: 0, error: 'timeout' },
  unpriced: { provider: 'openai', model: 'ft:gpt-4o-mini:acme::x1', priced: '', input: 1000, cacheRead: 0, output: 100, error: '' },
};

const ORGS: Record<string, { service: string; environment: string }> = {
  acme: { service: 'api', environment: 'prod' },
  globex: { service: 'worker', environment: 'prod' },
  initech: { service: 'api', environment: 'staging' },
};

export const FIRST_DAY = '2026-10-01';
export const LAST_DAY = '2026-11-14';

export function fixtureDays(): string[] {
  const days: string[] = [];
  for (let t = Date.parse(`${FIRST_DAY}T00:00:00Z`); t <= Date.parse(`${LAST_DAY}T00:00:00Z`); t += 86_400_000) {
    days.push(new Date(t).toISOString().slice(0, 10));
  }
  return days;
}

const hex = (n: number, width: number): string => n.toString(16).padStart(width, '0');
const mmdd = (day: string): string => day.slice(5, 7) + day.slice(8, 10);
const two = (n: number): string => String(n).padStart(2, '0');

let counter = 0;

function call(shape: Shape, o: { org: string; day: string; hour: number; minute: number; feature: string; user: string; conversation: string; durationMs: number }): UsageRow {
  const s = SHAPES[shape];
  const org = ORGS[o.org] as { service: string; environment: string };
  const price = s.priced ? PRICES[s.priced] : undefined;
  let cost: string | null = null;
  const breakdown: Record<string, string> = {};
  if (price) {
    const parts: Array<[string, bigint]> = [
      ['input_tokens', perMillion(s.input - s.cacheRead, price.input)],
      ['cache_read_tokens', perMillion(s.cacheRead, price.cacheRead)],
      ['output_tokens', perMillion(s.output, price.output)],
    ];
    let total = 0n;
    for (const [key, value] of parts) {
      if (value === 0n) continue;
      breakdown[key] = fmt(value);
      total += value;
    }
    cost = fmt(total);
  }
  const n = ++counter;
  return {
    ts: `${o.day} ${two(o.hour)}:${two(o.minute)}:00.000000`,
    trace_id: hex(n, 32),
    span_id: hex(n * 7919, 16),
    parent_span_id: '',
    duration_ms: o.durationMs,
    service_name: org.service,
    environment: org.environment,
    provider: s.provider,
    operation: 'chat',
    request_model: s.model,
    response_model: s.model,
    priced_model: s.priced,
    org_id: o.org,
    user_id: o.user,
    feature: o.feature,
    conversation_id: o.conversation,
    input_tokens: s.input,
    output_tokens: s.output,
    cache_read_tokens: s.cacheRead,
    cache_write_tokens: 0,
    reasoning_tokens: 0,
    input_audio_tokens: 0,
    output_audio_tokens: 0,
    usage_details: {},
    cost_usd: cost,
    cost_breakdown: breakdown,
    price_source: price ? PRICE_SOURCE : '',
    error_type: s.error,
    instrumentation: '@opentelemetry/instrumentation-openai',
    attributes: {},
  };
}

export interface Deliveries {
  /** The first delivery of every call (one of them wrongly priced). */
  first: UsageRow[];
  /** Re-deliveries, written later: duplicates and the correction. */
  second: UsageRow[];
  /** What exact readers must see: one row per call, its latest delivery. */
  truth: UsageRow[];
}

export function fixtureDeliveries(): Deliveries {
  counter = 0;
  const first: UsageRow[] = [];
  const second: UsageRow[] = [];
  const add = (row: UsageRow, again: boolean) => {
    first.push(row);
    if (again) second.push(row);
  };
  for (const day of fixtureDays()) {
    const odd = Number(day.slice(8, 10)) % 2 === 1;
    const d = mmdd(day);
    for (let h = 9; h <= 18; h++) {
      add(call('gpt-4o', { org: 'acme', day, hour: h, minute: 15, feature: 'chat', user: `acme-u${(h % 3) + 1}`, conversation: `acme-c-${d}`, durationMs: h === 18 ? 5000 : 1000 }), odd && h === 9);
    }
    for (const h of [10, 12, 14, 16, 18]) {
      add(call(h === 18 ? 'claude-failed' : 'claude', { org: 'acme', day, hour: h, minute: 30, feature: 'search', user: 'acme-u1', conversation: `acme-s-${d}`, durationMs: h === 18 ? 30000 : 2400 }), false);
    }
    if (!odd) add(call('unpriced', { org: 'acme', day, hour: 11, minute: 45, feature: 'chat', user: 'acme-u2', conversation: `acme-c-${d}`, durationMs: 900 }), false);
    for (let h = 9; h <= 18; h++) {
      for (const minute of [5, 35]) {
        add(call('gpt-4o-mini', { org: 'globex', day, hour: h, minute, feature: 'summarize', user: `globex-u${(h % 4) + 1}`, conversation: `globex-${d}-${h}`, durationMs: minute === 5 ? 600 : 800 }), odd && h === 9);
      }
    }
    for (const h of [13, 15]) {
      add(call('claude', { org: 'globex', day, hour: h, minute: 30, feature: 'search', user: 'globex-u1', conversation: `globex-s-${d}`, durationMs: 2400 }), false);
    }
    for (const h of [9, 11, 13, 15]) {
      const row = call('gpt-4o', { org: 'initech', day, hour: h, minute: 15, feature: 'chat', user: 'initech-u1', conversation: `initech-${d}`, durationMs: 1000 });
      if (day === '2026-11-03' && h === 9) {
        // First delivered wrongly priced; the re-delivery (later) carries the right price.
        first.push({ ...row, cost_usd: '0.02', cost_breakdown: { input_tokens: '0.02' } });
        second.push(row);
      } else {
        add(row, odd && h === 9);
      }
    }
    if (day === '2026-11-05') {
      for (let m = 0; m < 5; m++) {
        add(call('gpt-4o', { org: 'acme', day, hour: 19, minute: m, feature: 'chat', user: 'acme-u2', conversation: 'acme-c-1105', durationMs: 1000 }), false);
      }
    }
    if (day === '2026-11-06') {
      for (let i = 0; i < 60; i++) {
        add(call('claude', { org: 'globex', day, hour: 14, minute: i, feature: 'search', user: 'globex-u9', conversation: 'globex-spike-1106', durationMs: 2400 }), true);
      }
    }
  }
  const latest = new Map<string, UsageRow>();
  for (const row of [...first, ...second]) latest.set(`${row.trace_id}/${row.span_id}`, row);
  return { first, second, truth: [...latest.values()] };
}

// ---- oracle: the same questions answered in JS over `truth` ----

export interface Filter {
  org?: string[];
  service?: string[];
  environment?: string[];
  provider?: string[];
  model?: string[];
  feature?: string[];
  /** Inclusive bounds, 'YYYY-MM-DD hh:mm:ss'. */
  from?: string;
  to?: string;
}

export function select(rows: readonly UsageRow[], f: Filter): UsageRow[] {
  const inList = (list: string[] | undefined, v: string) => list === undefined || list.includes(v);
  return rows.filter((r) => {
    const ts = r.ts.slice(0, 19);
    return inList(f.org, r.org_id) && inList(f.service, r.service_name) && inList(f.environment, r.environment) &&
      inList(f.provider, r.provider) && inList(f.model, r.request_model) && inList(f.feature, r.feature) &&
      (f.from === undefined || ts >= f.from) && (f.to === undefined || ts <= f.to);
  });
}

export const oracle = {
  spend: (rows: readonly UsageRow[]): string => fmt(rows.reduce((a, r) => a + (r.cost_usd === null ? 0n : dec(r.cost_usd)), 0n)),
  calls: (rows: readonly UsageRow[]): number => rows.length,
  tokens: (rows: readonly UsageRow[]): number => rows.reduce((a, r) => a + r.input_tokens + r.output_tokens, 0),
  unpriced: (rows: readonly UsageRow[]): number => rows.filter((r) => r.cost_usd === null).length,
  /** Σ cache_read_tokens × input price − what the cache reads cost (calls that priced cache reads). */
  cacheSaved: (rows: readonly UsageRow[]): string =>
    fmt(rows.reduce((a, r) => {
      const paid = r.cost_breakdown.cache_read_tokens;
      if (paid === undefined) return a;
      const p = PRICES[r.priced_model] as FixturePrice;
      return a + perMillion(r.cache_read_tokens, p.input) - dec(paid);
    }, 0n)),
  groupSpend: (rows: readonly UsageRow[], key: (r: UsageRow) => string): Map<string, string> => {
    const m = new Map<string, bigint>();
    for (const r of rows) m.set(key(r), (m.get(key(r)) ?? 0n) + (r.cost_usd === null ? 0n : dec(r.cost_usd)));
    return new Map([...m].map(([k, v]) => [k, fmt(v)]));
  },
};
