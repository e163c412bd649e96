/**
 * BatchWriter against an in-memory fake client: batching, flush semantics, retries with the same
 * dedup token, overflow, splitting, metrics. The same behaviours against the embedded engine are
 * in test/integration/writer.test.ts.
 */
import { Readable } from 'node:stream';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { diag, type Meter } from '@opentelemetry/api';
import type { ClickHouseSettings } from '@clickhouse/client';
import { BatchWriter, createWriterStats, DEFAULT_MAX_BATCH_ROWS, DEFAULT_MAX_QUEUE_ROWS, type EnqueueOutcome, type InsertClient } from '../../delivery/writer/batch-writer.js';
import { chunkOfLines } from '../../clickhouse/row-chunk.js';
import { serializeRow } from '../../clickhouse/serialize.js';
import type { UsageRow } from '../../usage/usage-row.js';
import { usageRow } from '../support/store.js';

interface Call {
  query: string;
  lines: string[];
  token: string | undefined;
  settings: ClickHouseSettings;
}

/** Records inserts; `behave` decides per call: undefined = accept, an Error = throw it. */
function fakeClient(behave: (call: Call, n: number) => Error | undefined | Promise<Error | undefined> = () => undefined) {
  const calls: Call[] = [];
  const stored: string[] = [];
  const client: InsertClient = {
    exec: (async (params: { query: string; values?: Readable; clickhouse_settings?: ClickHouseSettings }) => {
      let body = '';
      for await (const chunk of params.values as Readable) body += String(chunk);
      const settings = params.clickhouse_settings ?? {};
      const call: Call = {
        query: params.query,
        lines: body.split('\n').filter((l) => l !== ''),
        token: settings.insert_deduplication_token as string | undefined,
        settings,
      };
      calls.push(call);
      const error = await behave(call, calls.length);
      if (error) throw error;
      stored.push(...call.lines);
      return { stream: Readable.from([]), query_id: 'q', response_headers: {} };
    }) as unknown as InsertClient['exec'],
  };
  return { client, calls, stored };
}

const rows = (n: number, from = 0): UsageRow[] => Array.from({ length: n }, (_, i) => usageRow(from + i));
const chError = (code: string, type: string) => Object.assign(new Error(`Code: ${code}. DB::Exception: ${type}`), { code, type });
const fast = { initialBackoffMs: 1, maxBackoffMs: 2 };

afterEach(() => {
  vi.restoreAllMocks();
});

