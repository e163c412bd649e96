/**
 * What the embedded engine (chDB) does with the query endpoint's settings, checked directly on a
 * store in this process (no SQL guard in front):
 * - readonly = 1 refuses INSERT, CREATE, DROP, ALTER, file() and setting changes;
 * - it does NOT refuse `SELECT ... INTO OUTFILE` (which writes a file): why sql-guard.ts exists;
 * - max_result_rows / max_execution_time throw;
 * - after a failed query, chDB may hand its leftover output to the next query of the same session:
 *   the collector's reader (reader.ts) replaces the session after any failure.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { ClickHouseClient } from '@clickhouse/client';
import { clientRunner, type QueryRunner } from '../../clickhouse/query-runner.js';
import { createStoreClient } from '../../clickhouse/store.js';
import { readOnlySettings } from '../../collector/query-endpoint.js';
import { recyclingRunner } from '../../collector/reader.js';
import { writeDiscovery } from '../../collector/discovery.js';
import { openReaderForCli } from '../../cli/store-client.js';
import { openTestStore, type TestStore } from '../support/store.js';

const limits = { timeoutSeconds: 1, maxResultRows: 100_000, maxResultBytes: 64 * 1024 * 1024, maxMemoryBytes: 2 * 1024 ** 3 };
const scratch = mkdtempSync(join(tmpdir(), 'genai-ledger-readonly-'));
let store: TestStore;
let raw: ClickHouseClient;
let plain: QueryRunner;
let reader: QueryRunner;

beforeAll(async () => {
  store = await openTestStore({ migrate: true });
  await store.client.command({ query: "INSERT INTO ai_usage (trace_id, span_id, ts) VALUES ('t1', 's1', now64(6)), ('t2', 's2', now64(6))" });
  raw = await createStoreClient({ kind: 'embedded', path: store.dir }, { ensureDatabase: false });
  plain = clientRunner(raw, readOnlySettings(limits));
  reader = recyclingRunner(() => createStoreClient({ kind: 'embedded', path: store.dir }, { ensureDatabase: false }), readOnlySettings(limits));
});

afterAll(async () => {
  await reader?.close();
  await raw?.close();
  await store?.close();
  rmSync(scratch, { recursive: true, force: true });
});

const failure = (run: QueryRunner, sql: string) => run.query(sql).then(() => 'no error', (e: unknown) => (e as Error).message);

describe('chDB and the read-only settings', () => {
  test('readonly = 1 refuses writes, DDL, file access and setting changes', async () => {
    for (const sql of [
      "INSERT INTO ai_usage (trace_id, span_id) VALUES ('x', 'y')",
      'CREATE TABLE t (x UInt8) ENGINE = Memory',
      'DROP TABLE ai_usage',
      'ALTER TABLE ai_usage DELETE WHERE 1',
      'TRUNCATE TABLE ai_usage',
      "SELECT * FROM file('/etc/hostname', 'LineAsString')",
      "INSERT INTO FUNCTION file('x.csv', 'CSV', 'a UInt8') VALUES (1)",
    ]) {
      expect(await failure(plain, sql), sql).toMatch(/readonly mode/);
    }
    expect(await failure(plain, 'SELECT 1 SETTINGS max_result_rows = 0')).toMatch(/Cannot modify 'max_result_rows' setting in readonly mode/);
    expect(await plain.query("SELECT count() AS n, getSetting('readonly') AS ro FROM ai_usage")).toEqual([{ n: 2, ro: 1 }]);
    // The writer's session is untouched.
    await store.client.command({ query: "INSERT INTO ai_usage (trace_id, span_id, ts) VALUES ('t3', 's3', now64(6))" });
    expect(await plain.query('SELECT count() AS n FROM ai_usage')).toEqual([{ n: 3 }]);
  });

  test('readonly = 1 does not stop INTO OUTFILE: the SQL guard must', async () => {
    const target = join(scratch, 'outfile.txt');
    await plain.query(`SELECT 1 INTO OUTFILE '${target}'`).catch(() => undefined);
    expect(existsSync(target)).toBe(true);
  });

  test('result and time limits throw', async () => {
    expect(await failure(reader, 'SELECT number FROM numbers(1000000)')).toMatch(/Limit for result exceeded/);
    expect(await failure(reader, 'SELECT sleepEachRow(0.3) FROM numbers(10)')).toMatch(/Timeout exceeded/i);
  });

  test('a discovery file whose pid lives but whose collector does not answer is ignored by the CLI', async () => {
    writeDiscovery(store.dir, { pid: process.ppid, url: 'http://127.0.0.1:9', queryToken: 'q', database: 'genai_ledger', startedAt: '' });
    const opened = await openReaderForCli(store.dir, {});
    try {
      expect(opened.label).toBe(store.dir);
      expect(await opened.runner.query('SELECT count() AS n FROM ai_usage')).toEqual([{ n: 3 }]);
    } finally {
      await opened.runner.close();
      rmSync(join(store.dir, 'collector.json'), { force: true });
    }
  });

  test('after a failed query, the reader\'s next answer is never the failed query\'s leftovers', async () => {
    for (let i = 0; i < 5; i++) {
      expect(await failure(reader, 'SELECT number FROM numbers(1000000)')).toMatch(/Limit for result exceeded/);
      expect(await reader.query('SELECT count() AS n FROM ai_usage')).toEqual([{ n: 3 }]);
    }
  });
});
