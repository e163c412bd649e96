/**
 * SIGKILL mid-stream: a child process ingests durably (own embedded store + spool), printing the
 * batches it got acknowledged; it is killed with SIGKILL while appends, inserts and commits are in
 * flight. A fresh process on the same directories must get both locks (chDB's and the spool's:
 * the dead owner releases them) and replay; then every acknowledged span is in ai_usage_exact
 * exactly once, and every rollup agrees. The store's merges are held (test/support/delivery-counts.ts)
 * so the raw table keeps every delivery: a record inserted before the kill but not yet committed in
 * the spool is sent again by the replay (dropped at insert by its dedup token when it makes the same
 * batch, stored twice otherwise), and its spans must count once either way.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { findPackageRoot, refreshRollups } from '../../clickhouse/migrate.js';
import { clientRunner } from '../../clickhouse/query-runner.js';
import { createStoreClient } from '../../clickhouse/store.js';
import { readLockOwner } from '../../delivery/spool/index.js';
import { deliveryCounts, describeCounts, miscounts, prepareHeldStore } from '../support/delivery-counts.js';
import { queryRows } from '../support/store.js';
import { spanIdOf } from './support/spans.js';

const BATCH = 100;
const base = mkdtempSync(join(tmpdir(), 'genai-ledger-crash-'));
const storeDir = join(base, 'store');
const spoolDir = join(base, 'spool');
const children: ChildProcess[] = [];
afterAll(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  rmSync(base, { recursive: true, force: true });
});

function startChild(mode: 'ingest' | 'replay'): { child: ChildProcess; lines: string[]; wait: (pred: (line: string) => boolean, timeoutMs: number) => Promise<string>; exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }> } {
  const script = join(findPackageRoot(), 'test/faults/support/crash-child.ts');
  const child = spawn(process.execPath, ['--import', 'tsx', script, storeDir, spoolDir, mode], { cwd: findPackageRoot(), stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  const lines: string[] = [];
  const listeners = new Set<() => void>();
  let buffer = '';
  child.stdout!.on('data', (d: Buffer) => {
    buffer += d.toString();
    const parts = buffer.split('\n');
    buffer = parts.pop()!;
    lines.push(...parts);
    for (const l of listeners) l();
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const wait = (pred: (line: string) => boolean, timeoutMs: number): Promise<string> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        const found = lines.find(pred);
        if (found !== undefined) {
          listeners.delete(check);
          clearTimeout(timer);
          resolve(found);
        }
      };
      const timer = setTimeout(() => {
        listeners.delete(check);
        reject(new Error(`child (${mode}) did not print the expected line in ${timeoutMs} ms; stderr: ${stderr.slice(-2000)}`));
      }, timeoutMs);
      listeners.add(check);
      void exit.then(({ code, signal }) => {
        if (listeners.has(check)) reject(new Error(`child (${mode}) exited (${code ?? signal}); stderr: ${stderr.slice(-2000)}`));
      });
      check();
    });
  return { child, lines, wait, exit };
}

test('SIGKILL mid-stream, restart, replay: every acknowledged span stored exactly once', async () => {
  // 1. Ingest until a good number of batches are acknowledged, then SIGKILL (no chance to clean up).
  await prepareHeldStore(storeDir);
  const first = startChild('ingest');
  const ready = await first.wait((l) => l.startsWith('ready '), 30_000);
  const [, pid, statusPid] = ready.split(' ');
  expect(Number(pid)).toBe(first.child.pid);
  expect(statusPid).toBe(pid); // chDB's lock: <store>/status names the child
  expect(readLockOwner(spoolDir)?.pid).toBe(first.child.pid); // the spool's lock too
  await first.wait(() => first.lines.filter((l) => l.startsWith('ack ')).length >= 150, 30_000);
  first.child.kill('SIGKILL');
  expect(await first.exit).toEqual({ code: null, signal: 'SIGKILL' });
  const acked = first.lines.filter((l) => l.startsWith('ack ')).map((l) => Number(l.slice(4)));
  expect(acked.length).toBeGreaterThanOrEqual(150);
  // Both lock files still name the dead process: only its death released the locks.
  expect(readLockOwner(spoolDir)?.pid).toBe(first.child.pid);

  // 2. A fresh process on the same directories: opens (locks released by the death), replays, drains.
  const second = startChild('replay');
  const reopened = await second.wait((l) => l.startsWith('ready '), 30_000);
  const recovered = JSON.parse(reopened.split(' ').slice(3).join(' ')) as { recoveredRecords: number; corruptRecords: number };
  const done = await second.wait((l) => l.startsWith('done '), 60_000);
  expect(await second.exit).toEqual({ code: 0, signal: null });
  const stats = JSON.parse(done.slice(5)) as { pendingRows: number; committedRows: number };
  expect(stats.pendingRows).toBe(0);
  expect(existsSync(join(spoolDir, 'LOCK'))).toBe(false); // released by the clean close
  console.log(`crash test: ${acked.length} batches acknowledged before SIGKILL; recovered ${recovered.recoveredRecords} uncommitted records (${recovered.corruptRecords} torn), committed ${stats.committedRows} rows on replay`);

  // 3. Check in this process (the store is free again).
  const client = await createStoreClient({ kind: 'embedded', path: storeDir });
  try {
    await refreshRollups(client, { database: 'genai_ledger' });
    const counts = await deliveryCounts(clientRunner(client));
    expect(miscounts(counts)).toEqual([]); // each span once in ai_usage_exact and every rollup, duplicates or not
    const stored = new Set((await queryRows<{ span_id: string }>(client, 'SELECT span_id FROM ai_usage_exact')).map((r) => r.span_id));
    const missing: string[] = [];
    for (const b of acked) for (let i = b * BATCH; i < (b + 1) * BATCH; i++) if (!stored.has(spanIdOf(i))) missing.push(spanIdOf(i));
    expect(missing).toEqual([]);
    expect(counts.distinct).toBeGreaterThanOrEqual(acked.length * BATCH);
    console.log(`crash test: ${describeCounts(counts)}`);
  } finally {
    await client.close();
  }
}, 90_000);
