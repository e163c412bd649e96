import { readFileSync } from 'node:fs';
import { basename, extname } from 'node:path';
import type { MatchLogic } from '@pydantic/genai-prices';
import { parse as parseYaml } from 'yaml';
import { catalogProviderId, type ProviderIndex } from './lookup.js';
import { compileMatch, matchLogicProblem, type Matcher } from './match.js';
import { compilePriceSet, PriceSetError, type PriceSet } from './price-set.js';
import { PriceConfigError, type OverrideModel, type PriceOverrides } from './types.js';

/** An override entry ready to match and quote. */
export interface CompiledOverride {
  /** Position in its file (0-based), for messages and tie-breaks. */
  readonly index: number;
  /** Catalog id of the provider (or its lower-cased name when the catalog does not know it); undefined = any. */
  readonly providerId: string | undefined;
  /** Lower-cased exact model id, when given as `model`. */
  readonly exact: string | undefined;
  readonly matcher: Matcher | undefined;
  /** The exact id, or the MatchLogic as JSON. */
  readonly modelMatch: string;
  readonly effectiveFrom: string;
  readonly fromMicros: number;
  /** exact+provider 3, exact 2, match+provider 1, match 0: the most specific matching entry wins. */
  readonly specificity: number;
  readonly set: PriceSet;
  /** `override:<basename>`. */
  readonly source: string;
  readonly label: string;
}

const ENTRY_KEYS: ReadonlySet<string> = new Set(['provider', 'model', 'match', 'effective_from', 'prices', 'units']);
const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;
export const EPOCH_DATE = '1970-01-01';

