/**
 * One of the processes racing for a spool's lock (spool-lock-race.test.ts).
 * `node --import tsx lock-contender.ts <spool dir> <log file> kill|close`:
 * prints `loaded`, waits for `go` on stdin, then tries Spool.open once and prints `first held` or
 * `first refused <pid|unknown>`. A first winner holds until `next` arrives on stdin; a loser keeps
 * trying every few ms until it gets the spool and holds it for a moment. While holding, a process
 * appends `start <pid>` and `end <pid>` to the log, then lets go: `kill` dies by SIGKILL (the next
 * holder takes over a dead owner's lock, the path that used to race), `close` closes the spool
 * (which removes the LOCK file while others are opening it) and exits.
 */
import { appendFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { Spool, SpoolLockedError } from '../../../delivery/spool/index.js';

const [dir, log, release] = process.argv.slice(2);
if (!dir || !log || (release !== 'kill' && release !== 'close')) {
  process.stderr.write('usage: lock-contender.ts <spool dir> <log file> kill|close\n');
  process.exit(2);
}

const commands = createInterface({ input: process.stdin });
const waiting = new Map<string, () => void>();
commands.on('line', (line) => waiting.get(line.trim())?.());
const command = (name: string): Promise<void> => new Promise((resolve) => waiting.set(name, resolve));

/** The open spool, or the pid named by SpoolLockedError (null: unknown). */
async function tryOpen(): Promise<Spool | number | null> {
  try {
    return await Spool.open({ dir: dir!, meter: false });
  } catch (err) {
    if (err instanceof SpoolLockedError) return err.pid ?? null;
    throw err;
  }
}

async function hold(spool: Spool, until: Promise<unknown>): Promise<never> {
  appendFileSync(log!, `start ${process.pid}\n`);
  await until;
  appendFileSync(log!, `end ${process.pid}\n`);
  if (release === 'kill') process.kill(process.pid, 'SIGKILL');
  await spool.close();
  process.exit(0);
}

const go = command('go');
const next = command('next');
process.stdout.write('loaded\n');
await go;
const first = await tryOpen();
process.stdout.write(first instanceof Spool ? 'first held\n' : `first refused ${first ?? 'unknown'}\n`);
if (first instanceof Spool) await hold(first, next);
for (;;) {
  await sleep(1 + Math.random() * 4);
  const spool = await tryOpen();
  if (spool instanceof Spool) await hold(spool, sleep(30));
}
