/**
 * The demo's traffic plan: who calls what, when, and how many tokens it costs. Pure and
 * deterministic: the same options (seed included) always give the same calls. The window ends at
 * `nowMs`, so call times move with it, but who calls which model with how many tokens (and so
 * every cost) depends on the seed alone: two demo runs with one seed produce the same rows and
 * costs apart from ids and times.
 *
 * The shape follows a typical multi-tenant SaaS: a few large tenants and a long tail (Zipf), a
 * daily cycle (UTC business hours busiest, weekends quieter), and per-feature model choices and
 * token distributions (log-normal, as prompt and completion lengths are):
 *
 * | feature      | calls | how                               | model (tier)                              |
 * |--------------|-------|-----------------------------------|-------------------------------------------|
 * | support-bot  | 34 %  | chat, 30 % streamed, multi-turn    | gpt-4o-mini; gpt-4o for enterprise tenants |
 * | search       | 20 %  | embeddings (queries, some indexing)| text-embedding-3-small                    |
 * | triage       | 12 %  | chat, tiny prompts                 | gpt-4.1-nano; one tenant's self-hosted    |
 * |              |       |                                    | distilled model (no public price)         |
 * | summarize    | 11 %  | chat, long documents               | gpt-4.1-mini; gpt-4.1 for enterprise       |
 * | code-review  |  8 %  | Responses API, reasoning           | o4-mini                                   |
 * | web-research |  9 %  | recordUsage: scraping credits      | firecrawl scrape (credit-billed)          |
 * | call-notes   |  6 %  | recordUsage: transcription         | whisper-1 (per second of audio)           |
 *
 * About 1.5 % of the instrumented calls fail (429 mostly, some 500).
 */

export interface TrafficOptions {
  /** Days the calls spread over, ending at `nowMs`. */
  days: number;
  orgs: number;
  calls: number;
  seed: number;
  /** End of the window (exclusive), Unix ms. */
  nowMs: number;
}

/** Usage a fake-provider response reports (semantic-convention meaning). */
export interface PlannedUsage {
  input_tokens: number;
  output_tokens: number;
  cached_tokens?: number;
  reasoning_tokens?: number;
}

interface CallBase {
  /** Position in the plan. */
  index: number;
  /** When the call starts, Unix ms, inside the window. */
  atMs: number;
  durationMs: number;
  orgId: string;
  userId: string;
  feature: string;
  conversationId?: string;
}

export type PlannedCall = CallBase & (
  | { kind: 'chat'; model: string; stream: boolean; usage: PlannedUsage; failStatus?: 429 | 500 }
  | { kind: 'responses'; model: string; usage: PlannedUsage; failStatus?: 429 | 500 }
  | { kind: 'embeddings'; model: string; inputs: number; usage: PlannedUsage; failStatus?: 429 | 500 }
  | { kind: 'scrape'; pages: number; credits: number }
  | { kind: 'transcription'; model: string; audioSeconds: number }
);

/** The credit-billed scraping service the demo records with recordUsage (priced by a demo override). */
export const SCRAPE_PROVIDER = 'firecrawl';
export const SCRAPE_MODEL = 'scrape';
/** USD per credit of the demo's scraping service. */
export const SCRAPE_USD_PER_CREDIT = '0.00083';
/** A self-hosted model one tenant uses: no public price, so its calls stay unpriced (try `reprice`). */
export const SELF_HOSTED_MODEL = 'triage-distill-v2';

const ORG_NAMES = [
  'acme', 'globex', 'initech', 'umbrella', 'hooli', 'stark', 'wayne', 'wonka',
  'tyrell', 'cyberdyne', 'soylent', 'vandelay', 'oscorp', 'massive-dynamic', 'aperture', 'gringotts',
];

/** mulberry32: small, fast, good enough for traffic shapes, reproducible everywhere. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

type Rand = () => number;

/** Log-normal with the given median and shape, clamped to [min, max], rounded. */
function lognormal(r: Rand, median: number, sigma: number, min: number, max: number): number {
  const u1 = Math.max(r(), 1e-12);
  const u2 = r();
  const z = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  return Math.round(Math.min(max, Math.max(min, median * Math.exp(sigma * z))));
}

