/**
 * The durable pipeline end to end, in process: Ledger (spool + pump + writer + dead letter) into
 * the embedded ClickHouse through the fault-injecting client. Every acknowledged span must be in
 * ai_usage_exact and the rollups exactly once, whatever ClickHouse did meanwhile.
 * One embedded store for the file (chDB: one data directory per process).
 */
import { join } from 'node:path';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { beforeEach, describe, expect, test } from 'vitest';
import { readDeadLetters } from '../../delivery/dead-letter.js';
import { Ledger, type LedgerOptions } from '../../delivery/ledger.js';
import { UsageMapper } from '../../usage/mapper.js';
import { fromReadableSpan } from '../../exporter/readable-span.js';
import { GenAiLedgerExporter } from '../../exporter/span-exporter.js';
import { Spool, SpoolFullError } from '../../delivery/spool/index.js';
import { BatchWriter } from '../../delivery/writer/batch-writer.js';
import { serializeRow } from '../../clickhouse/serialize.js';
import { recordChatTrace } from '../fixtures/otlp/sdk-spans.js';
import { refreshRollups } from '../../clickhouse/migrate.js';
import { clientRunner } from '../../clickhouse/query-runner.js';
import { deliveryCounts, miscounts, rollupTables, type DeliveryCounts } from '../support/delivery-counts.js';
import { usageRow } from '../support/store.js';
import { FAULT_DATABASE, useFaultStore } from './support/fault-store.js';
import { chatSpans, traceIdOf } from './support/spans.js';

const fx = useFaultStore('faults');
const database = FAULT_DATABASE;

beforeEach(async () => {
  fx.faulty.heal();
  for (const t of ['ai_usage', ...rollupTables()]) await fx.store.client.command({ query: `TRUNCATE TABLE ${database}.${t}` });
  await fx.store.client.command({ query: `SYSTEM START MERGES ${database}.ai_usage` });
});

function openLedger(spoolDir: string, options: Partial<LedgerOptions> = {}): Promise<Ledger> {
  return Ledger.open({
    client: fx.faulty,
    database,
    migrate: false,
    prices: fx.prices,
    ...options,
    spool: { dir: spoolDir, retryInitialMs: 50, retryMaxMs: 200, ...options.spool },
    writer: { meter: false, flushIntervalMs: 50, insertTimeoutMs: 2_000, retry: { initialBackoffMs: 5, maxBackoffMs: 20, maxAttempts: 3 }, ...options.writer },
  });
}

