/**
 * The ledger leaves its host process as it found it: opening an embedded store changes no
 * thread's priority (the app's, Node's or the engine's) and leaves stdin, even a pipe, to the app.
 * Its own file: the engine is one per process.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { Ledger } from '../../delivery/ledger.js';
import { threadInfo } from '../support/threads.js';

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'genai-ledger-host-'));
  dirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('the host process', () => {
  it.runIf(existsSync('/proc/thread-self'))('opening an embedded store and writing changes no thread\'s priority', async () => {
    const before = threadInfo();
    const ledger = await Ledger.open({ store: tempDir(), deadLetter: false });
    try {
      await ledger.client.command({ query: 'SELECT sum(number) FROM numbers_mt(10000000) FORMAT Null' });
      const after = threadInfo();
      const engine = [...after].filter(([tid, t]) => !before.has(tid) && t.name !== 'node');
      expect(engine.length).toBeGreaterThan(0); // the engine did start threads of its own
      // None lowered (the engine may raise its own MemoryWorker, as root; the ledger lowers nothing).
      const app = before.get(process.pid)!.nice;
      for (const [, t] of engine) expect(t.nice, t.name).toBeLessThanOrEqual(app);
      for (const [tid, t] of after) if (before.has(tid)) expect(t.nice, t.name).toBe(before.get(tid)!.nice);
    } finally {
      await ledger.close();
    }
  });

  it('a piped stdin stays the app\'s: same descriptor after the store opens, its input read by the app, and a warning says why', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'support/stdin-child.ts'), tempDir()], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
    const opened = JSON.parse(((await lines.next()).value as string)) as { before: string; after: string; warnings: string[] };
    child.stdin!.end('the app\'s own input\n');
    const echoed = JSON.parse(((await lines.next()).value as string)) as { input: string };
    await new Promise((resolve) => child.once('exit', resolve));

    expect(opened.after).toBe(opened.before);
    expect(echoed.input).toBe('the app\'s own input\n');
    expect(opened.warnings.join('\n')).toMatch(/stdin is a pipe.*embedded ClickHouse engine reads it/);
  }, 60_000);
});
