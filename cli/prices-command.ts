import { parseArgs } from 'node:util';
import { basename } from 'node:path';
import { loadPriceBook, type PriceBook } from '../pricing/index.js';
import { cost, divisorOf, formatAmount, toDec } from '../pricing/decimal.js';
import type { PriceDescription, PriceEntry, PriceEntryPrice } from '../pricing/types.js';
import { parseCommandArgs } from './args.js';
import { CliError, USAGE_EXIT_CODE } from './cli-error.js';
import type { Command } from './main.js';
import { writeLines } from './stdio.js';
import { renderTable } from './table.js';

const HELP = `Usage: genai-ledger prices MODEL [--provider P] [--at DATE] [--prices FILE] [--format table|json]

What a model costs, as the ledger prices it: USD per 1M tokens for token units and per unit for
everything else (seconds of audio, searches, credits, ...), long-context tiers, time-of-day
prices and price history, and where each price comes from (the bundled catalog's version, or an
overrides file). The price marked "in force" is the one a call at --at would be charged.

Options:
  --provider P     provider name as spans carry it (openai, anthropic, aws.bedrock, ...).
                   Default: found by the model id
  --at DATE        ISO date or time (UTC unless an offset is given). Default: now
  --prices FILE    price overrides (JSON or YAML) that win over the bundled catalog
  --format F       table (default) or json`;

export const pricesCommand: Command = {
  summary: 'what a model costs per token or unit, and from which source',
  help: HELP,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(() => parseArgs({
      args: argv, strict: true, allowPositionals: true,
      options: { provider: { type: 'string', default: '' }, at: { type: 'string' }, prices: { type: 'string' }, format: { type: 'string', default: 'table' } },
    }));
    if (values.format !== 'table' && values.format !== 'json') throw new CliError(`--format: table or json, not '${values.format}'`, USAGE_EXIT_CODE);
    if (positionals.length !== 1 || positionals[0]!.trim() === '') {
      throw new CliError(positionals.length === 0 ? 'which model? (genai-ledger prices MODEL)' : `one model at a time, got ${positionals.length}`, USAGE_EXIT_CODE);
    }
    const model = positionals[0]!.trim();
    const atMs = values.at === undefined ? Date.now() : parseInstant(values.at);
    const book = await loadPriceBook(values.prices ? { overridesFile: values.prices } : {});

    const description = book.describe({ provider: values.provider, model, atUnixMicros: atMs * 1000 });
    if (!description) {
      const sources = values.prices ? `${book.catalogVersion} or ${basename(values.prices)}` : book.catalogVersion;
      const near = closeMatches(book, model, values.provider);
      throw new CliError(
        `no price for '${model}'${values.provider ? ` (provider ${values.provider})` : ''} in ${sources}` +
          (near.length > 0 ? `; close matches: ${near.join(', ')}` : ''),
      );
    }
    const at = new Date(atMs).toISOString();
    if (values.format === 'json') {
      await writeLines([JSON.stringify(toJson(description, model, values.provider, at))]);
    } else {
      await writeLines(renderDescription(description, model, values.provider, at));
    }
    return 0;
  },
};

function parseInstant(text: string): number {
  const iso = /^\d{4}-\d{2}-\d{2}$/.test(text) ? `${text}T00:00:00Z` : /[zZ]|[+-]\d{2}:?\d{2}$/.test(text) ? text : `${text}Z`;
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) throw new CliError(`--at: not a date or time: '${text}'`, USAGE_EXIT_CODE);
  return ms;
}

const UNIT_NAMES: Readonly<Record<string, string>> = {
  audio_seconds: 'second of audio', input_audio_seconds: 'second of input audio', output_audio_seconds: 'second of output audio',
  web_searches: 'web search', storage_searches: 'storage search', social_searches: 'social search', rerank_searches: 'rerank search',
  code_executions: 'code execution', requests: 'request', input_characters: 'character', input_pixels: 'pixel',
  input_document_pages: 'page', input_annotated_document_pages: 'annotated page', input_text_messages: 'message',
  credits: 'credit', images: 'image',
};

/** A price as people read it: per 1M tokens for token units, per one unit otherwise. */
export function displayPrice(p: Pick<PriceEntryPrice, 'unit' | 'per' | 'price'>): { usd: string; per: string } {
  const tokenUnit = p.unit.endsWith('_tokens');
  const factor = tokenUnit ? 1_000_000 : 1;
  const usd = p.per === factor ? p.price : formatAmount(cost(toDec(factor), toDec(p.price), divisorOf(p.per)));
  return { usd, per: tokenUnit ? '1M tokens' : `1 ${UNIT_NAMES[p.unit] ?? p.unit}` };
}

