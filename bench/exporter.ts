/**
 * bench/exporter: the in-process exporter (GenAiLedgerExporter) against its limits and against
 * what it replaces, each figure as a ratio to a baseline measured in the same run (issue 3).
 *
 *   npm run bench:exporter [-- --only e2e,single,app,calls,rss --rounds 7 --e2e-spans 200000
 *                              --single-rows 1000 --app-spans 100000 --app-calls 3000 --spans 1000000 [--unpaced]]
 *
 * 1. e2e     finished spans → rows committed in the embedded ClickHouse through the exporter
 *            (export() in batches of 512 like BatchSpanProcessor, then forceFlush), against the
 *            engine ingesting the very same rows pre-serialized (JSONCompactEachRow bodies of
 *            10k rows through client.exec: no mapping, pricing or queueing). Goal ≥ 0.5.
 * 2. single  the same rows one INSERT per AI call (the design this project replaces), on a
 *            sample; the exporter's rows/s from (1) against it. Goal ≥ 50x.
 * 3. app     the app's thread: spans started, given their attributes and ended through a
 *            NodeTracerProvider with BatchSpanProcessor(GenAiLedgerExporter) against
 *            BatchSpanProcessor(no-op exporter). The processor exports on the same event loop
 *            (inline in span.end() once 512 spans are buffered), so the elapsed time of the loop
 *            (chunks of 256 spans, `await setImmediate()` between chunks) up to the provider's
 *            forceFlush includes every export() call. Then the exporter's forceFlush is awaited: the
 *            mapping thread's answers and the writes still due; what that costs the app's thread
 *            (the event loop's active time meanwhile, handling answers and starting inserts) is
 *            added to the round's time; the worker's and the engine's threads are not. Goal ≤ 1.2x.
 *            Also printed: export() alone, the extra GC pauses, and the mapping stages timed on
 *            their own (they run on the mapping thread; `--in-thread` maps on the app's thread).
 *            Where the time goes: node --cpu-prof --import tsx bench/exporter.ts --only app
 *            Also, as info, the no-op rounds once more next to a thread keeping the other core busy
 *            (allocating and serializing, as the mapping thread does): on a 2-core machine that alone
 *            slows the app thread's own code, so it tells the exporter's work from the contention.
 *            Also, as info, the ledger with its store over HTTP (a sink process answering 200 stands
 *            in for a ClickHouse server): the app's cost when the engine is not in its process. And
 *            the ledger packing the spans and then dropping every batch (maxSpansInFlight 1: no
 *            mapping thread work, no answers, no inserts): what export() itself costs the app's
 *            thread, apart from the answers it handles and the threads it runs beside.
 *            Medians of 7 rounds by default: on a 2-core machine single rounds of either side vary
 *            by ±20 % (the mapping thread and the engine share the other core).
 * 3b. calls the app's thread per AI call as an app makes it: chat completions through the openai SDK
 *            and @opentelemetry/instrumentation-openai (16 in flight, each inside withUsageContext)
 *            against the fake provider (demo/fake-provider.ts) in another process, with
 *            BatchSpanProcessor(no-op) against BatchSpanProcessor(GenAiLedgerExporter): the app
 *            thread's CPU time per call, the rows still due after the calls included (as in 3).
 *            Info: against the SDK's and the HTTP client's own work per call, the exporter's share
 *            is below this machine's noise.
 * 4. rss     1M spans through provider → processor → exporter → ClickHouse in a child process
 *            with its own store: peak RSS, and RSS after 100k vs after 1M spans (plateau).
 *            The loop is paced to the store: it waits while the mapping thread and the writer hold
 *            more than 20k spans/rows (an app producing AI calls faster than ClickHouse takes them
 *            has rows dropped and counted instead: --unpaced shows that memory stays bounded then too).
 *
 * Traffic is bench/support/traffic.ts with aiShare 1 (every span is an AI call or an `ai` SDK
 * aggregate span, which the ledger skips). The rollup refreshes are stopped (SYSTEM STOP VIEWS)
 * in (1)-(3) so that a refresh falling inside one measurement does not skew the ratio.
 * chDB binds one data directory per process: (1)-(3) share one store in this process, (4) runs
 * in a child process with its own.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, setPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { setImmediate as yieldToLoop, setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { parseArgs } from 'node:util';
import { performance, PerformanceObserver } from 'node:perf_hooks';
import { context, trace, type Attributes, type Context, type SpanKind } from '@opentelemetry/api';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import type { ClickHouseClient } from '@clickhouse/client';
import { GenAiLedgerExporter } from '../exporter/span-exporter.js';
import { UsageMapper } from '../usage/mapper.js';
import { DEFAULT_MAPPING_THREAD_NICE } from '../delivery/mapping-thread.js';
import { loadPriceBook, type PriceBook } from '../pricing/index.js';
import { fromReadableSpan } from '../exporter/readable-span.js';
import { SpanWire } from '../exporter/span-wire.js';
import { insertStatement, serializeRow } from '../clickhouse/serialize.js';
import { UsageContextSpanProcessor, withUsageContext } from '../instrumentation/usage-context.js';
import { openTestStore } from '../test/support/store.js';
import { medianMs, perSecond, printFigure } from './support/measure.js';
import { generateSpans } from './support/traffic.js';

const { values: args } = parseArgs({
  options: {
    only: { type: 'string', default: 'e2e,single,app,calls,rss' },
    rounds: { type: 'string', default: '7' },
    'e2e-spans': { type: 'string', default: '200000' },
    'single-rows': { type: 'string', default: '1000' },
    'app-spans': { type: 'string', default: '100000' },
    'app-calls': { type: 'string', default: '3000' },
    spans: { type: 'string', default: '1000000' },
    unpaced: { type: 'boolean', default: false },
    'in-thread': { type: 'boolean', default: false },
    child: { type: 'string' },
  },
});
const ROUNDS = Number(args.rounds);
const EXPORT_BATCH = 512;
const INSERT_BATCH = 10_000;
const APP_CHUNK = 256;
const DATABASE = 'genai_ledger';

// ---------------------------------------------------------------------------------------------
// helpers

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(0)} MB`;
const out = (line: string): void => void process.stdout.write(`${line}\n`);

async function count(client: ClickHouseClient): Promise<number> {
  const rs = await client.query({ query: 'SELECT count() AS n FROM ai_usage', format: 'JSONEachRow' });
  return Number((await rs.json<{ n: string }>())[0]!.n);
}

async function truncate(client: ClickHouseClient): Promise<void> {
  // TRUNCATE also clears the table's deduplication log: a later round inserting the same bodies
  // (same insert_deduplication_token) is written again rather than silently deduplicated.
  await client.command({ query: 'TRUNCATE TABLE ai_usage' });
}

/** An insert with the writer's engine settings (no insert-time dedup pass), so only the work above the engine differs. */
async function execBody(client: ClickHouseClient, body: string): Promise<void> {
  const result = await client.exec({
    query: insertStatement('ai_usage'), values: Readable.from([body]), clickhouse_settings: { async_insert: 0, optimize_on_insert: 0 },
  });
  result.stream.resume();
  await new Promise((resolve) => result.stream.once('end', resolve).once('close', resolve));
}

