/**
 * Test-only fault switch, for the soak benchmark and the fault tests. Only when the collector runs
 * with GENAI_LEDGER_FAULT_INJECTION=1 (an environment variable, never a flag or a default) does it
 * route the ledger's ClickHouse client through `FaultSwitch.wrap` and serve
 *
 *   POST /debug/faults {"clickhouse": "down" | "up"}  → 200 {"clickhouse": "down" | "up", ...}
 *   GET  /debug/faults                                → the current state
 *
 * "down" makes every call of the ledger's client (inserts, commands, queries) fail at once with a
 * connection error (ECONNREFUSED: retryable, as when a ClickHouse server is stopped), and makes the
 * readiness probe see the store unreachable. The embedded engine keeps running underneath (it
 * cannot be stopped apart from the process); nothing reaches it while "down".
 * GENAI_LEDGER_FAULT_CLICKHOUSE=down starts the switch "down" (a collector started during an outage).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ClickHouseClient } from '@clickhouse/client';
import type { QueryRunner } from '../clickhouse/query-runner.js';
import { readBody, sendJson } from './http.js';
import type { Logger } from './log.js';

export const FAULT_INJECTION_ENV = 'GENAI_LEDGER_FAULT_INJECTION';
export const FAULT_CLICKHOUSE_ENV = 'GENAI_LEDGER_FAULT_CLICKHOUSE';

function connectionRefused(): Error {
  return Object.assign(new Error('connect ECONNREFUSED (fault injection: clickhouse is down)'), {
    code: 'ECONNREFUSED', errno: -111, syscall: 'connect',
  });
}

const GUARDED = new Set(['exec', 'insert', 'command', 'query']);

export class FaultSwitch {
  clickhouseDown = false;
  /** Calls refused while down. */
  refused = 0;
  /** Times the switch was flipped to down. */
  outages = 0;

  /** The switch in the state GENAI_LEDGER_FAULT_CLICKHOUSE asks for (up by default). */
  static fromEnv(env: NodeJS.ProcessEnv = process.env): FaultSwitch {
    const faults = new FaultSwitch();
    if (env[FAULT_CLICKHOUSE_ENV] === 'down') {
      faults.clickhouseDown = true;
      faults.outages = 1;
    }
    return faults;
  }

  /** The client, refusing every call while `clickhouseDown` (close() and the rest pass through). */
  wrap(inner: ClickHouseClient): ClickHouseClient {
    return new Proxy(inner, {
      get: (target, prop, receiver) => {
        const value = Reflect.get(target, prop, receiver) as unknown;
        if (typeof value !== 'function') return value;
        const bound = (value as (...args: unknown[]) => unknown).bind(target);
        if (typeof prop !== 'string' || !GUARDED.has(prop)) return bound;
        return (...args: unknown[]) => {
          if (this.clickhouseDown) {
            this.refused++;
            return Promise.reject(connectionRefused());
          }
          return bound(...args);
        };
      },
    });
  }

  /** The runner, failing while down (the readiness probe). */
  wrapRunner(inner: QueryRunner): QueryRunner {
    return {
      query: <T>(sql: string, params?: Record<string, unknown>): Promise<T[]> =>
        this.clickhouseDown ? Promise.reject(connectionRefused()) : inner.query<T>(sql, params),
      close: () => inner.close(),
    };
  }

  state(): Record<string, unknown> {
    return { clickhouse: this.clickhouseDown ? 'down' : 'up', refusedCalls: this.refused, outages: this.outages };
  }

  handler(log: Logger) {
    return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
      if (req.method === 'POST') {
        let wanted: unknown;
        try {
          wanted = (JSON.parse(Buffer.from(await readBody(req, 4096)).toString('utf8')) as { clickhouse?: unknown }).clickhouse;
        } catch {
          wanted = undefined;
        }
        if (wanted !== 'down' && wanted !== 'up') {
          sendJson(res, 400, { error: 'expected {"clickhouse": "down" | "up"}' });
          return;
        }
        if (wanted === 'down' && !this.clickhouseDown) this.outages++;
        this.clickhouseDown = wanted === 'down';
        log.warn('fault injection', { clickhouse: wanted });
      }
      sendJson(res, 200, this.state());
    };
  }
}
