/**
 * chDB's process/directory rules, as createStoreClient reports them:
 * - a directory held by another process → StoreLockedError with that process's pid;
 * - a second directory while this process holds one → StoreError STORE_BUSY;
 * - after closing every client of the first directory, another directory opens fine.
 * This file opens several directories in turn, so it gets its own fork (vitest: one per file).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { createStoreClient, StoreError, StoreLockedError } from '../../clickhouse/store.js';
import { findPackageRoot } from '../../clickhouse/migrate.js';
import { queryOne } from '../support/store.js';

const base = mkdtempSync(join(tmpdir(), 'genai-ledger-lock-'));
const children: ChildProcess[] = [];

afterAll(() => {
  for (const child of children) child.kill('SIGKILL');
  rmSync(base, { recursive: true, force: true });
});

/** Starts a process that holds `dir` open until killed; resolves once the engine is up. */
function holdInAnotherProcess(dir: string): Promise<ChildProcess> {
  const script = `
    const { createChdbConnection } = require('chdb/connection');
    const conn = createChdbConnection({ path: ${JSON.stringify(dir)} });
    conn.ping({ select: true }).then(() => process.stdout.write('ready\\n'));
    setInterval(() => {}, 1000);
  `;
  const child = spawn(process.execPath, ['-e', script], { cwd: findPackageRoot(), stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    child.stdout?.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) resolve(child);
    });
    child.on('exit', (code) => reject(new Error(`holder exited with ${code}`)));
  });
}

describe('embedded store ownership', () => {
  test('a directory open in another process → StoreLockedError naming the pid', async () => {
    const dir = join(base, 'held');
    const holder = await holdInAnotherProcess(dir);
    const err = await createStoreClient({ kind: 'embedded', path: dir }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(StoreLockedError);
    const locked = err as StoreLockedError;
    expect(locked.code).toBe('STORE_LOCKED');
    expect(locked.pid).toBe(holder.pid);
    expect(locked.message).toBe(
      `the embedded store ${dir} is open in another process (pid ${holder.pid}); stop it or query through the collector`,
    );
    holder.kill('SIGKILL');
  }, 30_000);

  test('one directory per process at a time; sequentially, several work', async () => {
    const a = join(base, 'a');
    const b = join(base, 'b');
    const first = await createStoreClient({ kind: 'embedded', path: a });
    const again = await createStoreClient({ kind: 'embedded', path: a }); // same directory: shared engine
    await first.command({ query: 'CREATE TABLE t (x UInt8) ENGINE = MergeTree ORDER BY x' });
    await first.insert({ table: 't', values: [{ x: 1 }], format: 'JSONEachRow' });
    expect(await queryOne(again, 'SELECT count() AS n, currentDatabase() AS db FROM t')).toEqual({ n: 1, db: 'genai_ledger' });

    const err = await createStoreClient({ kind: 'embedded', path: b }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(StoreError);
    expect((err as StoreError).code).toBe('STORE_BUSY');
    expect((err as Error).message).toContain(a);

    await first.close();
    await again.close();
    const second = await createStoreClient({ kind: 'embedded', path: b });
    expect(await queryOne(second, 'SELECT 1 AS one')).toEqual({ one: 1 });
    await second.close();
  }, 30_000);
});
