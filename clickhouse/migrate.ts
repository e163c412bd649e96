/**
 * Schema migrations: the ordered `clickhouse/migrations/NNNN_name.sql` templates, rendered for a
 * single node or a cluster, applied once each and recorded in `schema_migrations`.
 *
 * Safe to re-run (applied versions are skipped, every statement is IF NOT EXISTS) and to race
 * (two migrators at once both succeed: "already exists" is tolerated and the version record is a
 * ReplacingMergeTree row, so a double record collapses).
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { diag } from '@opentelemetry/api';
import type { ClickHouseClient } from '@clickhouse/client';

export interface MigrationOptions {
  /** Database to create and migrate. */
  database: string;
  /** Delete raw ai_usage rows older than this many days (whole parts only). Default: keep forever.
   *  Applied when the table is created; change it later with `ALTER TABLE ... MODIFY TTL`. */
  ttlDays?: number;
  /** Cluster name: renders ON CLUSTER, Replicated* engines and Distributed tables. */
  cluster?: string;
  /** How often the rollups are recomputed (seconds). Default 60. */
  refreshSeconds?: number;
  /** Overlap of consecutive rollup refreshes, covering inserts still committing (seconds). Default 300. */
  watermarkLagSeconds?: number;
}

export const DEFAULT_REFRESH_SECONDS = 60;
export const DEFAULT_WATERMARK_LAG_SECONDS = 300;

export interface RenderedMigration {
  version: number;
  name: string;
  /** sha256 of the template's statements (comments excluded), recorded when applied. */
  checksum: string;
  statements: string[];
}

export interface MigrationResult {
  applied: Array<{ version: number; name: string }>;
  skipped: Array<{ version: number; name: string }>;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
const CLUSTER_NAME = /^[A-Za-z0-9_.-]+$/;
const FILE_NAME = /^(\d{4})_([a-z0-9_]+)\.sql$/;

let packageRoot: string | undefined;

/** The directory holding package.json, walking up from this module (works from source and dist/). */
export function findPackageRoot(from: string = dirname(fileURLToPath(import.meta.url))): string {
  if (packageRoot !== undefined && from === dirname(fileURLToPath(import.meta.url))) return packageRoot;
  let dir = from;
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'clickhouse', 'migrations'))) {
      packageRoot = dir;
      return dir;
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`genai-ledger: no package root with clickhouse/migrations above ${from}`);
    dir = parent;
  }
}

export function migrationsDir(): string {
  return join(findPackageRoot(), 'clickhouse', 'migrations');
}

interface Template {
  version: number;
  name: string;
  text: string;
}

function loadTemplates(dir: string = migrationsDir()): Template[] {
  const templates: Template[] = [];
  for (const file of readdirSync(dir).sort()) {
    const match = FILE_NAME.exec(file);
    if (!match) continue;
    templates.push({ version: Number(match[1]), name: match[2] as string, text: readFileSync(join(dir, file), 'utf8') });
  }
  templates.forEach((t, i) => {
    if (i > 0 && t.version === templates[i - 1]?.version) throw new Error(`duplicate migration version ${t.version}`);
  });
  return templates;
}

function validate(options: MigrationOptions): void {
  if (!IDENTIFIER.test(options.database)) throw new Error(`invalid database name ${JSON.stringify(options.database)}`);
  if (options.cluster !== undefined && !CLUSTER_NAME.test(options.cluster)) {
    throw new Error(`invalid cluster name ${JSON.stringify(options.cluster)}`);
  }
  for (const [key, value] of [
    ['ttlDays', options.ttlDays],
    ['refreshSeconds', options.refreshSeconds],
    ['watermarkLagSeconds', options.watermarkLagSeconds],
  ] as const) {
    if (value !== undefined && !(Number.isInteger(value) && value > 0)) throw new Error(`${key} must be a positive integer`);
  }
}

