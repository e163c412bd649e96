/**
 * Runs the CLI and the store tool as child processes (from source, through tsx), stdin closed
 * unless `input` is given: the embedded engine refuses inserts while its stdin carries data.
 * A file with many invocations runs them in one CLI session (cliSession): one process, one engine.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = resolve(HERE, '..', '..', '..');
const ENTRY = join(HERE, 'entry.ts');
const STORE_TOOL = join(HERE, 'store-tool.ts');
const SESSION = join(HERE, 'cli-session.ts');

export interface ProcessResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Written to stdin (default: no stdin). */
  input?: string;
  env?: Record<string, string | undefined>;
  cwd?: string;
}

/** The environment without anything that would point a command at another store or collector. */
function cleanEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(env)) {
    if (key.startsWith('GENAI_LEDGER_') || key === 'CLICKHOUSE_URL') delete env[key];
  }
  for (const [key, value] of Object.entries(extra)) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  return env;
}

/** `node --import tsx SCRIPT ARGS...` (a TypeScript file). */
export function run(script: string, args: readonly string[], options: RunOptions = {}): Promise<ProcessResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
      cwd: options.cwd ?? REPO_ROOT,
      env: cleanEnv(options.env),
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => resolvePromise({ code: code ?? (signal ? 128 : 1), stdout, stderr }));
    if (options.input !== undefined) child.stdin!.end(options.input);
  });
}

/** `genai-ledger ARGS...` */
export function runCli(args: readonly string[], options?: RunOptions): Promise<ProcessResult> {
  return run(ENTRY, args, options);
}

/** Store tool operations on DIR (see store-tool.ts); throws on a non-zero exit. */
export async function storeTool(dir: string, ops: readonly string[]): Promise<string> {
  const result = await run(STORE_TOOL, [dir, ...ops]);
  if (result.code !== 0) throw new Error(`store-tool ${ops.join(' ')} failed (${result.code}): ${result.stderr}`);
  return result.stdout;
}

/** A store tool left running (e.g. `hold=60000`): resolves once it printed its first line. */
export async function startStoreTool(dir: string, ops: readonly string[]): Promise<{ stop(): Promise<void> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', STORE_TOOL, dir, ...ops], {
    cwd: REPO_ROOT, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'],
  });
  const closed = new Promise<void>((resolvePromise) => child.on('close', () => resolvePromise()));
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  await new Promise<void>((resolvePromise, reject) => {
    child.stdout.setEncoding('utf8').once('data', () => resolvePromise());
    child.once('close', (code) => reject(new Error(`store-tool ${ops.join(' ')} exited (${code}) before it started: ${stderr}`)));
  });
  return {
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await closed;
    },
  };
}

/** Writes `rows` into the store at DIR (migrating it first), through `tool` (default: the store tool's process). */
export async function seedRows(dir: string, rows: readonly unknown[], tool: (ops: string[]) => Promise<string> = (ops) => storeTool(dir, ops)): Promise<void> {
  const file = join(dirname(dir), `${basename(dir)}-seed-${process.pid}-${Date.now()}.json`);
  writeFileSync(file, JSON.stringify(rows));
  try {
    await tool([`seed=${file}`]);
  } finally {
    rmSync(file, { force: true });
  }
}

/** Runs one SQL query on DIR through the store tool; the rows. */
export async function sql<T = Record<string, unknown>>(dir: string, query: string): Promise<T[]> {
  return JSON.parse((await storeTool(dir, [query])).trim()) as T[];
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `genai-ledger-${prefix}-`));
}

/** stderr lines that are not blank. */
export function errorLines(result: ProcessResult): string[] {
  return result.stderr.split('\n').filter((line) => line.trim() !== '');
}

export type SessionRequest =
  | { id: number; kind: 'cli'; args: string[]; env?: Record<string, string | undefined> }
  | { id: number; kind: 'store'; ops: string[] }
  | { id: number; kind: 'close' };

export interface SessionReply {
  id: number;
  code?: number;
  out?: string;
  error?: string;
}

/** Written by the session to its stdout and stderr after request ID's output (id 0: started). */
export const sessionMark = (nonce: string, id: number): string => `\u0000cli-session ${nonce} ${id}\u0000`;

/**
 * `genai-ledger` invocations and store tool operations on DIR run one at a time in one process
 * (cli-session.ts), started at the first call: the engine starts once, not once per command. For
 * commands that read stdin, need the store free of other holders, or change the process (register()
 * in `demo`), use runCli.
 */
