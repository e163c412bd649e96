/**
 * Anthropic's Admin API reports → bill lines.
 *
 * Costs: `GET /v1/organizations/cost_report` (daily buckets, `group_by[]` workspace_id and
 * description, at most 31 buckets a page): results `{amount, currency, cost_type, description,
 * model, service_tier, token_type, context_window, workspace_id, inference_geo}`. `amount` is in
 * the currency's lowest unit (cents) as a decimal string: "123.45" is $1.2345.
 *
 * Usage: `GET /v1/organizations/usage_report/messages` (daily buckets, `group_by[]` model,
 * workspace_id, service_tier, context_window): `uncached_input_tokens`, `cache_read_input_tokens`,
 * `cache_creation.{ephemeral_5m,ephemeral_1h}_input_tokens`, `output_tokens`,
 * `server_tool_use.web_search_requests`; no request count. Input is normalised as the ledger
 * counts it: uncached + cache reads + cache writes.
 */
import { formatDec, parseDecimal } from '../pricing/decimal.js';
import type { BillTokenType, CostLine, UsageLine } from '../clickhouse/provider-bills.js';
import type { ReportRequest } from './admin-api.js';
import { asList, asObject, count, foldCosts, foldUsage, lineItem, ReportFormatError, text, type Fields, type ParseContext } from './bill-lines.js';
import type { Period } from './openai-reports.js';

export const ANTHROPIC_API_BASE = 'https://api.anthropic.com';
export const ANTHROPIC_KEY_VARIABLE = 'ANTHROPIC_ADMIN_KEY';
export const ANTHROPIC_VERSION = '2023-06-01';
/** Buckets a page: the documented maximum for daily buckets. */
export const ANTHROPIC_PAGE_LIMIT = 31;

const TOKEN_TYPES: Readonly<Record<string, BillTokenType>> = {
  uncached_input_tokens: 'input',
  output_tokens: 'output',
  cache_read_input_tokens: 'cache_read',
  'cache_creation.ephemeral_5m_input_tokens': 'cache_write',
  'cache_creation.ephemeral_1h_input_tokens': 'cache_write',
};

function request(apiBase: string, key: string, path: string, period: Period, groupBy: string[]): ReportRequest {
  return {
    provider: 'anthropic', apiBase, path, secret: key,
    params: {
      starting_at: `${period.fromDay}T00:00:00Z`, ending_at: `${period.toDay}T00:00:00Z`, bucket_width: '1d',
      'group_by[]': groupBy, limit: ANTHROPIC_PAGE_LIMIT,
    },
    headers: { 'x-api-key': key, 'anthropic-version': ANTHROPIC_VERSION, Accept: 'application/json' },
    authHint: `is ${ANTHROPIC_KEY_VARIABLE} an Admin API key (sk-ant-admin…) of this organization?`,
  };
}

export function anthropicCostRequest(period: Period, apiBase: string, key: string): ReportRequest {
  return request(apiBase, key, '/v1/organizations/cost_report', period, ['workspace_id', 'description']);
}

export function anthropicUsageRequest(period: Period, apiBase: string, key: string): ReportRequest {
  return request(apiBase, key, '/v1/organizations/usage_report/messages', period, ['model', 'workspace_id', 'service_tier', 'context_window']);
}

function buckets(data: readonly unknown[], where: string): Array<{ day: string; results: Fields[]; where: string }> {
  return data.map((raw, i) => {
    const at = `${where}[${i}]`;
    const bucket = asObject(raw, at);
    const start = typeof bucket.starting_at === 'string' ? Date.parse(bucket.starting_at) : Number.NaN;
    if (Number.isNaN(start)) throw new ReportFormatError(`${at}.starting_at: expected an RFC 3339 time, got ${JSON.stringify(bucket.starting_at)}`);
    return { day: new Date(start).toISOString().slice(0, 10), results: asList(bucket.results, `${at}.results`).map((r, j) => asObject(r, `${at}.results[${j}]`)), where: at };
  });
}

