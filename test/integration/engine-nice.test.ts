/**
 * An app's embedded store, opened by the ledger itself, runs the engine's threads at nice 10 on
 * Linux (DEFAULT_ENGINE_NICE): under CPU contention the app's threads run before the inserts.
 * Its own file: the engine, and so its threads' priority, is one per process.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_ENGINE_NICE, Ledger } from '../../delivery/ledger.js';
import { threadInfo } from '../support/threads.js';

describe.runIf(existsSync('/proc/thread-self'))('the embedded engine\'s priority (Linux)', () => {
  it(`Ledger.open runs the engine's threads at nice ${DEFAULT_ENGINE_NICE} and leaves the app's alone`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'genai-ledger-nice-'));
    const before = threadInfo();
    const ledger = await Ledger.open({ store: dir, deadLetter: false });
    try {
      const after = threadInfo();
      const engine = [...after].filter(([tid, t]) => !before.has(tid) && t.name !== 'node').map(([, t]) => t);
      expect(engine.length).toBeGreaterThan(0);
      for (const t of engine) expect(t.nice, t.name).toBe(DEFAULT_ENGINE_NICE);
      for (const [tid, t] of after) if (before.has(tid)) expect(t.nice, t.name).toBe(before.get(tid)!.nice);
    } finally {
      await ledger.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
