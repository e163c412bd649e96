/**
 * Schema, migrations and the price table against the embedded engine (one temp store for the file).
 */
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { migrate, refreshRollups, renderMigrations } from '../../clickhouse/migrate.js';
import { createStoreClient } from '../../clickhouse/store.js';
import { syncModelPrices, type ModelPriceRow } from '../../clickhouse/prices.js';
import { classifyInsertError, clickhouseErrorCode } from '../../delivery/writer/errors.js';
import { openTestStore, queryOne, queryRows, type TestStore } from '../support/store.js';

let store: TestStore;
beforeAll(async () => {
  store = await openTestStore();
});
afterAll(async () => store?.close());

const TABLES = [
  'ai_usage', 'ai_usage_daily', 'ai_usage_daily_by_org', 'ai_usage_daily_by_org_exact', 'ai_usage_daily_by_org_refresh',
  'ai_usage_daily_exact', 'ai_usage_daily_refresh',
  'ai_usage_daily_top_conversations', 'ai_usage_daily_top_conversations_exact', 'ai_usage_daily_top_conversations_refresh', 'ai_usage_exact', 'ai_usage_hourly',
  'ai_usage_hourly_by_feature', 'ai_usage_hourly_by_feature_exact', 'ai_usage_hourly_by_feature_refresh',
  'ai_usage_hourly_by_model', 'ai_usage_hourly_by_model_exact', 'ai_usage_hourly_by_model_refresh',
  'ai_usage_hourly_by_org', 'ai_usage_hourly_by_org_conversation', 'ai_usage_hourly_by_org_conversation_exact', 'ai_usage_hourly_by_org_conversation_refresh', 'ai_usage_hourly_by_org_exact', 'ai_usage_hourly_by_org_model', 'ai_usage_hourly_by_org_model_exact',
  'ai_usage_hourly_by_org_model_refresh', 'ai_usage_hourly_by_org_refresh',
  'ai_usage_hourly_by_org_service_feature', 'ai_usage_hourly_by_org_service_feature_exact', 'ai_usage_hourly_by_org_service_feature_refresh',
  'ai_usage_hourly_by_org_user', 'ai_usage_hourly_by_org_user_exact', 'ai_usage_hourly_by_org_user_refresh',
  'ai_usage_hourly_by_time', 'ai_usage_hourly_by_time_exact', 'ai_usage_hourly_by_time_refresh', 'ai_usage_hourly_exact',
  'ai_usage_hourly_refresh', 'ai_usage_latency_daily', 'ai_usage_latency_daily_exact', 'ai_usage_latency_daily_refresh', 'ai_usage_latency_hourly', 'ai_usage_latency_hourly_exact', 'ai_usage_latency_hourly_refresh',
  'ai_usage_unpriced', 'ai_usage_unpriced_exact', 'ai_usage_unpriced_refresh', 'billed_daily', 'billed_daily_exact', 'billing_watermark', 'budget_alerts',
  'budget_spend_hourly', 'budget_spend_hourly_exact', 'budget_spend_hourly_refresh', 'budgets',
  'model_prices', 'model_prices_exact', 'provider_costs', 'provider_costs_exact', 'provider_usage', 'provider_usage_exact', 'rate_cards', 'rate_cards_exact', 'schema_migrations',
];

/** Every migration file's version, in order. */
const VERSIONS = renderMigrations({ database: 'genai_ledger' }).map((m) => m.version);

