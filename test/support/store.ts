/**
 * Embedded-store fixtures for tests. chDB binds one data directory per process and a directory
 * to one process, and vitest runs each test file in its own fork: every test file opens ONE
 * fresh temp directory (openTestStore in beforeAll) and closes/removes it in afterAll.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClickHouseClient } from '@clickhouse/client';
import { createStoreClient } from '../../clickhouse/store.js';
import { migrate, type MigrationOptions } from '../../clickhouse/migrate.js';
import type { UsageRow } from '../../usage/usage-row.js';

export interface TestStore {
  dir: string;
  database: string;
  client: ClickHouseClient;
  close(): Promise<void>;
}

export async function openTestStore(options: { database?: string; migrate?: boolean | Partial<MigrationOptions> } = {}): Promise<TestStore> {
  const dir = mkdtempSync(join(tmpdir(), 'genai-ledger-test-'));
  const database = options.database ?? 'genai_ledger';
  const client = await createStoreClient({ kind: 'embedded', path: dir }, { database });
  if (options.migrate) {
    await migrate(client, { database, ...(typeof options.migrate === 'object' ? options.migrate : {}) });
  }
  return {
    dir,
    database,
    client,
    async close() {
      await client.close().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function queryRows<T = Record<string, unknown>>(client: ClickHouseClient, query: string, query_params?: Record<string, unknown>): Promise<T[]> {
  const rs = await client.query({ query, format: 'JSONEachRow', ...(query_params ? { query_params } : {}) });
  return rs.json<T>();
}

export async function queryOne<T = Record<string, unknown>>(client: ClickHouseClient, query: string, query_params?: Record<string, unknown>): Promise<T> {
  const rows = await queryRows<T>(client, query, query_params);
  if (rows.length !== 1) throw new Error(`expected one row, got ${rows.length}: ${query}`);
  return rows[0] as T;
}

const HEX = '0123456789abcdef';
function hex(n: number, width: number): string {
  let out = '';
  let v = n;
  for (let i = 0; i < width; i++) {
    out = (HEX[v & 15] as string) + out;
    v = Math.floor(v / 16);
  }
  return out;
}

/** A deterministic, fully populated usage row; `i` makes trace/span ids unique. */
export function usageRow(i: number, overrides: Partial<UsageRow> = {}): UsageRow {
  const second = i % 3600;
  const ts = `2026-03-14 ${String(9 + Math.floor(i / 3600) % 10).padStart(2, '0')}:${String(Math.floor(second / 60)).padStart(2, '0')}:${String(second % 60).padStart(2, '0')}.${String(i % 1_000_000).padStart(6, '0')}`;
  return {
    ts,
    trace_id: hex(i, 32),
    span_id: hex(i * 7 + 1, 16),
    parent_span_id: '',
    duration_ms: 100 + (i % 900),
    service_name: 'checkout',
    environment: 'prod',
    provider: 'openai',
    operation: 'chat',
    request_model: i % 2 === 0 ? 'gpt-4o' : 'gpt-4o-mini',
    response_model: i % 2 === 0 ? 'gpt-4o-2024-08-06' : 'gpt-4o-mini-2024-07-18',
    priced_model: i % 2 === 0 ? 'openai/gpt-4o' : 'openai/gpt-4o-mini',
    org_id: `org-${i % 3}`,
    user_id: `user-${i % 17}`,
    feature: 'summarize',
    conversation_id: `conv-${i % 101}`,
    input_tokens: 1000,
    output_tokens: 200,
    cache_read_tokens: 100,
    cache_write_tokens: 0,
    reasoning_tokens: 50,
    input_audio_tokens: 0,
    output_audio_tokens: 0,
    usage_details: {},
    cost_usd: '0.00472',
    cost_breakdown: { input: '0.00225', cache_read: '0.000125', output: '0.002345' },
    price_source: 'genai-prices@0.1.8',
    error_type: '',
    instrumentation: '@opentelemetry/instrumentation-openai',
    attributes: { 'gen_ai.response.id': `resp-${i}` },
    ...overrides,
  };
}