function entryTitle(e: PriceEntry): string {
  const when = [
    e.effectiveFrom !== '1970-01-01' ? `from ${e.effectiveFrom}` : '',
    e.timeOfDay ? `${e.timeOfDay} UTC` : '',
  ].filter(Boolean).join(', ');
  return `${e.pricedModel} from ${e.source}${when ? ` (${when})` : ''}`;
}

function entryRows(e: PriceEntry): Array<Record<string, string>> {
  const rows: Array<Record<string, string>> = [];
  for (const p of e.prices) {
    const { usd, per } = displayPrice(p);
    rows.push({ unit: p.unit, usd, per });
    for (const tier of p.tiers) {
      rows.push({ unit: `  input > ${tier.start} tokens`, usd: displayPrice({ ...p, price: tier.price }).usd, per });
    }
  }
  return rows;
}

function renderDescription(d: PriceDescription, model: string, provider: string, at: string): string[] {
  const lines: string[] = [];
  const inForce = d.entries.find((e) => e.inForce)!;
  lines.push(`${model}${provider ? ` (${provider})` : ''} at ${at}: priced as ${d.pricedModel} from ${d.source}`);
  if (d.catalog) {
    const facts = [
      d.catalog.name ? `"${d.catalog.name}"` : '',
      d.catalog.contextWindow ? `context window ${d.catalog.contextWindow} tokens` : '',
      d.catalog.deprecated ? 'deprecated' : '',
    ].filter(Boolean);
    if (facts.length > 0) lines.push(`catalog entry ${d.catalog.providerId}/${d.catalog.modelId}: ${facts.join(', ')}`);
    if (d.catalog.comments) lines.push(`note: ${d.catalog.comments}`);
  }
  for (const w of d.warnings) lines.push(`warning: ${w}`);
  lines.push('', `in force: ${entryTitle(inForce)}`, renderTable(entryRows(inForce), ['unit', 'usd', 'per']));
  const others = d.entries.filter((e) => !e.inForce);
  if (others.length > 0) {
    lines.push('', 'other prices for this model (history, time of day, shadowed sources):');
    for (const e of others) lines.push('', `${entryTitle(e)}:`, renderTable(entryRows(e), ['unit', 'usd', 'per']));
  }
  return lines;
}

function toJson(d: PriceDescription, model: string, provider: string, at: string): Record<string, unknown> {
  return {
    model, provider, at, priced_model: d.pricedModel, source: d.source,
    ...(d.catalog ? { catalog: d.catalog } : {}),
    warnings: d.warnings,
    entries: d.entries.map((e) => ({
      source: e.source, priced_model: e.pricedModel, effective_from: e.effectiveFrom, time_of_day: e.timeOfDay, in_force: e.inForce,
      prices: e.prices.map((p) => {
        const shown = displayPrice(p);
        return {
          unit: p.unit, price_key: p.price_key, price: p.price, per: p.per, usd: shown.usd, usd_per: shown.per,
          tiers: p.tiers.map((t) => ({ above_input_tokens: t.start, price: t.price, usd: displayPrice({ ...p, price: t.price }).usd })),
        };
      }),
    })),
  };
}

/** A few known model ids close to `model` (same provider first), cheapest useful guess. */
export function closeMatches(book: PriceBook, model: string, provider: string, limit = 5): string[] {
  const wanted = model.toLowerCase().replace(/^.*\//, '');
  const providerLower = provider.toLowerCase();
  const seen = new Map<string, number>();
  for (const row of book.listPrices()) {
    const id = row.model_id.toLowerCase();
    if (id === '') continue;
    const label = row.model_id;
    const distance = editDistance(wanted, id, Math.max(3, Math.ceil(wanted.length / 3)));
    const contains = id.includes(wanted) || (wanted.length >= 4 && wanted.includes(id));
    if (distance === undefined && !contains) continue;
    let score = distance ?? Math.abs(id.length - wanted.length) + 2;
    if (contains) score = Math.min(score, 1 + Math.abs(id.length - wanted.length) / 10);
    if (providerLower && !row.provider_id.toLowerCase().startsWith(providerLower.split('.')[0]!)) score += 2;
    const previous = seen.get(label);
    if (previous === undefined || score < previous) seen.set(label, score);
  }
  return [...seen.entries()].sort((a, b) => a[1] - b[1] || a[0].localeCompare(b[0])).slice(0, limit).map(([id]) => id);
}

/** Levenshtein distance, or undefined when it exceeds `max` (banded, cheap). */
function editDistance(a: string, b: string, max: number): number | undefined {
  if (Math.abs(a.length - b.length) > max) return undefined;
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    let best = i;
    for (let j = 1; j <= b.length; j++) {
      const value = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      current.push(value);
      if (value < best) best = value;
    }
    if (best > max) return undefined;
    previous = current;
  }
  const d = previous[b.length]!;
  return d <= max ? d : undefined;
}
