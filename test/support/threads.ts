import { readdirSync, readFileSync } from 'node:fs';

export interface ThreadInfo {
  name: string;
  nice: number;
}

/** This process's threads (Linux), by thread id: name and nice value. Threads that end meanwhile are left out. */
export function threadInfo(): Map<number, ThreadInfo> {
  const out = new Map<number, ThreadInfo>();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      // Fields after the `(comm)`: state is field 3, nice field 19.
      const nice = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
      out.set(Number(tid), { name: readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trimEnd(), nice });
    } catch {
      // ended meanwhile
    }
  }
  return out;
}
