/**
 * OpenAI's Admin API reports → bill lines.
 *
 * Costs: `GET /v1/organization/costs` (daily buckets, `group_by` line_item and project_id, at most
 * 180 buckets a page): results `{object: "organization.costs.result", amount: {value, currency},
 * line_item, project_id}`. A model's line item reads `<model>, <what>` (`gpt-4o-mini-2024-07-18,
 * input`, `…, cached input`, `…, output`); any other line (tools, storage) is not a model's.
 * `amount.value` is a JSON number: taken as its shortest decimal text.
 *
 * Usage: `GET /v1/organization/usage/{completions,embeddings,audio_speeches,audio_transcriptions}`
 * (daily buckets, `group_by` model and project_id (and batch for completions), at most 31 buckets a
 * page): `input_tokens` (cached included, as the ledger counts), `input_cached_tokens`,
 * `output_tokens`, `input_audio_tokens`, `output_audio_tokens`, `num_model_requests`, and
 * `characters` / `seconds` for audio.
 */
import { decFromNumber, formatDec, parseDecimal } from '../pricing/decimal.js';
import type { BillTokenType, CostLine, UsageLine } from '../clickhouse/provider-bills.js';
import type { ReportRequest } from './admin-api.js';
import {
  asList, asObject, count, dayOfUnixSeconds, foldCosts, foldUsage, lineItem, ReportFormatError, text, type Fields, type ParseContext,
} from './bill-lines.js';

export const OPENAI_API_BASE = 'https://api.openai.com';
export const OPENAI_KEY_VARIABLE = 'OPENAI_ADMIN_KEY';
/** Buckets a page: the documented maxima for daily buckets. */
export const OPENAI_COSTS_PAGE_LIMIT = 180;
export const OPENAI_USAGE_PAGE_LIMIT = 31;

export const OPENAI_USAGE_REPORTS = ['completions', 'embeddings', 'audio_speeches', 'audio_transcriptions'] as const;
export type OpenAiUsageReport = (typeof OPENAI_USAGE_REPORTS)[number];

const COSTS_RESULT = 'organization.costs.result';
const usageResult = (report: string): string => `organization.usage.${report}.result`;

/** `<what>` of a model's line item → the token type it bills. */
const LINE_TOKEN_TYPES: Readonly<Record<string, BillTokenType>> = {
  input: 'input', 'cached input': 'cache_read', output: 'output',
};

export interface Period {
  /** `YYYY-MM-DD`, inclusive. */
  fromDay: string;
  /** `YYYY-MM-DD`, exclusive. */
  toDay: string;
}

const unix = (day: string): number => Date.parse(`${day}T00:00:00Z`) / 1000;

function request(apiBase: string, key: string, path: string, params: ReportRequest['params']): ReportRequest {
  return {
    provider: 'openai', apiBase, path, params, secret: key,
    headers: { Authorization: `Bearer ${key}`, Accept: 'application/json' },
    authHint: `is ${OPENAI_KEY_VARIABLE} an admin key of this organization?`,
  };
}

export function openAiCostsRequest(period: Period, apiBase: string, key: string): ReportRequest {
  return request(apiBase, key, '/v1/organization/costs', {
    start_time: unix(period.fromDay), end_time: unix(period.toDay), bucket_width: '1d',
    group_by: ['line_item', 'project_id'], limit: OPENAI_COSTS_PAGE_LIMIT,
  });
}

export function openAiUsageRequest(report: OpenAiUsageReport, period: Period, apiBase: string, key: string): ReportRequest {
  return request(apiBase, key, `/v1/organization/usage/${report}`, {
    start_time: unix(period.fromDay), end_time: unix(period.toDay), bucket_width: '1d',
    group_by: report === 'completions' ? ['model', 'project_id', 'batch'] : ['model', 'project_id'], limit: OPENAI_USAGE_PAGE_LIMIT,
  });
}

