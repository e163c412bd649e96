/**
 * Probes and metrics routes.
 * - GET /healthz: the process is up and serving (200 while draining too: it is still alive).
 * - GET /readyz: ready for traffic: not draining, the store answers `SELECT 1`, and every
 *   migration this version knows is recorded in schema_migrations. 503 otherwise, with the reason.
 *   With a spool, an unreachable store does not make the collector unready while the spool has
 *   room: requests are still accepted durably (200, `"store": "<problem>"`, `"degraded": true`);
 *   a (nearly) full spool does (503). The body reports the spool's fill either way. The same holds
 *   when the collector started while the store was unreachable: until the ledger has applied the
 *   migrations and synced the prices, `"waiting"` says what it waits for (`"clickhouse: migrations
 *   not applied: <reason>"`) and nothing is delivered yet. Ready, because readiness routes traffic:
 *   every collector shares the store, and taking them all out of rotation during its outage would
 *   leave the clients' data nowhere to go, when each can keep it on disk.
 * - GET /metrics: Prometheus text.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { renderMigrations } from '../clickhouse/migrate.js';
import type { SpoolStats } from '../delivery/spool/spool.js';
import type { QueryRunner } from '../clickhouse/query-runner.js';
import { send, sendJson } from './http.js';
import { PROMETHEUS_CONTENT_TYPE, type CollectorMetrics } from './metrics.js';

export interface HealthOptions {
  /** Read-only runner on the store (the query endpoint's). */
  runner: QueryRunner;
  database: string;
  draining: () => boolean;
  /** Longest a readiness check may take. Default 5 s. */
  timeoutMs?: number;
  /** The ledger's spool counters, when it has one. */
  spool?: SpoolStats;
  /** What the ledger waits for before it can deliver (Ledger.waitingFor), if anything. */
  waiting?: () => string | undefined;
}

/** Free spool bytes below which the collector reports itself unready (a request would likely not fit). */
export function spoolReserveBytes(maxBytes: number): number {
  return Math.min(1024 * 1024, Math.floor(maxBytes / 100));
}

export function latestMigrationVersion(database: string): number {
  return Math.max(0, ...renderMigrations({ database }).map((m) => m.version));
}

export function createHealthHandlers(options: HealthOptions) {
  const expected = latestMigrationVersion(options.database);
  const timeoutMs = options.timeoutMs ?? 5000;

  async function check(): Promise<string | undefined> {
    await options.runner.query('SELECT 1 AS ok');
    const rows = await options.runner.query<{ version: number | string | null }>(
      `SELECT max(version) AS version FROM ${options.database}.schema_migrations`,
    );
    const applied = Number(rows[0]?.version ?? 0);
    return applied >= expected ? undefined : `migrations not applied (schema version ${applied}, expected ${expected})`;
  }

  return {
    healthz(_req: IncomingMessage, res: ServerResponse): void {
      sendJson(res, 200, { status: 'ok' });
    },

    async readyz(_req: IncomingMessage, res: ServerResponse): Promise<void> {
      if (options.draining()) {
        sendJson(res, 503, { status: 'draining' });
        return;
      }
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<string>((resolve) => {
        timer = setTimeout(() => resolve(`the store did not answer within ${timeoutMs} ms`), timeoutMs);
      });
      let problem: string | undefined;
      try {
        problem = await Promise.race([check(), timeout]);
      } catch (error) {
        problem = `store unreachable: ${(error instanceof Error ? error.message : String(error)).split('\n', 1)[0]}`;
      } finally {
        clearTimeout(timer);
      }
      const sp = options.spool;
      const waiting = options.waiting?.();
      if (!sp) {
        if (problem) sendJson(res, 503, { status: 'not ready', reason: problem });
        else sendJson(res, 200, { status: 'ready', schemaVersion: expected });
        return;
      }
      const spool = { usedBytes: sp.usedBytes, maxBytes: sp.maxBytes, pendingRows: sp.pendingRows, failedDeliveries: sp.failedDeliveries };
      const blocked = waiting ?? problem;
      if (sp.maxBytes - sp.usedBytes < spoolReserveBytes(sp.maxBytes)) {
        sendJson(res, 503, { status: 'not ready', reason: `the spool is full (${sp.usedBytes} of ${sp.maxBytes} bytes)${blocked ? `; ${blocked}` : ''}`, spool });
      } else if (waiting || problem) {
        // Still accepting: every 200 is on disk and reaches ClickHouse once it is back (and set up).
        sendJson(res, 200, { status: 'ready', degraded: true, ...(waiting ? { waiting } : {}), store: problem ?? 'ok', spool });
      } else {
        sendJson(res, 200, { status: 'ready', schemaVersion: expected, store: 'ok', spool });
      }
    },
  };
}

export function createMetricsHandler(metrics: CollectorMetrics) {
  return (_req: IncomingMessage, res: ServerResponse): void => {
    send(res, 200, metrics.render(), PROMETHEUS_CONTENT_TYPE);
  };
}