/** CPU time of this process's main thread so far, ms (Linux: its schedstat); undefined elsewhere. */
function mainThreadCpuMs(): number | undefined {
  try {
    return Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
  } catch {
    return undefined;
  }
}

/**
 * A thread that keeps another core busy as the mapping thread does (allocating, serializing),
 * for no-op rounds that see the same contention as the ledger's. Resolves once it runs.
 */
async function startHog(): Promise<Worker> {
  const hog = new Worker(
    `const { parentPort } = require('node:worker_threads');
     parentPort.postMessage('running');
     for (;;) {
       const rows = [];
       for (let i = 0; i < 2000; i++) rows.push(JSON.stringify({ i, model: 'gpt-4o-mini-' + (i % 7), tokens: [i, 2 * i, 3 * i], cost: (i / 7).toFixed(9) }));
     }`,
    { eval: true },
  );
  await new Promise((resolve) => hog.once('message', resolve));
  return hog;
}

/**
 * A helper process for what runs on other machines in production (a ClickHouse server, an AI
 * provider's API): its first line of output is returned. It shares the cores here, so it runs at
 * nice 19 to take as little as it can from the app's thread.
 */
async function startHelper(args: string[]): Promise<{ line: string; stop: () => void }> {
  const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  try {
    setPriority(child.pid!, 19);
  } catch {
    // Not allowed here: the helper competes with the app at its priority, which only makes the figures worse.
  }
  const line = await new Promise<string>((resolve, reject) => {
    child.stdout!.once('data', (data: Buffer) => resolve(String(data).trim()));
    child.once('exit', (code) => reject(new Error(`helper process exited with code ${code}`)));
  });
  return { line, stop: () => child.kill() };
}

// Helpers are gone with the bench, even when it fails: their stdin closes when the bench exits.
const EXIT_WITH_BENCH = `process.stdin.on('close', () => process.exit(0)).resume();`;

/** A stand-in for a ClickHouse server: answers every request 200 once its body is read. */
async function startSink(): Promise<{ url: string; stop: () => void }> {
  const { line, stop } = await startHelper(['-e', `
    const server = require('node:http').createServer((req, res) => {
      req.resume();
      req.on('end', () => { res.writeHead(200, { 'Content-Type': 'text/plain' }); res.end(''); });
    });
    server.listen(0, '127.0.0.1', () => console.log(server.address().port));
    ${EXIT_WITH_BENCH}`]);
  return { url: `http://127.0.0.1:${line}/${DATABASE}`, stop };
}

/** The fake provider (demo/fake-provider.ts) standing in for OpenAI's API. */
async function startProvider(): Promise<{ url: string; stop: () => void }> {
  const module = fileURLToPath(new URL('../demo/fake-provider.ts', import.meta.url));
  const { line, stop } = await startHelper(['--import', 'tsx', '--input-type=module', '-e', `
    const { startFakeProvider } = await import(${JSON.stringify(module)});
    console.log((await startFakeProvider({ recordRequests: false })).url);
    ${EXIT_WITH_BENCH}`]);
  return { url: line, stop };
}

