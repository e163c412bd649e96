import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { waitForUpdate, type ConditionalPrice, type ModelInfo, type ModelPrice, type Provider } from '@pydantic/genai-prices';
import { formatDec } from './decimal.js';
import { catalogProviderId, isProxyName, modelCandidates, type Candidate, type ProviderIndex } from './lookup.js';
import { compileMatch, normalizeDateSuffix, type Matcher } from './match.js';
import { compileOverrides, EPOCH_DATE, loadOverridesFile, type CompiledOverride } from './overrides.js';
import { compilePriceSet, computeCost, type PriceSet } from './price-set.js';
import {
  type PriceBook, type PriceDescription, type PriceEntry, type PriceListRow, type PriceOverrides, type PriceQuery, type PriceQuote,
  type PricingUsage,
} from './types.js';

const CATALOG_PACKAGE = '@pydantic/genai-prices';
/** Resolved (provider, model) pairs kept; the map is cleared when full (span model ids are low-cardinality). */
export const RESOLUTION_CACHE_LIMIT = 10_000;
/** Aggregators resell other providers' models: searched last when the provider is unknown. */
const RESELLER = (id: string): boolean => id === 'openrouter' || id.startsWith('huggingface_');

interface ScheduleEntry {
  /** 0 = always, 1 = from a start date, 2 = during a UTC time-of-day window. */
  readonly kind: 0 | 1 | 2;
  readonly fromMicros: number;
  readonly startSecond: number;
  readonly endSecond: number;
  readonly effectiveFrom: string;
  readonly timeOfDay: string;
  readonly set: PriceSet;
}

interface CatalogModel {
  readonly providerId: string;
  readonly info: ModelInfo;
  readonly idLower: string;
  readonly matcher: Matcher;
  readonly schedule: readonly ScheduleEntry[];
  readonly pricedModel: string;
  /** Groq bills whisper for at least 10 seconds per request. */
  readonly minimumTenSeconds: boolean;
}

interface CatalogProvider {
  readonly id: string;
  readonly models: readonly CatalogModel[];
  readonly fallbacks: readonly string[];
  readonly modelMatch: Matcher | undefined;
}

interface Resolution {
  readonly catalog: CatalogModel | undefined;
  /** Matching overrides, most specific first, then latest effective_from first. */
  readonly overrides: readonly CompiledOverride[];
  /** About the catalog lookup (price found under another provider, unknown provider name). */
  readonly warnings: readonly string[];
  /** Provider id for an override's pricedModel when the entry names none. */
  readonly providerLabel: string;
  readonly modelLabel: string;
}

/** Parses the catalog's time-of-day (`00:30:00Z`, `08:00:00+08:00`) to seconds after midnight UTC. */
function secondsOfDayUtc(text: string): number {
  const m = /^(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|([+-])(\d{2}):(\d{2}))$/.exec(text);
  if (!m) throw new Error(`invalid time-of-day constraint: ${text}`);
  const local = Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3]) + Number(`0.${m[4] ?? '0'}`);
  const offset = m[5] === 'Z' ? 0 : (m[6] === '+' ? 1 : -1) * (Number(m[7]) * 3600 + Number(m[8]) * 60);
  return (((local - offset) % 86_400) + 86_400) % 86_400;
}

function formatSecondsOfDay(seconds: number): string {
  const s = Math.floor(seconds);
  const pad = (v: number): string => String(v).padStart(2, '0');
  return `${pad(Math.floor(s / 3600))}:${pad(Math.floor((s % 3600) / 60))}:${pad(s % 60)}`;
}

