/**
 * bench/store-costs: what a store costs to keep once it holds its history (run it on the store
 * bench/dashboards.ts seeded, e.g. its 100M calls):
 *
 *   npm run bench:store-costs -- --store DIR [--rate 300 --minutes 2 --baseline-seconds 30 --no-fill-hour]
 *
 * 1. disk     bytes on disk per call, of the raw ledger and of each rollup (system.parts, active
 *             parts; calls = the exact daily rollup's sum, duplicates counted once).
 * 2. live     `--rate` calls/s of realistic spans (bench/support/traffic.ts, made by the real OTel
 *             SDK) through the real pipeline, a Ledger (mapper, BatchWriter: what the collector
 *             runs), timed by the clock. First `--baseline-seconds` of ingestion alone: its CPU is
 *             the baseline. Then once a minute refreshRollups() (what the refreshable views do
 *             every minute): its CPU is the process's CPU (chDB runs in this process) over the
 *             refresh, minus the baseline ingestion's share of that time. The views' own schedule
 *             is stopped meanwhile (SYSTEM STOP VIEWS), so no other refresh runs in these windows.
 * 3. hour full  A refresh re-folds the hours that received rows, so it costs most at the end of
 *             an hour: the current hour is filled to what `--rate` makes in 59 minutes (through
 *             the same Ledger, as fast as it goes; skip with --no-fill-hour), then two more minutes
 *             of live traffic and refreshes.
 * RSS of this process (the store, the Ledger and its queue: what a collector holding the store
 * holds) is sampled every second.
 */
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ClickHouseClient } from '@clickhouse/client';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { createStoreClient } from '../clickhouse/store.js';
import { refreshRollups } from '../clickhouse/migrate.js';
import { Ledger } from '../delivery/ledger.js';
import { fromReadableSpan } from '../exporter/readable-span.js';
import { printDisk } from './support/disk.js';
import { printFigure } from './support/measure.js';
import { generateSpans } from './support/traffic.js';

const { values } = parseArgs({
  options: {
    store: { type: 'string' },
    rate: { type: 'string', default: '300' },
    minutes: { type: 'string', default: '2' },
    'baseline-seconds': { type: 'string', default: '30' },
    'no-fill-hour': { type: 'boolean', default: false },
  },
});
if (!values.store) throw new Error('bench/store-costs: --store DIR is required (a store bench/dashboards.ts seeded)');
const RATE = Number(values.rate);
const MINUTES = Math.max(1, Number(values.minutes));
const BASELINE_S = Math.max(5, Number(values['baseline-seconds']));
const database = 'genai_ledger';
const MiB = 1024 * 1024;

const out = (line = ''): void => void process.stdout.write(`${line}\n`);
const cpuSeconds = (since: NodeJS.CpuUsage): number => {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1e6;
};

async function rows<T>(client: ClickHouseClient, query: string): Promise<T[]> {
  const rs = await client.query({ query, format: 'JSONEachRow', clickhouse_settings: { output_format_json_quote_64bit_integers: 0 } });
  return rs.json<T>();
}

/** Finished AI-call spans spread over [startMs, startMs + spreadMs), in chunks (bounded memory). */
function* spanChunks(calls: number, startMs: number, spreadMs: number, seed: number, chunk: number): Generator<ReadableSpan[]> {
  for (let made = 0, i = 0; made < calls; made += chunk, i++) {
    const n = Math.min(chunk, calls - made);
    const from = startMs + Math.floor((spreadMs * made) / calls);
    yield generateSpans({ spans: n, aiShare: 1, seed: seed + i, startMs: from, spreadMs: Math.max(1, Math.floor((spreadMs * n) / calls)) });
  }
}

/** Feeds `RATE` calls per second into the ledger, 10 times a second, until the returned stop(). */
function live(ledger: Ledger, startMs: number): () => void {
  // Small chunks: making spans costs the same in every second, so the baseline covers it.
  const spreadMs = (MINUTES + 3) * 60_000 + BASELINE_S * 1000;
  const source = spanChunks(Math.ceil((RATE * spreadMs) / 1000) * 2, startMs, spreadMs, 7, 2000);
  let pending: ReadableSpan[] = [];
  const started = performance.now();
  const tick = (): void => {
    const target = Math.floor(((performance.now() - started) / 1000) * RATE);
    while (ledger.stats.rowsMapped < target) {
      if (pending.length === 0) pending = source.next().value ?? [];
      if (pending.length === 0) return;
      ledger.ingest(pending.splice(0, 50).map(fromReadableSpan));
    }
  };
  const timer = setInterval(tick, 100);
  return () => clearInterval(timer);
}

interface RssSampler {
  stop(): { median: number; max: number };
}