/** Each bucket's day and results, checked. */
function buckets(data: readonly unknown[], where: string): Array<{ day: string; results: Fields[]; where: string }> {
  return data.map((raw, i) => {
    const at = `${where}[${i}]`;
    const bucket = asObject(raw, at);
    const start = bucket.start_time;
    if (typeof start !== 'number') throw new ReportFormatError(`${at}.start_time: expected Unix seconds, got ${JSON.stringify(start)}`);
    return { day: dayOfUnixSeconds(start), results: asList(bucket.results, `${at}.results`).map((r, j) => asObject(r, `${at}.results[${j}]`)), where: at };
  });
}

/** The report a bucket list holds, from its results' `object` (undefined when no bucket has results). */
export function openAiReportOf(data: readonly unknown[]): 'costs' | OpenAiUsageReport | undefined {
  for (const bucket of data) {
    const results = (bucket as Fields | null)?.results;
    const first = Array.isArray(results) ? (results[0] as Fields | undefined)?.object : undefined;
    if (first === COSTS_RESULT) return 'costs';
    const usage = OPENAI_USAGE_REPORTS.find((r) => first === usageResult(r));
    if (usage) return usage;
  }
  return undefined;
}

/** Cost buckets → one line per day, line item and project. */
export function parseOpenAiCosts(data: readonly unknown[], ctx: ParseContext): CostLine[] {
  const lines: CostLine[] = [];
  for (const { day, results, where } of buckets(data, 'costs')) {
    results.forEach((result, j) => {
      const at = `${where}.results[${j}]`;
      const amount = asObject(result.amount, `${at}.amount`);
      const currency = text(amount, 'currency', `${at}.amount`).toLowerCase();
      if (currency !== 'usd') throw new ReportFormatError(`${at}.amount.currency: only usd is reconciled, got ${JSON.stringify(amount.currency)}`);
      const value = amount.value;
      if (typeof value !== 'number' && typeof value !== 'string') throw new ReportFormatError(`${at}.amount.value: expected a number, got ${JSON.stringify(value)}`);
      const item = text(result, 'line_item', at);
      const split = /^(.*), ([^,]+)$/.exec(item);
      const model = split ? split[1]!.trim() : '';
      lines.push({
        provider: 'openai', day, model, priced_model: model ? ctx.pricedModelOf('openai', model, day) : '',
        project_id: text(result, 'project_id', at), line_item: item,
        token_type: split ? (LINE_TOKEN_TYPES[split[2]!.trim().toLowerCase()] ?? 'other') : 'other',
        amount_usd: formatDec(typeof value === 'number' ? decFromNumber(value) : parseDecimal(value)),
        source: ctx.source,
      });
    });
  }
  return foldCosts(lines);
}

/** Usage buckets of one report → one line per day, model, project and grouping. */
export function parseOpenAiUsage(report: OpenAiUsageReport, data: readonly unknown[], ctx: ParseContext): UsageLine[] {
  const lines: UsageLine[] = [];
  for (const { day, results, where } of buckets(data, report)) {
    results.forEach((r, j) => {
      const at = `${where}.results[${j}]`;
      const model = text(r, 'model', at);
      const units: Record<string, number> = {};
      for (const unit of ['characters', 'seconds']) if (r[unit] !== undefined && r[unit] !== null) units[unit] = count(r, unit, at);
      lines.push({
        provider: 'openai', day, model, priced_model: model ? ctx.pricedModelOf('openai', model, day) : '',
        project_id: text(r, 'project_id', at),
        line_item: lineItem(report, { batch: r.batch, service_tier: r.service_tier }),
        input_tokens: count(r, 'input_tokens', at), output_tokens: count(r, 'output_tokens', at),
        cache_read_tokens: count(r, 'input_cached_tokens', at), cache_write_tokens: 0,
        input_audio_tokens: count(r, 'input_audio_tokens', at), output_audio_tokens: count(r, 'output_audio_tokens', at),
        requests: count(r, 'num_model_requests', at), units, source: ctx.source,
      });
    });
  }
  return foldUsage(lines);
}