describe('migrations', () => {
  test('apply once, re-apply is a no-op, two concurrent migrators both succeed', async () => {
    const { client } = store;
    // Two connections to the same directory run statements in parallel, like two collectors.
    const other = await createStoreClient({ kind: 'embedded', path: store.dir });
    const [a, b] = await Promise.all([migrate(client, { database: 'racing' }), migrate(other, { database: 'racing' })]);
    await other.close();
    expect(a.applied.length + a.skipped.length).toBe(VERSIONS.length);
    expect(b.applied.length + b.skipped.length).toBe(VERSIONS.length);

    const first = await migrate(client, { database: 'genai_ledger', ttlDays: 400 });
    expect(first.applied.map((m) => m.version)).toEqual(VERSIONS);
    const tables = await queryRows<{ name: string }>(client, "SELECT name FROM system.tables WHERE database = 'genai_ledger' ORDER BY name");
    expect(tables.map((t) => t.name)).toEqual(TABLES);
    const create = await queryOne<{ q: string }>(client, "SELECT create_table_query AS q FROM system.tables WHERE database = 'genai_ledger' AND name = 'ai_usage'");
    expect(create.q).toContain('TTL toDateTime(ts) + toIntervalDay(400)');

    const again = await migrate(client, { database: 'genai_ledger' });
    expect(again.applied).toEqual([]);
    expect(again.skipped.map((m) => m.version)).toEqual(VERSIONS);
    const recorded = await queryRows<{ version: number; name: string; checksum: string }>(
      client,
      'SELECT version, name, checksum FROM genai_ledger.schema_migrations FINAL ORDER BY version',
    );
    expect(recorded).toEqual(renderMigrations({ database: 'genai_ledger' }).map(({ version, name, checksum }) => ({ version, name, checksum })));

    // The racing database ended up complete and recorded once per version.
    const racing = await queryRows<{ version: number }>(client, 'SELECT version FROM racing.schema_migrations FINAL ORDER BY version');
    expect(racing.map((r) => r.version)).toEqual(VERSIONS);
    const racingTables = await queryRows<{ name: string }>(client, "SELECT name FROM system.tables WHERE database = 'racing' ORDER BY name");
    expect(racingTables.map((t) => t.name)).toEqual(TABLES);
  });

  test('the embedded engine runs the rollup refreshes (Atomic database, refreshable views)', async () => {
    await refreshRollups(store.client, { database: 'genai_ledger' });
    const refreshes = await queryRows<{ view: string; exception: string }>(
      store.client,
      "SELECT view, exception FROM system.view_refreshes WHERE database = 'genai_ledger' ORDER BY view",
    );
    expect(refreshes).toEqual([
      { view: 'ai_usage_daily_by_org_refresh', exception: '' },
      { view: 'ai_usage_daily_refresh', exception: '' },
      { view: 'ai_usage_daily_top_conversations_refresh', exception: '' },
      { view: 'ai_usage_hourly_by_feature_refresh', exception: '' },
      { view: 'ai_usage_hourly_by_model_refresh', exception: '' },
      { view: 'ai_usage_hourly_by_org_conversation_refresh', exception: '' },
      { view: 'ai_usage_hourly_by_org_model_refresh', exception: '' },
      { view: 'ai_usage_hourly_by_org_refresh', exception: '' },
      { view: 'ai_usage_hourly_by_org_service_feature_refresh', exception: '' },
      { view: 'ai_usage_hourly_by_org_user_refresh', exception: '' },
      { view: 'ai_usage_hourly_by_time_refresh', exception: '' },
      { view: 'ai_usage_hourly_refresh', exception: '' },
      { view: 'ai_usage_latency_daily_refresh', exception: '' },
      { view: 'ai_usage_latency_hourly_refresh', exception: '' },
      { view: 'ai_usage_unpriced_refresh', exception: '' },
      { view: 'budget_spend_hourly_refresh', exception: '' },
    ]);
  });
});

describe('embedded connection', () => {
  test('per-query settings do not leak into later statements (chDB applies them as session SETs)', async () => {
    const { client } = store;
    await client.command({ query: 'CREATE TABLE leak (x UInt32) ENGINE = MergeTree ORDER BY x SETTINGS non_replicated_deduplication_window = 100' });
    await client.insert({ table: 'leak', values: [{ x: 1 }], format: 'JSONEachRow', clickhouse_settings: { insert_deduplication_token: 'tok' } });
    await client.insert({ table: 'leak', values: [{ x: 1 }], format: 'JSONEachRow', clickhouse_settings: { insert_deduplication_token: 'tok' } });
    // Without the reset, this insert would still carry token 'tok' and be dropped as a duplicate.
    await client.insert({ table: 'leak', values: [{ x: 2 }], format: 'JSONEachRow' });
    expect(await queryOne(client, "SELECT count() AS n, getSetting('insert_deduplication_token') AS token FROM leak")).toEqual({ n: 2, token: '' });
  });

  test('an exec with a body goes to the engine as bytes: settings per insert, errors with their ClickHouse code', async () => {
    const { client } = store;
    await client.command({ query: 'CREATE TABLE raw (x UInt32, s String) ENGINE = MergeTree ORDER BY x SETTINGS non_replicated_deduplication_window = 100' });
    const insert = (body: string, settings: Record<string, string | number> = {}) => client.exec({
      query: 'INSERT INTO genai_ledger.raw (x, s) FORMAT JSONCompactEachRow',
      values: Readable.from([Buffer.from(body.slice(0, 5)), Buffer.from(body.slice(5))]),
      clickhouse_settings: settings,
    });
    await client.query({ query: 'SELECT 1', clickhouse_settings: { max_threads: 3 } });
    await insert('[1,"é"]\n[2,"🙂"]\n', { insert_deduplication_token: 'raw-1' });
    await insert('[1,"é"]\n[2,"🙂"]\n', { insert_deduplication_token: 'raw-1' }); // the same token: dropped
    await insert('[3,"c"]\n');
    const error = await insert('[4,"d"]\n["five","e"]\n').catch((e: unknown) => e);
    expect(classifyInsertError(error)).toBe('rows');
    expect(clickhouseErrorCode(error)).toBe(27); // CANNOT_PARSE_INPUT_ASSERTION_FAILED
    expect(await queryRows(client, 'SELECT x, s FROM raw ORDER BY x')).toEqual([{ x: 1, s: 'é' }, { x: 2, s: '🙂' }, { x: 3, s: 'c' }]);
    // Neither the insert's settings nor the query's before it stick to the session.
    expect(await queryOne(client, "SELECT getSetting('insert_deduplication_token') AS token, getSetting('max_threads') != 3 AS reset")).toEqual({ token: '', reset: 1 });
  });
});