/** An exporter that accepts and forgets: the SDK's own cost only. */
class NoopExporter implements SpanExporter {
  export(_spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    done({ code: ExportResultCode.SUCCESS });
  }
  async shutdown(): Promise<void> {}
  async forceFlush(): Promise<void> {}
}

/** Times the export() calls of the exporter it wraps (synchronous part: what the app's thread pays). */
class TimedExporter implements SpanExporter {
  ns = 0n;
  spans = 0;
  constructor(readonly inner: SpanExporter) {}
  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    const start = process.hrtime.bigint();
    this.inner.export(spans, done);
    this.ns += process.hrtime.bigint() - start;
    this.spans += spans.length;
  }
  reset(): void {
    this.ns = 0n;
    this.spans = 0;
  }
  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }
  async forceFlush(): Promise<void> {
    await this.inner.forceFlush?.();
  }
}

/** What an app does per AI call: the span shapes of the traffic, replayed through a live tracer. */
interface Shape {
  name: string;
  kind: SpanKind;
  scope: string;
  attributes: Attributes;
  /** Child of the span made just before it (the `ai` SDK's aggregate → call). */
  child: boolean;
}

function shapesOf(spans: ReadableSpan[]): Shape[] {
  return spans.map((span, i) => ({
    name: span.name,
    kind: span.kind,
    scope: span.instrumentationScope.name,
    attributes: span.attributes,
    child: span.parentSpanContext !== undefined && spans[i - 1]?.spanContext().spanId === span.parentSpanContext.spanId,
  }));
}

/** Starts, fills and ends `n` spans from `shapes` (cycling), yielding to the event loop every `chunk`. */
async function makeSpans(provider: NodeTracerProvider, shapes: Shape[], n: number, chunk: number, between?: (made: number) => Promise<void>): Promise<void> {
  const tracers = new Map<string, ReturnType<NodeTracerProvider['getTracer']>>();
  const tracer = (scope: string) => {
    let t = tracers.get(scope);
    if (!t) tracers.set(scope, (t = provider.getTracer(scope)));
    return t;
  };
  const root = context.active();
  let parent: Context = root;
  for (let made = 0; made < n;) {
    const end = Math.min(n, made + chunk);
    for (; made < end; made++) {
      const shape = shapes[made % shapes.length]!;
      const span = tracer(shape.scope).startSpan(shape.name, { kind: shape.kind }, shape.child ? parent : root);
      span.setAttributes(shape.attributes);
      span.end();
      parent = trace.setSpan(root, span);
    }
    await yieldToLoop();
    if (between) await between(made);
  }
}

/** `attribution`: withUsageContext's processor first, as register() sets it up. */
function newProvider(exporter: SpanExporter, attribution = false): NodeTracerProvider {
  return new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'support-api', 'deployment.environment.name': 'prod', 'service.version': '1.4.2' }),
    spanProcessors: [...(attribution ? [new UsageContextSpanProcessor()] : []), new BatchSpanProcessor(exporter)],
  });
}

/** A context manager (AsyncLocalStorage) as in an app, installed once for both providers alike. */
let contextInstalled = false;
function installContextManager(): void {
  if (contextInstalled) return;
  new NodeTracerProvider().register();
  contextInstalled = true;
}

// ---------------------------------------------------------------------------------------------
// 1 + 2: end to end, against pre-serialized inserts and one INSERT per call

/** Spans in flight to the mapping thread at most while [1] produces (well under maxSpansInFlight). */
const E2E_MAX_IN_FLIGHT = 20_000;

