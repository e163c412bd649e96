/**
 * A QueryRunner that reads through a running collector's query endpoint (POST /v1/query): how
 * the CLI reads an embedded store the collector holds open, or a remote collector
 * (GENAI_LEDGER_QUERY_URL + GENAI_LEDGER_QUERY_TOKEN). Rows come back shaped exactly as
 * clientRunner shapes them (the endpoint applies QUERY_OUTPUT_SETTINGS).
 */
import type { QueryRunner } from '../clickhouse/query-runner.js';

export interface CollectorQueryOptions {
  /** Base URL of the collector, e.g. `http://127.0.0.1:4318`. */
  url: string;
  token: string;
  /** Per-request timeout. Default 5 minutes. */
  timeoutMs?: number;
}

/** A refusal or failure reported by the collector (status and ClickHouse/endpoint code kept). */
export class CollectorQueryError extends Error {
  override readonly name = 'CollectorQueryError';
  constructor(message: string, readonly status: number, readonly code: string | undefined) {
    super(message);
  }
}

function endpoint(base: string): string {
  return `${base.replace(/\/+$/, '')}/v1/query`;
}

async function call(options: CollectorQueryOptions, init: { method: 'GET' | 'POST'; body?: string }): Promise<unknown> {
  const target = endpoint(options.url);
  let response: Response;
  try {
    response = await fetch(target, {
      method: init.method,
      headers: { authorization: `Bearer ${options.token}`, ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(init.body !== undefined ? { body: init.body } : {}),
      signal: AbortSignal.timeout(options.timeoutMs ?? 300_000),
    });
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    const why = cause?.code ?? cause?.message ?? (error as Error).message;
    throw new CollectorQueryError(`cannot reach the collector at ${options.url}: ${why}`, 0, cause?.code);
  }
  const text = await response.text();
  let body: unknown;
  try {
    body = text === '' ? {} : JSON.parse(text);
  } catch {
    body = { error: text.slice(0, 200) };
  }
  if (response.status === 401) {
    throw new CollectorQueryError(`the collector at ${options.url} refused the query token`, 401, 'UNAUTHORIZED');
  }
  if (!response.ok) {
    const { error, code } = (body ?? {}) as { error?: unknown; code?: unknown };
    throw new CollectorQueryError(
      typeof error === 'string' ? error : `the collector at ${options.url} answered ${response.status}`,
      response.status,
      typeof code === 'string' ? code : undefined,
    );
  }
  return body;
}

export function collectorRunner(options: CollectorQueryOptions): QueryRunner {
  return {
    async query<T>(sql: string, params: Record<string, unknown> = {}): Promise<T[]> {
      const body = await call(options, { method: 'POST', body: JSON.stringify({ sql, params }) });
      const rows = (body as { rows?: unknown }).rows;
      if (!Array.isArray(rows)) throw new CollectorQueryError(`the collector at ${options.url} sent no rows`, 200, undefined);
      return rows as T[];
    },
    close: async () => undefined,
  };
}

/** The database and store kind the collector reads. */
export async function collectorInfo(options: CollectorQueryOptions): Promise<{ database: string; store: string }> {
  const body = (await call(options, { method: 'GET' })) as { database?: unknown; store?: unknown };
  if (typeof body.database !== 'string') throw new CollectorQueryError(`the collector at ${options.url} did not name its database`, 200, undefined);
  return { database: body.database, store: String(body.store ?? '') };
}
