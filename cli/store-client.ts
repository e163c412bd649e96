import type { ClickHouseClient } from '@clickhouse/client';
import { clientRunner, type QueryRunner } from '../clickhouse/query-runner.js';
import { createStoreClient, describeStore, parseStore, resolveStoreOption, storeDatabase, StoreLockedError } from '../clickhouse/store.js';
import { CliError } from './cli-error.js';
import { detachStdin } from './stdio.js';

export interface OpenedStore {
  client: ClickHouseClient;
  database: string;
  label: string;
}

/** Opens `--store` (or its default) for a read command. */
export async function openStoreForCli(flag: string | undefined): Promise<OpenedStore> {
  const store = parseStore(resolveStoreOption(flag));
  detachStdin();
  const client = await createStoreClient(store);
  return { client, database: storeDatabase(store), label: describeStore(store) };
}

export interface OpenedReader {
  runner: QueryRunner;
  database: string;
  label: string;
}

/** How long a reader waits for a collector that holds the store to publish its discovery file. */
const DISCOVERY_WAIT_MS = 3000;

/**
 * A read-only way into `--store` for query commands. In order:
 * - no --store flag and GENAI_LEDGER_QUERY_URL (+ GENAI_LEDGER_QUERY_TOKEN) set: that collector's
 *   query endpoint (a remote collector);
 * - an embedded store a running collector holds (a live `<dir>/collector.json`, or the directory
 *   locked by another process that publishes one): that collector's query endpoint;
 * - otherwise the store itself.
 */
export async function openReaderForCli(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<OpenedReader> {
  const remote = env.GENAI_LEDGER_QUERY_URL?.trim();
  if (flag === undefined && remote) {
    const token = env.GENAI_LEDGER_QUERY_TOKEN?.trim();
    if (!token) throw new CliError('GENAI_LEDGER_QUERY_URL is set but GENAI_LEDGER_QUERY_TOKEN is not: give the collector\'s query token');
    const { collectorInfo, collectorRunner } = await import('../collector/query-client.js');
    const options = { url: remote, token };
    const { database } = await collectorInfo(options);
    return { runner: collectorRunner(options), database, label: `collector at ${remote}` };
  }
  const store = parseStore(resolveStoreOption(flag, env));
  if (store.kind === 'embedded') {
    const { findLiveCollector } = await import('../collector/discovery.js');
    const live = findLiveCollector(store.path);
    // A live pid that does not answer is a stale file whose pid was reused: open the store itself.
    if (live && live.pid !== process.pid && (await answers(live))) return readerThroughCollector(live, store.path);
  }
  let client: ClickHouseClient;
  detachStdin(); // after `query --file -` has read it
  try {
    client = await createStoreClient(store);
  } catch (error) {
    if (!(error instanceof StoreLockedError)) throw error;
    // The collector may be starting: it locks the directory before it publishes collector.json.
    const { findLiveCollector } = await import('../collector/discovery.js');
    const deadline = Date.now() + DISCOVERY_WAIT_MS;
    while (Date.now() < deadline) {
      const live = findLiveCollector(error.path);
      if (live) return readerThroughCollector(live, error.path);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new CliError(`${error.message.split(';')[0]}, and no running collector publishes a query endpoint for it (${error.path}/collector.json)`);
  }
  return { runner: clientRunner(client), database: storeDatabase(store), label: describeStore(store) };
}

async function answers(live: { url: string; queryToken: string }): Promise<boolean> {
  const { collectorInfo, CollectorQueryError } = await import('../collector/query-client.js');
  try {
    await collectorInfo({ url: live.url, token: live.queryToken, timeoutMs: 3000 });
    return true;
  } catch (error) {
    return !(error instanceof CollectorQueryError && error.status === 0);
  }
}

async function readerThroughCollector(
  live: { url: string; queryToken: string; database: string },
  dir: string,
): Promise<OpenedReader> {
  const { collectorRunner } = await import('../collector/query-client.js');
  return {
    runner: collectorRunner({ url: live.url, token: live.queryToken }),
    database: live.database,
    label: `${dir} (through the collector at ${live.url})`,
  };
}

/** ClickHouse's "no such table/database" become a hint to create the ledger first. */
export function explainStoreError(error: unknown, label: string): Error {
  const message = error instanceof Error ? error.message : String(error);
  if (/UNKNOWN_(TABLE|DATABASE)|does not exist/i.test(message)) {
    return new CliError(`no ledger in ${label} yet: run 'genai-ledger migrate' (or start the collector) first`);
  }
  return error instanceof Error ? error : new Error(message);
}