function compileSchedule(providerId: string, info: ModelInfo): { schedule: ScheduleEntry[] } {
  const list: ConditionalPrice[] = Array.isArray(info.prices) ? info.prices : [{ prices: info.prices }];
  const schedule = list.map((cp): ScheduleEntry => {
    const set = compilePriceSet(cp.prices as ModelPrice, { strict: false });
    // Raw bundled data may omit `type` (the library infers it from the fields): go by the fields.
    const c = cp.constraint as { start_date?: string; start_time?: string; end_time?: string } | undefined;
    if (c === undefined) return { kind: 0, fromMicros: 0, startSecond: 0, endSecond: 0, effectiveFrom: EPOCH_DATE, timeOfDay: '', set };
    if (typeof c.start_date === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(c.start_date)) {
      return {
        kind: 1, fromMicros: Date.parse(`${c.start_date}T00:00:00Z`) * 1000, startSecond: 0, endSecond: 0,
        effectiveFrom: c.start_date, timeOfDay: '', set,
      };
    }
    if (typeof c.start_time === 'string' && typeof c.end_time === 'string') {
      const startSecond = secondsOfDayUtc(c.start_time);
      const endSecond = secondsOfDayUtc(c.end_time);
      return {
        kind: 2, fromMicros: 0, startSecond, endSecond, effectiveFrom: EPOCH_DATE,
        timeOfDay: `${formatSecondsOfDay(startSecond)}-${formatSecondsOfDay(endSecond)}`, set,
      };
    }
    throw new Error(`unknown price constraint for ${providerId}/${info.id}: ${JSON.stringify(c)}`);
  });
  return { schedule };
}

/**
 * The price in force at `atMicros`, as the catalog library picks it: the LAST entry whose
 * constraint holds (start date reached, or UTC time of day inside [start, end), windows may wrap
 * midnight); the first entry when none holds.
 */
function selectPrice(schedule: readonly ScheduleEntry[], atMicros: number): ScheduleEntry {
  let secondOfDay = -1;
  for (let i = schedule.length - 1; i >= 0; i--) {
    const e = schedule[i]!;
    if (e.kind === 0) return e;
    if (e.kind === 1) {
      if (atMicros >= e.fromMicros) return e;
      continue;
    }
    if (secondOfDay < 0) {
      const ms = Math.floor(atMicros / 1000);
      secondOfDay = (((ms % 86_400_000) + 86_400_000) % 86_400_000) / 1000;
    }
    if (e.endSecond < e.startSecond) {
      if (secondOfDay >= e.startSecond || secondOfDay < e.endSecond) return e;
    } else if (secondOfDay >= e.startSecond && secondOfDay < e.endSecond) {
      return e;
    }
  }
  return schedule[0]!;
}

/** Groq whisper: audio under 10 seconds is billed as 10 (the catalog library's rule). */
function withTenSecondMinimum(usage: PricingUsage): PricingUsage {
  const audio = usage.audio_seconds;
  const inputAudio = usage.input_audio_seconds;
  const seconds = audio === 0 ? inputAudio : audio ?? inputAudio;
  if (typeof seconds !== 'number' || !Number.isFinite(seconds)) return usage;
  const billed = seconds > 0 ? Math.max(seconds, 10) : 0;
  return { ...usage, audio_seconds: billed, input_audio_seconds: billed };
}

function readPackageVersion(): string {
  const require = createRequire(import.meta.url);
  let dir = dirname(require.resolve(CATALOG_PACKAGE));
  for (let i = 0; i < 5; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === CATALOG_PACKAGE && pkg.version) return pkg.version;
    } catch {
      // not here: keep walking up
    }
    dir = dirname(dir);
  }
  return 'unknown';
}

class CatalogPriceBook implements PriceBook {
  readonly catalogVersion: string;
  readonly hasOverrides: boolean;
  private readonly source: string;
  private readonly providers: ReadonlyMap<string, CatalogProvider>;
  private readonly withModelMatch: readonly CatalogProvider[];
  /** Every provider, first-party price lists before resellers. */
  private readonly searchOrder: readonly CatalogProvider[];
  private readonly index: ProviderIndex;
  private readonly overrides: readonly CompiledOverride[];
  private readonly cache = new Map<string, Map<string, Resolution | null>>();
  private cached = 0;

