/**
 * One process per spool directory: an OS lock (fs-native-extensions: an open-file-description
 * lock on Linux, flock on macOS, LockFileEx on Windows) on `<dir>/LOCK`, taken without waiting
 * and held by keeping the file open for the spool's lifetime. The kernel drops it when the file
 * is closed or the process dies (SIGKILL included), so there is no stale lock to judge and no
 * takeover to race. The file holds the holder's pid, written once locked, so a refusal can name
 * it. A clean close removes the file while still holding it; so an opener that locked a file just
 * removed (it opened the path before the removal) checks that the path still leads to its file,
 * and opens again if not. A second open in the same process is refused too.
 *
 * Without the native module there is no lock, and no safe substitute (a pid file must judge
 * staleness, which races): opening a spool then fails with SpoolLockUnavailableError.
 */
import { closeSync, constants, fstatSync, ftruncateSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { SpoolLockedError, SpoolLockUnavailableError } from './errors.js';
import { isProcessAlive } from '../../clickhouse/process-alive.js';

export const LOCK_FILE = 'LOCK';

export interface LockOwner {
  pid: number;
}

interface NativeLock {
  tryLock(fd: number): boolean;
}

/** Directories this process holds → the open LOCK file (its descriptor is the lock). */
const held = new Map<string, number>();

let native: NativeLock | Error | undefined;

function nativeLock(): NativeLock {
  if (native === undefined) {
    try {
      native = createRequire(import.meta.url)('fs-native-extensions') as NativeLock;
    } catch (err) {
      native = err instanceof Error ? err : new Error(String(err));
    }
  }
  if (native instanceof Error) throw new SpoolLockUnavailableError(native);
  return native;
}

/** The pid written in `<dir>/LOCK` (the holder's, or a dead one's), if any. */
export function readLockOwner(dir: string): LockOwner | undefined {
  try {
    const pid = /^PID:\s*(\d+)/m.exec(readFileSync(join(dir, LOCK_FILE), 'utf8'))?.[1];
    return pid === undefined ? undefined : { pid: Number(pid) };
  } catch {
    return undefined;
  }
}

/** Whether `path` still names the file open as `fd` (not removed, nor replaced, since it was opened). */
function stillLinked(fd: number, path: string): boolean {
  try {
    const [open, linked] = [fstatSync(fd), statSync(path)];
    return open.ino === linked.ino && open.dev === linked.dev;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

/** Opens `path` and locks it: the descriptor, or undefined if another descriptor holds the lock. */
function tryLockFile(lock: NativeLock, path: string): number | undefined {
  for (;;) {
    // Not truncated on open: until locked, the content is the holder's.
    const fd = openSync(path, constants.O_RDWR | constants.O_CREAT, 0o644);
    try {
      if (!lock.tryLock(fd)) {
        closeSync(fd);
        return undefined;
      }
      if (stillLinked(fd, path)) return fd;
    } catch (err) {
      closeSync(fd);
      throw err;
    }
    closeSync(fd); // a holder removed it on close after we opened it: open the path again
  }
}

/** Takes the lock of `dir` (resolved path). Throws SpoolLockedError if another open spool holds it. */
export function acquireLock(dir: string): void {
  if (held.has(dir)) throw new SpoolLockedError(dir, process.pid);
  const path = join(dir, LOCK_FILE);
  const fd = tryLockFile(nativeLock(), path);
  if (fd === undefined) {
    // The file may still name a dead past holder for the moment before the new one writes.
    const pid = readLockOwner(dir)?.pid;
    throw new SpoolLockedError(dir, pid !== undefined && isProcessAlive(pid) ? pid : undefined);
  }
  try {
    ftruncateSync(fd, 0);
    writeSync(fd, `PID: ${process.pid}\n`, 0);
  } catch (err) {
    closeSync(fd);
    throw err;
  }
  held.set(dir, fd);
}

/** Releases the lock of `dir` if this process holds it: removes the file, then closes it (which unlocks). */
export function releaseLock(dir: string): void {
  const fd = held.get(dir);
  if (fd === undefined) return;
  held.delete(dir);
  try {
    unlinkSync(join(dir, LOCK_FILE));
  } catch {
    // Removed by hand: the close below unlocks all the same.
  }
  closeSync(fd);
}
