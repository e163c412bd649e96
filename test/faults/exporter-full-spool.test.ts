/**
 * The in-process exporter with a full spool (ClickHouse down, a tiny spool): exports are answered
 * FAILED (the BatchSpanProcessor logs and moves on) and counted in `spansRefused`, and nothing
 * throws into the app or blocks it — export() returns at once, every callback is called promptly,
 * the event loop keeps turning, forceFlush() and shutdown() resolve. Once ClickHouse is back and
 * the spool drains, exports succeed again and the acknowledged rows are stored.
 * One embedded store for the file (chDB: one data directory per process).
 */
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { expect, test } from 'vitest';
import { UsageMapper } from '../../usage/mapper.js';
import { fromReadableSpan } from '../../exporter/readable-span.js';
import { GenAiLedgerExporter } from '../../exporter/span-exporter.js';
import { recordChatTrace } from '../fixtures/otlp/sdk-spans.js';
import { queryOne } from '../support/store.js';
import { FAULT_DATABASE, useFaultStore } from './support/fault-store.js';

const fx = useFaultStore('exporter-full');
const database = FAULT_DATABASE;

/** Longest gap between 10 ms ticks while `run` runs: how long the event loop was blocked. */
async function longestStall<T>(run: () => Promise<T>): Promise<{ result: T; stallMs: number }> {
  let last = performance.now();
  let stallMs = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    stallMs = Math.max(stallMs, now - last - 10);
    last = now;
  }, 10);
  try {
    return { result: await run(), stallMs };
  } finally {
    clearInterval(timer);
  }
}

test('a full spool: exports FAILED and counted in spansRefused, never thrown, never blocking; room again once ClickHouse is back', async () => {
  const fixture = recordChatTrace();
  const rowsPerExport = new UsageMapper({ prices: fx.prices }).mapAll(fixture.spans.map(fromReadableSpan)).rows.length;
  expect(rowsPerExport).toBeGreaterThan(0);
  fx.faulty.refuse({ forMs: 600_000 });
  const exporter = new GenAiLedgerExporter({
    client: fx.faulty, database, migrate: false, prices: fx.prices,
    spool: { dir: fx.freshDir(), maxBytes: 16 * 1024, segmentBytes: 4096, retryInitialMs: 50, retryMaxMs: 200 },
    writer: { meter: false, flushIntervalMs: 50, insertTimeoutMs: 2_000, retry: { initialBackoffMs: 5, maxBackoffMs: 20, maxAttempts: 2 } },
  });

  // Many exports at once (several BatchSpanProcessors flushing), ClickHouse down: the spool fills.
  const EXPORTS = 300;
  let syncMs = 0;
  const { result: results, stallMs } = await longestStall(async () => {
    const answers: Array<Promise<{ result: ExportResult; ms: number }>> = [];
    for (let i = 0; i < EXPORTS; i++) {
      const started = performance.now();
      answers.push(new Promise((resolve) => {
        expect(() => exporter.export(fixture.spans, (result) => resolve({ result, ms: performance.now() - started }))).not.toThrow();
      }));
      syncMs = Math.max(syncMs, performance.now() - started);
      if (i % 50 === 49) await new Promise((resolve) => setTimeout(resolve, 5));
    }
    return Promise.all(answers);
  });
  // export() hands the spans over and returns; each answer comes within a bounded time (generous
  // margins: the machine running the suite may be busy).
  expect(syncMs).toBeLessThan(1_000);
  expect(Math.max(...results.map((r) => r.ms))).toBeLessThan(15_000);
  expect(stallMs).toBeLessThan(1_000);

  const failed = results.filter((r) => r.result.code === ExportResultCode.FAILED);
  const succeeded = results.filter((r) => r.result.code === ExportResultCode.SUCCESS);
  expect(failed.length).toBeGreaterThan(0);
  expect(succeeded.length).toBeGreaterThan(0);
  expect(failed.length + succeeded.length).toBe(EXPORTS);
  const stats = exporter.stats();
  expect(stats?.spansRefused).toBe(failed.length * fixture.spans.length);
  expect(stats?.spool?.fullRejectedRows).toBeGreaterThanOrEqual(failed.length * rowsPerExport);
  expect(stats?.spool?.usedBytes).toBeLessThanOrEqual(16 * 1024);
  expect(stats?.spool?.appendedRows).toBe(succeeded.length * rowsPerExport);

  // forceFlush with ClickHouse down resolves (the rows stay in the spool), it does not hang.
  const flushed = await Promise.race([
    exporter.forceFlush().then(() => true),
    new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 20_000)),
  ]);
  expect(flushed).toBe(true);

  // ClickHouse back: the spool drains, room comes back, exports succeed again.
  fx.faulty.heal();
  const deadline = Date.now() + 30_000;
  let again: ExportResult | undefined;
  while (Date.now() < deadline) {
    again = await new Promise<ExportResult>((resolve) => exporter.export(fixture.spans, resolve));
    if (again.code === ExportResultCode.SUCCESS) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  expect(again?.code).toBe(ExportResultCode.SUCCESS);
  const acknowledged = (succeeded.length + 1) * rowsPerExport;
  while ((exporter.stats()?.spool?.pendingRows ?? 1) > 0 && Date.now() < deadline) {
    await exporter.forceFlush();
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  expect(exporter.stats()?.spool?.pendingRows).toBe(0);
  const shutdown = await Promise.race([
    exporter.shutdown().then(() => true),
    new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 20_000)),
  ]);
  expect(shutdown).toBe(true);
  // The acknowledged rows are stored: every export carries the same spans, so they count once.
  const { n } = await queryOne<{ n: string }>(fx.store.client, `SELECT toString(count()) AS n FROM ${database}.ai_usage_exact`);
  expect(Number(n)).toBe(rowsPerExport);
  expect(exporter.stats()?.spool?.committedRows).toBe(acknowledged);
}, 90_000);