function weighted<T>(r: Rand, items: ReadonlyArray<readonly [T, number]>): T {
  let total = 0;
  for (const [, w] of items) total += w;
  let x = r() * total;
  for (const [item, w] of items) {
    x -= w;
    if (x < 0) return item;
  }
  return items[items.length - 1]![0];
}

/** Relative call volume by UTC hour: quiet nights, a morning and an afternoon peak. */
const HOURLY = [0.25, 0.2, 0.18, 0.18, 0.2, 0.3, 0.5, 0.8, 1.0, 1.0, 0.95, 0.9, 0.85, 0.95, 1.0, 0.95, 0.9, 0.8, 0.65, 0.55, 0.5, 0.45, 0.38, 0.3];

interface Org {
  id: string;
  weight: number;
  enterprise: boolean;
  users: number;
  selfHosted: boolean;
}

export function orgNames(count: number): string[] {
  return Array.from({ length: count }, (_, i) => ORG_NAMES[i] ?? `org-${String(i + 1).padStart(3, '0')}`);
}

function makeOrgs(count: number): Org[] {
  return orgNames(count).map((id, i) => {
    const weight = 1 / (i + 1) ** 1.1;
    return {
      id,
      weight,
      // The two largest tenants are on the enterprise plan (bigger models); every fifth after them too.
      enterprise: i < 2 || i % 5 === 4,
      users: Math.max(3, Math.round(60 * weight)),
      // One mid-size tenant runs its own triage model.
      selfHosted: i === Math.min(2, count - 1),
    };
  });
}

const FEATURES = [
  ['support-bot', 34], ['search', 20], ['triage', 12], ['summarize', 11], ['code-review', 8], ['web-research', 9], ['call-notes', 6],
] as const;

/** A call time inside the window, following the daily cycle (rejection sampling, deterministic). */
function callTime(r: Rand, startMs: number, spanMs: number): number {
  for (;;) {
    const at = startMs + Math.floor(r() * spanMs);
    const date = new Date(at);
    const weekend = date.getUTCDay() === 0 || date.getUTCDay() === 6;
    const weight = HOURLY[date.getUTCHours()]! * (weekend ? 0.45 : 1);
    if (r() < weight) return at;
  }
}

function failure(r: Rand): 429 | 500 | undefined {
  const x = r();
  return x < 0.012 ? 429 : x < 0.015 ? 500 : undefined;
}

