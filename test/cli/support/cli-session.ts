/**
 * Several `genai-ledger` invocations in one process (`node --import tsx cli-session.ts NONCE [DIR]`,
 * driven over IPC by cliSession() in cli.ts): each process the CLI tests spawned paid Node, tsx,
 * the chDB library and an engine start on DIR, about 2 s of CPU, for commands that take tens of ms.
 *
 * Each invocation is what bin/genai-ledger.js runs, `main(args)`, writing to this process's real
 * stdout and stderr (the engine's own stderr included); a mark written on both after it ends
 * delimits its output. An invocation ends once main() has returned AND every resource it left
 * keeping the event loop alive is gone, as the process of its own would have to exit: a leaked
 * timer or socket hangs the test here as it did there. With DIR, the session keeps a connection to
 * DIR open (migrated first, as the store tool does), so the engine starts once; the commands open
 * and close their own connections to it. The store tool's operations run on that connection.
 */
import { createStoreClient } from '../../../clickhouse/store.js';
import { migrate } from '../../../clickhouse/migrate.js';
import { main } from '../../../cli/main.js';
import { sessionMark, type SessionReply, type SessionRequest } from './cli.js';
import { storeOp } from './store-ops.js';

const [nonceArg, dir] = process.argv.slice(2);
if (!nonceArg) throw new Error('usage: cli-session.ts NONCE [DIR]');
const nonce: string = nonceArg;
const database = 'genai_ledger';

function resourceCounts(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const type of process.getActiveResourcesInfo()) counts.set(type, (counts.get(type) ?? 0) + 1);
  return counts;
}

/** Until no more resources keep the event loop alive than before: when a process would exit. */
async function settled(before: Map<string, number>): Promise<void> {
  const extra = () => [...resourceCounts()].some(([type, n]) => n > (before.get(type) ?? 0));
  while (extra()) await new Promise((resolve) => setTimeout(resolve, 10));
}

/** Runs `main(args)` with ENV's variables set (undefined: unset) for its duration. */
async function invoke(args: string[], env: Record<string, string | undefined> = {}): Promise<number> {
  const saved = Object.fromEntries(Object.keys(env).map((key) => [key, process.env[key]]));
  const apply = (values: Record<string, string | undefined>) => {
    for (const [key, value] of Object.entries(values)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  };
  apply(env);
  try {
    const before = resourceCounts();
    const code = await main(args);
    await settled(before);
    return code;
  } finally {
    apply(saved);
  }
}

const keeper = dir ? await createStoreClient({ kind: 'embedded', path: dir }, { database }) : undefined;
if (keeper) await migrate(keeper, { database });

async function handle(request: SessionRequest): Promise<SessionReply> {
  if (request.kind === 'cli') return { id: request.id, code: await invoke(request.args, request.env) };
  if (request.kind === 'store') {
    if (!keeper) throw new Error('store operations need a session on a store directory');
    let out = '';
    for (const op of request.ops) out += await storeOp(keeper, database, op);
    return { id: request.id, out };
  }
  await keeper?.close();
  return { id: request.id };
}

function reply(message: SessionReply): void {
  const mark = sessionMark(nonce, message.id);
  process.stdout.write(mark);
  process.stderr.write(mark);
  process.send!(message);
}

let queue = Promise.resolve();
process.on('message', (request: SessionRequest) => {
  queue = queue.then(async () => {
    reply(await handle(request).catch((error: unknown) => ({ id: request.id, error: error instanceof Error ? error.message : String(error) })));
    if (request.kind === 'close') process.disconnect();
  });
});
reply({ id: 0 });