async function benchEndToEnd(client: ClickHouseClient, prices: PriceBook, sections: Set<string>): Promise<void> {
  const spanCount = Number(args['e2e-spans']);
  let started = performance.now();
  const spans = generateSpans({ spans: spanCount, aiShare: 1 });
  const rows = new UsageMapper({ prices }).mapAll(spans.map(fromReadableSpan)).rows;
  const bodies: string[] = [];
  for (let i = 0; i < rows.length; i += INSERT_BATCH) bodies.push(rows.slice(i, i + INSERT_BATCH).map(serializeRow).join('\n') + '\n');
  const bytes = bodies.reduce((n, b) => n + b.length, 0);
  out(`\n[1] end to end: ${spanCount} finished spans → ${rows.length} rows (the \`ai\` SDK's aggregate spans make no row; ${(bytes / 1e6).toFixed(0)} MB JSONCompactEachRow); ` +
    `${ROUNDS} rounds, alternating; prepared in ${((performance.now() - started) / 1000).toFixed(1)} s`);

  const baselineMs: number[] = [];
  const exporterMs: number[] = [];
  const exportCallMs: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? ['baseline', 'exporter'] : ['exporter', 'baseline'];
    for (const way of order) {
      await truncate(client);
      if (way === 'baseline') {
        started = performance.now();
        for (const body of bodies) await execBody(client, body);
        baselineMs.push(performance.now() - started);
      } else {
        const exporter = new GenAiLedgerExporter({ client, database: DATABASE, prices, migrate: false });
        await exporter.ready();
        let inExport = 0;
        started = performance.now();
        for (let i = 0; i < spans.length; i += EXPORT_BATCH) {
          const batch = spans.slice(i, i + EXPORT_BATCH);
          const t = performance.now();
          exporter.export(batch, () => undefined);
          inExport += performance.now() - t;
          // BatchSpanProcessor exports from timers/span.end(): the loop turns between batches. A
          // burst this fast would outrun the mapping thread's bound (maxSpansInFlight: dropped and
          // counted); throughput is measured with the producer waiting for it instead.
          await yieldToLoop();
          while (exporter.stats()!.spansInFlight > E2E_MAX_IN_FLIGHT) await sleep(1);
        }
        await exporter.forceFlush();
        exporterMs.push(performance.now() - started);
        exportCallMs.push(inExport);
        const stats = exporter.stats()!;
        await exporter.shutdown();
        if (stats.rowsMapped !== rows.length || stats.writtenRows !== rows.length || stats.droppedRows + stats.rejectedRows > 0) {
          throw new Error(`exporter round lost rows: ${JSON.stringify(stats)}`);
        }
      }
      const n = await count(client);
      if (n !== rows.length) throw new Error(`${way}: ${n} rows in ai_usage, expected ${rows.length}`);
    }
  }
  const base = perSecond(rows.length, median(baselineMs));
  const ours = perSecond(rows.length, median(exporterMs));
  out(`    rounds (ms) baseline ${baselineMs.map((m) => m.toFixed(0)).join(', ')}; exporter ${exporterMs.map((m) => m.toFixed(0)).join(', ')}`);
  if (sections.has('e2e')) {
    printFigure('ClickHouse ingesting pre-serialized rows (baseline)', `${base} rows/s`, 1, '-');
    printFigure('spans → committed rows via GenAiLedgerExporter', `${ours} rows/s`, ours / base, '≥ 0.5');
    printFigure('  export() alone (on the app thread)', `${(median(exportCallMs) * 1000 / spanCount).toFixed(2)} µs/span`, median(exportCallMs) / median(exporterMs), 'info: share of e2e');
  }

  if (sections.has('single')) {
    const sample = Math.min(rows.length, Number(args['single-rows']));
    const lines = rows.slice(0, sample).map((row) => `${serializeRow(row)}\n`);
    await truncate(client);
    started = performance.now();
    for (const line of lines) await execBody(client, line);
    const singleMs = performance.now() - started;
    const n = await count(client);
    if (n !== sample) throw new Error(`single inserts: ${n} rows in ai_usage, expected ${sample}`);
    const single = perSecond(sample, singleMs);
    out(`\n[2] one INSERT per AI call: ${sample} rows, each its own INSERT (client.exec, one JSONCompactEachRow line)`);
    printFigure('one INSERT per AI call (baseline)', `${single} rows/s`, 1, '-');
    printFigure('GenAiLedgerExporter, end to end (from [1])', `${ours} rows/s`, ours / single, '≥ 50');
    printFigure('  pre-serialized 10k batches (from [1])', `${base} rows/s`, base / single, 'info');
  }
  await truncate(client);
}

// ---------------------------------------------------------------------------------------------
// 3: the app's thread

/** Waits (30 s at most) until the engine runs no merge: [3] must not share the machine with [1]'s leftovers. */
async function quiet(client: ClickHouseClient): Promise<void> {
  for (const deadline = Date.now() + 30_000; Date.now() < deadline; await sleep(200)) {
    const rs = await client.query({ query: 'SELECT count() AS n FROM system.merges', format: 'JSONEachRow' });
    if (Number((await rs.json<{ n: string }>())[0]!.n) === 0) return;
  }
}

