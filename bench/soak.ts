/**
 * bench/soak: sustained OTLP traffic through the collector (a child process, embedded store, spool
 * on) while ClickHouse "goes away" twice, then a short baseline run with --no-spool.
 *
 *   npm run bench:soak                                        # short: 1 min, two 10 s outages (~2 min)
 *   npm run bench:soak -- --minutes 10 --outage-seconds 30    # the full run
 *   [--rate 2000 (AI spans/s) --batch 50 (spans/request) --concurrency 8 --baseline-seconds 20]
 *   [--resend-percent 1 (acknowledged requests sent again, spans reordered: real duplicates)]
 *   [--timeline: per-window acks, p99/max latency, event-loop stall, spool backlog, RSS]
 *   [--trace: the collector logs slow spool groups and slow durable ingests (GENAI_LEDGER_SPOOL_DEBUG=1)]
 *   [--cpu-prof DIR: CPU profiles of the collector processes]
 *
 * The embedded engine cannot be stopped apart from the collector, so the collector runs with the
 * test-only fault switch (GENAI_LEDGER_FAULT_INJECTION=1; collector/fault-injection.ts): POST
 * /debug/faults {"clickhouse":"down"} makes every call of the ledger's client fail with
 * ECONNREFUSED — what a stopped ClickHouse server looks like to it — and {"clickhouse":"up"} heals.
 *
 * Senders post OTLP/protobuf bodies of GenAI spans with known ids (test/collector/support/
 * genai-bodies.ts) at a fixed rate; like an OTLP exporter, a 429/503 or a connection error is
 * retried after Retry-After. A span is acknowledged when its request got 200. --resend-percent of
 * the acknowledged requests are sent once more, spans reordered (a client resending after a lost
 * answer; an identical body could be dropped at insert by the writer's dedup token), so the raw
 * table holds real duplicates. Each store is prepared with ai_usage's merges held (a table
 * setting: test/support/delivery-counts.ts), so its raw rows are every delivery. After the traffic,
 * once the spool is drained, the stored span ids are read through the query endpoint, the collector
 * stops, and the bench opens the store, refreshes the rollups and counts:
 *   lost       = acknowledged spans not in ai_usage_exact                          (must be 0)
 *   duplicates = raw rows of ai_usage (no FINAL) − distinct spans                  (the resends)
 *   doubled    = ai_usage_exact rows − distinct spans, and any rollup (hourly, daily and the small
 *                ones the dashboards read) counting other than the distinct spans (must be 0)
 * RSS is sampled every second: the steady state is the median before the first outage; the peak
 * must stay within 1.5x of it (a plateau, not a climb). Acknowledgement latency (p50/p99 of 200
 * answers) is compared with the --no-spool baseline (same rate, no outages) and with a control run
 * right after it, spool on and no outages (same conditions: the machine's load drifts). "Outside
 * outages" leaves out the first 5 s (warm-up) and each outage plus the 5 s after it (the replay).
 */
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { collectorRunner } from '../collector/query-client.js';
import { scrape, startCollectorProcess, waitFor, type CollectorProcess } from '../test/collector/support/collector-process.js';
import { genaiBody, genaiBodyReversed } from '../test/collector/support/genai-bodies.js';
import { countStoppedStore, describeCounts, miscounts, prepareHeldStore, type DeliveryCounts } from '../test/support/delivery-counts.js';
import { printFigure } from './support/measure.js';

const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: '1' },
    'outage-seconds': { type: 'string', default: '10' },
    rate: { type: 'string', default: '2000' },
    batch: { type: 'string', default: '50' },
    concurrency: { type: 'string', default: '8' },
    'baseline-seconds': { type: 'string', default: '20' },
    'resend-percent': { type: 'string', default: '1' },
    timeline: { type: 'boolean', default: false },
    trace: { type: 'boolean', default: false },
    'cpu-prof': { type: 'string' },
  },
});
const SECONDS = Number(args.minutes) * 60;
const OUTAGE_S = Number(args['outage-seconds']);
const RATE = Number(args.rate);
const BATCH = Number(args.batch);
const CONCURRENCY = Math.max(1, Number(args.concurrency));
const BASELINE_S = Number(args['baseline-seconds']);
/** Every RESEND_EVERY-th request is sent again once acknowledged (0: none). */
const RESEND_EVERY = Number(args['resend-percent']) > 0 ? Math.max(1, Math.round(100 / Number(args['resend-percent']))) : 0;
const MiB = 1024 * 1024;
/** Start-up (JIT, first inserts) and recovery windows left out of the steady-state latency. */
const WARMUP_S = 5;
const RECOVERY_S = 5;

