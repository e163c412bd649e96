/**
 * The collector's read connection: what the query endpoint and /readyz run on.
 *
 * - Its own connection (chDB applies settings per session: `readonly = 1` must never reach the
 *   writer's session, and once set it cannot be unset on this one).
 * - One statement at a time (a chDB session runs one anyway).
 * - Replaced after any failed statement. chDB 3.4 sometimes hands the output a failed query had
 *   already produced (e.g. 100k rows before max_result_rows threw) to the NEXT query of the same
 *   session as its result (reproduced in test/collector/query-readonly.test.ts); a fresh session
 *   has no such leftovers. Cheap: opening a connection to an engine already running takes
 *   milliseconds.
 */
import type { ClickHouseClient, ClickHouseSettings } from '@clickhouse/client';
import { clientRunner, type QueryRunner } from '../clickhouse/query-runner.js';
import { createStoreClient, type Store } from '../clickhouse/store.js';

export function openReader(store: Store, settings: ClickHouseSettings): QueryRunner {
  return recyclingRunner(() => createStoreClient(store, { ensureDatabase: false, application: 'genai-ledger-query' }), settings);
}

/** A runner over clients from `open`, serialized, that drops its client after a failed statement. */
export function recyclingRunner(open: () => Promise<ClickHouseClient>, settings: ClickHouseSettings): QueryRunner {
  let current: { client: ClickHouseClient; runner: QueryRunner } | undefined;
  let tail: Promise<unknown> = Promise.resolve();
  let closed = false;

  const serial = <T>(run: () => Promise<T>): Promise<T> => {
    const result = tail.then(run, run);
    tail = result.catch(() => undefined);
    return result;
  };

  return {
    query<T = Record<string, unknown>>(sql: string, params?: Record<string, unknown>): Promise<T[]> {
      return serial(async () => {
        if (closed) throw new Error('the query connection is closed');
        if (!current) {
          const client = await open();
          current = { client, runner: clientRunner(client, settings) };
        }
        const used = current;
        try {
          return await used.runner.query<T>(sql, params);
        } catch (error) {
          current = undefined;
          await used.client.close().catch(() => undefined);
          throw error;
        }
      });
    },
    close(): Promise<void> {
      return serial(async () => {
        closed = true;
        const used = current;
        current = undefined;
        if (used) await used.client.close();
      });
    },
  };
}