async function benchAppThread(client: ClickHouseClient, prices: PriceBook): Promise<void> {
  await quiet(client);
  installContextManager();
  const n = Number(args['app-spans']);
  const shapes = shapesOf(generateSpans({ spans: 10_000, aiShare: 1, seed: 7 }));
  const noop = new TimedExporter(new NoopExporter());
  const ledgerExporter = new GenAiLedgerExporter({ client, database: DATABASE, prices, migrate: false, mappingThread: !args['in-thread'] });
  await ledgerExporter.ready();
  const ledger = new TimedExporter(ledgerExporter);
  const busy = new TimedExporter(new NoopExporter());
  const sink = await startSink();
  const httpExporter = new GenAiLedgerExporter({ store: sink.url, prices, migrate: false, mappingThread: !args['in-thread'] });
  await httpExporter.ready();
  const http = new TimedExporter(httpExporter);
  // Every batch over the in-flight bound: packed, then dropped (counted), never mapped or written.
  const packOnlyExporter = new GenAiLedgerExporter({ client, database: DATABASE, prices, migrate: false, maxSpansInFlight: 1 });
  await packOnlyExporter.ready();
  const packOnly = new TimedExporter(packOnlyExporter);
  // The same ledger with its mapping thread at the app's priority: what mappingThreadNice buys.
  const niceZeroExporter = new GenAiLedgerExporter({ client, database: DATABASE, prices, migrate: false, mappingThread: !args['in-thread'], mappingThreadNice: 0 });
  await niceZeroExporter.ready();
  const niceZero = new TimedExporter(niceZeroExporter);
  const providers = {
    noop: newProvider(noop), ledger: newProvider(ledger), busy: newProvider(busy), http: newProvider(http), packOnly: newProvider(packOnly),
    niceZero: newProvider(niceZero),
  };
  const timed = { noop, ledger, busy, http, packOnly, niceZero };
  const exporters = { ledger: ledgerExporter, http: httpExporter, niceZero: niceZeroExporter };
  out(`\n[3] app thread: ${n} AI spans (startSpan + setAttributes + end) through NodeTracerProvider + BatchSpanProcessor; ` +
    `chunks of ${APP_CHUNK}, await setImmediate between; ${ROUNDS} rounds alternating (+1 warm-up); ` +
    `mapping on ${args['in-thread'] ? "the app's thread" : `the mapping thread (nice ${DEFAULT_MAPPING_THREAD_NICE} on Linux)`}; ` +
    "the embedded engine's threads at the app's priority");

  const perWay = () => ({ noop: [] as number[], ledger: [] as number[], busy: [] as number[], http: [] as number[], packOnly: [] as number[], niceZero: [] as number[] });
  const ms = perWay();
  const exportMs = perWay();
  const cpuMs = perWay();
  const gcMs = perWay();
  let gcTotal = 0;
  const gcObserver = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) gcTotal += entry.duration;
  });
  gcObserver.observe({ entryTypes: ['gc'] });
  let drainMs = 0;
  const drainActiveMs: number[] = [];
  for (let round = 0; round <= ROUNDS; round++) {
    const ways = ['noop', 'ledger', 'busy', 'http', 'packOnly', 'niceZero'] as const;
    const order = ways.map((_, i) => ways[(i + round) % ways.length]!);
    for (const way of order) {
      const hog = way === 'busy' ? await startHog() : undefined;
      timed[way].reset();
      const exporter = way === 'ledger' || way === 'http' || way === 'niceZero' ? exporters[way] : undefined;
      const received = exporter?.stats()!.spansReceived ?? 0;
      const gc0 = gcTotal;
      const cpu0 = mainThreadCpuMs();
      const started = performance.now();
      await makeSpans(providers[way], shapes, n, APP_CHUNK);
      await providers[way].forceFlush();
      let elapsed = performance.now() - started;
      await hog?.terminate();
      await yieldToLoop(); // delivers the round's gc entries
      const gc = gcTotal - gc0;
      if (timed[way].spans !== n) throw new Error(`${way}: ${timed[way].spans} spans exported, expected ${n} (BatchSpanProcessor dropped some)`);
      if (exporter) {
        // The writes run on the engine's threads (or the server's); wait for them so the next round starts idle.
        const t = performance.now();
        const loop = performance.eventLoopUtilization();
        await exporter.forceFlush();
        const active = performance.eventLoopUtilization(loop).active;
        elapsed += active;
        if (round > 0 && way === 'ledger') {
          drainMs = Math.max(drainMs, performance.now() - t);
          drainActiveMs.push(active);
        }
        const stats = exporter.stats()!;
        if (stats.spansReceived - received !== n || stats.spansDroppedInFlight > 0 || stats.droppedRows + stats.rejectedRows > 0) throw new Error(`${way}: lost spans/rows ${JSON.stringify(stats)}`);
        if (way === 'ledger' || way === 'niceZero') await truncate(client);
      }
      if (round === 0) continue; // warm-up
      ms[way].push(elapsed);
      if (cpu0 !== undefined) cpuMs[way].push(mainThreadCpuMs()! - cpu0);
      exportMs[way].push(Number(timed[way].ns) / 1e6);
      gcMs[way].push(gc);
    }
  }
  gcObserver.disconnect();
  await Promise.all(Object.values(providers).map((provider) => provider.shutdown()));
  sink.stop();
  const perSpan = (t: number) => `${(t * 1000 / n).toFixed(2)} µs/span`;
  out(`    rounds (ms) no-op ${ms.noop.map((m) => m.toFixed(0)).join(', ')}; ledger ${ms.ledger.map((m) => m.toFixed(0)).join(', ')}; ` +
    `rows written ≤ ${drainMs.toFixed(0)} ms after the last span, the app's thread busy ${drainActiveMs.map((m) => m.toFixed(0)).join(', ')} ms of it (counted)`);
  const noopMs = median(ms.noop);
  const ledgerMs = median(ms.ledger);
  printFigure('app thread, BatchSpanProcessor(no-op) (baseline)', perSpan(noopMs), 1, '-');
  printFigure('app thread, BatchSpanProcessor(GenAiLedgerExporter)', perSpan(ledgerMs), ledgerMs / noopMs, '≤ 1.2');
  printFigure('  time added per AI span', perSpan(ledgerMs - noopMs), (ledgerMs - noopMs) / noopMs, 'info');
  if (cpuMs.noop.length > 0) {
    // The same rounds in CPU time of the app's thread alone: what other threads and processes take
    // from it on a busy machine is not counted (the wall-clock figures above include it).
    out(`    app thread CPU (ms) no-op ${cpuMs.noop.map((m) => m.toFixed(0)).join(', ')}; ledger ${cpuMs.ledger.map((m) => m.toFixed(0)).join(', ')}`);
    printFigure('app thread CPU, BatchSpanProcessor(no-op) (baseline)', perSpan(median(cpuMs.noop)), 1, '-');
    printFigure('app thread CPU, BatchSpanProcessor(GenAiLedgerExporter)', perSpan(median(cpuMs.ledger)), median(cpuMs.ledger) / median(cpuMs.noop), '≤ 1.2');
    // The mapping thread and the engine keep the other core busy, which slows the app thread's own
    // code too (shared caches, memory bandwidth): the no-op rounds again, next to a busy thread.
    out(`    app thread CPU (ms) no-op with the other core busy ${cpuMs.busy.map((m) => m.toFixed(0)).join(', ')}`);
    printFigure('  no-op, another thread busy meanwhile (contention only)', perSpan(median(cpuMs.busy)), median(cpuMs.busy) / median(cpuMs.noop), 'info');
    printFigure('  GenAiLedgerExporter against that', perSpan(median(cpuMs.ledger)), median(cpuMs.ledger) / median(cpuMs.busy), 'info');
    out(`    app thread CPU (ms) with the store over HTTP ${cpuMs.http.map((m) => m.toFixed(0)).join(', ')}`);
    printFigure('  GenAiLedgerExporter over HTTP, app thread CPU', perSpan(median(cpuMs.http)), median(cpuMs.http) / median(cpuMs.noop), 'info');
    out(`    app thread CPU (ms) packing only (every batch dropped after export() packed it) ${cpuMs.packOnly.map((m) => m.toFixed(0)).join(', ')}`);
    printFigure('  GenAiLedgerExporter packing only, app thread CPU', perSpan(median(cpuMs.packOnly)), median(cpuMs.packOnly) / median(cpuMs.noop), 'info');
  }
  // mappingThreadNice pays only if the ledger at nice 0 costs the app's thread more than at nice 10.
  out(`    mapping thread at nice 0: rounds (ms) ${ms.niceZero.map((m) => m.toFixed(0)).join(', ')}`);
  printFigure('  GenAiLedgerExporter, mapping thread at nice 0, app thread', perSpan(median(ms.niceZero)), median(ms.niceZero) / noopMs, 'info');
  printFigure(`  nice ${DEFAULT_MAPPING_THREAD_NICE} against nice 0, app thread`, perSpan(ledgerMs), ledgerMs / median(ms.niceZero), 'info: < 1 pays'); 
  // A ClickHouse server (here a sink process) runs the inserts outside the app's process.
  out(`    with the store over HTTP (a sink process standing in for a ClickHouse server): rounds (ms) ${ms.http.map((m) => m.toFixed(0)).join(', ')}`);
  printFigure('  GenAiLedgerExporter over HTTP, app thread', perSpan(median(ms.http)), median(ms.http) / noopMs, 'info');
  printFigure('  GenAiLedgerExporter.export() alone', perSpan(median(exportMs.ledger)), median(exportMs.ledger) / noopMs, 'info: vs no-op total');
  const extraGc = median(gcMs.ledger) - median(gcMs.noop);
  printFigure('  extra GC pauses (ledger − no-op, partly in export())', perSpan(extraGc), extraGc / noopMs, 'info: vs no-op total');

  // Where export() goes, stage by stage, on the same traffic (synchronous, medians).
  const sample = generateSpans({ spans: 20_000, aiShare: 1, seed: 7 });
  const records = sample.map(fromReadableSpan);
  const mapper = new UsageMapper({ prices });
  const wire = new SpanWire();
  const mapped = mapper.mapAll(records).rows;
  const stage = (ms: number) => `${(ms * 1000 / sample.length).toFixed(2)} µs/span`;
  const adaptMs = medianMs(() => sample.map(fromReadableSpan), 5);
  const mapMs = medianMs(() => mapper.mapAll(records), 7);
  const serializeMs = medianMs(() => { for (const row of mapped) serializeRow(row); }, 5);
  const perSampleSpan = noopMs / n;
  const encodeMs = medianMs(() => { for (let i = 0; i < sample.length; i += EXPORT_BATCH) wire.encode(sample.slice(i, i + EXPORT_BATCH)); }, 5);
  printFigure('    stage: SpanWire.encode (app thread)', stage(encodeMs), encodeMs / sample.length / perSampleSpan, 'info: vs no-op span');
  printFigure('    stage: fromReadableSpan', stage(adaptMs), adaptMs / sample.length / perSampleSpan, 'info: vs no-op span');
  printFigure('    stage: mapAll, map + price', stage(mapMs), mapMs / sample.length / perSampleSpan, 'info: vs no-op span');
  printFigure('    stage: serializeRow', stage(serializeMs), serializeMs / sample.length / perSampleSpan, 'info: vs no-op span');
}