function placeholders(options: MigrationOptions): Record<string, string> {
  const cluster = options.cluster;
  return {
    database: options.database,
    cluster: cluster ?? '',
    on_cluster: cluster ? ` ON CLUSTER \`${cluster}\`` : '',
    local: cluster ? '_local' : '',
    replicated: cluster ? 'Replicated' : '',
    // One replica set per shard (ClickHouse expands {shard}, {replica}, {database}, {table}).
    replica_args: cluster ? `'/clickhouse/tables/{shard}/{database}/{table}', '{replica}', ` : '',
    // One replica set spanning every node: full copy of a small table everywhere.
    replica_args_global: cluster ? `'/clickhouse/tables/all/{database}/{table}', '{shard}-{replica}', ` : '',
    ttl: options.ttlDays ? `TTL toDateTime(ts) + INTERVAL ${options.ttlDays} DAY DELETE` : '',
    // Hours whose raw rows may already be expired are not recomputed (see 0002_rollups.sql).
    ttl_guard: options.ttlDays ? ` AND toStartOfHour(ts) >= now() - INTERVAL ${options.ttlDays} DAY` : '',
    refresh_seconds: String(options.refreshSeconds ?? DEFAULT_REFRESH_SECONDS),
    watermark_lag_seconds: String(options.watermarkLagSeconds ?? DEFAULT_WATERMARK_LAG_SECONDS),
  };
}

interface TemplateStatement {
  /** SQL with `{{placeholders}}`, comment lines removed. */
  sql: string;
  clusterOnly: boolean;
}

/** Splits a template into statements (`;` at the end of a line) and drops comment lines. */
function splitTemplate(text: string): TemplateStatement[] {
  const statements: TemplateStatement[] = [];
  for (const chunk of text.split(/;[ \t]*(?:\r?\n|$)/)) {
    const lines = chunk.split(/\r?\n/);
    const clusterOnly = lines.some((line) => line.trim() === '-- @cluster-only');
    const sql = lines
      .filter((line) => !/^\s*--/.test(line) && line.trim() !== '')
      .join('\n')
      .trim();
    if (sql !== '') statements.push({ sql, clusterOnly });
  }
  return statements;
}

/** Renders a template: applies `-- @cluster-only` and fills `{{name}}` placeholders. */
export function renderTemplate(text: string, options: MigrationOptions): string[] {
  const values = placeholders(options);
  return splitTemplate(text)
    .filter((statement) => !statement.clusterOnly || options.cluster)
    .map((statement) =>
      statement.sql.replace(/\{\{\s*([a-z_]+)\s*\}\}/g, (_, key: string) => {
        const value = values[key];
        if (value === undefined) throw new Error(`unknown migration placeholder {{${key}}}`);
        return value;
      }),
    );
}

/** sha256 of a template's statements: edits to comments and blank lines do not change it. */
export function templateChecksum(text: string): string {
  return createHash('sha256').update(JSON.stringify(splitTemplate(text))).digest('hex');
}

/** The migrations as SQL statements for these options, without touching a server. */
export function renderMigrations(options: MigrationOptions): RenderedMigration[] {
  validate(options);
  return loadTemplates().map((t) => ({
    version: t.version,
    name: t.name,
    checksum: templateChecksum(t.text),
    statements: renderTemplate(t.text, options),
  }));
}

function schemaMigrationsDdl(options: MigrationOptions): string[] {
  const v = placeholders(options);
  return [
    `CREATE DATABASE IF NOT EXISTS ${options.database}${v.on_cluster}`,
    `CREATE TABLE IF NOT EXISTS ${options.database}.schema_migrations${v.on_cluster}
(
    version    UInt32,
    name       String,
    checksum   String,
    applied_at DateTime64(6, 'UTC') DEFAULT now64(6)
)
ENGINE = ${v.replicated}ReplacingMergeTree(${v.replica_args_global}applied_at)
ORDER BY version`,
  ];
}