  constructor(
    catalog: readonly Provider[], version: string, index: ProviderIndex, overrides: readonly CompiledOverride[],
    readonly loadOptions: LoadPriceBookOptions,
  ) {
    this.catalogVersion = `genai-prices@${version}`;
    this.source = this.catalogVersion;
    this.index = index;
    this.overrides = overrides;
    this.hasOverrides = overrides.length > 0;
    const providers = new Map<string, CatalogProvider>();
    for (const p of catalog) {
      providers.set(p.id, {
        id: p.id,
        fallbacks: p.fallback_model_providers ?? [],
        modelMatch: p.model_match ? compileMatch(p.model_match) : undefined,
        models: p.models.map((info) => ({
          providerId: p.id,
          info,
          idLower: info.id.toLowerCase(),
          matcher: compileMatch(info.match),
          ...compileSchedule(p.id, info),
          pricedModel: `${p.id}/${info.id}`,
          minimumTenSeconds: p.id === 'groq' && (info.id === 'whisper-large-v3' || info.id === 'whisper-large-v3-turbo'),
        })),
      });
    }
    this.providers = providers;
    const all = [...providers.values()];
    this.withModelMatch = all.filter((p) => p.modelMatch !== undefined);
    this.searchOrder = [
      ...this.withModelMatch,
      ...all.filter((p) => p.modelMatch === undefined && !RESELLER(p.id)),
      ...all.filter((p) => p.modelMatch === undefined && RESELLER(p.id)),
    ];
  }

  quote(q: PriceQuery): PriceQuote | null {
    const provider = typeof q.provider === 'string' ? q.provider : '';
    const model = typeof q.model === 'string' ? q.model : '';
    // Two-level cache: no key string is built per call.
    let byModel = this.cache.get(provider);
    let resolution = byModel?.get(model);
    if (resolution === undefined) {
      resolution = this.resolve(provider, model);
      if (this.cached >= RESOLUTION_CACHE_LIMIT) {
        this.cache.clear();
        this.cached = 0;
        byModel = undefined;
      }
      if (byModel === undefined) {
        byModel = new Map();
        this.cache.set(provider, byModel);
      }
      byModel.set(model, resolution);
      this.cached++;
    }
    if (resolution === null) return null;

    const warnings: string[] = [];
    let at = q.atUnixMicros;
    if (typeof at !== 'number' || !Number.isFinite(at)) {
      warnings.push(`invalid atUnixMicros ${String(at)}: priced at the current time`);
      at = Date.now() * 1000;
    }

    let set: PriceSet | undefined;
    let pricedModel = '';
    let source = '';
    let usage = q.usage ?? {};
    for (const o of resolution.overrides) {
      if (at >= o.fromMicros) {
        set = o.set;
        pricedModel = `${o.providerId ?? resolution.providerLabel}/${o.exact !== undefined ? o.modelMatch : resolution.modelLabel}`;
        source = o.source;
        break;
      }
    }
    if (set === undefined) {
      const catalog = resolution.catalog;
      if (catalog === undefined) return null;
      set = selectPrice(catalog.schedule, at).set;
      pricedModel = catalog.pricedModel;
      source = this.source;
      // How the catalog entry was found matters only when the catalog prices the call.
      for (const w of resolution.warnings) warnings.push(w);
      if (catalog.minimumTenSeconds) usage = withTenSecondMinimum(usage);
    }
    for (const problem of set.problems) warnings.push(`${pricedModel}: ${problem}`);
    const { total, breakdown } = computeCost(set, usage, warnings);
    return { costUsd: total, breakdown, pricedModel, source, warnings };
  }

  listPrices(): PriceListRow[] {
    const rows: PriceListRow[] = [];
    for (const p of this.providers.values()) {
      for (const m of p.models) {
        const modelMatch = JSON.stringify(m.info.match);
        for (const e of m.schedule) {
          pushRows(rows, e.set, {
            source: this.source, provider_id: p.id, model_id: m.info.id, model_match: modelMatch,
            effective_from: e.effectiveFrom, time_of_day: e.timeOfDay,
          });
        }
      }
    }
    for (const o of this.overrides) {
      pushRows(rows, o.set, {
        source: o.source, provider_id: o.providerId ?? '', model_id: o.exact !== undefined ? o.modelMatch : '',
        model_match: o.modelMatch, effective_from: o.effectiveFrom, time_of_day: '',
      });
    }
    return rows;
  }

