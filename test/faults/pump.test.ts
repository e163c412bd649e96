/**
 * Spool → pump → BatchWriter against an in-memory ClickHouse stand-in with injected faults:
 * per-enqueue outcomes, commits only after acknowledgement, records kept (not dropped) while
 * inserts fail, memory bounded by the writer's queue, replay after a restart, batch-level
 * refusals kept rather than dead-lettered, oversized records sliced.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { Spool, SpoolPump } from '../../delivery/spool/index.js';
import { BatchWriter, type EnqueueOutcome } from '../../delivery/writer/batch-writer.js';
import { serializeRow } from '../../clickhouse/serialize.js';
import type { UsageRow } from '../../usage/usage-row.js';
import { clickhouseError, createFaultyClient, createMemoryClient } from '../support/faulty-client.js';
import { usageRow } from '../support/store.js';

const base = mkdtempSync(join(tmpdir(), 'genai-ledger-pump-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));
let n = 0;
const freshDir = (): string => join(base, `p${++n}`);

const fastRetry = { initialBackoffMs: 1, maxBackoffMs: 2, maxAttempts: 2 };
const lines = (count: number, from = 0): string[] => Array.from({ length: count }, (_, i) => serializeRow(usageRow(from + i)));
const spanIds = (stored: string[]): string[] => stored.map((l) => (JSON.parse(l) as unknown[])[2] as string);

async function setup(dir: string, opts: { maxQueueRows?: number; maxBatchRows?: number; onReject?: (rows: UsageRow[], e: Error) => void } = {}) {
  const memory = createMemoryClient();
  const client = createFaultyClient(memory);
  const writer = new BatchWriter(client, {
    meter: false, retry: fastRetry, flushIntervalMs: 20,
    maxQueueRows: opts.maxQueueRows ?? 100_000, maxBatchRows: opts.maxBatchRows ?? 1_000,
    ...(opts.onReject ? { onReject: opts.onReject } : {}),
  });
  const spool = await Spool.open({ dir, meter: false, maxRecordRows: Math.min(1_000, opts.maxQueueRows ?? 1_000) });
  const pump = new SpoolPump(spool, writer, { retryInitialMs: 20, retryMaxMs: 50 });
  pump.start();
  const close = async (): Promise<void> => {
    await pump.close({ drain: false });
    await writer.shutdown();
    await spool.close();
  };
  return { memory, client, writer, spool, pump, close };
}

describe('BatchWriter per-enqueue outcomes', () => {
  test('written, rejected, failed and dropped are reported per call, in order', async () => {
    const memory = createMemoryClient();
    const client = createFaultyClient(memory);
    const outcomes: Array<[string, EnqueueOutcome]> = [];
    const writer = new BatchWriter(client, { meter: false, retry: fastRetry, maxQueueRows: 25, maxBatchRows: 10, onReject: () => undefined });
    const report = (name: string) => ({ onSettled: (o: EnqueueOutcome) => outcomes.push([name, o]) });
    const bad = usageRow(3, { trace_id: 'bad-trace' });
    writer.enqueue([usageRow(0), usageRow(1), usageRow(2), bad], report('a'));
    writer.enqueueLines(lines(4, 10), report('b'));
    writer.enqueue(Array.from({ length: 30 }, (_, i) => usageRow(100 + i)), report('c')); // 17 fit
    client.rejectRows('bad-trace');
    await writer.flush();
    client.heal().refuse({ times: 100 });
    writer.enqueueLines(lines(2, 500), { ...report('d'), durable: true });
    writer.enqueueLines(lines(2, 600), report('e'));
    await writer.flush();
    client.heal();
    await writer.shutdown();
    writer.enqueueLines(lines(1, 700), { ...report('f'), durable: true });
    await new Promise((r) => setTimeout(r, 0));
    expect(Object.fromEntries(outcomes)).toEqual({
      a: { rows: 4, written: 3, rejected: 1, failed: 0, dropped: 0 },
      b: { rows: 4, written: 4, rejected: 0, failed: 0, dropped: 0 },
      c: { rows: 30, written: 17, rejected: 0, failed: 0, dropped: 13 },
      d: { rows: 2, written: 0, rejected: 0, failed: 2, dropped: 0 },
      e: { rows: 2, written: 0, rejected: 0, failed: 2, dropped: 0 },
      f: { rows: 1, written: 0, rejected: 0, failed: 0, dropped: 1 },
    });
    // Durable rows handed back are not "dropped" (lost): they are counted as returned.
    expect(writer.stats).toMatchObject({ droppedRows: 13 + 2, returnedRows: 2 + 1, rejectedRows: 1 });
  });

  test('a batch-level refusal (unknown table) rejects plain rows but fails durable ones (kept by their spool)', async () => {
    const client = createFaultyClient(createMemoryClient());
    client.rejectRows(() => true, { code: 60, type: 'UNKNOWN_TABLE', message: 'Table genai_ledger.ai_usage does not exist' });
    const rejected: number[] = [];
    const writer = new BatchWriter(client, { meter: false, onReject: (rows) => rejected.push(rows.length) });
    const outcomes: EnqueueOutcome[] = [];
    writer.enqueueLines(lines(3), { onSettled: (o) => outcomes.push(o) });
    writer.enqueueLines(lines(5, 10), { durable: true, onSettled: (o) => outcomes.push(o) });
    await writer.flush();
    expect(rejected).toEqual([3]);
    expect(outcomes).toEqual([
      { rows: 3, written: 0, rejected: 3, failed: 0, dropped: 0 },
      { rows: 5, written: 0, rejected: 0, failed: 5, dropped: 0 },
    ]);
    await writer.shutdown();
  });
});

describe('spool pump', () => {
  test('delivers everything once and deletes committed segments', async () => {
    const dir = freshDir();
    const { memory, spool, pump, close } = await setup(dir);
    for (let i = 0; i < 10; i++) await spool.append(lines(250, i * 1000));
    await pump.flush();
    expect(memory.lines).toHaveLength(2_500);
    expect(new Set(spanIds(memory.lines)).size).toBe(2_500);
    expect(spool.stats).toMatchObject({ committedRows: 2_500, pendingRows: 0, failedDeliveries: 0 });
    await close();
    expect(readdirSync(dir).filter((f) => f.endsWith('.wal'))).toEqual([]);
  });

  test('ClickHouse down: rows wait on disk (nothing dropped, memory bounded), then land once', async () => {
    const dir = freshDir();
    const { memory, client, writer, spool, pump, close } = await setup(dir, { maxQueueRows: 2_000, maxBatchRows: 500 });
    client.refuse({ forMs: 60_000 });
    let maxInFlight = 0;
    let maxQueued = 0;
    const sample = setInterval(() => {
      maxInFlight = Math.max(maxInFlight, spool.stats.inFlightRows);
      maxQueued = Math.max(maxQueued, writer.stats.queuedRows);
    }, 1);
    for (let i = 0; i < 20; i++) await spool.append(lines(500, i * 1000));
    await pump.flush(); // resolves after a failed delivery
    await new Promise((r) => setTimeout(r, 200)); // a few retry rounds
    expect(memory.lines).toHaveLength(0);
    expect(spool.stats.pendingRows).toBe(10_000);
    expect(spool.stats.failedDeliveries).toBeGreaterThanOrEqual(1);
    expect(writer.stats.droppedRows).toBe(0);
    expect(writer.stats.returnedRows).toBeGreaterThan(0);

    client.heal();
    await pump.flush();
    clearInterval(sample);
    expect(new Set(spanIds(memory.lines)).size).toBe(10_000);
    expect(memory.lines).toHaveLength(10_000);
    expect(spool.stats).toMatchObject({ pendingRows: 0, committedRows: 10_000 });
    expect(spool.stats.redeliveredRecords).toBeGreaterThan(0);
    // Never more in flight than the writer's queue holds.
    expect(maxInFlight).toBeLessThanOrEqual(2_000);
    expect(maxQueued).toBeLessThanOrEqual(2_000);
    await close();
  });

  test('retries exhausted after a partial success: nothing lost, duplicates only of what landed', async () => {
    const dir = freshDir();
    const { memory, client, spool, pump, close } = await setup(dir, { maxBatchRows: 100 });
    // One record of 1000 rows = 10 inserts: the first 2 land, the rest fail for a while.
    client.refuse({ skip: 2, forMs: 300 });
    await spool.append(lines(1_000));
    await pump.flush();
    expect(spool.stats.failedDeliveries).toBeGreaterThanOrEqual(1);
    expect(spool.stats.pendingRows).toBe(1_000);
    await new Promise((r) => setTimeout(r, 350));
    await pump.flush();
    const ids = spanIds(memory.lines);
    expect(new Set(ids).size).toBe(1_000);
    // What landed before the failure is sent again with its record (ai_usage collapses it).
    expect(ids.length).toBeGreaterThanOrEqual(1_200);
    expect(spool.stats.pendingRows).toBe(0);
    await close();
  });

  test('a restart replays what was not delivered', async () => {
    const dir = freshDir();
    const first = await setup(dir);
    first.client.refuse({ forMs: 60_000 });
    for (let i = 0; i < 5; i++) await first.spool.append(lines(100, i * 100));
    await first.pump.flush();
    await first.close();
    expect(first.memory.lines).toHaveLength(0);

    const second = await setup(dir);
    expect(second.spool.stats).toMatchObject({ recoveredRecords: 5, recoveredRows: 500 });
    await second.pump.flush();
    expect(new Set(spanIds(second.memory.lines)).size).toBe(500);
    await second.close();
    expect(readdirSync(dir).filter((f) => f.endsWith('.wal'))).toEqual([]);
  });

  test('a record larger than the writer queue (an earlier run’s settings) is sent in slices', async () => {
    const dir = freshDir();
    const big = await Spool.open({ dir, meter: false, maxRecordRows: 5_000 });
    await big.append(lines(3_000));
    await big.close();
    const { memory, writer, spool, pump, close } = await setup(dir, { maxQueueRows: 500, maxBatchRows: 200 });
    let maxQueued = 0;
    const sample = setInterval(() => (maxQueued = Math.max(maxQueued, writer.stats.queuedRows)), 1);
    await pump.flush();
    clearInterval(sample);
    expect(new Set(spanIds(memory.lines)).size).toBe(3_000);
    expect(spool.stats.pendingRows).toBe(0);
    expect(writer.stats.droppedRows + writer.stats.returnedRows).toBe(0);
    expect(maxQueued).toBeLessThanOrEqual(500);
    await close();
  });

  test('rejected rows are handed to onReject before their record is committed', async () => {
    const dir = freshDir();
    const events: string[] = [];
    const ctx = await setup(dir, {
      onReject: (rows) => events.push(`reject ${rows.map((r) => r.trace_id).join(',')} (committed ${ctx.spool.stats.committedRecords})`),
    });
    ctx.client.rejectRows('poison-trace');
    const rows = lines(50);
    rows[7] = serializeRow(usageRow(7, { trace_id: 'poison-trace' }));
    await ctx.spool.append(rows);
    await ctx.pump.flush();
    expect(events).toEqual(['reject poison-trace (committed 0)']);
    expect(ctx.spool.stats).toMatchObject({ committedRecords: 1, pendingRows: 0 });
    expect(ctx.memory.lines).toHaveLength(49);
    await ctx.close();
  });
});