const out = (line: string): void => void process.stdout.write(`${line}\n`);
const pct = (xs: number[], p: number): number => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};

interface RunResult {
  sentRequests: number;
  ackedSpans: number;
  acked: Uint8Array;
  latencies: number[];
  /** Latencies of 200s answered after the first WARMUP_S and outside the outages (and RECOVERY_S after each). */
  steadyLatencies: number[];
  refusals: Map<string, number>;
  rss: Array<{ t: number; bytes: number }>;
  /** Per scrape (about 1 s): event-loop delay max since the previous scrape, spool pending rows. */
  samples: Array<{ t: number; loopMaxMs: number; pending: number; queued: number }>;
  /** Every 200: when it was answered (s since start) and its latency (ms). */
  acks: Array<{ t: number; ms: number }>;
  outages: Array<[number, number]>;
  collector: CollectorProcess;
  spansSent: number;
  /** Spans of acknowledged requests sent again (and acknowledged again). */
  resentSpans: number;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY * 2 });

function post(url: string, body: Uint8Array): Promise<{ status: number; retryAfter: number }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${url}/v1/traces`, { method: 'POST', agent, headers: { 'content-type': 'application/x-protobuf', 'content-length': body.length } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, retryAfter: Number(res.headers['retry-after'] ?? 1) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function faults(url: string, clickhouse: 'down' | 'up'): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const req = http.request(`${url}/debug/faults`, { method: 'POST', agent: false }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`/debug/faults → ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end(JSON.stringify({ clickhouse }));
  });
}