/** The report a bucket list holds, from the fields of its results. */
export function anthropicReportOf(data: readonly unknown[]): 'costs' | 'messages' | undefined {
  for (const bucket of data) {
    const results = (bucket as Fields | null)?.results;
    const first = Array.isArray(results) ? (results[0] as Fields | undefined) : undefined;
    if (first && 'amount' in first) return 'costs';
    if (first && 'uncached_input_tokens' in first) return 'messages';
  }
  return undefined;
}

/** Cost buckets → one line per day, workspace and cost item. */
export function parseAnthropicCosts(data: readonly unknown[], ctx: ParseContext): CostLine[] {
  const lines: CostLine[] = [];
  for (const { day, results, where } of buckets(data, 'cost_report')) {
    results.forEach((r, j) => {
      const at = `${where}.results[${j}]`;
      const currency = text(r, 'currency', at).toUpperCase();
      if (currency !== 'USD') throw new ReportFormatError(`${at}.currency: only USD is reconciled, got ${JSON.stringify(r.currency)}`);
      let cents;
      try {
        cents = parseDecimal(text(r, 'amount', at));
      } catch {
        throw new ReportFormatError(`${at}.amount: expected a decimal string of cents, got ${JSON.stringify(r.amount)}`);
      }
      const model = text(r, 'model', at);
      const tokenType = text(r, 'token_type', at);
      lines.push({
        provider: 'anthropic', day, model, priced_model: model ? ctx.pricedModelOf('anthropic', model, day) : '',
        project_id: text(r, 'workspace_id', at),
        line_item: lineItem(text(r, 'description', at) || 'cost', {
          cost_type: r.cost_type, token_type: r.token_type, service_tier: r.service_tier, context_window: r.context_window, inference_geo: r.inference_geo,
        }),
        token_type: TOKEN_TYPES[tokenType] ?? 'other',
        amount_usd: formatDec({ n: cents.n, s: cents.s + 2 }),
        source: ctx.source,
      });
    });
  }
  return foldCosts(lines);
}

/** Messages usage buckets → one line per day, model, workspace, tier and context window. */
export function parseAnthropicUsage(data: readonly unknown[], ctx: ParseContext): UsageLine[] {
  const lines: UsageLine[] = [];
  for (const { day, results, where } of buckets(data, 'usage_report')) {
    results.forEach((r, j) => {
      const at = `${where}.results[${j}]`;
      const creation = r.cache_creation === undefined || r.cache_creation === null ? {} : asObject(r.cache_creation, `${at}.cache_creation`);
      const cacheWrite = count(creation, 'ephemeral_5m_input_tokens', `${at}.cache_creation`) + count(creation, 'ephemeral_1h_input_tokens', `${at}.cache_creation`);
      const cacheRead = count(r, 'cache_read_input_tokens', at);
      const tools = r.server_tool_use === undefined || r.server_tool_use === null ? {} : asObject(r.server_tool_use, `${at}.server_tool_use`);
      const searches = count(tools, 'web_search_requests', `${at}.server_tool_use`);
      const model = text(r, 'model', at);
      lines.push({
        provider: 'anthropic', day, model, priced_model: model ? ctx.pricedModelOf('anthropic', model, day) : '',
        project_id: text(r, 'workspace_id', at),
        line_item: lineItem('messages', { service_tier: r.service_tier, context_window: r.context_window }),
        input_tokens: count(r, 'uncached_input_tokens', at) + cacheRead + cacheWrite,
        output_tokens: count(r, 'output_tokens', at),
        cache_read_tokens: cacheRead, cache_write_tokens: cacheWrite, input_audio_tokens: 0, output_audio_tokens: 0,
        requests: null, units: searches > 0 ? { web_search_requests: searches } : {}, source: ctx.source,
      });
    });
  }
  return foldUsage(lines);
}
