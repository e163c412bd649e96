/**
 * Runs the CLI and the store tool as child processes (from source, through tsx), stdin closed
 * unless `input` is given: the embedded engine refuses inserts while its stdin carries data.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = resolve(HERE, '..', '..', '..');
const ENTRY = join(HERE, 'entry.ts');
const STORE_TOOL = join(HERE, 'store-tool.ts');

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

/** Writes `rows` into the store at DIR (migrating it first). */
export async function seedRows(dir: string, rows: readonly unknown[]): Promise<void> {
  const file = join(dirname(dir), `${basename(dir)}-seed-${process.pid}-${Date.now()}.json`);
  writeFileSync(file, JSON.stringify(rows));
  try {
    await storeTool(dir, [`seed=${file}`]);
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
