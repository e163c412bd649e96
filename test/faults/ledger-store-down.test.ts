/**
 * Ledger.open while ClickHouse is unreachable, in process: the embedded store behind the
 * collector's fault switch (collector/fault-injection.ts), which refuses every call (commands,
 * queries, inserts) with ECONNREFUSED as a stopped server does, on a database never migrated.
 * With a spool the ledger (and so the in-process exporter) opens anyway and sets the store up in
 * the background; without one, or when ClickHouse answers with a permanent error, open fails.
 * One embedded store for the file (chDB: one data directory per process).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClickHouseClient } from '@clickhouse/client';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { FaultSwitch } from '../../collector/fault-injection.js';
import { Ledger } from '../../delivery/ledger.js';
import { GenAiLedgerExporter } from '../../exporter/span-exporter.js';
import { fromReadableSpan } from '../../exporter/readable-span.js';
import { makeSpans } from '../collector/support/spans.js';
import { clickhouseError } from '../support/faulty-client.js';
import { openTestStore, queryOne, type TestStore } from '../support/store.js';

let store: TestStore;
const dirs: string[] = [];
beforeAll(async () => {
  store = await openTestStore({ database: 'default' });
});
afterAll(async () => {
  await store?.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function spoolDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'genai-ledger-store-down-'));
  dirs.push(dir);
  return dir;
}

const writer = { meter: false as const, flushIntervalMs: 50 };

/** Raw rows (no FINAL) and distinct spans in `database`.ai_usage. */
function counts(database: string): Promise<{ raw: string; spans: string }> {
  return queryOne(store.client, `SELECT toString(count()) AS raw, toString(uniqExact(trace_id, span_id)) AS spans FROM ${database}.ai_usage`);
}

const ready = (ledger: Ledger): Promise<void> => new Promise((resolve) => ledger.onStoreReady(resolve));

test('with a spool: opens while ClickHouse is down, acknowledges durably, sets the store up once it is back, every row once', async () => {
  const faults = FaultSwitch.fromEnv({ GENAI_LEDGER_FAULT_CLICKHOUSE: 'down' });
  const ledger = await Ledger.open({ client: faults.wrap(store.client), database: 'deferred', spool: { dir: spoolDir() }, writer });
  try {
    expect(ledger.waitingFor).toMatch(/^clickhouse: migrations not applied: connect ECONNREFUSED/);
    const result = await ledger.ingestDurable(makeSpans({ ai: 12, plain: 5 }).map(fromReadableSpan));
    expect(result).toMatchObject({ rows: 12, durable: true });
    await ledger.flush(); // resolves while nothing can be delivered
    expect(ledger.stats.spool).toMatchObject({ pendingRows: 12, deliveredRecords: 0 });
    const existing = await queryOne<{ n: string }>(store.client, "SELECT toString(count()) AS n FROM system.databases WHERE name = 'deferred'");
    expect(existing.n).toBe('0');

    faults.clickhouseDown = false;
    await ready(ledger);
    expect(ledger.waitingFor).toBeUndefined();
    while (ledger.stats.spool!.pendingRows > 0) await ledger.flush();
    expect(await counts('deferred')).toEqual({ raw: '12', spans: '12' });
    expect(ledger.stats).toMatchObject({ writtenRows: 12, droppedRows: 0 });
  } finally {
    await ledger.close();
  }
});

test('closed while waiting: close() does not wait for the store; the next open delivers what the spool kept', async () => {
  const dir = spoolDir();
  const faults = FaultSwitch.fromEnv({ GENAI_LEDGER_FAULT_CLICKHOUSE: 'down' });
  const first = await Ledger.open({ client: faults.wrap(store.client), database: 'reopened', spool: { dir }, writer });
  await first.ingestDurable(makeSpans({ ai: 7 }).map(fromReadableSpan));
  await first.close();
  expect(first.stats.spool).toMatchObject({ pendingRows: 7 });

  const second = await Ledger.open({ client: store.client, database: 'reopened', spool: { dir }, writer });
  try {
    expect(second.waitingFor).toBeUndefined();
    while (second.stats.spool!.pendingRows > 0) await second.flush();
    expect(await counts('reopened')).toEqual({ raw: '7', spans: '7' });
  } finally {
    await second.close();
  }
});

test('the in-process exporter with a spool spools while ClickHouse is down instead of giving up', async () => {
  const faults = FaultSwitch.fromEnv({ GENAI_LEDGER_FAULT_CLICKHOUSE: 'down' });
  const exporter = new GenAiLedgerExporter({ client: faults.wrap(store.client), database: 'exported', spool: { dir: spoolDir() }, writer, mappingThread: false });
  try {
    const result = await new Promise<ExportResult>((resolve) => exporter.export(makeSpans({ ai: 4 }), resolve));
    expect(result.code).toBe(ExportResultCode.SUCCESS);
    expect(exporter.stats()).toMatchObject({ spansDroppedBeforeOpen: 0, spool: { pendingRows: 4 } });
    faults.clickhouseDown = false;
    await exporter.forceFlush();
    await new Promise<void>((resolve) => {
      const poll = (): void => void counts('exported').then((c) => (c.raw === '4' ? resolve() : setTimeout(poll, 50)), () => setTimeout(poll, 50));
      poll();
    });
    expect(await counts('exported')).toEqual({ raw: '4', spans: '4' });
  } finally {
    await exporter.shutdown();
  }
});

test('without a spool, or on a permanent error, open fails as before', async () => {
  const down = FaultSwitch.fromEnv({ GENAI_LEDGER_FAULT_CLICKHOUSE: 'down' });
  await expect(Ledger.open({ client: down.wrap(store.client), database: 'nospool', writer })).rejects.toThrow(/ECONNREFUSED/);

  const denied = new Proxy(store.client, {
    get(target, prop, receiver) {
      if (prop === 'command') return () => Promise.reject(clickhouseError(516, 'AUTHENTICATION_FAILED', 'default: Authentication failed'));
      const value = Reflect.get(target, prop, receiver) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  }) as ClickHouseClient;
  await expect(Ledger.open({ client: denied, database: 'denied', spool: { dir: spoolDir() }, writer })).rejects.toThrow(/Authentication failed/);
});
