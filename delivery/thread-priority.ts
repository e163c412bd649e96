/**
 * CPU priority of the ledger's threads. Linux schedules threads on their own: a thread's nice
 * value (`setpriority` on its thread id) lowers it alone, and any process may raise its own
 * threads' nice values. Elsewhere a nice value is the whole process's, so nothing is changed there.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
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

const TASKS = '/proc/self/task';
/** Names Node gives its own threads (they inherit the process's name; libuv's pool may name its own). */
const NODE_THREAD_NAMES = ['node', 'libuv-worker'];

/** Scans a thread is looked at while it still has a Node name (a new one soon names itself). */
const LOOKS_AT_NODE_NAMED = 3;

/**
 * Gives the threads a native engine starts in this process a nice value (Linux): every thread
 * whose name none of Node's threads have (the embedded ClickHouse names its pools: `ThreadPool`,
 * `MergeMutate`, `BgSchPool`...). The engine starts threads as it needs them, so `renice()` is
 * called again after its statements. A new thread carries its creator's name until it names
 * itself, so a thread with a Node name is looked at again for a few scans; after that a scan
 * only lists the threads (tens of µs).
 */
export class EngineThreadNicer {
  readonly #nice: number;
  readonly #own = new Set(NODE_THREAD_NAMES);
  /** Per thread looked at: -1 once given the nice value, else the scans it had a Node name in. */
  #seen = new Map<string, number>();

  /** Call before the engine loads: the names threads have now are Node's or the app's. */
  constructor(nice: number) {
    this.#nice = nice;
    for (const tid of tasks()) {
      const name = threadName(tid);
      if (name !== undefined) this.#own.add(name);
    }
  }

  renice(): void {
    // The app may rename its process (process.title) later: its main thread's name is its own.
    const main = threadName(String(process.pid));
    if (main !== undefined) this.#own.add(main);
    const seen = new Map<string, number>();
    for (const tid of tasks()) {
      const before = this.#seen.get(tid) ?? 0;
      if (before < 0 || before >= LOOKS_AT_NODE_NAMED) {
        seen.set(tid, before);
        continue;
      }
      const name = threadName(tid);
      if (name === undefined) continue;
      if (this.#own.has(name)) {
        seen.set(tid, before + 1);
        continue;
      }
      seen.set(tid, -1);
      try {
        setPriority(Number(tid), this.#nice);
      } catch {
        // The thread ended meanwhile, or the system refused: it runs at the app's priority.
      }
    }
    this.#seen = seen;
  }
}

function tasks(): string[] {
  try {
    return readdirSync(TASKS);
  } catch {
    return []; // not Linux
  }
}

function threadName(tid: string): string | undefined {
  try {
    return readFileSync(`${TASKS}/${tid}/comm`, 'utf8').trimEnd();
  } catch {
    return undefined;
  }
}
