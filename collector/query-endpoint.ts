/**
 * The read-only query endpoint, how `genai-ledger query` / `report` read an embedded store the
 * collector holds open (chDB allows one process per data directory).
 *
 *   POST /v1/query   Authorization: Bearer <query token>   {"sql": "...", "params": {...}}
 *     → 200 {"rows": [...]}   rows as QUERY_OUTPUT_SETTINGS shape them (64-bit ints as numbers,
 *                              decimals as strings), exactly what clientRunner returns
 *     → 400 {"error", "code"} refused (not read-only) or failed in ClickHouse
 *     → 401 missing/wrong token, 413 body over 1 MiB
 *   GET  /v1/query   → {"database": "...", "store": "embedded" | "http"} (same token)
 *
 * Read-only is enforced twice: by ClickHouse settings on a connection of its own (readonly = 1
 * set last, so nothing later can change the limits: max_execution_time, max_result_rows /
 * max_result_bytes with result_overflow_mode = 'throw', max_memory_usage), and by sql-guard.ts
 * (one SELECT/WITH/SHOW/DESCRIBE/EXPLAIN/EXISTS statement, no INTO OUTFILE).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ClickHouseSettings } from '@clickhouse/client';
import { QUERY_OUTPUT_SETTINGS, type QueryRunner } from '../clickhouse/query-runner.js';
import { tokenMatches } from './auth.js';
import type { QueryLimits } from './config.js';
import { BodyTooLargeError, ClientAbortedError, closeAfterResponse, readBody, sendJson } from './http.js';
import type { Logger } from './log.js';
import type { CollectorMetrics } from './metrics.js';
import { assertReadOnlySql, QueryRefusedError } from './sql-guard.js';

export const MAX_QUERY_BODY_BYTES = 1024 * 1024;

/** The settings of every query-endpoint statement; `readonly` comes last (after it, no setting may change). */
export function readOnlySettings(limits: QueryLimits): ClickHouseSettings {
  return {
    ...QUERY_OUTPUT_SETTINGS,
    max_execution_time: limits.timeoutSeconds,
    max_result_rows: String(limits.maxResultRows),
    max_result_bytes: String(limits.maxResultBytes),
    result_overflow_mode: 'throw',
    max_memory_usage: String(limits.maxMemoryBytes),
    readonly: '1',
  };
}

export interface QueryEndpointOptions {
  /** A runner on a connection used only for read-only statements (see readOnlySettings). */
  runner: QueryRunner;
  token: string;
  database: string;
  storeKind: 'embedded' | 'http';
  metrics: CollectorMetrics;
  log: Logger;
}

export function createQueryHandler(options: QueryEndpointOptions) {
  const { runner, metrics, log } = options;
  return async function handleQuery(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!tokenMatches(req.headers, options.token)) {
      metrics.queries.inc({ outcome: 'unauthorized' });
      sendJson(res, 401, { error: 'missing or invalid bearer token (the collector\'s query token)' }, { 'www-authenticate': 'Bearer realm="genai-ledger-query"' });
      return;
    }
    if (req.method === 'GET') {
      sendJson(res, 200, { database: options.database, store: options.storeKind });
      return;
    }
    let request: { sql?: unknown; params?: unknown };
    try {
      const body = await readBody(req, MAX_QUERY_BODY_BYTES);
      request = JSON.parse(body.toString('utf8')) as typeof request;
      if (request === null || typeof request !== 'object') throw new SyntaxError('not an object');
    } catch (error) {
      if (error instanceof ClientAbortedError) {
        res.destroy();
        return;
      }
      if (error instanceof BodyTooLargeError) {
        closeAfterResponse(req, res);
        sendJson(res, 413, { error: error.message });
        return;
      }
      sendJson(res, 400, { error: 'expected a JSON body {"sql": "...", "params": {...}}', code: 'BAD_REQUEST' });
      return;
    }
    const { sql, params } = request;
    if (typeof sql !== 'string') {
      sendJson(res, 400, { error: "'sql' must be a string", code: 'BAD_REQUEST' });
      return;
    }
    if (params !== undefined && (params === null || typeof params !== 'object' || Array.isArray(params))) {
      sendJson(res, 400, { error: "'params' must be an object", code: 'BAD_REQUEST' });
      return;
    }
    try {
      assertReadOnlySql(sql);
    } catch (error) {
      if (!(error instanceof QueryRefusedError)) throw error;
      metrics.queries.inc({ outcome: 'refused' });
      sendJson(res, 400, { error: `refused: ${error.message}`, code: 'READ_ONLY' });
      return;
    }
    const started = Date.now();
    try {
      const rows = await runner.query(sql, (params ?? {}) as Record<string, unknown>);
      metrics.queries.inc({ outcome: 'ok' });
      log.debug('query', { rows: rows.length, ms: Date.now() - started });
      sendJson(res, 200, { rows });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      const code = (error as { type?: unknown; code?: unknown }).type ?? (error as { code?: unknown }).code;
      metrics.queries.inc({ outcome: /readonly/i.test(message) ? 'refused' : 'error' });
      sendJson(res, 400, { error: message.split('\n', 1)[0], code: typeof code === 'string' ? code : 'QUERY_FAILED' });
    }
  };
}
