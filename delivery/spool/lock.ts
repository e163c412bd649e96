/**
 * One process per spool directory: `<dir>/LOCK`, created exclusively (O_EXCL), holds the owner's
 * pid and, on Linux, its start time (from /proc/<pid>/stat), so a recycled pid (a restarted
 * container often gets the same one) is not mistaken for the owner. A lock whose owner is gone
 * (killed, even with SIGKILL) is stale and taken over; a lock naming this very process but not
 * opened by it is stale too (previous incarnation with the same pid). Released by close().
 */
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { SpoolLockedError } from './errors.js';
import { isProcessAlive } from '../../clickhouse/process-alive.js';

export const LOCK_FILE = 'LOCK';

/** Directories this process holds (so a second open in the same process is refused). */
const held = new Set<string>();

export interface LockOwner {
  pid: number | undefined;
  start: string | undefined;
}

/** Start time of a process (clock ticks since boot, /proc/<pid>/stat field 22), or undefined. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19];
  } catch {
    return undefined;
  }
}


export function readLockOwner(dir: string): LockOwner | undefined {
  let text: string;
  try {
    text = readFileSync(join(dir, LOCK_FILE), 'utf8');
  } catch {
    return undefined;
  }
  const pid = /^PID:\s*(\d+)/m.exec(text)?.[1];
  const start = /^START:\s*(\S+)/m.exec(text)?.[1];
  return { pid: pid === undefined ? undefined : Number(pid), start };
}

/** Whether the owner recorded in a lock file is a live process (and the same one that wrote it). */
function ownerAlive(owner: LockOwner): boolean {
  if (owner.pid === undefined) return false;
  if (owner.pid === process.pid) return false; // not in `held`: a previous incarnation with our pid
  if (!isProcessAlive(owner.pid)) return false;
  if (owner.start !== undefined) {
    const start = processStartTime(owner.pid);
    if (start !== undefined && start !== owner.start) return false;
  }
  return true;
}

/** Takes the lock of `dir` (resolved path). Throws SpoolLockedError if a live process holds it. */
export function acquireLock(dir: string): void {
  if (held.has(dir)) throw new SpoolLockedError(dir, process.pid);
  const path = join(dir, LOCK_FILE);
  for (let attempt = 0; attempt < 3; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, 'wx', 0o644);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = readLockOwner(dir);
      // An empty/unreadable file: its writer died between create and write, or is writing now.
      if (owner !== undefined && owner.pid !== undefined && ownerAlive(owner)) throw new SpoolLockedError(dir, owner.pid);
      if (owner?.pid === undefined && attempt === 0) {
        // Give a concurrent creator a moment to write its pid before calling the lock stale.
        const until = Date.now() + 50;
        while (Date.now() < until) { /* spin briefly (open is synchronous) */ }
        continue;
      }
      try {
        unlinkSync(path);
      } catch (unlinkErr) {
        if ((unlinkErr as NodeJS.ErrnoException).code !== 'ENOENT') throw unlinkErr;
      }
      continue;
    }
    try {
      const start = processStartTime(process.pid);
      writeSync(fd, `PID: ${process.pid}\n${start !== undefined ? `START: ${start}\n` : ''}`);
    } finally {
      closeSync(fd);
    }
    held.add(dir);
    return;
  }
  throw new SpoolLockedError(dir, readLockOwner(dir)?.pid);
}

export function releaseLock(dir: string): void {
  if (!held.delete(dir)) return;
  const owner = readLockOwner(dir);
  if (owner?.pid !== process.pid) return;
  try {
    unlinkSync(join(dir, LOCK_FILE));
  } catch {
    // already gone
  }
}
