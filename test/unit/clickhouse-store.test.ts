import { describe, expect, test } from 'vitest';
import { resolve } from 'node:path';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_DATABASE, describeStore, parseStore, redactUrl, resolveStoreOption, storeDatabase } from '../../clickhouse/store.js';
import { findPackageRoot, migrationsDir, renderMigrations, renderTemplate, templateChecksum } from '../../clickhouse/migrate.js';
import { canonicalDecimal } from '../../clickhouse/prices.js';

describe('parseStore', () => {
  test('http URL with credentials and database', () => {
    const store = parseStore('https://alice:s3cr%40t@ch.example.com:8443/ledger');
    expect(store.kind).toBe('http');
    if (store.kind !== 'http') return;
    expect(store.database).toBe('ledger');
    expect(store.url.hostname).toBe('ch.example.com');
    expect(store.url.port).toBe('8443');
    expect(redactUrl(store.url)).toBe('https://alice:***@ch.example.com:8443/ledger');
    expect(describeStore(store)).not.toContain('s3cr');
  });

  test('http URL without a database uses genai_ledger', () => {
    const store = parseStore('http://localhost:8123');
    expect(store).toMatchObject({ kind: 'http', database: DEFAULT_DATABASE });
    expect(storeDatabase(store)).toBe('genai_ledger');
    expect(storeDatabase(store, { database: 'other' })).toBe('other');
  });

  test('anything else is a directory, made absolute', () => {
    expect(parseStore('./.genai-ledger')).toEqual({ kind: 'embedded', path: resolve('./.genai-ledger') });
    expect(parseStore('/var/lib/ledger')).toEqual({ kind: 'embedded', path: '/var/lib/ledger' });
    expect(storeDatabase(parseStore('/x'))).toBe('genai_ledger');
  });

  test('invalid database names and URLs are refused without leaking the password', () => {
    expect(() => parseStore('http://u:hunter2@host:8123/bad-name')).toThrow(/invalid database name/);
    try {
      parseStore('http://u:hunter2@host:8123/bad-name');
    } catch (err) {
      expect(String(err)).not.toContain('hunter2');
    }
    try {
      parseStore('http://u:hunter2@[::bad');
      expect.unreachable();
    } catch (err) {
      expect(String(err)).not.toContain('hunter2');
    }
  });
});

describe('resolveStoreOption', () => {
  test('flag, then GENAI_LEDGER_STORE, then CLICKHOUSE_URL, then ./.genai-ledger', () => {
    const env = { GENAI_LEDGER_STORE: '/store', CLICKHOUSE_URL: 'http://ch:8123' };
    expect(resolveStoreOption('/flag', env)).toBe('/flag');
    expect(resolveStoreOption(undefined, env)).toBe('/store');
    expect(resolveStoreOption(undefined, { CLICKHOUSE_URL: 'http://ch:8123' })).toBe('http://ch:8123');
    expect(resolveStoreOption(undefined, {})).toBe('./.genai-ledger');
    expect(resolveStoreOption('', { GENAI_LEDGER_STORE: ' ' })).toBe('./.genai-ledger');
  });
});