/** "already exists" from a racing migrator (TABLE_ALREADY_EXISTS, DATABASE_ALREADY_EXISTS, ...). */
function isAlreadyExists(err: unknown): boolean {
  const code = String((err as { code?: unknown } | null)?.code ?? '');
  if (code === '57' || code === '82') return true;
  return /already exists/i.test(err instanceof Error ? err.message : String(err));
}

async function run(client: ClickHouseClient, query: string): Promise<void> {
  try {
    await client.command({ query });
  } catch (err) {
    if (!isAlreadyExists(err)) throw err;
  }
}

/** Applies the migrations not yet recorded in `<database>.schema_migrations`. */
export async function migrate(client: ClickHouseClient, options: MigrationOptions): Promise<MigrationResult> {
  const migrations = renderMigrations(options);
  for (const ddl of schemaMigrationsDdl(options)) await run(client, ddl);
  const table = `${options.database}.schema_migrations`;
  const recorded = new Map<number, string>();
  const rs = await client.query({ query: `SELECT version, checksum FROM ${table} FINAL`, format: 'JSONEachRow' });
  for (const row of await rs.json<{ version: number; checksum: string }>()) recorded.set(Number(row.version), row.checksum);

  const result: MigrationResult = { applied: [], skipped: [] };
  for (const m of migrations) {
    const checksum = recorded.get(m.version);
    if (checksum !== undefined) {
      if (checksum !== m.checksum) {
        diag.warn(`genai-ledger: migration ${m.version}_${m.name} changed after it was applied (checksum ${checksum.slice(0, 12)} → ${m.checksum.slice(0, 12)}); not re-applied`);
      }
      result.skipped.push({ version: m.version, name: m.name });
      continue;
    }
    for (const statement of m.statements) await run(client, statement);
    await client.insert({
      table,
      values: [{ version: m.version, name: m.name, checksum: m.checksum }],
      format: 'JSONEachRow',
    });
    result.applied.push({ version: m.version, name: m.name });
  }
  return result;
}

/** The refreshable views that maintain the rollups, in dependency order. */
export const ROLLUP_REFRESH_VIEWS = [
  'ai_usage_hourly_refresh',
  'ai_usage_hourly_by_time_refresh',
  'ai_usage_latency_hourly_refresh',
  'ai_usage_latency_daily_refresh',
  'ai_usage_hourly_by_model_refresh',
  'ai_usage_hourly_by_org_refresh',
  'ai_usage_daily_by_org_refresh',
  'ai_usage_hourly_by_feature_refresh',
  'ai_usage_hourly_by_org_model_refresh',
  'ai_usage_hourly_by_org_conversation_refresh',
  'ai_usage_unpriced_refresh',
  'ai_usage_daily_refresh',
] as const;

/**
 * Brings the rollups up to date now instead of at the next scheduled refresh, and waits for it:
 * the hourly refresh, then its time-ordered copy and the rollups folded from the copy (latency per
 * model, its daily fold, and 0005's small ones per model, org (hourly, then daily), feature, and org and model), 0006's per org and conversation and list of unpriced calls (from ai_usage), then the daily one that folds the hours. On a cluster this refreshes the
 * node the client is connected to (use `SYSTEM REFRESH VIEW ... ON CLUSTER` for all).
 */
export async function refreshRollups(client: ClickHouseClient, options: { database: string }): Promise<void> {
  if (!IDENTIFIER.test(options.database)) throw new Error(`invalid database name ${JSON.stringify(options.database)}`);
  for (const view of ROLLUP_REFRESH_VIEWS) {
    const name = `${options.database}.${view}`;
    await client.command({ query: `SYSTEM WAIT VIEW ${name}` }).catch(() => undefined);
    await client.command({ query: `SYSTEM REFRESH VIEW ${name}` });
    await client.command({ query: `SYSTEM WAIT VIEW ${name}` });
  }
}