  describe(q: Omit<PriceQuery, 'usage'>): PriceDescription | null {
    const resolution = this.resolve(typeof q.provider === 'string' ? q.provider : '', typeof q.model === 'string' ? q.model : '');
    if (resolution === null) return null;
    const at = Number.isFinite(q.atUnixMicros) ? q.atUnixMicros : Date.now() * 1000;
    const entries: PriceEntry[] = [];
    const activeOverride = resolution.overrides.find((o) => at >= o.fromMicros);
    for (const o of resolution.overrides) {
      entries.push({
        source: o.source,
        pricedModel: `${o.providerId ?? resolution.providerLabel}/${o.exact !== undefined ? o.modelMatch : resolution.modelLabel}`,
        effectiveFrom: o.effectiveFrom, timeOfDay: '', inForce: o === activeOverride, prices: entryPrices(o.set),
      });
    }
    const catalog = resolution.catalog;
    if (catalog) {
      const selected = activeOverride ? undefined : selectPrice(catalog.schedule, at);
      for (const e of catalog.schedule) {
        entries.push({
          source: this.source, pricedModel: catalog.pricedModel, effectiveFrom: e.effectiveFrom, timeOfDay: e.timeOfDay,
          inForce: e === selected, prices: entryPrices(e.set),
        });
      }
    }
    const inForce = entries.find((e) => e.inForce);
    if (!inForce) return null;
    const info = catalog?.info;
    return {
      pricedModel: inForce.pricedModel,
      source: inForce.source,
      ...(catalog && info ? {
        catalog: {
          providerId: catalog.providerId, modelId: info.id,
          ...(info.name !== undefined ? { name: info.name } : {}),
          ...(info.context_window !== undefined ? { contextWindow: info.context_window } : {}),
          ...(info.deprecated !== undefined ? { deprecated: info.deprecated } : {}),
          ...(info.price_comments !== undefined ? { comments: info.price_comments } : {}),
        },
      } : {}),
      warnings: inForce.source === this.source ? [...resolution.warnings] : [],
      entries,
    };
  }

  private resolve(providerName: string, modelName: string): Resolution | null {
    const model = modelName.trim().toLowerCase();
    if (model === '') return null;
    const providerId = catalogProviderId(providerName, this.index);
    const candidates = modelCandidates(model, this.index);
    const warnings: string[] = [];

    const overrides = this.matchOverrides(providerId ?? providerName.trim().toLowerCase(), candidates);
    const found = this.findCatalog(providerId, candidates);
    if (found && providerId !== undefined && found.step > 0) {
      warnings.push(`no ${providerId} price for "${modelName.trim()}": priced as ${found.model.pricedModel}`);
    } else if (found && providerId === undefined && !isProxyName(providerName)) {
      warnings.push(`unknown provider "${providerName.trim()}": priced by model id as ${found.model.pricedModel}`);
    }
    if (!found && overrides.length === 0) return null;
    return {
      catalog: found?.model,
      overrides,
      warnings,
      providerLabel: providerId ?? (providerName.trim().toLowerCase() || '*'),
      modelLabel: model,
    };
  }

  /**
   * Lookup order: the provider's own models (then its fallback providers, e.g. azure → openai),
   * the provider a prefix names (`anthropic/…`, `anthropic.claude…` on Bedrock), the provider
   * whose model_match fits, then every price list (resellers last). Each tries every spelling.
   */
  private findCatalog(providerId: string | undefined, candidates: readonly Candidate[]): { model: CatalogModel; step: number } | undefined {
    const own = providerId === undefined ? undefined : this.providers.get(providerId);
    if (own) {
      for (const c of candidates) {
        const m = this.findInProvider(own, c.id, true);
        if (m) return { model: m, step: 0 };
      }
    }
    for (const c of candidates) {
      if (c.hint === undefined || c.hint === providerId) continue;
      const hinted = this.providers.get(c.hint);
      const m = hinted && this.findInProvider(hinted, c.id, true);
      if (m) return { model: m, step: 1 };
    }
    for (const c of candidates) {
      for (const p of this.withModelMatch) {
        if (p === own || !p.modelMatch!(c.id)) continue;
        const m = this.findInProvider(p, c.id, true);
        if (m) return { model: m, step: 2 };
      }
    }
    for (const c of candidates) {
      for (const p of this.searchOrder) {
        const m = this.findInProvider(p, c.id, false);
        if (m) return { model: m, step: 3 };
      }
    }
    return undefined;
  }

  /** As the catalog library: first matching model, then fallback providers' models; then again with a normalised date suffix. */
  private findInProvider(p: CatalogProvider, id: string, fallbacks: boolean): CatalogModel | undefined {
    const m = this.findDirect(p, id, fallbacks);
    if (m) return m;
    const normalized = normalizeDateSuffix(id);
    return normalized === id ? undefined : this.findDirect(p, normalized, fallbacks);
  }