export interface CliSession {
  /** `genai-ledger ARGS...`: its exit code and what it wrote; `env`'s variables are set (undefined: unset) for it. */
  run(args: readonly string[], options?: { env?: Record<string, string | undefined> }): Promise<ProcessResult>;
  /** Store tool operations (store-ops.ts: `seed=FILE`, `refresh`, `hold-merges`, SQL) on DIR; what they print. Throws when one fails. */
  storeTool(ops: readonly string[]): Promise<string>;
  /** One SQL query on DIR; its rows. */
  sql<T = Record<string, unknown>>(query: string): Promise<T[]>;
  /** Writes `rows` into DIR. */
  seedRows(rows: readonly unknown[]): Promise<void>;
  /** Closes DIR and waits for the process to exit (it must, like any CLI process); a later call starts another. */
  close(): Promise<void>;
}

type Outcome = { reply: SessionReply; stdout: string; stderr: string };

export function cliSession(dir?: string): CliSession {
  let started: ReturnType<typeof startSession> | undefined;
  let queue: Promise<unknown> = Promise.resolve();
  let nextId = 1;
  const serial = <T>(work: () => Promise<T>): Promise<T> => {
    const result = queue.then(work);
    queue = result.catch(() => undefined);
    return result;
  };
  const request = (message: (id: number) => SessionRequest): Promise<Outcome> => serial(() => {
    started ??= startSession(dir);
    return started.request(message(nextId++));
  });
  const storeOps = async (ops: readonly string[]): Promise<string> => {
    const { reply, stderr } = await request((id) => ({ id, kind: 'store', ops: [...ops] }));
    if (reply.error !== undefined) throw new Error(`store-tool ${ops.join(' ')} failed: ${reply.error}\n${stderr}`);
    return reply.out ?? '';
  };
  return {
    async run(args, options = {}) {
      const { reply, stdout, stderr } = await request((id) => ({ id, kind: 'cli', args: [...args], ...(options.env ? { env: options.env } : {}) }));
      if (reply.error !== undefined) throw new Error(`genai-ledger ${args.join(' ')}: the session failed: ${reply.error}`);
      return { code: reply.code!, stdout, stderr };
    },
    storeTool: storeOps,
    async sql<T>(query: string) {
      return JSON.parse((await storeOps([query])).trim()) as T[];
    },
    seedRows: (rows) => seedRows(dir ?? tempDir('session'), rows, storeOps),
    close: () => serial(async () => {
      if (!started) return;
      const session = started;
      started = undefined;
      await session.close(nextId++);
    }),
  };
}

function startSession(dir: string | undefined) {
  const nonce = randomUUID();
  const child = spawn(process.execPath, ['--import', 'tsx', SESSION, nonce, ...(dir === undefined ? [] : [dir])], {
    cwd: REPO_ROOT, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  const output = { stdout: '', stderr: '' };
  const replies = new Map<number, SessionReply>();
  let exited: Error | undefined;
  let wake = (): void => undefined;
  const changed = () => wake();
  child.stdout!.setEncoding('utf8').on('data', (d: string) => { output.stdout += d; changed(); });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { output.stderr += d; changed(); });
  child.on('message', (reply: SessionReply) => { replies.set(reply.id, reply); changed(); });
  const exit = new Promise<void>((resolvePromise) => child.on('close', (code, signal) => {
    exited = new Error(`the CLI session exited (${code ?? signal}); its stderr: ${output.stderr.slice(-4000)}`);
    changed();
    resolvePromise();
  }));

  /** Request ID's reply and its output, up to its marks. */
  const outcome = (id: number): Promise<Outcome> => new Promise((resolvePromise, reject) => {
    const mark = sessionMark(nonce, id);
    wake = () => {
      const reply = replies.get(id);
      const out = output.stdout.indexOf(mark);
      const err = output.stderr.indexOf(mark);
      if (reply && out >= 0 && err >= 0) {
        wake = () => undefined;
        replies.delete(id);
        const taken = { reply, stdout: output.stdout.slice(0, out), stderr: output.stderr.slice(0, err) };
        output.stdout = output.stdout.slice(out + mark.length);
        output.stderr = output.stderr.slice(err + mark.length);
        resolvePromise(taken);
      } else if (exited) {
        wake = () => undefined;
        reject(exited);
      }
    };
    wake();
  });
  const ready = outcome(0);
  return {
    async request(message: SessionRequest): Promise<Outcome> {
      await ready;
      if (exited) throw exited;
      child.send(message);
      return outcome(message.id);
    },
    /** Closes the store; resolves once the process exited. */
    async close(id: number): Promise<void> {
      if (!exited) {
        const { reply } = await this.request({ id, kind: 'close' });
        if (reply.error !== undefined) throw new Error(`the CLI session could not close ${dir}: ${reply.error}`);
      }
      await exit;
    },
  };
}
