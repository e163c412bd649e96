/**
 * bench/collector: AI spans/s through the collector, end to end: OTLP/protobuf requests over
 * keep-alive HTTP into a collector child process (its own embedded store), until every span is
 * acknowledged AND every row it made is written (polled on /metrics). Two traffic mixes:
 *   - 100% AI traffic, against the in-process exporter (GenAiLedgerExporter fed the same spans
 *     through export() in batches of 1000, into its own store in this process, until forceFlush:
 *     written). Goal ≥ 0.5.
 *   - 10% AI among ordinary spans, against the 100% AI case through the collector (spans/s).
 *     Goal ≥ 5x: ordinary spans must cost little.
 *
 *   npm run bench:collector [-- --spans 50000 --mix-spans 200000 --rounds 3 --batch 1000 --concurrency 4]
 *
 * The load generator serializes every request beforehand (ProtobufTraceSerializer of
 * bench/support/traffic.ts spans, `--batch` spans per request), so only sending is timed. Each
 * round sends rows no earlier round sent (the SDK-made span pool, moved to fresh trace ids), after
 * one warm-up round per mix; the figure is the median.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { GenAiLedgerExporter } from '../exporter/span-exporter.js';
import { perSecond, printFigure } from './support/measure.js';
import { generateSpans } from './support/traffic.js';

const { values: args } = parseArgs({
  options: {
    spans: { type: 'string', default: '50000' },
    'mix-spans': { type: 'string', default: '200000' },
    rounds: { type: 'string', default: '3' },
    batch: { type: 'string', default: '1000' },
    concurrency: { type: 'string', default: '4' },
  },
});
const SPANS = Number(args.spans);
const MIX_SPANS = Number(args['mix-spans']);
const ROUNDS = Math.max(1, Number(args.rounds));
const BATCH = Number(args.batch);
const CONCURRENCY = Math.max(1, Number(args.concurrency));
/** Spans made by the SDK per mix; rounds reuse them in fresh traces. */
const POOL = 50_000;
const ROOT = fileURLToPath(new URL('..', import.meta.url));

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const out = (line: string): void => void process.stdout.write(`${line}\n`);

interface Round {
  spans: ReadableSpan[];
  requests: Uint8Array[];
}

/** The span as it is, but in another trace: `tag` (8 hex digits) replaces the trace id's first 8. */
function retagged(span: ReadableSpan, tag: string): ReadableSpan {
  const ctx = span.spanContext();
  const moved = { ...ctx, traceId: tag + ctx.traceId.slice(8) };
  const view = Object.create(span) as ReadableSpan;
  Object.defineProperty(view, 'spanContext', { value: () => moved });
  return view;
}

/**
 * `count` spans for one round: the pool (made once per mix by the real SDK, which is slow) repeated
 * as needed, every copy in traces of its own, so no round repeats another's rows.
 */
let nextTag = 1;
function makeRound(pool: ReadableSpan[], count: number, serialize: boolean): Round {
  const spans: ReadableSpan[] = [];
  while (spans.length < count) {
    const tag = (nextTag++).toString(16).padStart(8, '0');
    for (const span of pool) {
      if (spans.length >= count) break;
      spans.push(retagged(span, tag));
    }
  }
  const requests: Uint8Array[] = [];
  if (serialize) for (let i = 0; i < spans.length; i += BATCH) requests.push(ProtobufTraceSerializer.serializeRequest(spans.slice(i, i + BATCH))!);
  return { spans, requests };
}

// ---------------------------------------------------------------------------------------------
// in-process baseline

async function inProcess(exporter: GenAiLedgerExporter, round: Round): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < round.spans.length; i += BATCH) {
    exporter.export(round.spans.slice(i, i + BATCH), () => undefined);
  }
  await exporter.forceFlush();
  return performance.now() - started;
}

// ---------------------------------------------------------------------------------------------
// collector child process + load generator

interface Child {
  process: ChildProcess;
  url: string;
  stderr: () => string;
}