const price = (overrides: Partial<ModelPriceRow>): ModelPriceRow => ({
  source: 'genai-prices@0.1.8',
  provider_id: 'openai',
  model_id: 'gpt-4o',
  model_match: '{"starts_with":"gpt-4o"}',
  effective_from: '1970-01-01',
  time_of_day: '',
  price_key: 'input_mtok',
  unit: 'input_tokens',
  per: 1_000_000,
  price: '2.5',
  tiers: [],
  ...overrides,
});

describe('syncModelPrices', () => {
  const current = (client: TestStore['client']) =>
    queryRows<Record<string, unknown>>(
      client,
      `SELECT provider_id, model_id, price_key, toString(effective_from) AS effective_from, toString(price) AS price,
              arrayMap(t -> (t.1, toString(t.2)), tiers) AS tiers
       FROM genai_ledger.model_prices_exact ORDER BY provider_id, model_id, price_key, effective_from`,
    );

  test('replaces the content, idempotently', async () => {
    const { client } = store;
    const book = [
      price({}),
      price({ price_key: 'output_mtok', unit: 'output_tokens', price: '10' }),
      price({ effective_from: '2026-06-01', price: '2.00' }),
      price({ provider_id: 'anthropic', model_id: 'claude-sonnet-4', model_match: '{}', price: '3', tiers: [{ start: 200_000, price: '6' }] }),
    ];
    expect(await syncModelPrices(client, book, { table: 'genai_ledger.model_prices' })).toEqual({ upserted: 4, deleted: 0, unchanged: 0 });
    const first = await current(client);
    expect(first).toHaveLength(4);
    expect(first[0]).toEqual({ provider_id: 'anthropic', model_id: 'claude-sonnet-4', price_key: 'input_mtok', effective_from: '1970-01-01', price: '3', tiers: [[200000, '6']] });

    // Same book again: nothing written at all.
    const rowsBefore = await queryOne<{ n: number }>(client, 'SELECT count() AS n FROM genai_ledger.model_prices');
    expect(await syncModelPrices(client, book, { table: 'genai_ledger.model_prices' })).toEqual({ upserted: 0, deleted: 0, unchanged: 4 });
    expect(await queryOne(client, 'SELECT count() AS n FROM genai_ledger.model_prices')).toEqual(rowsBefore);

    // A changed price, a removed row, a new row.
    const next = [book[0] as ModelPriceRow, price({ price_key: 'output_mtok', unit: 'output_tokens', price: '12.5' }), price({ model_id: 'gpt-4.1', price: '2' })];
    expect(await syncModelPrices(client, next, { table: 'genai_ledger.model_prices' })).toEqual({ upserted: 2, deleted: 2, unchanged: 1 });
    expect((await current(client)).map((r) => `${r.model_id}/${r.price_key}@${r.effective_from}=${r.price}`)).toEqual([
      'gpt-4.1/input_mtok@1970-01-01=2',
      'gpt-4o/input_mtok@1970-01-01=2.5',
      'gpt-4o/output_mtok@1970-01-01=12.5',
    ]);
    expect(await syncModelPrices(client, next, { table: 'genai_ledger.model_prices' })).toEqual({ upserted: 0, deleted: 0, unchanged: 3 });

    // Empty book empties the table (as seen through FINAL).
    expect(await syncModelPrices(client, [], { table: 'genai_ledger.model_prices' })).toEqual({ upserted: 0, deleted: 3, unchanged: 0 });
    expect(await current(client)).toEqual([]);
  });
});
