/**
 * What a fault-test file shares: one embedded store (chDB: one data directory per process) whose
 * rollups refresh only when a test asks (a scheduled refresh between a TRUNCATE and the next
 * writes would fold the previous test's rows in), a fault-injecting client on it, the price book,
 * and a temp directory for spools. Registers the file's beforeAll/afterAll; read the fields inside
 * tests.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { loadPriceBook, type PriceBook } from '../../../pricing/index.js';
import { createFaultyClient, type FaultyClient } from '../../support/faulty-client.js';
import { openTestStore, type TestStore } from '../../support/store.js';

export const FAULT_DATABASE = 'genai_ledger';

export interface FaultStore {
  store: TestStore;
  faulty: FaultyClient;
  prices: PriceBook;
  /** A new directory under the file's temp directory, on each call. */
  freshDir(): string;
}

export function useFaultStore(name: string): FaultStore {
  const base = mkdtempSync(join(tmpdir(), `genai-ledger-${name}-`));
  let dirs = 0;
  const fixture = { freshDir: () => join(base, `spool${++dirs}`) } as FaultStore;
  beforeAll(async () => {
    fixture.store = await openTestStore({ migrate: { database: FAULT_DATABASE, refreshSeconds: 315_360_000 } });
    fixture.faulty = createFaultyClient(fixture.store.client);
    fixture.prices = await loadPriceBook();
  });
  afterAll(async () => {
    await fixture.store?.close();
    rmSync(base, { recursive: true, force: true });
  });
  return fixture;
}