function sampleRss(): RssSampler {
  const samples: number[] = [];
  const timer = setInterval(() => samples.push(process.memoryUsage().rss), 1000);
  return {
    stop: () => {
      clearInterval(timer);
      const s = [...samples].sort((a, b) => a - b);
      return { median: s[Math.floor(s.length / 2)] ?? 0, max: s.at(-1) ?? 0 };
    },
  };
}

/** One refresh, as the minute's scheduled one: wall time and CPU beyond the ingestion baseline. */
async function refresh(client: ClickHouseClient, label: string, ingestCpuPerS: number): Promise<number> {
  const [hour] = await rows<{ calls: number }>(client, 'SELECT count() AS calls FROM ai_usage WHERE ts >= toStartOfHour(now64(6))');
  const cpu = process.cpuUsage();
  const t = performance.now();
  await client.command({ query: 'SYSTEM START VIEWS' });
  await refreshRollups(client, { database });
  await client.command({ query: 'SYSTEM STOP VIEWS' });
  const wall = (performance.now() - t) / 1000;
  const own = Math.max(0, cpuSeconds(cpu) - ingestCpuPerS * wall);
  printFigure(`${label} (hour holds ${Number(hour?.calls ?? 0).toLocaleString('en-US')} rows)`, `${own.toFixed(2)} s CPU`, own / 60, `share of one core per minute; wall ${wall.toFixed(1)} s`);
  return own;
}

async function main(): Promise<void> {
  const client = await createStoreClient({ kind: 'embedded', path: values.store as string }, { database });
  const rssOpen = process.memoryUsage().rss;
  try {
    out(`bench/store-costs: store ${values.store}; ${RATE} calls/s; RSS ${(rssOpen / MiB).toFixed(0)} MiB once the store is open`);
    await printDisk(client, database);
    await refreshRollups(client, { database }); // watermarks current before the live minutes
    // The views' own schedule would also run inside the measured windows (the baseline's too):
    // here they run only when refresh() runs them, as the minute's scheduled refresh would.
    await client.command({ query: 'SYSTEM STOP VIEWS' });
    const ledger = await Ledger.open({ client, database, migrate: false });
    const rss = sampleRss();
    const stopFeed = live(ledger, Date.now());
    try {
      out(`live: ${RATE} calls/s through a Ledger (mapper, BatchWriter) into the store`);
      const cpu = process.cpuUsage();
      const t = performance.now();
      const mapped = ledger.stats.rowsMapped;
      await sleep(BASELINE_S * 1000);
      const ingestCpuPerS = cpuSeconds(cpu) / ((performance.now() - t) / 1000);
      const rate = ((ledger.stats.rowsMapped - mapped) * 1000) / (performance.now() - t);
      printFigure(`ingestion alone (${rate.toFixed(0)} calls/s mapped)`, `${(ingestCpuPerS * 100).toFixed(1)} % core`, ingestCpuPerS, 'share of one core: CPU s per s');
      const costs: number[] = [];
      for (let m = 1; m <= MINUTES; m++) {
        await sleep(60_000);
        costs.push(await refresh(client, `refresh, minute ${m}`, ingestCpuPerS));
      }
      if (!values['no-fill-hour']) {
        stopFeed();
        const hourStart = Math.floor(Date.now() / 3_600_000) * 3_600_000;
        const fill = RATE * 59 * 60;
        const t0 = performance.now();
        const before = ledger.stats.rowsMapped;
        // Spans, not calls: some calls come as an aggregate span and the call's span.
        for (const spans of spanChunks(Math.ceil(fill * 1.25), hourStart, 3_600_000, 1_000, 20_000)) {
          ledger.ingest(spans.map(fromReadableSpan));
          await ledger.flush();
        }
        out(`  hour filled: ${(ledger.stats.rowsMapped - before).toLocaleString('en-US')} calls of the current hour through the Ledger in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
        await client.command({ query: 'SYSTEM START VIEWS' });
        await refreshRollups(client, { database });
        await client.command({ query: 'SYSTEM STOP VIEWS' });
        const stopAgain = live(ledger, Date.now());
        try {
          for (let m = 1; m <= 2; m++) {
            await sleep(60_000);
            costs.push(await refresh(client, `refresh, hour full, minute ${m}`, ingestCpuPerS));
          }
        } finally {
          stopAgain();
        }
      }
      const worst = Math.max(...costs);
      printFigure('refresh CPU, worst minute', `${worst.toFixed(2)} s CPU`, worst / 60, 'share of one core per minute');
    } finally {
      stopFeed();
      await ledger.flush();
      await ledger.close();
      const { median, max } = rss.stop();
      printFigure('RSS while ingesting and refreshing (median)', `${(median / MiB).toFixed(0)} MiB`, median / rssOpen, 'vs once the store is open');
      printFigure('RSS while ingesting and refreshing (peak)', `${(max / MiB).toFixed(0)} MiB`, max / rssOpen, 'vs once the store is open');
    }
  } finally {
    await client.close();
  }
}

await main();
