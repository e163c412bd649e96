/**
 * The cluster schema (`migrate(client, { cluster })`) keeps the single-node rollups: rendered
 * ON CLUSTER, every statement of the single-node schema appears in the same order with the same
 * columns, sorting keys and SELECTs once table names (`_local`), `ON CLUSTER` and the Replicated
 * engines' arguments are set aside; what the cluster adds is only Distributed tables (and the ALTERs
 * that keep them in step). Each declared rollup is a Replicated table per shard, refreshed on every
 * shard from that shard's own tables (never through a Distributed table, so each shard folds its
 * own calls once), read through its `_exact` view over the Distributed table (every shard).
 * No store: the statements as migrate() would run them.
 */
import { describe, expect, test } from 'vitest';
import { renderMigrations } from '../../clickhouse/migrate.js';
import { exact, ROLLUPS } from '../../clickhouse/rollups.js';

const CLUSTER = 'ledger_cluster';
const single = renderMigrations({ database: 'genai_ledger' }).flatMap((m) => m.statements);
const cluster = renderMigrations({ database: 'genai_ledger', cluster: CLUSTER }).flatMap((m) => m.statements);

/** A cluster statement as the single-node one it stands for. */
const asSingleNode = (sql: string): string =>
  sql
    .replaceAll(` ON CLUSTER \`${CLUSTER}\``, '')
    .replace(/\b(genai_ledger\.\w+?)_local\b/g, '$1')
    .replace(/\bReplicated(\w*MergeTree)\('\/clickhouse\/tables\/[^']*', '[^']*'(, )?/g, (_, engine: string) => `${engine}(`);

/** Statements only a cluster has: a Distributed table over a local one, or an ALTER of one. */
const clusterOnly = (sql: string): boolean =>
  /^CREATE TABLE IF NOT EXISTS genai_ledger\.(\w+) ON CLUSTER `[^`]+` AS genai_ledger\.\1_local\nENGINE = Distributed\(/.test(sql) ||
  /^ALTER TABLE genai_ledger\.(\w+) ON CLUSTER /.test(sql) && !/^ALTER TABLE genai_ledger\.\w+_local /.test(sql);

/** 0014's candidates for the top conversations: single node only (a cluster has a view instead). */
const CANDIDATES = /genai_ledger\.ai_usage_daily_top_conversations/;

const creating = (statements: readonly string[], name: string): string[] =>
  statements.filter((s) => new RegExp(`^CREATE (?:TABLE|MATERIALIZED VIEW|VIEW|OR REPLACE VIEW) (?:IF NOT EXISTS )?genai_ledger\\.${name}\\b(?!_)`).test(s));

describe('the ON CLUSTER schema', () => {
  test('every single-node statement, in order and the same but for names and engines; the rest only Distributed tables', () => {
    const kept = cluster.filter((s) => !clusterOnly(s) && !CANDIDATES.test(s));
    expect(kept.map(asSingleNode)).toEqual(single.filter((s) => !CANDIDATES.test(s)));
    const added = cluster.filter(clusterOnly);
    expect(added.length).toBeGreaterThan(ROLLUPS.length);
    // Nothing else: kept + added + 0014's view is the whole cluster schema.
    expect(kept.length + added.length + 1).toBe(cluster.length);
  });

  test('0014: a single node keeps each day\'s candidates for the top conversations; a cluster lists every conversation instead', () => {
    expect(single.filter((s) => CANDIDATES.test(s)).map((s) => s.split('\n')[0])).toEqual([
      'CREATE TABLE IF NOT EXISTS genai_ledger.ai_usage_daily_top_conversations',
      'CREATE MATERIALIZED VIEW IF NOT EXISTS genai_ledger.ai_usage_daily_top_conversations_refresh',
      'CREATE VIEW IF NOT EXISTS genai_ledger.ai_usage_daily_top_conversations_exact AS',
    ]);
    const [view, ...rest] = cluster.filter((s) => CANDIDATES.test(s));
    expect(rest).toEqual([]);
    expect(view).toMatch(/^CREATE VIEW IF NOT EXISTS genai_ledger\.ai_usage_daily_top_conversations_exact ON CLUSTER `ledger_cluster` AS\nSELECT DISTINCT org_id, toDate\(hour\) AS day, conversation_id\nFROM genai_ledger\.ai_usage_hourly_by_org_conversation_exact\n/);
  });

  test.each(ROLLUPS.map((r) => [r.name, r] as const))('%s: Replicated per shard, a Distributed table over it, refreshed from local tables, read across shards', (name, rollup) => {
    const [local] = creating(cluster, `${name}_local`);
    expect(local, `${name}_local`).toBeDefined();
    expect(local).toMatch(/ENGINE = ReplicatedReplacingMergeTree\('\/clickhouse\/tables\/\{shard\}\/\{database\}\/\{table\}', '\{replica\}', version, is_deleted\)/);
    expect(asSingleNode(local as string)).toBe(creating(single, name)[0]);

    expect(creating(cluster, name).some((s) => s.includes(`ENGINE = Distributed('${CLUSTER}', 'genai_ledger', '${name}_local', `))).toBe(true);

    // The latest refresh view (0004 re-creates 0002's): appends to the shard's table, reads the shard's tables.
    const refresh = creating(cluster, `${name}_refresh`).at(-1) as string;
    expect(refresh).toContain(`APPEND TO genai_ledger.${name}_local`);
    const read = [...refresh.matchAll(/\bFROM genai_ledger\.(\w+)/g)].map((m) => m[1]);
    expect(read.length).toBeGreaterThan(0);
    for (const table of read) expect(table, `${name}_refresh reads ${table}`).toMatch(/_local$/);
    expect(asSingleNode(refresh)).toBe(creating(single, `${name}_refresh`).at(-1));

    const view = creating(cluster, exact(rollup)).at(-1) as string;
    expect(view).toMatch(new RegExp(`FROM genai_ledger\\.${name} FINAL`));
  });

  test('the raw ledger is sharded by the span identity: every delivery of a call on one shard', () => {
    const [distributed] = creating(cluster, 'ai_usage').filter((s) => s.includes('Distributed('));
    expect(distributed).toContain("Distributed('ledger_cluster', 'genai_ledger', 'ai_usage_local', cityHash64(trace_id, span_id))");
  });
});