/** The whole plan, in call order (not time order). */
export function planTraffic(options: TrafficOptions): PlannedCall[] {
  const r = prng(options.seed);
  // Times come from their own stream: where the window falls (it ends now) changes how many draws
  // a time takes, and must not change who calls what with how many tokens.
  const rt = prng((options.seed ^ 0x9e3779b9) >>> 0);
  const orgs = makeOrgs(options.orgs);
  const orgTable = orgs.map((o) => [o, o.weight] as const);
  const spanMs = options.days * 86_400_000;
  // Calls start at least 10 minutes before the end, so they also end in the past.
  const startMs = options.nowMs - spanMs;
  const usableMs = Math.max(1, spanMs - 600_000);
  const calls: PlannedCall[] = [];

  for (let index = 0; index < options.calls; index++) {
    const org = weighted(r, orgTable);
    const user = Math.floor(r() ** 1.6 * org.users);
    const base = {
      index,
      atMs: callTime(rt, startMs, usableMs),
      orgId: org.id,
      userId: `${org.id}-u${String(user + 1).padStart(3, '0')}`,
    };
    const feature = weighted(r, FEATURES);
    switch (feature) {
      case 'support-bot': {
        const model = org.enterprise && r() < 0.6 ? 'gpt-4o' : 'gpt-4o-mini';
        // Multi-turn: later turns resend the history, much of it cached.
        const turn = 1 + Math.floor(r() ** 2 * 8);
        const input = lognormal(r, 900 + 450 * turn, 0.45, 120, 60_000);
        const output = lognormal(r, 230, 0.55, 8, 2_000);
        const cached = turn > 1 ? Math.floor(input * (0.5 + r() * 0.35)) : 0;
        const conversation = Math.floor(r() * 40);
        calls.push({
          ...base, feature, kind: 'chat', model, stream: r() < 0.3,
          usage: { input_tokens: input, output_tokens: output, cached_tokens: cached },
          durationMs: 350 + output * (model === 'gpt-4o' ? 14 : 9) + Math.floor(r() * 400),
          conversationId: `${base.userId}-c${conversation}`,
          ...failureField(r),
        });
        break;
      }
      case 'search': {
        const indexing = r() < 0.12;
        const inputs = indexing ? 16 + Math.floor(r() * 48) : 1;
        const input = indexing ? lognormal(r, 14_000, 0.5, 2_000, 250_000) : lognormal(r, 28, 0.6, 3, 400);
        calls.push({
          ...base, feature, kind: 'embeddings', model: 'text-embedding-3-small', inputs,
          usage: { input_tokens: input, output_tokens: 0 },
          durationMs: 60 + Math.floor(input / 200) + Math.floor(r() * 90),
          ...failureField(r),
        });
        break;
      }
      case 'triage': {
        const model = org.selfHosted && r() < 0.7 ? SELF_HOSTED_MODEL : 'gpt-4.1-nano';
        const input = lognormal(r, 650, 0.5, 60, 8_000);
        const output = lognormal(r, 24, 0.5, 2, 200);
        calls.push({
          ...base, feature, kind: 'chat', model, stream: false,
          usage: { input_tokens: input, output_tokens: output },
          durationMs: 180 + output * 6 + Math.floor(r() * 150),
          ...failureField(r),
        });
        break;
      }
      case 'summarize': {
        const model = org.enterprise ? 'gpt-4.1' : 'gpt-4.1-mini';
        const input = lognormal(r, 9_500, 0.75, 800, 400_000);
        const output = lognormal(r, 480, 0.45, 60, 4_000);
        calls.push({
          ...base, feature, kind: 'chat', model, stream: r() < 0.15,
          usage: { input_tokens: input, output_tokens: output, cached_tokens: r() < 0.2 ? Math.floor(input * 0.6) : 0 },
          durationMs: 900 + output * 12 + Math.floor(input / 50) + Math.floor(r() * 600),
          ...failureField(r),
        });
        break;
      }
      case 'code-review': {
        const input = lognormal(r, 6_500, 0.6, 400, 150_000);
        const reasoning = lognormal(r, 1_400, 0.7, 0, 30_000);
        const visible = lognormal(r, 420, 0.5, 20, 6_000);
        calls.push({
          ...base, feature, kind: 'responses', model: 'o4-mini',
          usage: { input_tokens: input, output_tokens: reasoning + visible, reasoning_tokens: reasoning },
          durationMs: 2_500 + (reasoning + visible) * 8 + Math.floor(r() * 2_000),
          conversationId: `${base.userId}-pr${Math.floor(r() * 500)}`,
          ...failureField(r),
        });
        break;
      }
      case 'web-research': {
        const pages = r() < 0.7 ? 1 : 2 + Math.floor(r() * 9);
        // 1 credit per page, 5 with the LLM extraction option.
        const credits = pages * (r() < 0.25 ? 5 : 1);
        calls.push({ ...base, feature, kind: 'scrape', pages, credits, durationMs: 700 + pages * (400 + Math.floor(r() * 900)) });
        break;
      }
      case 'call-notes': {
        const audioSeconds = lognormal(r, 420, 0.7, 15, 5_400);
        calls.push({
          ...base, feature, kind: 'transcription', model: 'whisper-1', audioSeconds,
          durationMs: Math.min(590_000, 1_500 + Math.floor(audioSeconds * (35 + r() * 20))),
          conversationId: `${base.userId}-call${Math.floor(r() * 1000)}`,
        });
        break;
      }
    }
  }
  return calls;
}

function failureField(r: Rand): { failStatus?: 429 | 500 } {
  const status = failure(r);
  return status === undefined ? {} : { failStatus: status };
}
