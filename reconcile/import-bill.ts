/**
 * One import of a provider's bill, from its Admin API or from saved files, as the lines
 * `storeBillImport` (clickhouse/provider-bills.ts) writes for the period they cover.
 *
 * Files: a report saved as JSON (a page `{data, has_more, next_page}`, a list of pages, or the list
 * of buckets), any of the provider's reports, recognised by their results' fields; or a CSV with
 * one row per result: a `date` column (YYYY-MM-DD) and the report's field names as columns (nested
 * ones dotted: `amount.value`, `cache_creation.ephemeral_5m_input_tokens`), `cost_usd` (dollars)
 * accepted in place of the amount. A file import replaces the days from its first bucket to its last.
 */
import { readFileSync } from 'node:fs';
import { basename, extname } from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import type { BillImport, CostLine, UsageLine } from '../clickhouse/provider-bills.js';
import { formatDec, parseDecimal } from '../pricing/decimal.js';
import type { PriceBook } from '../pricing/index.js';
import { fetchReport, type FetchOptions } from './admin-api.js';
import {
  ANTHROPIC_API_BASE, anthropicCostRequest, anthropicReportOf, anthropicUsageRequest, parseAnthropicCosts, parseAnthropicUsage,
} from './anthropic-reports.js';
import { ReportFormatError, type Fields, type ParseContext, type PricedModelOf } from './bill-lines.js';
import {
  OPENAI_API_BASE, OPENAI_USAGE_REPORTS, openAiCostsRequest, openAiReportOf, openAiUsageRequest, parseOpenAiCosts, parseOpenAiUsage,
  type OpenAiUsageReport, type Period,
} from './openai-reports.js';

export const BILL_PROVIDERS = ['openai', 'anthropic'] as const;
export type BillProvider = (typeof BILL_PROVIDERS)[number];

export const DEFAULT_API_BASES: Readonly<Record<BillProvider, string>> = { openai: OPENAI_API_BASE, anthropic: ANTHROPIC_API_BASE };

/** The catalog's priced model for a provider's model name on a day, as the ledger would price it. */
export function pricedModelOf(prices: PriceBook): PricedModelOf {
  const cache = new Map<string, string>();
  return (provider, model, day) => {
    const key = `${provider}\n${model}\n${day}`;
    let priced = cache.get(key);
    if (priced === undefined) {
      priced = prices.describe({ provider, model, atUnixMicros: Date.parse(`${day}T00:00:00Z`) * 1000 })?.pricedModel ?? '';
      cache.set(key, priced);
    }
    return priced;
  };
}

/** Reads the period's costs and usage from the provider's Admin API. */
export async function fetchBill(
  provider: BillProvider, period: Period, options: { key: string; apiBase?: string; prices: PriceBook } & FetchOptions,
): Promise<BillImport> {
  const base = options.apiBase ?? DEFAULT_API_BASES[provider];
  const ctx: ParseContext = { source: 'api', pricedModelOf: pricedModelOf(options.prices) };
  if (provider === 'openai') {
    const costs = parseOpenAiCosts(await fetchReport(openAiCostsRequest(period, base, options.key), options), ctx);
    const usage: UsageLine[] = [];
    for (const report of OPENAI_USAGE_REPORTS) {
      usage.push(...parseOpenAiUsage(report, await fetchReport(openAiUsageRequest(report, period, base, options.key), options), ctx));
    }
    return { provider, ...period, costs, usage };
  }
  const costs = parseAnthropicCosts(await fetchReport(anthropicCostRequest(period, base, options.key), options), ctx);
  const usage = parseAnthropicUsage(await fetchReport(anthropicUsageRequest(period, base, options.key), options), ctx);
  return { provider, ...period, costs, usage };
}

/** The buckets of a saved JSON report. */
function jsonBuckets(doc: unknown, file: string): unknown[] {
  const pages = Array.isArray(doc) ? doc : [doc];
  if (pages.every((p) => typeof p === 'object' && p !== null && 'results' in p)) return pages; // a list of buckets
  return pages.flatMap((p, i) => {
    const data = (p as Fields | null)?.data;
    if (!Array.isArray(data)) throw new ReportFormatError(`${file}: page ${i} has no data list (expected a report page {data, has_more, next_page})`);
    return data;
  });
}

