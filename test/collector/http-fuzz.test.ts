/**
 * Fuzzing the collector's HTTP receiver (spool on, the default): fixed-seed bodies of
 * test/support/fuzz.ts (valid, malformed, mutated, type-scrambled, deeply nested, wire garbage),
 * POSTed as protobuf and JSON, every third one gzipped, plus a few lying content types. Each must
 * be answered 200 (possibly partial_success), 400, 413 or 415 — never 500, never a dropped
 * connection — the process must stay up, and its RSS must stay bounded.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { contentTypeOf, fuzzBodies } from '../support/fuzz.js';
import { request, scrape, startCollectorProcess, type CollectorProcess } from './support/collector-process.js';

const SEED = 0x5eed_0042;
const COUNT = 600;
const base = mkdtempSync(join(tmpdir(), 'genai-ledger-http-fuzz-'));
let collector: CollectorProcess;

beforeAll(async () => {
  collector = await startCollectorProcess(join(base, 'store'), ['--max-body-bytes', '4MiB', '--max-decompressed-bytes', '8MiB', '--log-level', 'info']);
});
afterAll(async () => {
  await collector?.stop('SIGKILL').catch(() => undefined);
  rmSync(base, { recursive: true, force: true });
});

test(`${COUNT} fuzzed OTLP bodies (seed ${SEED}): only 200/400/413/415, no crash, bounded RSS`, async () => {
  const rss = async (): Promise<number> => (await scrape(collector.url)).get('process_resident_memory_bytes')!;
  const statuses = new Map<number, number>();
  const unexpected: string[] = [];
  let rssAfterWarmup = 0;
  let rssPeak = 0;
  const bodies = [...fuzzBodies(SEED, COUNT)];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < bodies.length) {
      const b = bodies[next++]!;
      const gzip = b.index % 3 === 0;
      // A few requests lie about their type: JSON sent as protobuf and the reverse.
      const lie = b.index % 17 === 5;
      const type = contentTypeOf(lie ? (b.encoding === 'json' ? 'protobuf' : 'json') : b.encoding);
      const headers: Record<string, string> = { 'content-type': type, ...(gzip ? { 'content-encoding': 'gzip' } : {}) };
      let status: number;
      try {
        status = (await request(`${collector.url}/v1/traces`, { method: 'POST', headers, body: gzip ? gzipSync(b.body) : b.body })).status;
      } catch (error) {
        unexpected.push(`#${b.index} ${b.kind}/${b.encoding}${gzip ? '+gzip' : ''}: ${(error as Error).message}`);
        continue;
      }
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
      if (![200, 400, 413, 415].includes(status)) unexpected.push(`#${b.index} ${b.kind}/${b.encoding}${gzip ? '+gzip' : ''}: ${status}`);
      if (b.index === 100) rssAfterWarmup = await rss();
      if (b.index % 50 === 0) rssPeak = Math.max(rssPeak, await rss());
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
  // The other refusals: too large as sent, a gzip bomb, an unknown encoding, an unknown type.
  const pb = { 'content-type': 'application/x-protobuf' };
  const post = (headers: Record<string, string>, body: Uint8Array | string) => () => request(`${collector.url}/v1/traces`, { method: 'POST', headers, body });
  const extra: Array<[number, () => Promise<{ status: number }>]> = [
    [413, post(pb, Buffer.alloc(5 * 1024 * 1024, 1))],
    [413, post({ ...pb, 'content-encoding': 'gzip' }, gzipSync(Buffer.alloc(64 * 1024 * 1024)))],
    [415, post({ ...pb, 'content-encoding': 'br' }, bodies[1]!.body)],
    [415, post({ 'content-type': 'text/plain' }, 'hi')],
  ];
  for (const [want, send] of extra) {
    let status: number;
    try {
      status = (await send()).status;
    } catch (error) {
      // Too large as sent: the collector answers 413 from Content-Length and closes the connection;
      // the client may still be writing the body and see EPIPE/ECONNRESET before it reads the 413.
      const code = (error as NodeJS.ErrnoException).code;
      if (want === 413 && (code === 'EPIPE' || code === 'ECONNRESET')) continue;
      throw error;
    }
    statuses.set(status, (statuses.get(status) ?? 0) + 1);
    expect(status).toBe(want);
  }

  expect(unexpected).toEqual([]);
  expect(collector.child.exitCode).toBeNull();
  expect((await request(`${collector.url}/healthz`)).status).toBe(200);
  const m = await scrape(collector.url);
  expect(m.get('genai_ledger_http_requests_total{route="/v1/traces",code="500"}') ?? 0).toBe(0);
  rssPeak = Math.max(rssPeak, m.get('process_resident_memory_bytes')!);
  // Bounded: the peak stays within a fixed margin of the level after the first 100 bodies.
  expect(rssPeak).toBeLessThan(rssAfterWarmup + 512 * 1024 * 1024);
  expect(statuses.get(200)).toBeGreaterThan(0);
  expect(statuses.get(400)).toBeGreaterThan(0);
  console.log(`http fuzz: ${COUNT} bodies, statuses ${JSON.stringify(Object.fromEntries(statuses))}, RSS after 100 ${(rssAfterWarmup / 2 ** 20).toFixed(0)} MiB, peak ${(rssPeak / 2 ** 20).toFixed(0)} MiB`);
}, 60_000);
