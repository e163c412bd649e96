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
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { diag } from '@opentelemetry/api';
import type { ClickHouseClient } from '@clickhouse/client';
import { ROLLUPS } from './rollups.js';

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
  /** sha256 of the template's statements after macro expansion (comments excluded), recorded when applied. */
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
  file: string;
  text: string;
}

function loadTemplates(dir: string = migrationsDir()): Template[] {
  const templates: Template[] = [];
  for (const file of readdirSync(dir).sort()) {
    const match = FILE_NAME.exec(file);
    if (!match) continue;
    templates.push({ version: Number(match[1]), name: match[2] as string, file, text: readFileSync(join(dir, file), 'utf8') });
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
  /** `-- @single-node`: left out of a cluster's rendering. Set only when true (checksums of the others unchanged). */
  singleNode?: true;
}

/** Splits a template into statements (`;` at the end of a line) and drops comment lines. */
function splitTemplate(text: string): TemplateStatement[] {
  const statements: TemplateStatement[] = [];
  for (const chunk of text.split(/;[ \t]*(?:\r?\n|$)/)) {
    const lines = chunk.split(/\r?\n/);
    const clusterOnly = lines.some((line) => line.trim() === '-- @cluster-only');
    const singleNode = lines.some((line) => line.trim() === '-- @single-node');
    const sql = lines
      .filter((line) => !/^\s*--/.test(line) && line.trim() !== '')
      .join('\n')
      .trim();
    if (sql !== '') statements.push(singleNode ? { sql, clusterOnly, singleNode } : { sql, clusterOnly });
  }
  return statements;
}

/** Renders a template: expands macros, applies `-- @cluster-only` and `-- @single-node`, and fills `{{name}}` placeholders. */
export function renderTemplate(text: string, options: MigrationOptions, file?: string): string[] {
  const values = placeholders(options);
  return splitTemplate(expandMacros(text, file))
    .filter((statement) => (options.cluster ? !statement.singleNode : !statement.clusterOnly))
    .map((statement) =>
      statement.sql.replace(/\{\{\s*([a-z_]+)\s*\}\}/g, (_, key: string) => {
        const value = values[key];
        if (value === undefined) throw new Error(`unknown migration placeholder {{${key}}}`);
        return value;
      }),
    );
}

/**
 * sha256 of a template's statements once its macros are expanded: edits to comments and blank
 * lines do not change it, and neither does writing a statement as the macro that expands to it
 * (stores record these checksums, so a migration must keep expanding to the same statements).
 */
export function templateChecksum(text: string, file?: string): string {
  return createHash('sha256').update(JSON.stringify(splitTemplate(expandMacros(text, file)))).digest('hex');
}

/** The migrations as SQL statements for these options, without touching a server. */
export function renderMigrations(options: MigrationOptions): RenderedMigration[] {
  validate(options);
  return loadTemplates().map((t) => ({
    version: t.version,
    name: t.name,
    checksum: templateChecksum(t.text, t.file),
    statements: renderTemplate(t.text, options, t.file),
  }));
}

// ---------------------------------------------------------------------------------------------
// Macros. A migration repeats a few statement shapes (a rollup's table and refresh view, one
// statement per table); a macro block stands for them and is expanded before anything else, so
// checksums and statements are those of the SQL it expands to. Print the expansion, placeholders
// left in:
//   npx tsx clickhouse/migrate.ts --templates [VERSION...]
// A block is `{{#name args}}` ... `{{/name}}`, each alone on its line, not nested:
//
// {{#each VAR in A, B, ...}}   the body (whole statements, each ending with `;`) once per value,
//                              with {{VAR}} replaced by it.
//
// {{#rollup_table TABLE}}      a rollup table: columns as written, then the version and is_deleted
//                              columns its refresh view writes (aligned with the last column),
//                              a ReplacingMergeTree(version, is_deleted) engine. Clauses:
//   partition: EXPR            PARTITION BY EXPR
//   order: K1, K2, ...         ORDER BY (K1, K2, ...)
//   index: DEFINITION          optional: an INDEX after is_deleted
//   columns:                   then indented lines, verbatim: the columns before version
// It expands to:
//   CREATE TABLE IF NOT EXISTS {{database}}.TABLE{{local}}{{on_cluster}}
//   (
//   <columns>
//       version     DateTime64(6, 'UTC'),
//       is_deleted  UInt8[,
//       INDEX DEFINITION]
//   )
//   ENGINE = {{replicated}}ReplacingMergeTree({{replica_args}}version, is_deleted)
//   PARTITION BY EXPR
//   ORDER BY (K1, K2, ...);
//
// {{#refresh_view TARGET}}     the refreshable view that keeps rollup TARGET exact (see
//                              0002_rollups.sql): it re-folds the dirty buckets (hours or days
//                              whose source rows changed since its watermark) from the source's
//                              FINAL and tombstones the groups that vanished from them. Clauses,
//                              one per line at column 0:
//   from: SOURCE [AS ALIAS]    the table folded (FINAL); ALIAS for qualified names in fresh:
//   after: VIEW                optional: DEPENDS ON VIEW
//   dirty: FORM                the bucket, one of DIRTY_FORMS below: `toStartOfHour(ts) AS hour`
//                              (SOURCE is the raw ledger: watermark inserted_at, ttl guard),
//                              `hour` or `toDate(hour) AS day` (SOURCE is a rollup: watermark version)
//   keys: K1, K2, ...          the group key, bucket included: GROUP BY, previous rows, USING
//   rollup_version: N          optional: rows carry rollup_version N and only they set the watermark
//   lookup: has                optional: 0002's form, has() instead of IN (SELECT arrayJoin(...))
//                              and previous rows not range-filtered
//   append: same_line          optional: APPEND TO on the REFRESH line (0002's and 0004's hourly view)
//   columns:                   then indented lines, verbatim: the view's SELECT list up to and
//                              including the watermark column (max_version or max_inserted_at);
//                              it must have calls: a group found only in the previous rows reads
//                              calls = 0 (join_use_nulls = 0), which makes it a tombstone
//   fresh:                     then indented lines, verbatim: the fresh subquery's SELECT list; a
//                              line `{{sum A, B}}` stands for `sum(A) AS A,` and `sum(B) AS B,`
// It expands to (W the watermark, D dirty_hours or dirty_days, B the bucket; [..] when set):
//   CREATE MATERIALIZED VIEW IF NOT EXISTS {{database}}.TARGET_refresh{{on_cluster}}
//   REFRESH EVERY {{refresh_seconds}} SECOND[ DEPENDS ON {{database}}.VIEW]
//   APPEND TO {{database}}.TARGET{{local}}
//   AS
//   WITH
//       (SELECT max(max_W) FROM {{database}}.TARGET{{local}}[ WHERE rollup_version >= N]) - INTERVAL {{watermark_lag_seconds}} SECOND AS since,
//       (SELECT groupUniqArray(bucket of FORM) FROM {{database}}.SOURCE{{local}} WHERE W > since[{{ttl_guard}}]) AS D
//   SELECT
//   <columns>
//       now64(6) AS version,
//       toUInt8(calls = 0) AS is_deleted[,
//       toUInt8(N) AS rollup_version]
//   FROM
//   (
//       SELECT
//   <fresh>
//       FROM {{database}}.SOURCE{{local}}[ AS ALIAS] FINAL
//       WHERE <source rows in the range of D>
//         AND <their bucket IN (SELECT arrayJoin(D))>
//       GROUP BY KEYS
//   ) AS fresh
//   FULL OUTER JOIN
//   (
//       SELECT KEYS
//       FROM {{database}}.TARGET{{local}} FINAL
//       WHERE <B in D>
//   ) AS previous
//   USING (KEYS)
//   SETTINGS join_use_nulls = 0;
// ---------------------------------------------------------------------------------------------

interface BodyLine {
  text: string;
  line: number;
}

type MacroError = (line: number, message: string) => Error;

interface Clause {
  value: string;
  line: number;
  /** The indented lines under a section clause (`columns:`), verbatim. */
  lines: BodyLine[];
}

/**
 * Reads a block body: `name: value` clauses at column 0 (each at most once), section clauses
 * followed by their indented lines, `--` comment lines between clauses (dropped), blank lines.
 */
function parseClauses(macro: string, body: BodyLine[], known: string[], sections: string[], fail: MacroError): Map<string, Clause> {
  const clauses = new Map<string, Clause>();
  let section: Clause | undefined;
  for (const l of body) {
    if (l.text.trim() === '') continue;
    if (/^\s/.test(l.text)) {
      if (!section) throw fail(l.line, `{{#${macro}}}: indented line outside ${sections.map((n) => `${n}:`).join(' or ')}`);
      section.lines.push(l);
      continue;
    }
    if (l.text.startsWith('--')) continue;
    const match = /^([a-z_]+):\s*(.*?)\s*$/.exec(l.text);
    if (!match) throw fail(l.line, `{{#${macro}}}: expected "clause: value", got ${JSON.stringify(l.text)}`);
    const [, name, value] = match as unknown as [string, string, string];
    if (!known.includes(name)) throw fail(l.line, `{{#${macro}}}: unknown clause ${name}: (known: ${known.join(', ')})`);
    if (clauses.has(name)) throw fail(l.line, `{{#${macro}}}: ${name}: given twice`);
    const clause: Clause = { value, line: l.line, lines: [] };
    clauses.set(name, clause);
    section = sections.includes(name) ? clause : undefined;
    if (section && value !== '') throw fail(l.line, `{{#${macro}}}: ${name}: takes the indented lines below it, not a value`);
  }
  return clauses;
}

/** A required clause; for a section, one with at least one line. */
function required(clauses: Map<string, Clause>, name: string, macro: string, open: number, fail: MacroError): Clause {
  const clause = clauses.get(name);
  if (!clause) throw fail(open, `{{#${macro}}}: missing ${name}:`);
  if (clause.value === '' && clause.lines.length === 0) throw fail(clause.line, `{{#${macro}}}: ${name}: is empty`);
  return clause;
}

function identifierList(value: string, what: string, line: number, fail: MacroError): string[] {
  const names = value.split(',').map((name) => name.trim());
  for (const name of names) if (!IDENTIFIER.test(name)) throw fail(line, `${what}: ${JSON.stringify(name)} is not a column or table name`);
  return names;
}

/** No macro syntax may survive into a statement (the placeholder renderer would not see it). */
function verbatim(lines: BodyLine[], macro: string, fail: MacroError): string[] {
  for (const l of lines) if (/\{\{\s*[#/]|\{\{sum\b/.test(l.text)) throw fail(l.line, `{{#${macro}}}: unexpected ${JSON.stringify(l.text.trim())}`);
  return lines.map((l) => l.text);
}

function expandEach(args: string, body: BodyLine[], open: number, fail: MacroError): string[] {
  const match = /^([a-z_]+)\s+in\s+(.+)$/.exec(args);
  if (!match) throw fail(open, 'expected {{#each NAME in A, B, ...}}');
  const variable = match[1] as string;
  if (variable in placeholders({ database: 'x' })) throw fail(open, `{{#each}}: ${variable} is a placeholder name`);
  const values = identifierList(match[2] as string, '{{#each}}', open, fail);
  const use = new RegExp(`\\{\\{\\s*${variable}\\s*\\}\\}`, 'g');
  if (!body.some((l) => l.text.replace(use, '') !== l.text)) throw fail(open, `{{#each}}: the body never uses {{${variable}}}`);
  const last = [...body].reverse().find((l) => l.text.trim() !== '' && !/^\s*--/.test(l.text));
  // Copies must not run together into one statement.
  if (!last || !/;\s*$/.test(last.text)) throw fail(last?.line ?? open, '{{#each}}: the body must end with a statement ending in ;');
  const lines = verbatim(body, 'each', fail);
  return values.flatMap((value) => lines.map((text) => text.replace(use, value)));
}

function expandRollupTable(args: string, body: BodyLine[], open: number, fail: MacroError): string[] {
  const table = args.trim();
  if (!IDENTIFIER.test(table)) throw fail(open, 'expected {{#rollup_table TABLE}}');
  const clauses = parseClauses('rollup_table', body, ['partition', 'order', 'index', 'columns'], ['columns'], fail);
  const partition = required(clauses, 'partition', 'rollup_table', open, fail).value;
  const order = required(clauses, 'order', 'rollup_table', open, fail);
  const columns = required(clauses, 'columns', 'rollup_table', open, fail);
  const index = clauses.get('index');
  const lines = verbatim(columns.lines, 'rollup_table', fail);
  // version and is_deleted line up with the column above them.
  const last = [...columns.lines].reverse().find((l) => !/^\s*--/.test(l.text)) as BodyLine;
  const layout = /^(\s+)(\S+\s+)\S/.exec(last.text);
  if (!layout || !last.text.trimEnd().endsWith(',')) throw fail(last.line, '{{#rollup_table}}: the last column must read `name  Type,`');
  const column = (name: string, type: string): string => `${layout[1]}${name.padEnd((layout[2] as string).length - 1)} ${type}`;
  return [
    `CREATE TABLE IF NOT EXISTS {{database}}.${table}{{local}}{{on_cluster}}`,
    '(',
    ...lines,
    column('version', "DateTime64(6, 'UTC'),"),
    ...(index ? [column('is_deleted', 'UInt8,'), `${layout[1]}INDEX ${index.value}`] : [column('is_deleted', 'UInt8')]),
    ')',
    'ENGINE = {{replicated}}ReplacingMergeTree({{replica_args}}version, is_deleted)',
    `PARTITION BY ${partition}`,
    `ORDER BY (${identifierList(order.value, 'order:', order.line, fail).join(', ')});`,
  ];
}

/** How a refresh finds and reads its dirty buckets, per `dirty:` form. */
const DIRTY_FORMS: Record<string, { scan: string; bucket: string; watermark: 'inserted_at' | 'version'; range: [string, string] }> = {
  'toStartOfHour(ts) AS hour': {
    scan: 'toStartOfHour(ts)',
    bucket: 'hour',
    watermark: 'inserted_at',
    range: ['ts >= arrayMin(dirty_hours)', 'ts < arrayMax(dirty_hours) + INTERVAL 1 HOUR'],
  },
  hour: {
    scan: 'hour',
    bucket: 'hour',
    watermark: 'version',
    range: ['hour >= arrayMin(dirty_hours)', 'hour <= arrayMax(dirty_hours)'],
  },
  'toDate(hour) AS day': {
    scan: 'toDate(hour)',
    bucket: 'day',
    watermark: 'version',
    range: ["hour >= toDateTime(arrayMin(dirty_days), 'UTC')", "hour < toDateTime(arrayMax(dirty_days), 'UTC') + INTERVAL 1 DAY"],
  },
};

const SUM_LINE = /^(\s*)\{\{sum\s+(.*?)\s*\}\}\s*$/;

function expandRefreshView(args: string, body: BodyLine[], open: number, fail: MacroError): string[] {
  const target = args.trim();
  if (!IDENTIFIER.test(target)) throw fail(open, 'expected {{#refresh_view TABLE}}');
  const known = ['from', 'after', 'dirty', 'keys', 'rollup_version', 'lookup', 'append', 'columns', 'fresh'];
  const clauses = parseClauses('refresh_view', body, known, ['columns', 'fresh'], fail);
  const need = (name: string): Clause => required(clauses, name, 'refresh_view', open, fail);
  const bad = (clause: Clause, message: string): Error => fail(clause.line, `{{#refresh_view ${target}}}: ${message}`);

  const fromClause = need('from');
  const from = /^([A-Za-z_][A-Za-z0-9_]*)(?:\s+AS\s+([A-Za-z_][A-Za-z0-9_]*))?$/.exec(fromClause.value);
  if (!from) throw bad(fromClause, 'from: expected TABLE or TABLE AS ALIAS');
  const source = from[1] as string;
  const dirtyClause = need('dirty');
  const dirty = DIRTY_FORMS[dirtyClause.value];
  if (!dirty) throw bad(dirtyClause, `dirty: must be one of ${Object.keys(DIRTY_FORMS).join(' | ')}`);
  const keysClause = need('keys');
  const keyList = identifierList(keysClause.value, 'keys:', keysClause.line, fail);
  if (!keyList.includes(dirty.bucket)) throw bad(keysClause, `keys: must include the bucket ${dirty.bucket}`);
  const keys = keyList.join(', ');
  const after = clauses.get('after');
  if (after && !IDENTIFIER.test(after.value)) throw bad(after, 'after: expected a view name');
  const rollupVersion = clauses.get('rollup_version');
  if (rollupVersion && !/^[1-9][0-9]*$/.test(rollupVersion.value)) throw bad(rollupVersion, 'rollup_version: expected a positive integer');
  const lookupClause = clauses.get('lookup');
  const lookup = lookupClause?.value ?? 'in';
  if (lookupClause && lookup !== 'in' && lookup !== 'has') throw bad(lookupClause, 'lookup: must be in or has');
  const append = clauses.get('append');
  if (append && (append.value !== 'same_line' || after)) throw bad(append, 'append: must be same_line, and only without after:');
  const columns = verbatim(need('columns').lines, 'refresh_view', fail);
  const fresh = need('fresh').lines.flatMap((l) => {
    const sum = SUM_LINE.exec(l.text);
    if (!sum) return verbatim([l], 'refresh_view', fail);
    return identifierList(sum[2] as string, '{{sum}}', l.line, fail).map((m) => `${sum[1]}sum(${m}) AS ${m},`);
  });

  const dirtySet = `dirty_${dirty.bucket}s`;
  const inDirty = (expr: string): string => (lookup === 'has' ? `has(${dirtySet}, ${expr})` : `${expr} IN (SELECT arrayJoin(${dirtySet}))`);
  const previousRange = [`${dirty.bucket} >= arrayMin(${dirtySet})`, `${dirty.bucket} <= arrayMax(${dirtySet})`];
  const previousWhere = lookup === 'has' ? [inDirty(dirty.bucket)] : [...previousRange, inDirty(dirty.bucket)];
  const where = (conditions: string[]): string[] => conditions.map((c, i) => (i === 0 ? `    WHERE ${c}` : `      AND ${c}`));
  const ttlGuard = dirty.watermark === 'inserted_at' ? '{{ttl_guard}}' : '';
  const versionFilter = rollupVersion ? ` WHERE rollup_version >= ${rollupVersion.value}` : '';
  const refresh = 'REFRESH EVERY {{refresh_seconds}} SECOND';
  const appendTo = `APPEND TO {{database}}.${target}{{local}}`;
  return [
    `CREATE MATERIALIZED VIEW IF NOT EXISTS {{database}}.${target}_refresh{{on_cluster}}`,
    ...(append ? [`${refresh} ${appendTo}`] : [after ? `${refresh} DEPENDS ON {{database}}.${after.value}` : refresh, appendTo]),
    'AS',
    'WITH',
    `    (SELECT max(max_${dirty.watermark}) FROM {{database}}.${target}{{local}}${versionFilter}) - INTERVAL {{watermark_lag_seconds}} SECOND AS since,`,
    `    (SELECT groupUniqArray(${dirty.scan}) FROM {{database}}.${source}{{local}} WHERE ${dirty.watermark} > since${ttlGuard}) AS ${dirtySet}`,
    'SELECT',
    ...columns,
    '    now64(6) AS version,',
    ...(rollupVersion
      ? ['    toUInt8(calls = 0) AS is_deleted,', `    toUInt8(${rollupVersion.value}) AS rollup_version`]
      : ['    toUInt8(calls = 0) AS is_deleted']),
    'FROM',
    '(',
    '    SELECT',
    ...fresh,
    `    FROM {{database}}.${source}{{local}}${from[2] ? ` AS ${from[2]}` : ''} FINAL`,
    ...where([...dirty.range, inDirty(dirty.scan)]),
    `    GROUP BY ${keys}`,
    ') AS fresh',
    'FULL OUTER JOIN',
    '(',
    `    SELECT ${keys}`,
    `    FROM {{database}}.${target}{{local}} FINAL`,
    ...where(previousWhere),
    ') AS previous',
    `USING (${keys})`,
    'SETTINGS join_use_nulls = 0;',
  ];
}

const MACROS: Record<string, (args: string, body: BodyLine[], open: number, fail: MacroError) => string[]> = {
  each: expandEach,
  rollup_table: expandRollupTable,
  refresh_view: expandRefreshView,
};

/**
 * Expands the macro blocks of a migration template (see above); `file` names it in errors.
 * Lines outside blocks are kept as they are.
 */
export function expandMacros(text: string, file = 'template'): string {
  const fail: MacroError = (line, message) => new Error(`genai-ledger: ${file}:${line}: ${message}`);
  const lines = text.split('\n');
  const out: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    const trimmed = line.trim();
    if (trimmed.startsWith('--') || !trimmed.startsWith('{{')) {
      out.push(line);
      continue;
    }
    if (trimmed.startsWith('{{/')) throw fail(i + 1, `${trimmed} without its {{#...}}`);
    if (!trimmed.startsWith('{{#')) {
      if (/^\{\{sum\b/.test(trimmed)) throw fail(i + 1, '{{sum ...}} is only valid in the fresh: lines of {{#refresh_view}}');
      out.push(line); // a placeholder such as {{ttl}}
      continue;
    }
    const open = /^\{\{#([a-z_]+)(?:\s+(.*?))?\s*\}\}$/.exec(trimmed);
    if (!open) throw fail(i + 1, `malformed macro line ${JSON.stringify(trimmed)}`);
    const name = open[1] as string;
    const expand = MACROS[name];
    if (!expand) throw fail(i + 1, `unknown macro {{#${name}}} (known: ${Object.keys(MACROS).join(', ')})`);
    const body: BodyLine[] = [];
    let end = i + 1;
    for (; end < lines.length; end++) {
      const inner = (lines[end] as string).trim();
      if (inner === `{{/${name}}}`) break;
      if (inner.startsWith('{{#') || inner.startsWith('{{/')) throw fail(end + 1, `${inner} inside {{#${name}}} (opened at line ${i + 1}): blocks do not nest`);
      body.push({ text: (lines[end] as string).replace(/\r$/, ''), line: end + 1 });
    }
    if (end === lines.length) throw fail(i + 1, `{{#${name}}} is not closed by {{/${name}}}`);
    out.push(...expand(open[2] ?? '', body, i + 1, fail));
    i = end;
  }
  return out.join('\n');
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

/** The refreshable views that maintain the rollups, in dependency order (declared in clickhouse/rollups.ts). */
export const ROLLUP_REFRESH_VIEWS: readonly string[] = ROLLUPS.map((r) => `${r.name}_refresh`);
/** 0014's refresh of the top conversations' candidates: a single node's only (a cluster has a view instead). */
const SINGLE_NODE_REFRESH_VIEWS: readonly string[] = ['ai_usage_daily_top_conversations_refresh'];
/**
 * Every refreshable view in refresh order: the rollups', 0014's candidates (after the rollup per
 * org and conversation they fold), then 0013's spend per budget (from the raw ledger and the
 * budgets table).
 */
export const REFRESH_VIEWS: readonly string[] = [...ROLLUP_REFRESH_VIEWS, ...SINGLE_NODE_REFRESH_VIEWS, 'budget_spend_hourly_refresh'];

/**
 * Brings the rollups up to date now instead of at the next scheduled refresh, and waits for it:
 * every view of REFRESH_VIEWS in turn (the hourly refresh, then its time-ordered copy and the
 * rollups folded from the copy, the ones folded from the raw ledger, the daily one that folds the
 * hours, 0014's candidates and 0013's spend per budget); 0014's where the node has it. On a
 * cluster this refreshes the node the client is connected to (use `SYSTEM REFRESH VIEW ... ON
 * CLUSTER` for all).
 */
export async function refreshRollups(client: ClickHouseClient, options: { database: string }): Promise<void> {
  if (!IDENTIFIER.test(options.database)) throw new Error(`invalid database name ${JSON.stringify(options.database)}`);
  const rs = await client.query({
    query: 'SELECT name FROM system.tables WHERE database = {database:String} AND name IN {names:Array(String)}',
    query_params: { database: options.database, names: SINGLE_NODE_REFRESH_VIEWS },
    format: 'JSONEachRow',
  });
  const present = new Set((await rs.json<{ name: string }>()).map((t) => t.name));
  for (const view of REFRESH_VIEWS.filter((v) => !SINGLE_NODE_REFRESH_VIEWS.includes(v) || present.has(v))) {
    const name = `${options.database}.${view}`;
    await client.command({ query: `SYSTEM WAIT VIEW ${name}` }).catch(() => undefined);
    await client.command({ query: `SYSTEM REFRESH VIEW ${name}` });
    await client.command({ query: `SYSTEM WAIT VIEW ${name}` });
  }
}

/**
 * `npx tsx clickhouse/migrate.ts [--templates] [--cluster NAME] [--ttl-days N] [VERSION...]`
 * prints the migrations without a server: the statements as migrate() runs them (with the
 * checksum each records), or with --templates the files with their macros expanded.
 */
function printMigrations(args: string[]): void {
  const options: MigrationOptions = { database: 'genai_ledger' };
  const versions = new Set<number>();
  let templates = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === '--templates') templates = true;
    else if (arg === '--cluster') options.cluster = args[++i];
    else if (arg === '--ttl-days') options.ttlDays = Number(args[++i]);
    else if (arg === '--database') options.database = args[++i] ?? '';
    else if (/^\d+$/.test(arg)) versions.add(Number(arg));
    else throw new Error(`usage: migrate.ts [--templates] [--cluster NAME] [--ttl-days N] [--database NAME] [VERSION...] (got ${arg})`);
  }
  const wanted = (version: number): boolean => versions.size === 0 || versions.has(version);
  if (templates) {
    for (const t of loadTemplates()) if (wanted(t.version)) process.stdout.write(`-- ==== ${t.file}\n${expandMacros(t.text, t.file)}\n`);
    return;
  }
  for (const m of renderMigrations(options)) {
    if (!wanted(m.version)) continue;
    process.stdout.write(`-- ==== ${m.version}_${m.name} checksum ${m.checksum}\n\n`);
    for (const statement of m.statements) process.stdout.write(`${statement};\n\n`);
  }
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    printMigrations(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 2;
  }
}
