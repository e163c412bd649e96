/**
 * A full spool, at the HTTP level: with ClickHouse down and a small spool (--spool-max-bytes 1MiB),
 * the collector acknowledges requests until the spool is full, then answers 503 + Retry-After
 * (nothing of such a request is stored: the client keeps it and retries) without blocking, and answers 413 to a request that could never fit. Once ClickHouse is back the spool drains, room
 * comes back, the client's retries are acknowledged, and every span sent is stored exactly once:
 * with ai_usage's merges held (test/support/delivery-counts.ts) the raw table holds one row per span,
 * so a refused request left nothing behind, and the exact view and every rollup count each once.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { collectorRunner } from '../../collector/query-client.js';
import { request, scrape, startCollectorProcess, waitFor, type CollectorProcess } from './support/collector-process.js';
import { countStoppedStore, miscounts, prepareHeldStore } from '../support/delivery-counts.js';
import { genaiBody, spanIdOf } from './support/genai-bodies.js';

const base = mkdtempSync(join(tmpdir(), 'genai-ledger-spool-full-'));
const started: CollectorProcess[] = [];
afterAll(async () => {
  for (const c of started) await c.stop('SIGKILL').catch(() => undefined);
  rmSync(base, { recursive: true, force: true });
});

const PER_REQUEST = 50;
const pb = { 'content-type': 'application/x-protobuf' };
const SERVICE = 'spool-full';

test('a full spool answers 503 + Retry-After; once room comes back the retried requests land, none lost or doubled', async () => {
  const store = join(base, 'store');
  await prepareHeldStore(store);
  const collector = await startCollectorProcess(store, [
    '--spool-max-bytes', '1MiB', '--retry-after', '1', '--flush-interval', '0.2',
  ], { GENAI_LEDGER_FAULT_INJECTION: '1' });
  started.push(collector);
  const post = (r: number, count = PER_REQUEST) =>
    request(`${collector.url}/v1/traces`, { method: 'POST', headers: pb, body: genaiBody(r * PER_REQUEST, count, SERVICE) });

  const down = await request(`${collector.url}/debug/faults`, { method: 'POST', body: '{"clickhouse":"down"}' });
  expect(down.status).toBe(200);

  // Fill the spool (a request's rows are ~16 KB: about 60 fit in 1 MiB).
  const acked: number[] = [];
  const refused: number[] = [];
  let r = 0;
  for (; r < 400 && refused.length === 0; r++) {
    const res = await post(r);
    if (res.status === 200) acked.push(r);
    else {
      expect(res.status).toBe(503);
      expect(res.headers['retry-after']).toBe('1');
      refused.push(r);
    }
  }
  expect(acked.length).toBeGreaterThan(10);
  expect(refused).toHaveLength(1);
  // Still full: every further request is refused at once, none blocks.
  for (let k = 0; k < 10; k++, r++) {
    const t = performance.now();
    const res = await post(r);
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('1');
    expect(performance.now() - t).toBeLessThan(5_000);
    refused.push(r);
  }
  // A request larger than the whole spool can never fit: 413, not retried.
  const huge = await request(`${collector.url}/v1/traces`, { method: 'POST', headers: pb, body: genaiBody(1_000_000, 5_000, SERVICE) });
  expect(huge.status).toBe(413);

  const full = await scrape(collector.url);
  expect(full.get('genai_ledger_spool_full_rejected_rows_total')).toBeGreaterThanOrEqual(refused.length * PER_REQUEST);
  expect(full.get('genai_ledger_requests_refused_total{reason="spool_full"}')).toBe(refused.length);
  expect(full.get('genai_ledger_spool_used_bytes')).toBeLessThanOrEqual(1024 * 1024);
  const ready = JSON.parse((await request(`${collector.url}/readyz`)).body.toString()) as { spool?: { maxBytes: number } };
  expect(ready.spool).toMatchObject({ maxBytes: 1024 * 1024 });

  // ClickHouse back: the client retries what was refused, honouring Retry-After, until it lands.
  expect((await request(`${collector.url}/debug/faults`, { method: 'POST', body: '{"clickhouse":"up"}' })).status).toBe(200);
  const deadline = Date.now() + 60_000;
  const retries: number[] = [...refused];
  while (retries.length > 0) {
    expect(Date.now()).toBeLessThan(deadline);
    const res = await post(retries[0]!);
    if (res.status === 200) {
      acked.push(retries.shift()!);
      continue;
    }
    expect(res.status).toBe(503);
    await new Promise((resolve) => setTimeout(resolve, Number(res.headers['retry-after'] ?? 1) * 1000));
  }
  expect((await request(`${collector.url}/readyz`)).status).toBe(200);

  await waitFor(async () => ((await scrape(collector.url)).get('genai_ledger_spool_pending_rows') === 0 ? true : undefined), 60_000, 'the spool to drain');
  const runner = collectorRunner({ url: collector.url, token: collector.queryToken! });
  const stored = new Set((await runner.query<{ span_id: string }>(
    `SELECT span_id FROM genai_ledger.ai_usage_exact WHERE service_name = '${SERVICE}'`,
  )).map((row) => row.span_id));
  const sent = acked.flatMap((q) => Array.from({ length: PER_REQUEST }, (_, k) => spanIdOf(q * PER_REQUEST + k)));
  expect(sent).toHaveLength(r * PER_REQUEST);
  expect(sent.filter((id) => !stored.has(id))).toEqual([]);
  expect(await collector.stop('SIGTERM')).toBe(0);

  const counts = await countStoppedStore(store);
  expect(counts).toMatchObject({ raw: sent.length, distinct: sent.length, duplicates: 0 });
  expect(miscounts(counts)).toEqual([]);
}, 150_000);