async function run(options: { store: string; spool: boolean; seconds: number; outages: Array<[number, number]>; firstSpan: number }): Promise<RunResult> {
  await prepareHeldStore(options.store);
  const collector = await startCollectorProcess(options.store, [
    ...(options.spool ? [] : ['--no-spool']),
    '--query-max-rows', '100000000', '--query-max-result-bytes', '4GiB',
  ], { GENAI_LEDGER_FAULT_INJECTION: '1', ...(args.trace ? { GENAI_LEDGER_SPOOL_DEBUG: '1' } : {}) },
  args['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${args['cpu-prof']}/${options.spool ? 'on' : 'off'}`] : []);
  const requests = Math.floor((options.seconds * RATE) / BATCH);
  const intervalMs = (1000 * BATCH) / RATE;
  const acked = new Uint8Array(requests);
  const latencies: number[] = [];
  const steadyLatencies: number[] = [];
  const refusals = new Map<string, number>();
  const rss: Array<{ t: number; bytes: number }> = [];
  const samples: RunResult['samples'] = [];
  const acks: RunResult['acks'] = [];
  const t0 = performance.now();
  const now = (): number => (performance.now() - t0) / 1000;
  const steadyAt = (t: number): boolean => t >= WARMUP_S && !options.outages.some(([a, b]) => t >= a && t < b + RECOVERY_S);
  let next = 0;
  let ackedSpans = 0;
  let resentSpans = 0;
  let sampling = true;

  const sampler = (async () => {
    while (sampling) {
      try {
        const m = await scrape(collector.url);
        const t = now();
        rss.push({ t, bytes: m.get('process_resident_memory_bytes') ?? 0 });
        samples.push({
          t, loopMaxMs: (m.get('nodejs_eventloop_delay_max_seconds') ?? 0) * 1000,
          pending: m.get('genai_ledger_spool_pending_rows') ?? 0, queued: m.get('genai_ledger_queue_rows') ?? 0,
        });
      } catch {
        // a scrape may fail under load; the next one counts
      }
      await sleep(1000);
    }
  })();
  const switcher = (async () => {
    for (const [start, end] of options.outages) {
      await sleep(Math.max(0, start - now()) * 1000);
      await faults(collector.url, 'down');
      out(`  t=${now().toFixed(0)}s ClickHouse down`);
      await sleep(Math.max(0, end - now()) * 1000);
      await faults(collector.url, 'up');
      out(`  t=${now().toFixed(0)}s ClickHouse up`);
    }
  })();
  const giveUp = options.seconds + 120;
  /** Posts until a 200 (true), retrying refusals and connection errors after Retry-After, or gives up. */
  const deliver = async (body: Uint8Array, latency: boolean): Promise<boolean> => {
    for (;;) {
      const started = performance.now();
      let outcome: string;
      let retryAfter = 1;
      try {
        const res = await post(collector.url, body);
        outcome = String(res.status);
        retryAfter = res.retryAfter;
      } catch (error) {
        outcome = (error as NodeJS.ErrnoException).code ?? 'error';
      }
      if (outcome === '200') {
        if (!latency) return true;
        const ms = performance.now() - started;
        latencies.push(ms);
        acks.push({ t: now(), ms });
        if (steadyAt(now())) steadyLatencies.push(ms);
        return true;
      }
      refusals.set(outcome, (refusals.get(outcome) ?? 0) + 1);
      if (now() > giveUp) return false;
      await sleep(Math.max(0.1, retryAfter) * 1000);
    }
  };
  const sender = async (): Promise<void> => {
    while (next < requests) {
      const r = next++;
      const due = r * intervalMs;
      const wait = due - (performance.now() - t0);
      if (wait > 0) await sleep(wait);
      const from = options.firstSpan + r * BATCH;
      if (!(await deliver(genaiBody(from, BATCH, 'soak'), true))) continue;
      acked[r] = 1;
      ackedSpans += BATCH;
      // The resend's answer is left out of the latencies: it is extra traffic, not the paced load.
      if (RESEND_EVERY > 0 && r % RESEND_EVERY === RESEND_EVERY - 1 && (await deliver(genaiBodyReversed(from, BATCH, 'soak'), false))) resentSpans += BATCH;
    }
  };
  await Promise.all([switcher, ...Array.from({ length: CONCURRENCY }, sender)]);
  sampling = false;
  await sampler;
  return { sentRequests: requests, ackedSpans, acked, latencies, steadyLatencies, refusals, rss, samples, acks, outages: options.outages, collector, spansSent: requests * BATCH, resentSpans };
}

interface Verified {
  lost: number;
  drainS: number;
  counts: DeliveryCounts;
}

/**
 * Waits for the spool and queue to drain, reads the stored span ids through the query endpoint
 * (lost), stops the collector, then counts in the store itself with the rollups refreshed.
 */
async function verify(result: RunResult, store: string, firstSpan: number): Promise<Verified> {
  const { collector } = result;
  const t = performance.now();
  await waitFor(async () => {
    const m = await scrape(collector.url);
    const pending = m.get('genai_ledger_spool_pending_rows');
    const queued = m.get('genai_ledger_queue_rows');
    return (pending === undefined || pending === 0) && queued === 0 ? true : undefined;
  }, 300_000, 'the spool and queue to drain');
  const drainS = (performance.now() - t) / 1000;
  const runner = collectorRunner({ url: collector.url, token: collector.queryToken! });
  const ids = await runner.query<{ s: string }>("SELECT span_id AS s FROM genai_ledger.ai_usage_exact WHERE service_name = 'soak'");
  const stored = new Uint8Array(result.sentRequests * BATCH);
  for (const { s } of ids) {
    const i = Number.parseInt(s, 16) - 1 - firstSpan;
    if (i >= 0 && i < stored.length) stored[i] = 1;
  }
  let lost = 0;
  for (let r = 0; r < result.sentRequests; r++) {
    if (!result.acked[r]) continue;
    for (let k = 0; k < BATCH; k++) if (!stored[r * BATCH + k]) lost++;
  }
  await collector.stop('SIGTERM');
  return { lost, drainS, counts: await countStoppedStore(store) };
}

/** Per window: acks, p99 and max ack latency, longest event-loop delay, spool pending rows at its end. */
function timeline(name: string, r: RunResult, windowS: number): void {
  out(`${name} timeline (${windowS} s windows; * = ClickHouse down during the window):`);
  out('      t   acks  p99 ms  max ms  loop max ms  pending rows  RSS MiB');
  const end = Math.max(...r.acks.map((a) => a.t), ...r.samples.map((x) => x.t), 0);
  for (let a = 0; a < end; a += windowS) {
    const b = a + windowS;
    const ms = r.acks.filter((x) => x.t >= a && x.t < b).map((x) => x.ms);
    const ss = r.samples.filter((x) => x.t >= a && x.t < b);
    const down = r.outages.some(([s, e]) => s < b && e > a) ? '*' : ' ';
    const loop = Math.max(0, ...ss.map((x) => x.loopMaxMs));
    const pending = ss.length > 0 ? ss[ss.length - 1]!.pending : NaN;
    const rss = Math.max(0, ...r.rss.filter((x) => x.t >= a && x.t < b).map((x) => x.bytes)) / MiB;
    out(`${down}${a.toFixed(0).padStart(6)} ${String(ms.length).padStart(6)} ${pct(ms, 99).toFixed(1).padStart(7)} ${(ms.length ? Math.max(...ms) : NaN).toFixed(1).padStart(7)} ` +
      `${loop.toFixed(0).padStart(12)} ${String(pending).padStart(13)} ${rss.toFixed(0).padStart(8)}`);
  }
}

function traces(name: string, r: RunResult): void {
  const lines = r.collector.stderr().split('\n').filter((l) => l.startsWith('TRACE '));
  if (lines.length === 0) return;
  out(`${name}: ${lines.length} trace lines (slow spool groups / slow durable ingests), the slowest 15:`);
  const parsed = lines.map((l) => {
    const json = JSON.parse(l.slice(l.indexOf('{'))) as { ms?: number; phases?: number[] };
    return { l, ms: json.ms ?? (json.phases ?? []).reduce((x, y) => x + y, 0) };
  });
  for (const { l } of parsed.sort((x, y) => y.ms - x.ms).slice(0, 15)) out(`  ${l}`);
  // Slow groups (over 15 ms), by phase: [segment, write, fdatasync, directory sync].
  const groups = lines.filter((l) => l.startsWith('TRACE group ')).map((l) => (JSON.parse(l.slice(l.indexOf('{'))) as { phases: number[] }).phases);
  const phase = (i: number): string => {
    const xs = groups.map((g) => g[i] ?? 0);
    return `>10 ms ${xs.filter((x) => x > 10).length}, p50 ${pct(xs, 50).toFixed(1)}, max ${Math.max(0, ...xs).toFixed(0)}`;
  };
  if (groups.length > 0) out(`  slow groups ${groups.length}: segment ${phase(0)}; write ${phase(1)}; fdatasync ${phase(2)}; dir sync ${phase(3)}`);
}

function report(name: string, r: RunResult, v: Verified): void {
  const refused = [...r.refusals].map(([k, n]) => `${k}×${n}`).join(' ') || 'none';
  out(`${name}: spans sent ${r.spansSent} (+${r.resentSpans} resent), acknowledged ${r.ackedSpans}, lost ${v.lost}, ` +
    `doubled ${v.counts.exact - v.counts.distinct}; refused attempts (retried): ${refused}; drained ${v.drainS.toFixed(1)} s after the traffic`);
  out(`  ${describeCounts(v.counts)}`);
}

const base = mkdtempSync(join(tmpdir(), 'genai-ledger-soak-'));
try {
  const first = Math.min(SECONDS * 0.2, 20);
  const outages: Array<[number, number]> = [
    [first, first + OUTAGE_S],
    [Math.max(first + OUTAGE_S + 5, SECONDS * 0.6), Math.max(first + OUTAGE_S + 5, SECONDS * 0.6) + OUTAGE_S],
  ];
  out(`soak: ${SECONDS} s at ${RATE} AI spans/s (${BATCH} per request, ${CONCURRENCY} senders), spool on, ClickHouse down at ` +
    `${outages.map(([a, b]) => `${a.toFixed(0)}–${b.toFixed(0)} s`).join(' and ')}`);
  const soak = await run({ store: join(base, 'spool-on'), spool: true, seconds: SECONDS, outages, firstSpan: 0 });
  const sv = await verify(soak, join(base, 'spool-on'), 0);
  report('spool on ', soak, sv);
  if (args.timeline) timeline('spool on', soak, SECONDS > 120 ? 10 : 2);
  if (args.trace) traces('spool on', soak);

  out(`baseline: ${BASELINE_S} s at the same rate, --no-spool, no outage`);
  const baseline = await run({ store: join(base, 'spool-off'), spool: false, seconds: BASELINE_S, outages: [], firstSpan: 0 });
  const bv = await verify(baseline, join(base, 'spool-off'), 0);
  report('spool off', baseline, bv);
  if (args.timeline) timeline('spool off', baseline, 2);

  // The same short run with the spool on and no outage, right after the baseline (the machine's
  // load drifts over minutes: this pair compares the acknowledgement paths under like conditions).
  out(`control: ${BASELINE_S} s at the same rate, spool on, no outage`);
  const control = await run({ store: join(base, 'spool-on-control'), spool: true, seconds: BASELINE_S, outages: [], firstSpan: 0 });
  const cv = await verify(control, join(base, 'spool-on-control'), 0);
  report('spool on ', control, cv);
  if (args.timeline) timeline('spool on (control)', control, 2);

  const steadyRss = soak.rss.filter((s) => s.t >= 5 && s.t < outages[0]![0]).map((s) => s.bytes);
  const steady = pct(steadyRss.length > 0 ? steadyRss : soak.rss.map((s) => s.bytes), 50);
  const peak = Math.max(...soak.rss.map((s) => s.bytes));
  const lastThird = soak.rss.filter((s) => s.t >= (SECONDS * 2) / 3).map((s) => s.bytes);
  const p99On = pct(soak.latencies, 99);
  const p99Steady = pct(soak.steadyLatencies, 99);
  const p99Off = pct(baseline.latencies, 99);
  const p99OffSteady = pct(baseline.steadyLatencies, 99);
  const p99Control = pct(control.steadyLatencies, 99);
  const loopMax = (r: RunResult, steadyOnly: boolean): number => Math.max(0, ...r.samples
    .filter((x) => !steadyOnly || (x.t >= WARMUP_S && !r.outages.some(([a, b]) => x.t >= a && x.t < b + RECOVERY_S + 1)))
    .map((x) => x.loopMaxMs));
  out('');
  out(`ack latency ms (200s): soak (spool on, outages) p50 ${pct(soak.latencies, 50).toFixed(1)} p99 ${p99On.toFixed(1)} max ${Math.max(...soak.latencies).toFixed(0)}, ` +
    `outside outages (and ${WARMUP_S} s warm-up, ${RECOVERY_S} s after each outage) p99 ${p99Steady.toFixed(1)}`);
  out(`  spool off: p50 ${pct(baseline.latencies, 50).toFixed(1)} p99 ${p99Off.toFixed(1)}, after warm-up p99 ${p99OffSteady.toFixed(1)}; ` +
    `spool on, same conditions (control): p50 ${pct(control.latencies, 50).toFixed(1)} p99 ${pct(control.latencies, 99).toFixed(1)}, after warm-up p99 ${p99Control.toFixed(1)}`);
  out(`longest event-loop stall ms: soak ${loopMax(soak, false).toFixed(0)} (outside outages ${loopMax(soak, true).toFixed(0)}), spool off ${loopMax(baseline, true).toFixed(0)}, control ${loopMax(control, true).toFixed(0)}`);
  const middleThird = soak.rss.filter((s) => s.t >= SECONDS / 3 && s.t < (SECONDS * 2) / 3).map((s) => s.bytes);
  out(`RSS MiB: steady ${(steady / MiB).toFixed(0)} (median before the first outage), peak ${(peak / MiB).toFixed(0)}, ` +
    `middle third max ${(Math.max(...middleThird) / MiB).toFixed(0)}, last third max ${(Math.max(...lastThird) / MiB).toFixed(0)} (no climb: last ≈ middle), samples ${soak.rss.length}`);
  printFigure('lost acknowledged spans', String(sv.lost), sv.lost === 0 ? 1 : 0, '0');
  printFigure('duplicates stored (raw − distinct spans)', String(sv.counts.duplicates), sv.counts.duplicates / Math.max(1, soak.resentSpans), `≥ ${soak.resentSpans} resent (raw keeps every delivery)`);
  printFigure('doubled: exact view − distinct spans', String(sv.counts.exact - sv.counts.distinct), sv.counts.exact === sv.counts.distinct ? 1 : 0, '0');
  printFigure(`miscounts: exact view and ${sv.counts.rollups.length} rollups`, String(miscounts(sv.counts).length), miscounts(sv.counts).length === 0 ? 1 : 0, '0');
  printFigure('peak RSS / steady RSS', (peak / steady).toFixed(2), peak / steady, '≤ 1.5 (plateau)');
  printFigure('p99 ack latency, spool on / off', `${p99On.toFixed(1)} / ${p99Off.toFixed(1)} ms`, p99On / p99Off, 'informative (fsync per group)');
  printFigure('p99 ack latency outside outages, soak / spool off', `${p99Steady.toFixed(1)} / ${p99OffSteady.toFixed(1)} ms`, p99Steady / p99OffSteady, 'informative (~2-3x)');
  printFigure('p99 ack latency, control (spool on) / spool off', `${p99Control.toFixed(1)} / ${p99OffSteady.toFixed(1)} ms`, p99Control / p99OffSteady, 'informative (~2-3x)');
  // Exactly once in every run: nothing acknowledged lost, every resend really stored twice (the raw
  // count is honest), and the exact view and every rollup counting each distinct span once.
  const once = (r: RunResult, v: Verified): boolean => v.lost === 0 && v.counts.duplicates >= r.resentSpans && miscounts(v.counts).length === 0;
  const ok = once(soak, sv) && once(baseline, bv) && once(control, cv) && peak / steady <= 1.5;
  out(ok ? 'soak: OK' : 'soak: FAILED');
  process.exitCode = ok ? 0 : 1;
} finally {
  agent.destroy();
  rmSync(base, { recursive: true, force: true });
}
