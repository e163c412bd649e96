/**
 * The collector's promise with the spool (on by default): once it has answered 200 for a span, the
 * span survives ClickHouse being down and the collector being killed with SIGKILL.
 *
 * A collector child process (embedded store, default spool <store>/spool, test-only fault switch)
 * is fed raw OTLP/protobuf POSTs of GenAI spans with known ids by 8 concurrent senders; ClickHouse
 * is made "down" part-way (POST /debug/faults), and the process is SIGKILLed mid-stream while
 * appends and (failing) deliveries are in flight. A new collector on the same store + spool
 * replays. Then the client sends part of what was acknowledged again (as an OTLP exporter whose
 * answer was lost would): real duplicates in the raw table, which holds every delivery (merges held,
 * test/support/delivery-counts.ts). Every span answered 200 is stored; ai_usage_exact and every
 * rollup count each distinct span once while the duplicates are there; nothing else is stored but
 * spans that were sent.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { collectorRunner } from '../../collector/query-client.js';
import { countStoppedStore, describeCounts, miscounts, prepareHeldStore } from '../support/delivery-counts.js';
import { request, scrape, startCollectorProcess, waitFor, type CollectorProcess } from './support/collector-process.js';
import { genaiBody, genaiBodyReversed, spanIdOf } from './support/genai-bodies.js';

const base = mkdtempSync(join(tmpdir(), 'genai-ledger-spool-crash-'));
const store = join(base, 'store');
const started: CollectorProcess[] = [];
afterAll(async () => {
  for (const c of started) await c.stop('SIGKILL').catch(() => undefined);
  rmSync(base, { recursive: true, force: true });
});

const PER_REQUEST = 50;
const REQUESTS = 400;
const SENDERS = 8;
/** Acknowledged requests sent again after the restart. */
const RESENT = 20;
const FAULTS = { GENAI_LEDGER_FAULT_INJECTION: '1' };
const pb = { 'content-type': 'application/x-protobuf' };

test('every span answered 200 is stored, and counted once, across ClickHouse down + SIGKILL + restart + resends', async () => {
  await prepareHeldStore(store);
  const first = await startCollectorProcess(store, ['--flush-interval', '0.2'], FAULTS);
  started.push(first);
  expect(first.stderr()).toContain('"spool open"');

  const acked: number[] = [];
  const outcomes = new Map<string, number>();
  let next = 0;
  let answered = 0;
  let killed = false;
  const sender = async (): Promise<void> => {
    while (!killed && next < REQUESTS) {
      const r = next++;
      const from = r * PER_REQUEST;
      const outcome = await request(`${first.url}/v1/traces`, { method: 'POST', headers: pb, body: genaiBody(from, PER_REQUEST) })
        .then((res) => String(res.status), (e: NodeJS.ErrnoException) => e.code ?? 'error');
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
      if (outcome === '200') acked.push(r);
      answered++;
    }
  };
  const controller = (async () => {
    await waitFor(() => (answered >= REQUESTS * 0.2 ? true : undefined), 30_000, 'the first fifth');
    const down = await request(`${first.url}/debug/faults`, { method: 'POST', body: '{"clickhouse":"down"}' });
    expect(JSON.parse(down.body.toString())).toMatchObject({ clickhouse: 'down' });
    await waitFor(() => (answered >= REQUESTS * 0.6 ? true : undefined), 30_000, 'three fifths');
    const m = await scrape(first.url);
    expect(m.get('genai_ledger_spool_pending_rows')).toBeGreaterThan(0);
    // Still ready while ClickHouse is down: the spool has room.
    const ready = await request(`${first.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(JSON.parse(ready.body.toString())).toMatchObject({ status: 'ready', degraded: true });
    killed = true;
    first.child.kill('SIGKILL');
  })();
  await Promise.all([controller, ...Array.from({ length: SENDERS }, sender)]);
  await new Promise((resolve) => first.child.once('exit', resolve).exitCode !== null && resolve(undefined));

  expect(acked.length).toBeGreaterThan(REQUESTS * 0.5);
  // Only 200s, and connection errors of the requests the kill cut off.
  for (const key of outcomes.keys()) expect(['200', 'ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'error']).toContain(key);

  // Restart on the same store and spool (ClickHouse up): the spool replays.
  const second = await startCollectorProcess(store, ['--flush-interval', '0.2']);
  started.push(second);
  const m = await waitFor(async () => {
    const s = await scrape(second.url);
    return s.get('genai_ledger_spool_pending_rows') === 0 ? s : undefined;
  }, 60_000, 'the spool to drain');
  expect(m.get('genai_ledger_spool_recovered_rows_total')).toBeGreaterThan(0);
  expect(m.get('genai_ledger_dead_letter_rows_total')).toBe(0);

  // The client sends some acknowledged requests again, their spans in another order (an identical
  // batch would be dropped at insert by its dedup token): each is acknowledged and stored again.
  for (const r of acked.slice(0, RESENT)) {
    const res = await request(`${second.url}/v1/traces`, { method: 'POST', headers: pb, body: genaiBodyReversed(r * PER_REQUEST, PER_REQUEST) });
    expect(res.status).toBe(200);
  }
  await waitFor(async () => ((await scrape(second.url)).get('genai_ledger_spool_pending_rows') === 0 ? true : undefined), 60_000, 'the resends to drain');

  const runner = collectorRunner({ url: second.url, token: second.queryToken! });
  const stored = new Set((await runner.query<{ span_id: string }>('SELECT span_id FROM genai_ledger.ai_usage_exact')).map((r) => r.span_id));
  const ackedIds = acked.flatMap((r) => Array.from({ length: PER_REQUEST }, (_, k) => spanIdOf(r * PER_REQUEST + k)));
  const missing = ackedIds.filter((id) => !stored.has(id));
  expect(missing).toEqual([]);
  // Rows of requests the kill cut off may be there too (fsync'd just before the kill), never more than were sent.
  expect(stored.size).toBeGreaterThanOrEqual(ackedIds.length);
  expect(stored.size).toBeLessThanOrEqual(next * PER_REQUEST);
  expect(await second.stop('SIGTERM')).toBe(0);

  // Counted in this process (the store is free again), the rollups refreshed now.
  const counts = await countStoppedStore(store);
  console.log(`spool crash test: ${describeCounts(counts)}`);
  expect(counts.distinct).toBe(stored.size);
  expect(counts.duplicates).toBe(RESENT * PER_REQUEST); // the resends really are in the raw table ...
  expect(miscounts(counts)).toEqual([]); // ... and the exact view and every rollup count each span once
}, 180_000);
