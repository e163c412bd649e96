/**
 * SIGTERM right after a burst: every acknowledged request's rows end up in the store (checked by
 * opening the store directly once the collector is gone), requests arriving during the drain are
 * refused (503) or find the port closed, and the process exits 0. Rows stay queued until the
 * drain (a 30 s flush interval), so it is the drain that writes them. This is the in-memory path
 * (--no-spool); the spooled one is test/collector/spool-crash.test.ts.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import type { ClickHouseClient } from '@clickhouse/client';
import { createStoreClient } from '../../clickhouse/store.js';
import { request, scrape, startCollectorProcess } from './support/collector-process.js';
import { makeSpans } from './support/spans.js';

const base = mkdtempSync(join(tmpdir(), 'genai-ledger-shutdown-'));
const store = join(base, 'store');
let client: ClickHouseClient | undefined;

afterAll(async () => {
  await client?.close();
  rmSync(base, { recursive: true, force: true });
});

const CALLS_PER_REQUEST = 100;

test('SIGTERM drains: nothing acknowledged is lost, exit 0', async () => {
  const collector = await startCollectorProcess(store, ['--flush-interval', '30', '--idle-flush', '0', '--no-spool']);
  const bodies = Array.from({ length: 30 }, () => ProtobufTraceSerializer.serializeRequest(makeSpans({ ai: CALLS_PER_REQUEST, plain: 50 }))!);
  const post = (body: Uint8Array) => request(`${collector.url}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body })
    .then((r) => r.status, (e: NodeJS.ErrnoException) => e.code ?? 'error');

  const first = await Promise.all(bodies.slice(0, 20).map(post));
  expect(first.every((s) => s === 200)).toBe(true);
  expect((await scrape(collector.url)).get('genai_ledger_queue_rows')).toBe(20 * CALLS_PER_REQUEST);

  // SIGTERM, and more requests racing with it.
  const exited = collector.stop('SIGTERM');
  const racing = await Promise.all(bodies.slice(20).map(post));
  for (const status of racing) expect([200, 503, 'ECONNREFUSED', 'ECONNRESET']).toContain(status);
  expect(await exited).toBe(0);
  expect(existsSync(join(store, 'collector.json'))).toBe(false);
  const stopped = collector.logs().find((l) => l.msg === 'stopped');
  expect(stopped).toMatchObject({ clean: true, droppedRows: 0 });

  const acknowledged = first.length + racing.filter((s) => s === 200).length;
  client = await createStoreClient({ kind: 'embedded', path: store });
  const rows = await client.query({ query: 'SELECT count() AS n FROM ai_usage', format: 'JSONEachRow' }).then((r) => r.json<{ n: string | number }>());
  expect(Number(rows[0]!.n)).toBe(acknowledged * CALLS_PER_REQUEST);
  expect(stopped!.writtenRows).toBe(acknowledged * CALLS_PER_REQUEST);
}, 60_000);