/** CSV rows → buckets of the provider's shape, one per date. */
function csvBuckets(provider: BillProvider, text: string, file: string): unknown[] {
  let rows: Array<Record<string, string>>;
  try {
    rows = parseCsv(text, { columns: true, skip_empty_lines: true, trim: true, bom: true });
  } catch (error) {
    throw new ReportFormatError(`${file}: not a CSV file: ${(error as Error).message.split('\n')[0]}`);
  }
  const byDay = new Map<string, Fields[]>();
  rows.forEach((row, i) => {
    const day = row.date ?? '';
    if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) throw new ReportFormatError(`${file}: row ${i + 2}: date: expected YYYY-MM-DD, got ${JSON.stringify(row.date)}`);
    const result: Fields = {};
    for (const [column, value] of Object.entries(row)) {
      if (column === 'date' || column === 'cost_usd' || value === '') continue;
      const path = column.split('.');
      let at = result;
      for (const part of path.slice(0, -1)) at = (at[part] ??= {}) as Fields;
      at[path[path.length - 1]!] = value;
    }
    if (row.cost_usd !== undefined && row.cost_usd !== '') {
      const usd = parseDecimal(row.cost_usd);
      if (provider === 'openai') result.amount = { value: row.cost_usd, currency: 'usd' };
      else Object.assign(result, { amount: formatDec({ n: usd.n * 100n, s: usd.s }), currency: 'USD' });
    }
    const results = byDay.get(day) ?? [];
    results.push(result);
    byDay.set(day, results);
  });
  return [...byDay].map(([day, results]) => provider === 'openai'
    ? { start_time: Date.parse(`${day}T00:00:00Z`) / 1000, results }
    : { starting_at: `${day}T00:00:00Z`, results });
}

/** The report a CSV's buckets hold (its results carry no `object`): from the columns. */
function csvReportOf(provider: BillProvider, buckets: unknown[]): string | undefined {
  const first = ((buckets[0] as Fields | undefined)?.results as Fields[] | undefined)?.[0];
  if (!first) return undefined;
  if ('amount' in first) return 'costs';
  if (provider === 'anthropic') return 'uncached_input_tokens' in first ? 'messages' : undefined;
  const named = typeof first.report === 'string' ? first.report : 'completions';
  return (OPENAI_USAGE_REPORTS as readonly string[]).includes(named) ? named : undefined;
}

const dayOfBucket = (bucket: Fields): string => typeof bucket.start_time === 'number'
  ? new Date(bucket.start_time * 1000).toISOString().slice(0, 10)
  : new Date(Date.parse(String(bucket.starting_at))).toISOString().slice(0, 10);

/** Reads saved reports of one provider: the costs and usage they hold, for the days they cover. */
export function readBillFiles(provider: BillProvider, files: readonly string[], prices: PriceBook): BillImport {
  let costs: CostLine[] | undefined;
  let usage: UsageLine[] | undefined;
  const days: string[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      throw new ReportFormatError(`${file}: cannot read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
    }
    let buckets: unknown[];
    let report: string | undefined;
    if (extname(file).toLowerCase() === '.csv') {
      buckets = csvBuckets(provider, text, file);
      report = csvReportOf(provider, buckets);
    } else {
      let doc: unknown;
      try {
        doc = JSON.parse(text);
      } catch (error) {
        throw new ReportFormatError(`${file}: not JSON: ${(error as Error).message.split('\n')[0]}`);
      }
      buckets = jsonBuckets(doc, file);
      report = provider === 'openai' ? openAiReportOf(buckets) : anthropicReportOf(buckets);
    }
    if (buckets.length === 0) continue;
    if (report === undefined) throw new ReportFormatError(`${file}: not a ${provider} cost or usage report (no result reads as one)`);
    const ctx: ParseContext = { source: `file:${basename(file)}`, pricedModelOf: pricedModelOf(prices) };
    days.push(...buckets.map((b) => dayOfBucket(b as Fields)));
    if (report === 'costs') {
      costs = [...(costs ?? []), ...(provider === 'openai' ? parseOpenAiCosts(buckets, ctx) : parseAnthropicCosts(buckets, ctx))];
    } else {
      usage = [...(usage ?? []), ...(provider === 'openai' ? parseOpenAiUsage(report as OpenAiUsageReport, buckets, ctx) : parseAnthropicUsage(buckets, ctx))];
    }
  }
  if (days.length === 0) throw new ReportFormatError(`${files.join(', ')}: no bucket to import`);
  days.sort();
  const last = new Date(Date.parse(`${days[days.length - 1]}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
  return { provider, fromDay: days[0]!, toDay: last, ...(costs ? { costs } : {}), ...(usage ? { usage } : {}) };
}
