import type { ClickHouseClient } from '@clickhouse/client';
import { clientRunner, type QueryRunner } from '../clickhouse/query-runner.js';
import { createStoreClient, describeStore, parseStore, resolveStoreOption, storeDatabase } from '../clickhouse/store.js';
import { CliError } from './cli-error.js';

export interface OpenedStore {
  client: ClickHouseClient;
  database: string;
  label: string;
}

/** Opens `--store` (or its default) for a read command. */
export async function openStoreForCli(flag: string | undefined): Promise<OpenedStore> {
  const store = parseStore(resolveStoreOption(flag));
  const client = await createStoreClient(store);
  return { client, database: storeDatabase(store), label: describeStore(store) };
}

export interface OpenedReader {
  runner: QueryRunner;
  database: string;
  label: string;
}

/** A read-only way into `--store` for query commands. */
export async function openReaderForCli(flag: string | undefined): Promise<OpenedReader> {
  const { client, database, label } = await openStoreForCli(flag);
  return { runner: clientRunner(client), database, label };
}

/** ClickHouse's "no such table/database" become a hint to create the ledger first. */
export function explainStoreError(error: unknown, label: string): Error {
  const message = error instanceof Error ? error.message : String(error);
  if (/UNKNOWN_(TABLE|DATABASE)|does not exist/i.test(message)) {
    return new CliError(`no ledger in ${label} yet: run 'genai-ledger migrate' (or start the collector) first`);
  }
  return error instanceof Error ? error : new Error(message);
}
