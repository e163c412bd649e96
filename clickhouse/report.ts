import type { QueryRunner } from './query-runner.js';

/**
 * `report`: totals by chosen dimensions over a period, read from `ai_usage_exact` so duplicate
 * deliveries never count twice. Dimensions come from a fixed list (never spliced from input);
 * the period travels as query parameters.
 */
export const REPORT_DIMENSIONS: Readonly<Record<string, string>> = {
  org_id: 'org_id', user_id: 'user_id', feature: 'feature', conversation_id: 'conversation_id',
  service_name: 'service_name', environment: 'environment', provider: 'provider', operation: 'operation',
  request_model: 'request_model', response_model: 'response_model', priced_model: 'priced_model',
  error_type: 'error_type', instrumentation: 'instrumentation',
  model: "if(response_model != '', response_model, request_model)",
  hour: 'toStartOfHour(ts)', day: 'toDate(ts)', month: 'toStartOfMonth(ts)',
};

export interface ReportQuery {
  by: string[];
  /** Inclusive start and exclusive end, Unix ms. */
  fromMs: number;
  toMs: number;
  database: string;
  /** Rows returned at most (largest cost first). Default 1000. */
  limit?: number;
}

export interface ReportRow {
  [dimension: string]: string | number | null;
  calls: number;
  errors: number;
  unpriced: number;
  input_tokens: number;
  output_tokens: number;
  cache_read_tokens: number;
  cache_write_tokens: number;
  reasoning_tokens: number;
  /** Exact decimal string. */
  cost_usd: string;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function reportSql(query: ReportQuery): string {
  if (!IDENTIFIER.test(query.database)) throw new Error(`invalid database name '${query.database}'`);
  const dims = query.by.map((name) => {
    const expr = REPORT_DIMENSIONS[name];
    if (!expr) throw new Error(`unknown dimension '${name}' (one of: ${Object.keys(REPORT_DIMENSIONS).join(', ')})`);
    return `${expr} AS ${name}`;
  });
  const select = [
    ...dims,
    'count() AS calls', "countIf(error_type != '') AS errors", 'countIf(ai_usage_exact.cost_usd IS NULL) AS unpriced',
    'sum(input_tokens) AS input_tokens', 'sum(output_tokens) AS output_tokens',
    'sum(cache_read_tokens) AS cache_read_tokens', 'sum(cache_write_tokens) AS cache_write_tokens',
    'sum(reasoning_tokens) AS reasoning_tokens', 'sumOrDefault(ai_usage_exact.cost_usd) AS cost_usd',
  ];
  return [
    `SELECT ${select.join(', ')}`,
    `FROM ${query.database}.ai_usage_exact`,
    'WHERE ts >= fromUnixTimestamp64Milli({from:Int64}) AND ts < fromUnixTimestamp64Milli({to:Int64})',
    query.by.length > 0 ? `GROUP BY ${query.by.join(', ')}` : '',
    `ORDER BY cost_usd DESC${query.by.length > 0 ? `, ${query.by.join(', ')}` : ''}`,
    `LIMIT ${Math.max(1, Math.floor(query.limit ?? 1000))}`,
  ].filter(Boolean).join('\n');
}

export async function runReport(runner: QueryRunner, query: ReportQuery): Promise<ReportRow[]> {
  const rows = await runner.query(reportSql(query), { from: query.fromMs, to: query.toMs });
  return rows.map((row) => ({ ...row, cost_usd: trimDecimal(String(row.cost_usd ?? '0')) }) as ReportRow);
}

/** `0.004720000000000000` → `0.00472`; `12.000` → `12`. */
export function trimDecimal(text: string): string {
  return text.includes('.') ? text.replace(/0+$/, '').replace(/\.$/, '') : text;
}
