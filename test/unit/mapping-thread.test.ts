/**
 * MappingThread: the real worker maps a batch as the app's thread would; a worker that fails
 * answers every batch in flight with the error (nothing thrown, nothing left waiting) and stays
 * failed; an idle worker does not keep the process alive; on Linux it runs at its own nice value.
 */
import { existsSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { generateSpans } from '../../bench/support/traffic.js';
import type { MappedBatch } from '../../delivery/ledger.js';
import { UsageMapper } from '../../usage/mapper.js';
import { MappingThread } from '../../delivery/mapping-thread.js';
import { loadPriceBook } from '../../pricing/index.js';
import { fromReadableSpan } from '../../exporter/readable-span.js';
import { SpanWire } from '../../exporter/span-wire.js';
import { SPAN_BATCH_JOB, submitSpanBatch } from '../../exporter/span-batch-job.js';
import { linesOfChunk } from '../../clickhouse/row-chunk.js';
import { serializeRow } from '../../clickhouse/serialize.js';
import { threadInfo } from '../support/threads.js';

const submit = (thread: MappingThread, wire: SpanWire, spans = generateSpans({ spans: 200, aiShare: 1, seed: 4 })) =>
  new Promise<MappedBatch | Error>((resolve) => {
    const encoded = wire.encode(spans);
    submitSpanBatch(thread, encoded.batch, encoded.sent, resolve);
  });

async function until(condition: () => boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A stand-in worker: says it is ready, then dies on the first batch. */
const dyingWorker = () => new Worker(
  `const { parentPort } = require('node:worker_threads');
   parentPort.postMessage({ ready: true });
   parentPort.on('message', () => { throw new Error('worker crashed'); });`,
  { eval: true },
);

describe('MappingThread', () => {
  it('maps, prices and serializes a batch as the app thread would', async () => {
    const thread = MappingThread.start({}, [SPAN_BATCH_JOB])!;
    await until(() => thread.ready);
    const spans = generateSpans({ spans: 500, aiShare: 0.5, seed: 8 });
    const wire = new SpanWire();
    const encoded = wire.encode(spans);
    const outcome = await new Promise<MappedBatch | Error>((resolve) => submitSpanBatch(thread, encoded.batch, encoded.sent, resolve));
    expect(thread.spansInFlight).toBe(0);
    const expected = new UsageMapper({ prices: await loadPriceBook() }).mapAll(spans.map(fromReadableSpan));
    expect(outcome).toMatchObject({ spans: encoded.sent, skipped: expected.skipped - encoded.skipped, malformed: 0, unserializable: [] });
    expect(linesOfChunk((outcome as MappedBatch).chunk)).toEqual(expected.rows.map(serializeRow));
    expect((outcome as MappedBatch).chunk.digest).toMatch(/^[0-9a-f]{64}$/);
    await thread.close();
    expect(thread.failed).toBeUndefined();
  });

  it('answers every batch in flight with the error when the worker dies, and stays failed', async () => {
    const thread = MappingThread.start({}, [SPAN_BATCH_JOB], dyingWorker)!;
    await until(() => thread.ready);
    const wire = new SpanWire();
    const outcomes = await Promise.all([submit(thread, wire), submit(thread, wire)]);
    for (const outcome of outcomes) expect(outcome).toBeInstanceOf(Error);
    expect(thread.failed?.message).toContain('worker crashed');
    expect(thread.spansInFlight).toBe(0);
    await thread.drained();
    expect(await submit(thread, wire)).toBe(thread.failed);
    await thread.close();
  });

  it('reports a worker that cannot start (its price book fails to load)', async () => {
    const thread = MappingThread.start({ prices: '/nonexistent/prices.yaml' }, [SPAN_BATCH_JOB])!;
    await until(() => thread.failed !== undefined);
    expect(thread.ready).toBe(false);
    await thread.close();
  });

  it('is not started for a price book made in code', async () => {
    const book = await loadPriceBook();
    expect(MappingThread.start({ prices: { ...book, quote: book.quote.bind(book), listPrices: book.listPrices.bind(book), describe: book.describe.bind(book), loadOptions: undefined } }, [SPAN_BATCH_JOB])).toBeUndefined();
  });

  it.runIf(existsSync('/proc/thread-self'))('runs at nice 10 by default, or mappingThreadNice, leaving the app\'s threads as they were', async () => {
    for (const [options, nice] of [[{}, 10], [{ mappingThreadNice: 4 }, 4]] as const) {
      const before = threadInfo();
      const thread = MappingThread.start(options, [SPAN_BATCH_JOB])!;
      await until(() => thread.ready);
      const after = threadInfo();
      const added = [...after].filter(([tid]) => !before.has(tid)).map(([, t]) => t.nice);
      expect(added).toContain(nice);
      for (const [tid, t] of before) if (after.has(tid)) expect(after.get(tid)!.nice).toBe(t.nice);
      await thread.close();
    }
  });
});
