/**
 * The collector as a child process (it owns its embedded store directory: chDB allows one process
 * per directory), and the CLI as short-lived child processes, both run from source through tsx
 * (see cli-entry.ts), plus small HTTP helpers for tests.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { readDiscoveryFile } from '../../../collector/discovery.js';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const ENTRY = fileURLToPath(new URL('./cli-entry.ts', import.meta.url));

export interface CollectorProcess {
  child: ChildProcess;
  pid: number;
  url: string;
  /** The query token (from the discovery file when the store is embedded). */
  queryToken: string | undefined;
  /** Parsed JSON log lines so far (stderr). */
  logs(): Array<Record<string, unknown>>;
  stderr(): string;
  /** Sends a signal and resolves with the exit code once the process is gone. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | null>;
}

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** Starts `genai-ledger collect --port 0 --store DIR ...args` and waits until it listens. */
export async function startCollectorProcess(store: string, args: string[] = [], env: Record<string, string> = {}, nodeArgs: string[] = []): Promise<CollectorProcess> {
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', ENTRY, 'collect', '--port', '0', '--store', store, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  child.once('exit', () => running.delete(child));
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (d: string) => {
    stderr += d;
  });
  child.stdout!.resume();
  const logs = (): Array<Record<string, unknown>> =>
    stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);

  const deadline = Date.now() + 45_000;
  let url: string | undefined;
  while (Date.now() < deadline && url === undefined) {
    if (child.exitCode !== null) throw new Error(`the collector exited with ${child.exitCode}:\n${stderr}`);
    url = logs().find((l) => l.msg === 'listening')?.url as string | undefined;
    if (url === undefined) await new Promise((r) => setTimeout(r, 50));
  }
  if (url === undefined) {
    child.kill('SIGKILL');
    throw new Error(`the collector did not start:\n${stderr}`);
  }
  const discovery = readDiscoveryFile(store);
  return {
    child,
    pid: child.pid!,
    url,
    queryToken: discovery && discovery.pid === child.pid ? discovery.queryToken : undefined,
    logs,
    stderr: () => stderr,
    stop(signal = 'SIGTERM', timeoutMs = 30_000) {
      if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          child.kill('SIGKILL');
          reject(new Error(`the collector did not exit within ${timeoutMs} ms:\n${stderr}`));
        }, timeoutMs);
        child.once('exit', (code) => {
          clearTimeout(timer);
          resolve(code);
        });
        child.kill(signal);
      });
    },
  };
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `genai-ledger <args>` from source in a child process. */
export function runCli(args: string[], env: Record<string, string | undefined> = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', ENTRY, ...args], {
      cwd: ROOT,
      env: { ...process.env, GENAI_LEDGER_QUERY_URL: undefined, GENAI_LEDGER_QUERY_TOKEN: undefined, GENAI_LEDGER_STORE: undefined, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    running.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.once('error', reject);
    child.once('exit', (code) => {
      running.delete(child);
      resolve({ code, stdout, stderr });
    });
  });
}

export interface HttpResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** One HTTP request (no keep-alive), body collected. */
export function request(url: string, options: { method?: string; headers?: Record<string, string>; body?: Uint8Array | string } = {}): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: options.method ?? 'GET', headers: options.headers ?? {}, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

/** The unlabelled samples of /metrics, plus labelled ones under `name{labels}`. */
export async function scrape(url: string): Promise<Map<string, number>> {
  const res = await request(`${url}/metrics`);
  const values = new Map<string, number>();
  for (const match of res.body.toString('utf8').matchAll(/^([a-z_]+(?:\{[^}]*\})?) (\S+)$/gm)) values.set(match[1]!, Number(match[2]));
  return values;
}

/** Polls until `check` returns a value other than undefined (or throws after `timeoutMs`). */
export async function waitFor<T>(check: () => Promise<T | undefined> | T | undefined, timeoutMs = 15_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Waits until every mapped row is written (or dropped) and the queue is empty. */
export async function waitUntilWritten(url: string, atLeastRows: number, timeoutMs = 15_000): Promise<Map<string, number>> {
  return waitFor(async () => {
    const m = await scrape(url);
    const mapped = m.get('genai_ledger_rows_mapped_total') ?? 0;
    const settled = (m.get('genai_ledger_rows_written_total') ?? 0) + (m.get('genai_ledger_rows_dropped_total') ?? 0);
    return mapped >= atLeastRows && settled >= mapped && m.get('genai_ledger_queue_rows') === 0 ? m : undefined;
  }, timeoutMs, `${atLeastRows} rows written`);
}
