/**
 * CPU priority of the ledger's own mapping thread. Linux schedules threads on their own: a
 * thread's nice value (`setpriority` on its thread id) lowers it alone, and any process may raise
 * its own threads' nice values. Elsewhere a nice value is the whole process's, so nothing is
 * changed there. No other thread is touched: the app's and the engine's are the host's.
 */
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';

/** Sets the calling thread's nice value (Linux); does nothing where it cannot (another OS, or refused). */
export function niceThisThread(nice: number): void {
  try {
    // `/proc/thread-self` → `<pid>/task/<tid>`: the thread id, where setPriority(0) would mean the process on other systems.
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (Number.isInteger(tid) && tid > 0) setPriority(tid, nice);
  } catch {
    // Left at the app's priority: a slower mapping thread under contention, nothing worse.
  }
}