  private findDirect(p: CatalogProvider, id: string, fallbacks: boolean): CatalogModel | undefined {
    const m = findModel(p, id);
    if (m || !fallbacks) return m;
    for (const fid of p.fallbacks) {
      const f = this.providers.get(fid);
      const fm = f && findModel(f, id);
      if (fm) return fm;
    }
    return undefined;
  }

  private matchOverrides(providerId: string, candidates: readonly Candidate[]): CompiledOverride[] {
    if (this.overrides.length === 0) return [];
    const matched = this.overrides.filter((o) => {
      if (o.providerId !== undefined && o.providerId !== providerId) return false;
      return candidates.some((c) => (o.exact !== undefined ? o.exact === c.id : o.matcher!(c.id)));
    });
    return matched.sort((a, b) => b.specificity - a.specificity || b.fromMicros - a.fromMicros || b.index - a.index);
  }
}

/**
 * The first model whose match rule fits (the catalog's order decides), else the model whose own id
 * is `id`: a few catalog ids are not matched by their own rules (fireworks `glm-4p7` only matches
 * `accounts/fireworks/models/glm-4p7`).
 */
function findModel(p: CatalogProvider, id: string): CatalogModel | undefined {
  for (const m of p.models) if (m.matcher(id)) return m;
  for (const m of p.models) if (m.idLower === id) return m;
  return undefined;
}

function pushRows(
  rows: PriceListRow[], set: PriceSet,
  base: Pick<PriceListRow, 'source' | 'provider_id' | 'model_id' | 'model_match' | 'effective_from' | 'time_of_day'>,
): void {
  for (const i of set.order) {
    const u = set.units[i]!;
    rows.push({
      ...base,
      price_key: u.priceKey,
      unit: u.unit.usageKey,
      per: u.priceKey === u.unit.priceKey ? u.unit.per : 1,
      price: formatDec(u.base),
      tiers: u.tiers.map((t) => ({ start: t.start, price: formatDec(t.price) })),
    });
  }
  for (const c of set.custom) {
    rows.push({ ...base, price_key: c.key, unit: c.key, per: 1, price: formatDec(c.price), tiers: [] });
  }
}

/** A price set's prices as the book lists them (breakdown order). */
function entryPrices(set: PriceSet): PriceEntry['prices'] {
  const rows: PriceListRow[] = [];
  pushRows(rows, set, { source: '', provider_id: '', model_id: '', model_match: '', effective_from: '', time_of_day: '' });
  return rows.map(({ price_key, unit, per, price, tiers }) => ({ price_key, unit, per, price, tiers }));
}

function providerIndex(catalog: readonly Provider[]): ProviderIndex {
  return {
    ids: new Set(catalog.map((p) => p.id)),
    providerMatchers: catalog.flatMap((p) => (p.provider_match ? [{ id: p.id, test: compileMatch(p.provider_match) }] : [])),
  };
}

export interface LoadPriceBookOptions {
  /** JSON or YAML overrides file (see overrides.ts). */
  overridesFile?: string;
  /** Overrides given in code (validated like a file, source `override:inline`). */
  overrides?: PriceOverrides;
}

/**
 * Loads the catalog bundled with @pydantic/genai-prices (no network: the package's bundled data)
 * plus overrides. Async only because the package's data accessor is; quoting is synchronous.
 */
export async function loadPriceBook(options: LoadPriceBookOptions = {}): Promise<PriceBook> {
  const catalog = await waitForUpdate();
  if (!Array.isArray(catalog)) throw new Error(`${CATALOG_PACKAGE}: no bundled price data`);
  const index = providerIndex(catalog);
  const overrides: CompiledOverride[] = [];
  if (options.overridesFile !== undefined) overrides.push(...loadOverridesFile(options.overridesFile, index));
  if (options.overrides !== undefined) {
    const inline = compileOverrides(options.overrides, 'inline overrides', 'inline', index);
    // Inline entries come after the file's: on equal specificity and date they win.
    const offset = overrides.length;
    overrides.push(...inline.map((o) => ({ ...o, index: o.index + offset })));
  }
  return new CatalogPriceBook(catalog, readPackageVersion(), index, overrides, options);
}