async function startCollector(dir: string): Promise<Child> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'test/collector/support/cli-entry.ts'), 'collect', '--port', '0', '--store', dir, '--log-level', 'warn', '--discovery', 'on'], {
    cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const deadline = Date.now() + 60_000;
  const { readDiscoveryFile } = await import('../collector/discovery.js');
  while (Date.now() < deadline) {
    const info = readDiscoveryFile(dir);
    if (info && info.pid === child.pid) return { process: child, url: info.url, stderr: () => stderr };
    if (child.exitCode !== null) break;
    await sleep(50);
  }
  child.kill('SIGKILL');
  throw new Error(`the collector did not start:\n${stderr}`);
}

/** The collector's /metrics values (unlabelled series). */
async function metrics(agent: http.Agent, url: string, attempt = 1): Promise<Map<string, number>> {
  const text = await new Promise<string>((resolve, reject) => {
    http.get(`${url}/metrics`, { agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve(body));
    }).on('error', reject);
  }).catch((error: NodeJS.ErrnoException) => {
    if (attempt < 3 && error.code === 'ECONNRESET') return undefined;
    throw error;
  });
  if (text === undefined) return metrics(agent, url, attempt + 1);
  const values = new Map<string, number>();
  for (const match of text.matchAll(/^([a-z_]+) (\S+)$/gm)) values.set(match[1]!, Number(match[2]));
  return values;
}