describe('migrations', () => {
  test('the SQL files are found from the package root', () => {
    const root = findPackageRoot();
    expect(existsSync(join(root, 'package.json'))).toBe(true);
    expect(migrationsDir()).toBe(join(root, 'clickhouse', 'migrations'));
    expect(renderMigrations({ database: 'db' }).map((m) => `${m.version}_${m.name}`)).toEqual([
      '1_ai_usage',
      '2_rollups',
      '3_model_prices',
      '4_rollup_layout',
      '5_small_rollups',
      '6_conversations_unpriced',
      '7_budgets',
      '8_rate_cards',
      '9_provider_bills',
      '10_users_rollup',
      '11_billing_watermark',
      '12_org_service_feature_rollup',
      '13_budget_spend',
      '14_top_conversations',
    ]);
  });

  test('single node: no cluster constructs, no placeholders left', () => {
    const sql = renderMigrations({ database: 'ledger' }).flatMap((m) => m.statements).join(';\n');
    expect(sql).not.toMatch(/ON CLUSTER|Replicated|Distributed|\{\{/);
    expect(sql).toContain('CREATE TABLE IF NOT EXISTS ledger.ai_usage\n');
    expect(sql).toContain('ENGINE = ReplacingMergeTree(inserted_at)');
    expect(sql).toContain('non_replicated_deduplication_window');
    expect(sql).not.toContain('TTL toDateTime');
  });

  test('cluster mode renders ON CLUSTER, Replicated engines and Distributed tables', () => {
    const migrations = renderMigrations({ database: 'ledger', cluster: 'prod_cluster', ttlDays: 90 });
    const statements = migrations.flatMap((m) => m.statements);
    const sql = statements.join(';\n');
    expect(sql).not.toContain('{{');
    for (const s of statements) {
      if (/^CREATE (TABLE|VIEW|MATERIALIZED VIEW|DATABASE)/.test(s)) expect(s).toContain('ON CLUSTER `prod_cluster`');
    }
    expect(sql).toContain(
      "ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', inserted_at)",
    );
    expect(sql).toContain("ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', version, is_deleted)");
    expect(sql).toContain("ReplicatedReplacingMergeTree('/clickhouse/tables/all/{database}/{table}', '{shard}-{replica}', loaded_at, is_deleted)");
    expect(sql).toContain(
      "CREATE TABLE IF NOT EXISTS ledger.ai_usage ON CLUSTER `prod_cluster` AS ledger.ai_usage_local\nENGINE = Distributed('prod_cluster', 'ledger', 'ai_usage_local', cityHash64(trace_id, span_id))",
    );
    expect(sql).toContain("Distributed('prod_cluster', 'ledger', 'ai_usage_hourly_local', rand())");
    expect(sql).toContain("Distributed('prod_cluster', 'ledger', 'ai_usage_daily_local', rand())");
    for (const small of ['by_model', 'by_org', 'by_feature', 'by_org_model']) {
      expect(sql).toContain(`Distributed('prod_cluster', 'ledger', 'ai_usage_hourly_${small}_local', rand())`);
      expect(sql).toMatch(new RegExp(`APPEND TO ledger\\.ai_usage_hourly_${small}_local[\\s\\S]*?FROM ledger\\.ai_usage_hourly_by_time_local FINAL`));
    }
    expect(sql).toContain("Distributed('prod_cluster', 'ledger', 'ai_usage_latency_daily_local', rand())");
    expect(sql).toContain("Distributed('prod_cluster', 'ledger', 'ai_usage_daily_by_org_local', rand())");
    expect(sql).toMatch(/APPEND TO ledger\.ai_usage_daily_by_org_local[\s\S]*?FROM ledger\.ai_usage_hourly_by_org_local FINAL/);
    expect(sql).toContain("Distributed('prod_cluster', 'ledger', 'ai_usage_hourly_by_org_conversation_local', rand())");
    expect(sql).toMatch(/APPEND TO ledger\.ai_usage_hourly_by_org_conversation_local[\s\S]*?FROM ledger\.ai_usage_local AS u FINAL/);
    expect(sql).toContain("Distributed('prod_cluster', 'ledger', 'ai_usage_unpriced_local', rand())");
    expect(sql).toMatch(/APPEND TO ledger\.ai_usage_unpriced_local[\s\S]*?FROM ledger\.ai_usage_local AS u FINAL/);
    expect(sql).toMatch(/APPEND TO ledger\.ai_usage_latency_daily_local[\s\S]*?FROM ledger\.ai_usage_latency_hourly_local FINAL/);
    // The refreshes work shard-locally, on the local tables.
    expect(sql).toMatch(/APPEND TO ledger\.ai_usage_hourly_local[\s\S]*FROM ledger\.ai_usage_local FINAL/);
    expect(sql).toContain('TTL toDateTime(ts) + INTERVAL 90 DAY DELETE');
    expect(sql).toContain('WHERE inserted_at > since AND toStartOfHour(ts) >= now() - INTERVAL 90 DAY)');
    // Same templates, same checksums whatever the options.
    expect(migrations.map((m) => m.checksum)).toEqual(renderMigrations({ database: 'x' }).map((m) => m.checksum));
  });

  test('options are validated', () => {
    expect(() => renderMigrations({ database: 'bad-db' })).toThrow(/database/);
    expect(() => renderMigrations({ database: 'db', cluster: 'a b' })).toThrow(/cluster/);
    expect(() => renderMigrations({ database: 'db', ttlDays: 0 })).toThrow(/ttlDays/);
  });

  test('template splitting: comments dropped, cluster-only statements, unknown placeholders', () => {
    const text = '-- header {{not_a_placeholder}};\nCREATE A {{database}};\n\n-- @cluster-only\nCREATE B{{on_cluster}};\nSELECT 1';
    expect(renderTemplate(text, { database: 'd' })).toEqual(['CREATE A d', 'SELECT 1']);
    expect(renderTemplate(text, { database: 'd', cluster: 'c' })).toEqual(['CREATE A d', 'CREATE B ON CLUSTER `c`', 'SELECT 1']);
    expect(() => renderTemplate('SELECT {{nope}}', { database: 'd' })).toThrow(/nope/);
  });

  test('checksums ignore comments and blank lines, not statements', () => {
    const base = templateChecksum('-- a\nCREATE A;\nCREATE B;\n');
    expect(templateChecksum('-- a reworded comment\n\nCREATE A;\n\n-- more\nCREATE B;\n')).toBe(base);
    expect(templateChecksum('CREATE A;\nCREATE B2;\n')).not.toBe(base);
  });
});

describe('model prices', () => {
  test('canonical decimals', () => {
    expect(canonicalDecimal('0.0000025000')).toBe('0.0000025');
    expect(canonicalDecimal('002.50')).toBe('2.5');
    expect(canonicalDecimal('3.000')).toBe('3');
    expect(canonicalDecimal('-0.0')).toBe('0');
    expect(canonicalDecimal(15)).toBe('15');
  });
});