// ---------------------------------------------------------------------------------------------
// 3b: the app's thread per AI call as an app makes it

/** Chat completions kept in flight at once, as a server handling concurrent requests does. */
const CALL_CONCURRENCY = 16;

async function benchAppCalls(client: ClickHouseClient, prices: PriceBook): Promise<void> {
  await quiet(client);
  installContextManager();
  const calls = Number(args['app-calls']);
  // Loaded here only: the SDKs it brings would weigh on [4]'s child process, which runs this file too.
  const { installInstrumentation, openaiClient } = await import('../test/support/capture.js');
  const fake = await startProvider();
  const openai = openaiClient({ url: fake.url }, { localBaseURL: true });
  const ledgerExporter = new GenAiLedgerExporter({ client, database: DATABASE, prices, migrate: false });
  await ledgerExporter.ready();
  const providers = { noop: newProvider(new NoopExporter(), true), ledger: newProvider(ledgerExporter, true) };
  out(`\n[3b] app thread per AI call: ${calls} chat completions through the openai SDK and @opentelemetry/instrumentation-openai ` +
    `(${CALL_CONCURRENCY} in flight, each inside withUsageContext) against the fake provider in another process; ` +
    `NodeTracerProvider + BatchSpanProcessor(no-op) against BatchSpanProcessor(GenAiLedgerExporter); ${ROUNDS} rounds alternating (+1 warm-up)`);
  const cpuMs = { noop: [] as number[], ledger: [] as number[] };
  const wallMs = { noop: [] as number[], ledger: [] as number[] };
  for (let round = 0; round <= ROUNDS; round++) {
    for (const way of round % 2 === 0 ? (['noop', 'ledger'] as const) : (['ledger', 'noop'] as const)) {
      const uninstall = await installInstrumentation('otel-openai', providers[way], { notes: [] });
      const written = ledgerExporter.stats()!.writtenRows;
      const cpu0 = mainThreadCpuMs();
      const started = performance.now();
      let next = 0;
      const caller = async () => {
        for (let i = next++; i < calls; i = next++) {
          await withUsageContext({ orgId: ORGS_FOR_CALLS[i % ORGS_FOR_CALLS.length]!, feature: 'support-bot' }, () =>
            openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }));
        }
      };
      await Promise.all(Array.from({ length: CALL_CONCURRENCY }, caller));
      await providers[way].forceFlush();
      let elapsed = performance.now() - started;
      let cpu = cpu0 === undefined ? undefined : mainThreadCpuMs()! - cpu0;
      uninstall();
      if (way === 'ledger') {
        // As in [3]: what the rows still due cost the app's thread is counted, the engine's threads are not.
        const loop = performance.eventLoopUtilization();
        const cpu1 = mainThreadCpuMs();
        await ledgerExporter.forceFlush();
        elapsed += performance.eventLoopUtilization(loop).active;
        if (cpu !== undefined) cpu += mainThreadCpuMs()! - cpu1!;
        const rows = ledgerExporter.stats()!.writtenRows - written;
        const orgs = await client.query({
          query: 'SELECT count() AS n FROM ai_usage WHERE org_id IN {orgs:Array(String)}', query_params: { orgs: ORGS_FOR_CALLS }, format: 'JSONEachRow',
        });
        const attributed = Number((await orgs.json<{ n: string }>())[0]!.n);
        if (rows !== calls || attributed !== calls) throw new Error(`[3b] ${rows} rows written (${attributed} attributed) for ${calls} calls`);
        await truncate(client);
      }
      if (round === 0) continue;
      wallMs[way].push(elapsed);
      if (cpu !== undefined) cpuMs[way].push(cpu);
    }
  }
  await Promise.all(Object.values(providers).map((provider) => provider.shutdown()));
  fake.stop();
  const perCall = (t: number) => `${(t * 1000 / calls).toFixed(1)} µs/call`;
  out(`    app thread CPU (ms) no-op ${cpuMs.noop.map((m) => m.toFixed(0)).join(', ')}; ledger ${cpuMs.ledger.map((m) => m.toFixed(0)).join(', ')}`);
  if (cpuMs.noop.length > 0) {
    printFigure('app thread CPU per call, no-op (baseline)', perCall(median(cpuMs.noop)), 1, '-');
    printFigure('app thread CPU per call, GenAiLedgerExporter', perCall(median(cpuMs.ledger)), median(cpuMs.ledger) / median(cpuMs.noop), 'info');
  }
  printFigure('  wall clock per call, no-op', perCall(median(wallMs.noop)), 1, '-');
  printFigure('  wall clock per call, GenAiLedgerExporter', perCall(median(wallMs.ledger)), median(wallMs.ledger) / median(wallMs.noop), 'info');
}