function postOnce(agent: http.Agent, url: string, body: Uint8Array): Promise<{ status: number; retryAfter: number }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${url}/v1/traces`, {
      method: 'POST', agent,
      headers: { 'content-type': 'application/x-protobuf', 'content-length': String(body.byteLength) },
    }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, retryAfter: Number(res.headers['retry-after'] ?? 1) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** As the OTLP exporters do, a keep-alive socket the server closed just as it was reused is retried. */
async function post(agent: http.Agent, url: string, body: Uint8Array): Promise<{ status: number; retryAfter: number }> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await postOnce(agent, url, body);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (attempt >= 3 || (code !== 'ECONNRESET' && code !== 'EPIPE')) throw error;
      resets++;
    }
  }
}

let retries = 0;
let resets = 0;

async function throughCollector(agent: http.Agent, url: string, round: Round): Promise<number> {
  const before = await metrics(agent, url);
  const written0 = before.get('genai_ledger_rows_written_total')!;
  const dropped0 = before.get('genai_ledger_rows_dropped_total')!;
  if (before.get('genai_ledger_rows_mapped_total') !== written0 + dropped0) throw new Error('the collector is still writing a previous round');
  const started = performance.now();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < round.requests.length) {
      const body = round.requests[next++]!;
      for (;;) {
        const { status, retryAfter } = await post(agent, url, body);
        if (status === 200) break;
        if (status !== 429 && status !== 503) throw new Error(`the collector answered ${status}`);
        retries++;
        await sleep(Math.max(50, retryAfter * 1000));
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  // Acknowledged; now wait until every row made is written.
  for (;;) {
    const now = await metrics(agent, url);
    const mapped = now.get('genai_ledger_rows_mapped_total')!;
    const written = now.get('genai_ledger_rows_written_total')!;
    const dropped = now.get('genai_ledger_rows_dropped_total')!;
    const queued = now.get('genai_ledger_queue_rows')!;
    if (written + dropped >= mapped && queued === 0) {
      if (dropped > dropped0) throw new Error(`${dropped - dropped0} rows dropped`);
      if (written - written0 === 0 && round.spans.length > 0) throw new Error('nothing written');
      break;
    }
    await sleep(10);
  }
  return performance.now() - started;
}

// ---------------------------------------------------------------------------------------------

const base = mkdtempSync(join(tmpdir(), 'genai-ledger-bench-collector-'));
let child: Child | undefined;
try {
  let t = performance.now();
  const aiPool = generateSpans({ spans: Math.min(SPANS, POOL), aiShare: 1, seed: 1 });
  const mixPool = generateSpans({ spans: Math.min(MIX_SPANS, POOL), aiShare: 0.1, seed: 2 });
  const sample = (pool: ReadableSpan[]) => (makeRound(pool, Math.min(pool.length, 10 * BATCH), true).requests.reduce((n, r) => n + r.byteLength, 0) / Math.min(pool.length, 10 * BATCH));
  out(`bench/collector: ${SPANS} spans/round at 100% AI (~${sample(aiPool).toFixed(0)} B/span OTLP/protobuf), ${MIX_SPANS} at 10% AI (~${sample(mixPool).toFixed(0)} B/span); ` +
    `${BATCH} spans/request, ${CONCURRENCY} in flight; median of ${ROUNDS} rounds after a warm-up (span pools made in ${((performance.now() - t) / 1000).toFixed(1)} s)`);

  // In-process exporter, this process's store.
  t = performance.now();
  const exporter = new GenAiLedgerExporter({ store: join(base, 'in-process'), writer: { maxQueueRows: 1_000_000, maxQueueBytes: 1 << 30 } });
  if (!(await exporter.ready())) throw new Error('the in-process store did not open');
  const inProcessMs: number[] = [];
  for (let i = 0; i <= ROUNDS; i++) {
    const ms = await inProcess(exporter, makeRound(aiPool, SPANS, false));
    if (i > 0) inProcessMs.push(ms);
  }
  const stats = exporter.stats()!;
  if (stats.droppedRows > 0) throw new Error(`in-process exporter dropped ${stats.droppedRows} rows`);
  await exporter.shutdown();

  // Collector child process, its own store.
  child = await startCollector(join(base, 'collector'));
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY + 1 });
  const aiMs: number[] = [];
  for (let i = 0; i <= ROUNDS; i++) {
    const ms = await throughCollector(agent, child.url, makeRound(aiPool, SPANS, true));
    if (i > 0) aiMs.push(ms);
  }
  const mixMs: number[] = [];
  for (let i = 0; i <= ROUNDS; i++) {
    const ms = await throughCollector(agent, child.url, makeRound(mixPool, MIX_SPANS, true));
    if (i > 0) mixMs.push(ms);
  }
  agent.destroy();

  const inProcessRate = (SPANS * 1000) / median(inProcessMs);
  const aiRate = (SPANS * 1000) / median(aiMs);
  const mixRate = (MIX_SPANS * 1000) / median(mixMs);
  printFigure('in-process exporter, 100% AI (baseline)', `${perSecond(SPANS, median(inProcessMs))} spans/s`, 1, '-');
  printFigure('collector, OTLP/protobuf, 100% AI', `${perSecond(SPANS, median(aiMs))} spans/s`, aiRate / inProcessRate, '≥ 0.5');
  printFigure('collector, OTLP/protobuf, 10% AI', `${perSecond(MIX_SPANS, median(mixMs))} spans/s`, mixRate / aiRate, '≥ 5 vs 100% AI');
  printFigure('  same, AI spans/s', `${perSecond(MIX_SPANS * 0.1, median(mixMs))} spans/s`, mixRate / inProcessRate, 'info');
  if (retries > 0) out(`(${retries} requests were answered 429/503 and retried)`);
  if (resets > 0) out(`(${resets} requests met a keep-alive socket closed by the server and were resent)`);
  out(`(took ${((performance.now() - t) / 1000).toFixed(1)} s after the traffic was made)`);
} catch (error) {
  if (child) process.stderr.write(`collector exit ${child.process.exitCode} ${child.process.signalCode}; its log:\n${child.stderr().slice(-4000)}\n`);
  throw error;
} finally {
  if (child) {
    child.process.kill('SIGTERM');
    await new Promise((resolve) => {
      const timer = setTimeout(() => {
        child!.process.kill('SIGKILL');
        resolve(undefined);
      }, 20_000);
      child!.process.once('exit', () => {
        clearTimeout(timer);
        resolve(undefined);
      });
    });
  }
  rmSync(base, { recursive: true, force: true });
}