/** Flushes until the spool has nothing pending (or the deadline passes). */
async function drain(ledger: Ledger, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (ledger.stats.spool!.pendingRows > 0 || ledger.stats.spool!.inFlightRows > 0) {
    if (Date.now() > deadline) throw new Error(`spool not drained: ${JSON.stringify(ledger.stats.spool)}`);
    await ledger.flush();
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Raw rows (merges stopped where a test says so), distinct spans, the exact view and every rollup, refreshed now. */
async function totals(): Promise<DeliveryCounts> {
  await refreshRollups(fx.store.client, { database });
  return deliveryCounts(clientRunner(fx.store.client), database);
}

/** `count` distinct spans, each counted once by ai_usage_exact and every rollup, at one priced total. */
function expectOnce(t: DeliveryCounts, count: number): void {
  expect(miscounts(t)).toEqual([]);
  expect(t.distinct).toBe(count);
  expect(Number(t.cost)).toBeGreaterThan(0);
}

describe('durable ledger under faults', () => {
  test('ClickHouse refusing for a while: every acknowledged span lands exactly once after recovery', async () => {
    const ledger = await openLedger(fx.freshDir());
    fx.faulty.refuse({ forMs: 1_500 });
    const acks = await Promise.all(Array.from({ length: 20 }, (_, b) => ledger.ingestDurable(chatSpans(b * 100, 100))));
    expect(acks.every((a) => a.durable && a.rows === 100 && a.dropped === 0)).toBe(true);
    expect(ledger.stats.spool).toMatchObject({ appendedRows: 2_000 });
    await new Promise((r) => setTimeout(r, 300));
    expect(fx.faulty.faults.refused).toBeGreaterThan(0);
    expect(ledger.stats.spool!.pendingRows).toBe(2_000); // waiting on disk

    await drain(ledger);
    expect(ledger.stats.spool!.failedDeliveries).toBeGreaterThan(0);
    expect(ledger.stats).toMatchObject({ droppedRows: 0, rejectedRows: 0 });
    expectOnce(await totals(), 2_000);
    await ledger.close();
  }, 30_000);

  test('a hanging ClickHouse (until the insert timeout) delays, never loses', async () => {
    const ledger = await openLedger(fx.freshDir(), { writer: { insertTimeoutMs: 200, retry: { initialBackoffMs: 5, maxBackoffMs: 20, maxAttempts: 2 } } });
    fx.faulty.hang({ times: 3 });
    await ledger.ingestDurable(chatSpans(0, 300));
    await drain(ledger);
    expect(fx.faulty.faults.hung).toBe(3);
    expectOnce(await totals(), 300);
    await ledger.close();
  }, 30_000);

  test('commits-then-errors: the retry carries the same dedup token; beyond the retries the spool resends; counted once', async () => {
    await fx.store.client.command({ query: `SYSTEM STOP MERGES ${database}.ai_usage` });
    const ledger = await openLedger(fx.freshDir());
    // Within the writer's retries: ClickHouse drops the retried insert by its token.
    fx.faulty.commitThenError({ times: 2 });
    await ledger.ingestDurable(chatSpans(0, 500));
    await drain(ledger);
    expect(fx.faulty.faults.committedThenErrored).toBe(2);
    let t = await totals();
    expect(t.raw).toBe(500); // no duplicate even in the raw table
    expectOnce(t, 500);

    // Beyond them: every attempt commits then "fails" for a while; the writer gives up, the spool
    // sends the record again. Its rows make the same chunks, so the same token: ClickHouse drops
    // the resend at insert too (merges are stopped, so the raw count would show a duplicate).
    fx.faulty.commitThenError({ forMs: 600 });
    await ledger.ingestDurable(chatSpans(500, 500));
    await drain(ledger);
    expect(ledger.stats.spool!.failedDeliveries).toBeGreaterThan(0);
    t = await totals();
    expect(t.raw).toBe(1_000);
    expectOnce(t, 1_000);
    await ledger.close();
  }, 30_000);

  test('one bad row: isolated into the dead-letter file with its reason, the rest written, nothing left pending', async () => {
    const dir = fx.freshDir();
    const ledger = await openLedger(dir);
    fx.faulty.rejectRows(traceIdOf(617));
    await ledger.ingestDurable(chatSpans(0, 1_000));
    await drain(ledger);
    const dead = readDeadLetters(join(dir, 'dead-letter.jsonl'));
    expect(dead).toHaveLength(1);
    expect(dead[0]).toMatchObject({ reason: expect.stringMatching(/CANNOT_PARSE_INPUT_ASSERTION_FAILED/), row: { trace_id: traceIdOf(617), span_id: chatSpans(617, 1)[0]!.spanId } });
    expect(Date.parse(dead[0]!.rejected_at)).toBeGreaterThan(Date.now() - 60_000);
    expect(ledger.stats).toMatchObject({ rejectedRows: 1, droppedRows: 0, deadLetter: { rows: 1 }, spool: { pendingRows: 0 } });
    expectOnce(await totals(), 999);

    // The real engine's own refusal (an unparsable timestamp, spooled by an older version, say).
    fx.faulty.heal();
    const good = chatSpans(5_000, 10).map((s) => new UsageMapper({ prices: fx.prices }).map(s)!);
    await ledger.spool!.append([...good.map(serializeRow), serializeRow(usageRow(5, { ts: 'garbage' }))]);
    await drain(ledger);
    const all = readDeadLetters(join(dir, 'dead-letter.jsonl'));
    expect(all).toHaveLength(2);
    expect(all[1]!.reason).toMatch(/DateTime|parse/i);
    expect(all[1]!.row.ts).toBe('garbage');
    expectOnce(await totals(), 1_009);
    await ledger.close();
  }, 30_000);

  test('a crash between insert and commit: the replay writes the rows again, every view counts them once', async () => {
    await fx.store.client.command({ query: `SYSTEM STOP MERGES ${database}.ai_usage` });
    const dir = fx.freshDir();
    const lines = new UsageMapper({ prices: fx.prices }).mapAll(chatSpans(0, 800)).rows.map(serializeRow);
    // Before the "crash": spooled, inserted, not yet committed.
    const spool = await Spool.open({ dir, meter: false, maxRecordRows: 300 });
    await spool.append(lines);
    const writer = new BatchWriter(fx.store.client, { meter: false, table: `${database}.ai_usage`, maxBatchRows: 250 });
    writer.enqueueLines(lines);
    await writer.shutdown();
    await spool.close();
    expect((await totals()).raw).toBe(800);

    // Restart: the spool replays all three records.
    const ledger = await openLedger(dir);
    expect(ledger.stats.spool).toMatchObject({ recoveredRecords: 3, recoveredRows: 800 });
    await drain(ledger);
    const t = await totals();
    expect(t.raw).toBe(1_600); // really written twice (merges are stopped) ...
    expectOnce(t, 800); // ... and counted once
    await fx.store.client.command({ query: `SYSTEM START MERGES ${database}.ai_usage` });
    await fx.store.client.command({ query: `OPTIMIZE TABLE ${database}.ai_usage FINAL` });
    expectOnce(await totals(), 800);
    await ledger.close();
  }, 30_000);

  test('duplicate deliveries of the same spans (client retries, two paths) count once', async () => {
    const ledger = await openLedger(fx.freshDir());
    await ledger.ingestDurable(chatSpans(0, 300));
    await ledger.ingestDurable(chatSpans(100, 300)); // overlaps 100..299
    await ledger.ingestDurable(chatSpans(0, 300)); // a whole retried request
    await drain(ledger);
    expectOnce(await totals(), 400);
    await ledger.close();
  }, 30_000);

  test('a full spool refuses at once (SpoolFullError); ingest() counts the drop; nothing acknowledged is lost', async () => {
    const ledger = await openLedger(fx.freshDir(), { spool: { dir: fx.freshDir(), maxBytes: 256 * 1024, segmentBytes: 32 * 1024 } });
    fx.faulty.refuse({ forMs: 60_000 });
    let acknowledged = 0;
    let refused: unknown;
    for (let b = 0; b < 100 && !refused; b++) {
      try {
        await ledger.ingestDurable(chatSpans(b * 50, 50));
        acknowledged += 50;
      } catch (err) {
        refused = err;
      }
    }
    expect(refused).toBeInstanceOf(SpoolFullError);
    expect(acknowledged).toBeGreaterThan(0);
    const r = ledger.ingest(chatSpans(90_000, 50));
    expect(r).toMatchObject({ rows: 50, dropped: 50 });
    expect(ledger.stats.droppedRows).toBe(50);
    expect(ledger.stats.spool).toMatchObject({ pendingRows: acknowledged, fullRejections: 2 });

    fx.faulty.heal();
    await drain(ledger);
    expectOnce(await totals(), acknowledged);
    // Room again.
    await expect(ledger.ingestDurable(chatSpans(100_000, 50))).resolves.toMatchObject({ durable: true, rows: 50 });
    await ledger.close();
  }, 30_000);

  test('without a spool nothing changes: ingestDurable is ingest (not durable), no dead-letter file', async () => {
    const ledger = await Ledger.open({ client: fx.faulty, database, migrate: false, prices: fx.prices, writer: { meter: false, flushIntervalMs: 50 } });
    expect(ledger.durable).toBe(false);
    expect(ledger.spool).toBeUndefined();
    await expect(ledger.ingestDurable(chatSpans(0, 10))).resolves.toMatchObject({ rows: 10, dropped: 0, durable: false });
    await ledger.flush();
    expect(ledger.stats).toMatchObject({ writtenRows: 10 });
    expect(ledger.stats.spool).toBeUndefined();
    expect(ledger.stats.deadLetter).toBeUndefined();
    await ledger.close();
  });
});

describe('GenAiLedgerExporter with a spool', () => {
  const exportNow = (exporter: GenAiLedgerExporter, spans: Parameters<GenAiLedgerExporter['export']>[0]): Promise<ExportResult> =>
    new Promise((resolve) => exporter.export(spans, resolve));

  test('export() succeeds after the fsync; the rows reach ClickHouse after an outage; a full spool fails the export and counts it', async () => {
    const fixture = recordChatTrace();
    const expectedRows = new UsageMapper({ prices: fx.prices }).mapAll(fixture.spans.map(fromReadableSpan)).rows.length;
    expect(expectedRows).toBeGreaterThan(0);
    fx.faulty.refuse({ forMs: 800 });
    const exporter = new GenAiLedgerExporter({
      client: fx.faulty, database, migrate: false, prices: fx.prices,
      spool: { dir: fx.freshDir(), retryInitialMs: 50, retryMaxMs: 100 },
      writer: { meter: false, flushIntervalMs: 50, retry: { initialBackoffMs: 5, maxBackoffMs: 10, maxAttempts: 2 } },
    });
    // Exported before the store is open: held until it is, then spooled.
    const first = exportNow(exporter, fixture.spans);
    expect(await first).toEqual({ code: ExportResultCode.SUCCESS });
    expect(exporter.stats()?.spool).toMatchObject({ appendedRows: expectedRows });
    const deadline = Date.now() + 20_000;
    while ((exporter.stats()?.spool?.pendingRows ?? 1) > 0 && Date.now() < deadline) {
      await exporter.forceFlush();
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(exporter.stats()?.spool?.failedDeliveries).toBeGreaterThan(0);
    const t = await totals();
    expect(t.exact).toBe(expectedRows);
    await exporter.shutdown();
    const afterShutdown = await exportNow(exporter, fixture.spans);
    expect(afterShutdown.code).toBe(ExportResultCode.FAILED);

    // A tiny spool and ClickHouse down: exports fail (reported to the SDK), counted, nothing thrown.
    fx.faulty.refuse({ forMs: 60_000 });
    const small = new GenAiLedgerExporter({
      client: fx.faulty, database, migrate: false, prices: fx.prices,
      spool: { dir: fx.freshDir(), maxBytes: 4096, segmentBytes: 4096 },
      writer: { meter: false, flushIntervalMs: 50 },
    });
    const results: ExportResult[] = [];
    for (let i = 0; i < 30; i++) results.push(await exportNow(small, fixture.spans));
    const failed = results.filter((r) => r.code === ExportResultCode.FAILED);
    expect(failed.length).toBeGreaterThan(0);
    expect(failed[0]!.error).toBeInstanceOf(SpoolFullError);
    expect(small.stats()).toMatchObject({ spansRefused: failed.length * fixture.spans.length });
    fx.faulty.heal();
    await small.shutdown();
  }, 30_000);
});
