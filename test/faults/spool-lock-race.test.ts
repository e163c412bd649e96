/**
 * The spool's lock under contention: 12 processes start at once on a spool whose LOCK file names a
 * SIGKILLed process, then take it in turns, each letting go by dying (SIGKILL) or by a clean close
 * (which removes the LOCK file under the others' feet). Exactly one may hold it at a time: the old
 * O_EXCL + "owner is dead → unlink" scheme let two through.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { findPackageRoot } from '../../clickhouse/migrate.js';
import { readLockOwner, Spool } from '../../delivery/spool/index.js';

const CONTENDERS = 12;
const base = mkdtempSync(join(tmpdir(), 'genai-ledger-lock-race-'));
const children: ChildProcess[] = [];
afterAll(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  rmSync(base, { recursive: true, force: true });
});

interface Contender {
  child: ChildProcess;
  lines: string[];
  /** Resolves with the first line that starts with `prefix`. */
  line: (prefix: string) => Promise<string>;
  exit: Promise<NodeJS.Signals | number | null>;
}

function startContender(dir: string, log: string, release: 'kill' | 'close'): Contender {
  const root = findPackageRoot();
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'test/faults/support/lock-contender.ts'), dir, log, release], { cwd: root, stdio: ['pipe', 'pipe', 'pipe'] });
  children.push(child);
  const lines: string[] = [];
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdout!.on('data', (d: Buffer) => lines.push(...d.toString().split('\n').filter(Boolean)));
  const exit = new Promise<NodeJS.Signals | number | null>((resolve) => child.on('exit', (code, signal) => resolve(signal ?? code)));
  const line = (prefix: string): Promise<string> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        const found = lines.find((l) => l.startsWith(prefix));
        if (found !== undefined) {
          child.stdout!.off('data', check);
          resolve(found);
        }
      };
      child.stdout!.on('data', check);
      void exit.then((how) => reject(new Error(`contender ${child.pid} exited (${how}) before "${prefix}"; stderr: ${stderr.slice(-2000)}`)));
      check();
    });
  return { child, lines, line, exit };
}

/** A pid that is certainly dead: a child's, after SIGKILL. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  children.push(child);
  await new Promise((resolve) => child.once('spawn', resolve));
  child.kill('SIGKILL');
  await new Promise((resolve) => child.once('exit', resolve));
  return child.pid!;
}

test.each(['kill', 'close'] as const)(`${CONTENDERS} processes race for a spool left locked by a dead process, then take turns (letting go by %s): one holder at a time`, async (release) => {
  const dir = join(base, release);
  const log = join(base, `${release}.log`);
  const dead = await deadPid();
  // What a SIGKILLed holder of the old scheme left behind: a LOCK file naming it.
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'LOCK'), `PID: ${dead}\n`);
  writeFileSync(log, '');

  const contenders = Array.from({ length: CONTENDERS }, () => startContender(dir, log, release));
  await Promise.all(contenders.map((c) => c.line('loaded')));
  for (const c of contenders) c.child.stdin!.write('go\n'); // as close to "at once" as the pipes allow

  // Everyone's first try happens while the first winner holds: exactly one gets it.
  const firsts = await Promise.all(contenders.map((c) => c.line('first ')));
  const winners = contenders.filter((_, i) => firsts[i] === 'first held');
  expect(winners).toHaveLength(1);
  const winner = winners[0]!;
  for (const [i, first] of firsts.entries()) {
    if (contenders[i] === winner) continue;
    // The refusal names the holder, or nobody if it had not written its pid yet; never the dead owner.
    expect([`first refused ${winner.child.pid}`, 'first refused unknown']).toContain(first);
  }
  expect(readLockOwner(dir)?.pid).toBe(winner.child.pid);

  // Then they take turns: the holders' intervals never overlap.
  winner.child.stdin!.write('next\n');
  const exits = await Promise.all(contenders.map((c) => c.exit));
  expect(exits).toEqual(contenders.map(() => (release === 'kill' ? 'SIGKILL' : 0)));
  const events = readFileSync(log, 'utf8').trim().split('\n');
  expect(events).toHaveLength(2 * CONTENDERS);
  const overlaps: string[] = [];
  for (let i = 0; i < events.length; i += 2) {
    const [start, end] = [events[i]!, events[i + 1]!];
    if (!start.startsWith('start ') || end !== `end ${start.slice(6)}`) overlaps.push(`${start} / ${end}`);
  }
  expect(overlaps).toEqual([]);
  expect(new Set(events.map((e) => e.split(' ')[1])).size).toBe(CONTENDERS);

  // The last holder died holding it, or closed: this process gets it at once.
  const spool = await Spool.open({ dir, meter: false });
  expect(readLockOwner(dir)?.pid).toBe(process.pid);
  await spool.close();
}, 180_000);