/** Reads and parses an overrides file (`.json` as JSON, anything else as YAML). Shape is checked by {@link compileOverrides}. */
export function readOverridesFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new PriceConfigError(`${path}: cannot read price overrides (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  try {
    return extname(path).toLowerCase() === '.json' ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    const message = ((err as Error).message.split('\n')[0] ?? '').replace(/:$/, '');
    throw new PriceConfigError(`${path}: not valid ${extname(path).toLowerCase() === '.json' ? 'JSON' : 'YAML'}: ${message}`);
  }
}

/** Validates an overrides document strictly and compiles it. Throws PriceConfigError naming `label` and the entry. */
export function compileOverrides(doc: unknown, label: string, sourceName: string, providers: ProviderIndex): CompiledOverride[] {
  if (doc === null || doc === undefined) return [];
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new PriceConfigError(`${label}: expected a mapping with a "models" list`);
  const { models, ...rest } = doc as Record<string, unknown>;
  const extra = Object.keys(rest);
  if (extra.length) throw new PriceConfigError(`${label}: unknown top-level key "${extra[0]}" (expected "models")`);
  if (models === undefined || models === null) return [];
  if (!Array.isArray(models)) throw new PriceConfigError(`${label}: "models" must be a list`);

  const source = `override:${sourceName}`;
  const out: CompiledOverride[] = [];
  const seen = new Map<string, number>();
  models.forEach((raw: unknown, index) => {
    const where = (entry?: Partial<OverrideModel>): string => {
      const name = typeof entry?.model === 'string' ? ` (model "${entry.model}")` : entry?.match !== undefined ? ` (match ${safeJson(entry.match)})` : '';
      return `${label}: models[${index}]${name}`;
    };
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new PriceConfigError(`${where()}: must be a mapping`);
    const entry = raw as Record<string, unknown> & Partial<OverrideModel>;
    const fail = (message: string): never => {
      throw new PriceConfigError(`${where(entry)}: ${message}`);
    };
    for (const key of Object.keys(entry)) {
      if (!ENTRY_KEYS.has(key)) fail(`unknown field "${key}" (expected ${[...ENTRY_KEYS].join(', ')})`);
    }

    let providerId: string | undefined;
    if (entry.provider !== undefined) {
      if (typeof entry.provider !== 'string' || entry.provider.trim() === '') fail('provider must be a non-empty string');
      const name = (entry.provider as string).trim().toLowerCase();
      providerId = catalogProviderId(name, providers) ?? name;
    }

    let exact: string | undefined;
    let matcher: Matcher | undefined;
    let modelMatch: string;
    if (entry.model !== undefined && entry.match !== undefined) fail('give either model or match, not both');
    if (entry.model !== undefined) {
      if (typeof entry.model !== 'string' || entry.model.trim() === '') fail('model must be a non-empty string');
      exact = (entry.model as string).trim().toLowerCase();
      modelMatch = (entry.model as string).trim();
    } else if (entry.match !== undefined) {
      const problem = matchLogicProblem(entry.match);
      if (problem) fail(problem);
      matcher = compileMatch(entry.match as MatchLogic);
      modelMatch = JSON.stringify(entry.match);
    } else {
      return fail('missing model (exact id) or match');
    }

    const effectiveFrom = entry.effective_from === undefined ? EPOCH_DATE : parseDate(entry.effective_from, fail);
    const fromMicros = Date.parse(`${effectiveFrom}T00:00:00Z`) * 1000;

    const prices = entry.prices;
    const units = entry.units;
    if (prices !== undefined && (typeof prices !== 'object' || prices === null || Array.isArray(prices))) fail('prices must be a mapping of price key to price');
    if (units !== undefined && (typeof units !== 'object' || units === null || Array.isArray(units))) fail('units must be a mapping of usage key to USD per unit');
    for (const key of Object.keys(units ?? {})) {
      if (!/^[A-Za-z_][\w.-]*$/.test(key)) fail(`units: "${key}" is not a usage key name`);
    }
    if (Object.keys(prices ?? {}).length === 0 && Object.keys(units ?? {}).length === 0) fail('no prices or units given');
    for (const [key, value] of Object.entries({ ...prices, ...units })) {
      if (value === null || value === undefined) fail(`${key}: price is empty`);
    }
    let set: PriceSet;
    try {
      set = compilePriceSet((prices ?? {}) as Record<string, unknown>, { strict: true, unitPrices: units as Record<string, unknown> | undefined });
    } catch (err) {
      if (err instanceof PriceSetError || err instanceof RangeError) return fail(err.message);
      throw err;
    }

    const identity = `${providerId ?? '*'}\u0000${exact ?? modelMatch}\u0000${effectiveFrom}`;
    const previous = seen.get(identity);
    if (previous !== undefined) fail(`same provider, model and effective_from as models[${previous}]`);
    seen.set(identity, index);

    out.push({
      index, providerId, exact, matcher, modelMatch, effectiveFrom, fromMicros,
      specificity: (exact !== undefined ? 2 : 0) + (providerId !== undefined ? 1 : 0),
      set, source, label,
    });
  });
  return out;
}

/** Loads, validates and compiles an overrides file. */
export function loadOverridesFile(path: string, providers: ProviderIndex): CompiledOverride[] {
  return compileOverrides(readOverridesFile(path), path, basename(path), providers);
}

function parseDate(value: unknown, fail: (message: string) => never): string {
  let text: string;
  if (value instanceof Date) {
    // YAML 1.1 timestamps arrive as Dates: accept midnight UTC only.
    if (Number.isNaN(value.getTime()) || value.getTime() % 86_400_000 !== 0) fail(`effective_from must be a date (YYYY-MM-DD), got ${String(value)}`);
    text = value.toISOString().slice(0, 10);
  } else if (typeof value === 'string') {
    text = value.trim();
  } else {
    return fail(`effective_from must be a date (YYYY-MM-DD), got ${safeJson(value)}`);
  }
  const m = DATE_RE.exec(text);
  const date = m ? new Date(`${text}T00:00:00Z`) : undefined;
  if (!m || !date || Number.isNaN(date.getTime()) || date.toISOString().slice(0, 10) !== text) {
    fail(`effective_from must be a valid date (YYYY-MM-DD), got ${safeJson(value)}`);
  }
  return text;
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
