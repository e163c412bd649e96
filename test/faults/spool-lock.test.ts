/**
 * The spool's directory lock (delivery/spool/lock.ts) in one process: whatever a past holder left
 * in LOCK is no obstacle; an opener that locks a LOCK file just removed by a closing holder opens
 * the path again; without the native lock module, opening a spool fails with one clear line.
 * (Several processes: spool-lock-race.test.ts and spool.test.ts.)
 */
import { existsSync, mkdirSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test, vi } from 'vitest';
import { acquireLock, readLockOwner, releaseLock } from '../../delivery/spool/lock.js';

/** Lets a test run code right after the lock module opens a given path. */
const hooks = vi.hoisted(() => ({ afterOpen: new Map<string, () => void>() }));
vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  const openSync = ((path: string, ...rest: never[]) => {
    const fd = (fs.openSync as (...args: unknown[]) => number)(path, ...rest);
    const hook = hooks.afterOpen.get(String(path));
    hooks.afterOpen.delete(String(path));
    hook?.();
    return fd;
  }) as typeof fs.openSync;
  return { ...fs, openSync, default: { ...fs, openSync } };
});

const { tryLock } = createRequire(import.meta.url)('fs-native-extensions') as { tryLock(fd: number): boolean };
const base = mkdtempSync(join(tmpdir(), 'genai-ledger-spool-lock-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));
let n = 0;
const freshDir = (): string => {
  const dir = join(base, `d${++n}`);
  mkdirSync(dir);
  return dir;
};

/** Whether some descriptor holds the OS lock on `<dir>/LOCK` (probed with a descriptor of our own). */
function lockedByOthers(dir: string): boolean {
  const fd = openSync(join(dir, 'LOCK'), 'r+');
  try {
    return !tryLock(fd);
  } finally {
    closeSync(fd);
  }
}

describe('spool lock: what a past holder left in LOCK is no obstacle', () => {
  const cases: Array<[string, () => string]> = [
    // The old scheme judged these by pid: a live pid (recycled, or any other process) kept the spool shut.
    ['a live process that is not a holder (our parent)', () => `PID: ${process.ppid}\n`],
    ['this very process (a previous incarnation with the same pid)', () => `PID: ${process.pid}\n`],
    ['a dead pid with a start time (old format)', () => 'PID: 2147483646\nSTART: 12345\n'],
    ['nothing (a holder died before writing)', () => ''],
    ['garbage', () => 'not a lock file\n'],
  ];
  test.each(cases)('%s', (_, content) => {
    const dir = freshDir();
    writeFileSync(join(dir, 'LOCK'), content());
    acquireLock(dir);
    try {
      expect(readFileSync(join(dir, 'LOCK'), 'utf8')).toBe(`PID: ${process.pid}\n`);
      expect(lockedByOthers(dir)).toBe(true);
    } finally {
      releaseLock(dir);
    }
    expect(existsSync(join(dir, 'LOCK'))).toBe(false);
  });
});

test('a holder closing between an opener\'s open and lock: the opener opens the path again, and holds the LOCK that is there', () => {
  const dir = freshDir();
  const alias = `${dir}-alias`; // the same directory by another name: this process may open it "twice"
  symlinkSync(dir, alias);
  acquireLock(dir);
  // The holder closes (removes LOCK, unlocks) just after the opener opened the old LOCK file.
  let closedInBetween = false;
  hooks.afterOpen.set(join(alias, 'LOCK'), () => {
    releaseLock(dir);
    closedInBetween = true;
  });
  acquireLock(alias);
  try {
    expect(closedInBetween).toBe(true);
    // Held through the file at the path, not the removed one: a third opener is refused.
    expect(readLockOwner(dir)?.pid).toBe(process.pid);
    expect(lockedByOthers(dir)).toBe(true);
  } finally {
    releaseLock(alias);
  }
});

test('without the native lock module, opening a spool fails with one clear line (and creates no LOCK)', async () => {
  vi.resetModules();
  vi.doMock('node:module', async (importOriginal) => {
    const mod = await importOriginal<typeof import('node:module')>();
    const createRequire = (url: string | URL): NodeJS.Require => {
      const require = mod.createRequire(url);
      return Object.assign((id: string): unknown => {
        if (id === 'fs-native-extensions') throw new Error('No native build was found for platform=plan9 arch=mips\n    loaded from: /x');
        return require(id);
      }, require) as NodeJS.Require;
    };
    return { ...mod, createRequire, default: { ...mod, createRequire } };
  });
  try {
    const { Spool } = await import('../../delivery/spool/index.js');
    const dir = join(base, 'no-native');
    const err = await Spool.open({ dir, meter: false }).then(() => undefined, (e: unknown) => e as Error);
    expect(err?.name).toBe('SpoolLockUnavailableError');
    expect(err?.message).toBe(
      `the spool needs an OS file lock, but fs-native-extensions did not load on ${process.platform}-${process.arch} (No native build was found for platform=plan9 arch=mips); turn the spool off (collector: --no-spool) or run on a platform it has a prebuild for`,
    );
    expect(existsSync(join(dir, 'LOCK'))).toBe(false);
  } finally {
    vi.doUnmock('node:module');
    vi.resetModules();
  }
});
