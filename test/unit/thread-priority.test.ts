/**
 * The ledger's threads yield to the app's on Linux: EngineThreadNicer gives threads a native
 * engine starts (named unlike Node's) a nice value, and an embedded store opened with
 * `engineNice` has its engine's threads at that value, Node's and the app's left as they were.
 */
import { existsSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { afterAll, describe, expect, it } from 'vitest';
import { createStoreClient } from '../../clickhouse/store.js';
import { EngineThreadNicer } from '../../delivery/thread-priority.js';
import { openTestStore, type TestStore } from '../support/store.js';
import { threadInfo as threads } from '../support/threads.js';

/** A worker thread that names itself `name` when told to, and says its thread id. */
async function namedThread(): Promise<{ tid: number; rename: (name: string) => Promise<void>; stop: () => Promise<number> }> {
  const worker = new Worker(`
    const { parentPort } = require('node:worker_threads');
    const { readlinkSync, writeFileSync } = require('node:fs');
    parentPort.on('message', (name) => { writeFileSync('/proc/thread-self/comm', name); parentPort.postMessage('named'); });
    parentPort.postMessage(Number(readlinkSync('/proc/thread-self').split('/').pop()));
  `, { eval: true });
  const tid = await new Promise<number>((resolve) => worker.once('message', resolve));
  return {
    tid,
    rename: (name) => new Promise((resolve) => {
      worker.once('message', () => resolve());
      worker.postMessage(name);
    }),
    stop: () => worker.terminate(),
  };
}

describe.runIf(existsSync('/proc/thread-self'))('thread priority (Linux)', () => {
  it('EngineThreadNicer renices threads named unlike Node\'s, also once a new thread names itself later', async () => {
    const nicer = new EngineThreadNicer(9);
    const before = threads();
    const engine = await namedThread();
    const plain = await namedThread();
    try {
      await engine.rename('FakeEngine');
      nicer.renice();
      // Still named after its creator: looked at again next time.
      expect(threads().get(plain.tid)!.nice).toBe(0);
      await plain.rename('LateEngine');
      nicer.renice();
      const after = threads();
      expect(after.get(engine.tid)).toEqual({ name: 'FakeEngine', nice: 9 });
      expect(after.get(plain.tid)).toEqual({ name: 'LateEngine', nice: 9 });
      for (const [tid, info] of before) if (after.has(tid)) expect(after.get(tid)!.nice, info.name).toBe(info.nice);
    } finally {
      await engine.stop();
      await plain.stop();
    }
  });

  it('stops looking at a thread that keeps a Node name for several scans (a scan then only lists threads)', async () => {
    const nicer = new EngineThreadNicer(9);
    const late = await namedThread();
    try {
      for (let i = 0; i < 3; i++) nicer.renice();
      await late.rename('TooLate');
      nicer.renice();
      expect(threads().get(late.tid)).toEqual({ name: 'TooLate', nice: 0 });
    } finally {
      await late.stop();
    }
  });

  describe('an embedded store opened with engineNice', () => {
    let store: TestStore;
    afterAll(async () => store?.close());

    it('runs the engine\'s threads at that nice value and leaves Node\'s as they were', async () => {
      const before = threads();
      store = await openTestStore({ migrate: true, engineNice: 7 });
      await store.client.command({ query: 'SELECT sum(number) FROM numbers_mt(10000000) FORMAT Null' });
      const after = threads();
      const engine = [...after].filter(([tid]) => !before.has(tid) && after.get(tid)!.name !== 'node');
      expect(engine.length).toBeGreaterThan(0);
      for (const [, info] of engine) expect(info.nice, info.name).toBe(7);
      for (const [tid, info] of before) if (after.has(tid)) expect(after.get(tid)!.nice, info.name).toBe(info.nice);
    });

    it('the engine is one per process: a later store without engineNice keeps the first setting', async () => {
      // createStoreClient itself (not openTestStore's default) on the same directory: a second connection to the one engine.
      const client = await createStoreClient({ kind: 'embedded', path: store.dir });
      await client.command({ query: 'SELECT 1' });
      await client.close();
      const engine = [...threads().values()].filter((t) => t.name !== 'node');
      expect(engine.every((t) => t.nice === 7)).toBe(true);
    });
  });
});