const ORGS_FOR_CALLS = ['acme', 'globex', 'initech', 'umbrella'];

// ---------------------------------------------------------------------------------------------
// 4: memory while 1M spans pass through (child process, own store)

interface RssReport {
  spans: number;
  rows: number;
  written: number;
  dropped: number;
  seconds: number;
  rssStart: number;
  rssPeak: number;
  maxRss: number;
  /** rss as found; heapUsed after a full GC when --expose-gc is on (what is retained). */
  checkpoints: Array<{ spans: number; rss: number; heapUsed: number }>;
}

async function rssChild(): Promise<void> {
  installContextManager();
  const n = Number(args.spans);
  const paced = !args.unpaced;
  const dir = mkdtempSync(join(tmpdir(), 'genai-ledger-bench-exporter-'));
  try {
    const shapes = shapesOf(generateSpans({ spans: 10_000, aiShare: 1, seed: 11 }));
    const exporter = new GenAiLedgerExporter({ store: dir });
    if (!(await exporter.ready())) throw new Error(`cannot open ${dir}`);
    const provider = newProvider(exporter);
    const gc = (globalThis as { gc?: () => void }).gc;
    gc?.();
    const rssStart = process.memoryUsage.rss();
    let rssPeak = rssStart;
    const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage.rss())), 20);
    const checkpoints: RssReport['checkpoints'] = [];
    const marks = new Set([n / 10, n / 4, n / 2, (3 * n) / 4].map(Math.round));
    const checkpoint = (spans: number) => {
      const rss = process.memoryUsage.rss();
      rssPeak = Math.max(rssPeak, rss);
      gc?.();
      checkpoints.push({ spans, rss, heapUsed: process.memoryUsage().heapUsed });
    };
    const started = performance.now();
    await makeSpans(provider, shapes, n, APP_CHUNK, async (made) => {
      if (paced) while (exporter.stats()!.queuedRows + exporter.stats()!.spansInFlight > 20_000) await sleep(5);
      for (const mark of marks) if (made >= mark) { marks.delete(mark); checkpoint(mark); }
    });
    await provider.forceFlush();
    await exporter.forceFlush();
    const seconds = (performance.now() - started) / 1000;
    checkpoint(n);
    clearInterval(sampler);
    const stats = exporter.stats()!;
    await provider.shutdown();
    const report: RssReport = {
      spans: n, rows: stats.rowsMapped, written: stats.writtenRows, dropped: stats.droppedRows + stats.rejectedRows + stats.spansDroppedBeforeOpen + stats.spansDroppedInFlight,
      seconds, rssStart, rssPeak, maxRss: process.resourceUsage().maxRSS * 1024, checkpoints,
    };
    process.stdout.write(`${JSON.stringify(report)}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function benchRss(): Promise<void> {
  const n = Number(args.spans);
  out(`\n[4] memory: ${n} AI spans through NodeTracerProvider → BatchSpanProcessor → GenAiLedgerExporter → embedded ClickHouse ` +
    `(child process, own store, ${args.unpaced ? 'UNPACED: as fast as the app loop goes, overflow dropped and counted' : 'paced: waits while the mapping thread and the writer hold > 20k spans/rows'})`);
  const child = spawn(process.execPath, [
    ...process.execArgv, '--expose-gc', fileURLToPath(import.meta.url), '--child', 'rss', '--spans', String(n), ...(args.unpaced ? ['--unpaced'] : []),
  ], { stdio: ['ignore', 'pipe', 'inherit'] });
  let stdout = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  const line = stdout.trim().split('\n').pop() ?? '';
  if (code !== 0 || !line.startsWith('{')) throw new Error(`rss child failed (exit ${code}): ${stdout}`);
  const r = JSON.parse(line) as RssReport;
  const first = r.checkpoints[0]!;
  const last = r.checkpoints[r.checkpoints.length - 1]!;
  out(`    ${r.spans} spans → ${r.rows} rows, ${r.written} written, ${r.dropped} dropped, in ${r.seconds.toFixed(1)} s (${perSecond(r.spans, r.seconds * 1000)} spans/s)`);
  out(`    RSS by spans: ${r.checkpoints.map((c) => `${c.spans}: ${mb(c.rss)} (heap after GC ${mb(c.heapUsed)})`).join(', ')}`);
  printFigure('RSS with the store open, before traffic (baseline)', mb(r.rssStart), 1, '-');
  printFigure(`RSS after ${first.spans} spans`, mb(first.rss), first.rss / r.rssStart, 'info');
  printFigure(`RSS after ${last.spans} spans`, mb(last.rss), last.rss / first.rss, 'plateau: ≈ 1 vs prev');
  printFigure('peak RSS (kernel maxRSS)', mb(r.maxRss), r.maxRss / r.rssStart, 'bounded');
}

// ---------------------------------------------------------------------------------------------

if (args.child === 'rss') {
  await rssChild();
} else {
  const sections = new Set(args.only.split(',').map((s) => s.trim()));
  out(`bench/exporter: Node ${process.version}, ${ROUNDS} rounds; load average ${loadavg()[0]!.toFixed(1)} on ${availableParallelism()} CPUs at start`);
  if (sections.has('e2e') || sections.has('single') || sections.has('app') || sections.has('calls')) {
    const prices = await loadPriceBook();
    const store = await openTestStore({ database: DATABASE, migrate: true });
    try {
      // Rollup refreshes (every 60 s) would land in one measurement and not the other.
      await store.client.command({ query: 'SYSTEM STOP VIEWS' });
      if (sections.has('e2e') || sections.has('single')) await benchEndToEnd(store.client, prices, sections);
      if (sections.has('app')) await benchAppThread(store.client, prices);
      if (sections.has('calls')) await benchAppCalls(store.client, prices);
    } finally {
      await store.close();
    }
  }
  if (sections.has('rss')) await benchRss();
}