describe('BatchWriter', () => {
  test('defaults are the documented constants', () => {
    expect(DEFAULT_MAX_BATCH_ROWS).toBe(10_000);
    expect(DEFAULT_MAX_QUEUE_ROWS).toBe(100_000);
  });

  test('writes in batches of maxBatchRows, flush waits for everything enqueued before it', async () => {
    const { client, calls, stored } = fakeClient();
    const writer = new BatchWriter(client, { maxBatchRows: 100, meter: false });
    expect(writer.enqueue(rows(250))).toBe(250);
    await writer.flush();
    expect(calls.map((c) => c.lines.length)).toEqual([100, 100, 50]);
    expect(stored).toHaveLength(250);
    expect(writer.stats).toMatchObject({ writtenRows: 250, writtenBatches: 3, queuedRows: 0, queuedBytes: 0, droppedRows: 0 });
    expect(calls[0]?.query).toMatch(/^INSERT INTO ai_usage \(ts, trace_id, .*\) FORMAT JSONCompactEachRow$/);
    expect(calls[0]?.settings).toMatchObject({ async_insert: 0, insert_deduplicate: 1 });
    await writer.shutdown();
  });

  test('chunks go whole into a batch while they fit; one larger than a batch is cut; the queue keeps exact bytes', async () => {
    const { client, calls, stored } = fakeClient();
    const writer = new BatchWriter(client, { maxBatchRows: 100, meter: false });
    const lines = rows(330).map(serializeRow);
    const chunks = [chunkOfLines(lines.slice(0, 40), true), chunkOfLines(lines.slice(40, 80)), chunkOfLines(lines.slice(80, 330))];
    writer.enqueueChunk(chunks[0]!);
    writer.enqueueChunk(chunks[1]!);
    expect(writer.stats.queuedBytes).toBe(lines.slice(0, 80).reduce((n, l) => n + Buffer.byteLength(l) + 1, 0));
    writer.enqueueChunk(chunks[2]!); // past maxBatchRows: sending starts
    await writer.flush();
    expect(calls.map((c) => c.lines.length)).toEqual([80, 100, 100, 50]);
    expect(stored).toEqual(lines);
    expect(writer.stats).toMatchObject({ writtenRows: 330, queuedRows: 0, queuedBytes: 0 });
    await writer.shutdown();
  });

  test('a chunk the queue cannot hold whole: the rows that fit are kept, the rest counted as dropped', async () => {
    const lines = rows(10).map(serializeRow);
    const room = lines.slice(0, 4).reduce((n, l) => n + Buffer.byteLength(l) + 1, 0);
    const { client, stored } = fakeClient();
    const writer = new BatchWriter(client, { maxQueueBytes: room + 10, maxQueueRows: 100, meter: false });
    const outcomes: EnqueueOutcome[] = [];
    expect(writer.enqueueChunk(chunkOfLines(lines), { onSettled: (o) => outcomes.push(o) })).toBe(4);
    expect(writer.enqueueChunk(chunkOfLines(lines.slice(0, 1)))).toBe(0);
    await writer.flush();
    expect(stored).toEqual(lines.slice(0, 4));
    expect(outcomes).toEqual([{ rows: 10, written: 4, rejected: 0, failed: 0, dropped: 6 }]);
    expect(writer.stats.droppedRows).toBe(7);
    await writer.shutdown();
  });

  test('insert bodies reuse one buffer, except after an attempt abandoned at its timeout (the engine may still read it)', async () => {
    const buffers: ArrayBufferLike[] = [];
    let hang = false;
    const client: InsertClient = {
      exec: (async (params: { values?: Readable; abort_signal?: AbortSignal }) => {
        for await (const chunk of params.values as Readable) buffers.push((chunk as Buffer).buffer);
        if (hang) {
          hang = false;
          await new Promise((_, reject) => params.abort_signal!.addEventListener('abort', () => reject(new Error('timed out'))));
        }
        return { stream: Readable.from([]), query_id: 'q', response_headers: {} };
      }) as unknown as InsertClient['exec'],
    };
    const writer = new BatchWriter(client, { insertTimeoutMs: 20, retry: fast, meter: false });
    const send = async (from: number) => {
      writer.enqueue(rows(3, from));
      await writer.flush();
    };
    await send(0);
    await send(10);
    expect(buffers[1]).toBe(buffers[0]);
    hang = true;
    await send(20); // times out once, then the retry sends the same bytes
    expect(buffers[3]).toBe(buffers[2]);
    await send(30);
    expect(buffers[4]).not.toBe(buffers[2]);
    expect(writer.stats).toMatchObject({ writtenRows: 12, retriedBatches: 1, droppedRows: 0 });
    await writer.shutdown();
  });

  test('the flush interval sends partial batches', async () => {
    const { client, stored } = fakeClient();
    const writer = new BatchWriter(client, { flushIntervalMs: 20, meter: false });
    writer.enqueue(rows(3));
    await vi.waitFor(() => expect(stored).toHaveLength(3), { timeout: 2000, interval: 10 });
    await writer.shutdown();
  });

  test('retries retryable errors with the same dedup token, then succeeds once', async () => {
    const { client, calls, stored } = fakeClient((_, n) => (n <= 2 ? Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) : undefined));
    const writer = new BatchWriter(client, { retry: fast, meter: false });
    writer.enqueue(rows(10));
    await writer.flush();
    expect(calls).toHaveLength(3);
    expect(new Set(calls.map((c) => c.token)).size).toBe(1);
    expect(calls[0]?.token).toMatch(/^[0-9a-f]{64}$/);
    expect(stored).toHaveLength(10);
    expect(writer.stats).toMatchObject({ writtenRows: 10, retriedBatches: 1, failedBatches: 0, droppedRows: 0 });
    await writer.shutdown();
  });

  test('gives up after maxAttempts: dropped and counted, flush resolves, nothing thrown', async () => {
    const warn = vi.spyOn(diag, 'warn');
    const { client, calls } = fakeClient(() => chError('252', 'TOO_MANY_PARTS'));
    const writer = new BatchWriter(client, { retry: { ...fast, maxAttempts: 3 }, meter: false });
    writer.enqueue(rows(5));
    await expect(writer.flush()).resolves.toBeUndefined();
    expect(calls).toHaveLength(3);
    expect(writer.stats).toMatchObject({ writtenRows: 0, droppedRows: 5, failedBatches: 1, retriedBatches: 1 });
    expect(warn).toHaveBeenCalledWith(expect.stringMatching(/dropped 5 usage rows: insert failed after 3 attempts/));
    await writer.shutdown();
  });

  test('backoff: exponential, capped, ±jitter', async () => {
    const delays: number[] = [];
    const realSetTimeout = globalThis.setTimeout;
    vi.spyOn(globalThis, 'setTimeout').mockImplementation(((fn: () => void, ms?: number) => {
      if (ms !== undefined && ms !== 30_000) delays.push(ms);
      return realSetTimeout(fn, 0);
    }) as typeof setTimeout);
    const { client } = fakeClient(() => new Error('network down'));
    let r = 0;
    const randoms = [0, 1, 0.5, 0.5, 0.5];
    const writer = new BatchWriter(client, {
      retry: { initialBackoffMs: 100, maxBackoffMs: 300, multiplier: 2, jitter: 0.2, maxAttempts: 5 },
      random: () => randoms[r++ % randoms.length] as number,
      meter: false,
    });
    writer.enqueue(rows(1));
    await writer.flush();
    await writer.shutdown();
    // attempt 1 → 100 ms −20 %, 2 → 200 ms +20 %, 3 → 400 capped at 300, 4 → 300.
    expect(delays.map((d) => Math.round(d))).toEqual([80, 240, 300, 300]);
  });

  test('queue overflow (rows and bytes) is dropped and counted, never buffered', async () => {
    let release!: () => void;
    const gate = new Promise<undefined>((resolve) => (release = () => resolve(undefined)));
    const { client, stored } = fakeClient(() => gate);
    const writer = new BatchWriter(client, { maxBatchRows: 10, maxQueueRows: 25, meter: false });
    expect(writer.enqueue(rows(10))).toBe(10); // first batch goes in flight and blocks
    expect(writer.enqueue(rows(30, 10))).toBe(25);
    expect(writer.stats.droppedRows).toBe(5);
    expect(writer.enqueue(rows(1, 40))).toBe(0);
    expect(writer.stats.droppedRows).toBe(6);
    release();
    await writer.flush();
    expect(stored).toHaveLength(35);

    const small = new BatchWriter(fakeClient().client, { maxQueueBytes: 2_000, meter: false });
    const accepted = small.enqueue(rows(10));
    expect(accepted).toBeGreaterThan(0);
    expect(accepted).toBeLessThan(10);
    expect(small.stats.droppedRows).toBe(10 - accepted);
    expect(small.stats.queuedBytes).toBeLessThanOrEqual(2_000);
    await writer.shutdown();
    await small.shutdown();
  });

  test('a row-level error splits the batch: good rows written, the bad row rejected', async () => {
    const bad = usageRow(5, { ts: 'garbage' });
    const { client, stored, calls } = fakeClient((call) =>
      call.lines.some((l) => l.includes('"garbage"')) ? chError('41', 'CANNOT_PARSE_DATETIME') : undefined,
    );
    const rejected: UsageRow[][] = [];
    const writer = new BatchWriter(client, { meter: false, onReject: (r) => rejected.push(r) });
    const batch = rows(16);
    batch[5] = bad;
    writer.enqueue(batch);
    await writer.flush();
    expect(stored).toHaveLength(15);
    expect(rejected).toEqual([[bad]]);
    expect(writer.stats).toMatchObject({ writtenRows: 15, rejectedRows: 1, droppedRows: 0 });
    // 1 full + 2·log2(16) halves.
    expect(calls).toHaveLength(9);
    await writer.shutdown();
  });

  test('batch-level errors are not split; the split budget bounds the work', async () => {
    const { client, calls } = fakeClient(() => chError('60', 'UNKNOWN_TABLE'));
    const rejected: number[] = [];
    const writer = new BatchWriter(client, { meter: false, onReject: (r) => rejected.push(r.length) });
    writer.enqueue(rows(100));
    await writer.flush();
    expect(calls).toHaveLength(1);
    expect(rejected).toEqual([100]);

    const every = fakeClient(() => chError('27', 'CANNOT_PARSE_INPUT_ASSERTION_FAILED'));
    const limited = new BatchWriter(every.client, { meter: false, maxSplitInserts: 6, onReject: () => undefined });
    limited.enqueue(rows(1000));
    await limited.flush();
    expect(every.calls.length).toBeLessThanOrEqual(7);
    expect(limited.stats.rejectedRows).toBe(1000);
    await writer.shutdown();
    await limited.shutdown();
  });

  test('never throws into callers: bad input, throwing onReject, enqueue after shutdown', async () => {
    const { client } = fakeClient(() => chError('41', 'CANNOT_PARSE_DATETIME'));
    const writer = new BatchWriter(client, {
      meter: false,
      onReject: () => {
        throw new Error('callback bug');
      },
    });
    expect(writer.enqueue([null as unknown as UsageRow, usageRow(1)])).toBe(1);
    expect(writer.stats.rejectedRows).toBe(1);
    await expect(writer.flush()).resolves.toBeUndefined();
    expect(writer.stats.rejectedRows).toBe(2);
    await writer.shutdown();
    await writer.shutdown();
    expect(writer.enqueue(rows(3))).toBe(0);
    expect(writer.stats.droppedRows).toBe(3);
  });

  test('flush covers rows enqueued before it, even while a batch is in flight', async () => {
    let n = 0;
    const { client, stored } = fakeClient(async () => {
      n++;
      await new Promise((r) => setTimeout(r, 5));
      return undefined;
    });
    const writer = new BatchWriter(client, { maxBatchRows: 10, meter: false });
    writer.enqueue(rows(10));
    writer.enqueue(rows(5, 10));
    const flushed = writer.flush();
    writer.enqueue(rows(3, 15));
    await flushed;
    expect(stored.length).toBeGreaterThanOrEqual(15);
    await writer.shutdown();
    expect(stored).toHaveLength(18);
    expect(n).toBeGreaterThanOrEqual(2);
  });

  test('injectable stats and OTel observable instruments', async () => {
    const stats = createWriterStats();
    const instruments: string[] = [];
    let callback: ((r: { observe: (o: unknown, v: number) => void }) => void) | undefined;
    let removed = false;
    const fake = (name: string) => ({ name });
    const meter = {
      createObservableGauge: (name: string) => (instruments.push(name), fake(name)),
      createObservableCounter: (name: string) => (instruments.push(name), fake(name)),
      addBatchObservableCallback: (cb: typeof callback) => (callback = cb),
      removeBatchObservableCallback: () => (removed = true),
    } as unknown as Meter;
    const { client } = fakeClient();
    const writer = new BatchWriter(client, { stats, meter });
    writer.enqueue(rows(7));
    await writer.flush();
    expect(stats.writtenRows).toBe(7);
    const observed: Record<string, number> = {};
    callback?.({ observe: (o, v) => (observed[(o as { name: string }).name] = v) });
    expect(observed).toMatchObject({
      'genai_ledger.writer.rows.written': 7,
      'genai_ledger.writer.queue.rows': 0,
      'genai_ledger.writer.rows.dropped': 0,
    });
    expect(instruments).toContain('genai_ledger.writer.insert.duration');
    await writer.shutdown();
    expect(removed).toBe(true);
  });
});
