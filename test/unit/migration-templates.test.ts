import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { expandMacros, renderMigrations, renderTemplate, templateChecksum } from '../../clickhouse/migrate.js';

// What stores that applied these migrations hold in schema_migrations: a migration whose
// checksum moves is reported as changed after it was applied, and is never re-applied.
const RECORDED_CHECKSUMS: Record<number, string> = {
  1: '51836e0a352f2953e1ff6936841119a353d3eff47b20acab3e3098a18daeb9eb',
  2: '3986baee0eefc2cf8982d8b399c369e791b7698fcb4142434f371e8ad74cebb9',
  3: 'a52b11d0dc8f1cc0565c172b7d789a61de3275a1527c4a820752a7550c3ab961',
  4: 'e8c5e4eb30d061ddd585c2dcf895bea39aeca7e87739bcf8785aa08f55e2f71e',
  5: 'a7a9e0839398e6701f11d5d55c6dc717636f9bf31d21d0657e65afc3e7766488',
  6: '317a2eda9d13f7df6fef63881a3da472c79cdd1c48e3507f5b99e76661a8a847',
  9: '8e0939e19fcc20272b8bb1ce71f2b1788333b7052fd82ce411cab63bf79e70be',
  7: '1ac33d0f1a5767228eed3cf99f356517e4e3614399bfa20b8265a28effae10f2',
  8: '472db8112620f1c6138276f03744395af192582cb693ab62845189186a8a6f16',
  10: '17ade9c00077489c6839c70d12a7fcea1690c11495169b79ce8ef30f3752cf90',
  11: '560b8edd23abd790424b2758f04bed63574e9a8cda98ad0e812ca1f46fba6be4',
  12: 'aa6208e8e80e739dcca4fdf328f965f3cd9e397a043c84ca03801e1ea78b9a53',
  13: '3d2ac31669d064080a002c19ff43fd44571887bfa8f51efdf3c918029ecf383a',
  14: '4731a034a6a36f1f7695795e595bc2713e9d5b630e16577533433ff68a5a2b1f',
};

interface Snapshot {
  version: number;
  name: string;
  checksum: string;
  single: string[];
  cluster: string[];
}

// Rendered from the SQL files as they were before they used macros; regenerate it only for a new
// migration, never for an applied one.
const BEFORE: Snapshot[] = JSON.parse(readFileSync(new URL('./__snapshots__/migration-templates.before.json', import.meta.url), 'utf8'));

describe('migrations render as they did before macros', () => {
  const single = renderMigrations({ database: 'genai_ledger' });
  const cluster = renderMigrations({ database: 'genai_ledger', cluster: 'cluster' });

  test('checksums equal the ones stores have recorded', () => {
    expect(Object.fromEntries(single.map((m) => [m.version, m.checksum]))).toEqual(RECORDED_CHECKSUMS);
    expect(cluster.map((m) => m.checksum)).toEqual(single.map((m) => m.checksum));
    expect(BEFORE.map((m) => m.checksum)).toEqual(single.map((m) => m.checksum));
  });

  test.each(BEFORE.map((m) => [`${m.version}_${m.name}`, m] as const))('%s: same statements, single node and cluster', (_, before) => {
    const index = single.findIndex((m) => m.version === before.version);
    expect(single[index]?.name).toBe(before.name);
    expect(single[index]?.statements).toEqual(before.single);
    expect(cluster[index]?.statements).toEqual(before.cluster);
  });

  test('no migration is missing from the snapshot', () => {
    expect(single.map((m) => m.version)).toEqual(BEFORE.map((m) => m.version));
  });
});

const lines = (...l: string[]): string => l.join('\n');

describe('macro expansion', () => {
  test.each([
    {
      name: 'text without macros is kept byte for byte',
      input: '-- c {{#not_a_macro}}\r\nCREATE A {{database}};\r\n{{ttl}}\r\n',
      output: '-- c {{#not_a_macro}}\r\nCREATE A {{database}};\r\n{{ttl}}\r\n',
    },
    {
      name: 'each: the body once per value',
      input: lines('-- before', '{{#each t in a, b}}', '-- @cluster-only', 'CREATE {{t}} AS {{ t }}_local;', '{{/each}}', 'SELECT 1;'),
      output: lines('-- before', '-- @cluster-only', 'CREATE a AS a_local;', '-- @cluster-only', 'CREATE b AS b_local;', 'SELECT 1;'),
    },
    {
      name: 'rollup_table: version, is_deleted, engine, aligned with the last column',
      input: lines(
        '{{#rollup_table r}}',
        'partition: toYYYYMM(hour)',
        'order: hour, k',
        'columns:',
        '    hour         DateTime(\'UTC\'),',
        '    -- a comment stays',
        '    max_version  DateTime64(6, \'UTC\'),',
        '{{/rollup_table}}',
      ),
      output: lines(
        'CREATE TABLE IF NOT EXISTS {{database}}.r{{local}}{{on_cluster}}',
        '(',
        '    hour         DateTime(\'UTC\'),',
        '    -- a comment stays',
        '    max_version  DateTime64(6, \'UTC\'),',
        '    version      DateTime64(6, \'UTC\'),',
        '    is_deleted   UInt8',
        ')',
        'ENGINE = {{replicated}}ReplacingMergeTree({{replica_args}}version, is_deleted)',
        'PARTITION BY toYYYYMM(hour)',
        'ORDER BY (hour, k);',
      ),
    },
    {
      name: 'rollup_table with an index',
      input: lines('{{#rollup_table r}}', 'partition: toYear(day)', 'order: day', 'index: v version TYPE minmax GRANULARITY 1', 'columns:', '    day Date,', '{{/rollup_table}}'),
      output: lines(
        'CREATE TABLE IF NOT EXISTS {{database}}.r{{local}}{{on_cluster}}',
        '(',
        '    day Date,',
        '    version DateTime64(6, \'UTC\'),',
        '    is_deleted UInt8,',
        '    INDEX v version TYPE minmax GRANULARITY 1',
        ')',
        'ENGINE = {{replicated}}ReplacingMergeTree({{replica_args}}version, is_deleted)',
        'PARTITION BY toYear(day)',
        'ORDER BY (day);',
      ),
    },
    {
      name: 'refresh_view: hours of a rollup, after its refresh',
      input: lines(
        '{{#refresh_view r}}',
        'from: src',
        'after: src_refresh',
        'dirty: hour',
        '-- comments between clauses are dropped',
        'keys: hour, k',
        'columns:',
        '    hour, k, calls, max_version,',
        'fresh:',
        '        hour, k,',
        '        {{sum calls}}',
        '        max(version) AS max_version',
        '{{/refresh_view}}',
      ),
      output: lines(
        'CREATE MATERIALIZED VIEW IF NOT EXISTS {{database}}.r_refresh{{on_cluster}}',
        'REFRESH EVERY {{refresh_seconds}} SECOND DEPENDS ON {{database}}.src_refresh',
        'APPEND TO {{database}}.r{{local}}',
        'AS',
        'WITH',
        '    (SELECT max(max_version) FROM {{database}}.r{{local}}) - INTERVAL {{watermark_lag_seconds}} SECOND AS since,',
        '    (SELECT groupUniqArray(hour) FROM {{database}}.src{{local}} WHERE version > since) AS dirty_hours',
        'SELECT',
        '    hour, k, calls, max_version,',
        '    now64(6) AS version,',
        '    toUInt8(calls = 0) AS is_deleted',
        'FROM',
        '(',
        '    SELECT',
        '        hour, k,',
        '        sum(calls) AS calls,',
        '        max(version) AS max_version',
        '    FROM {{database}}.src{{local}} FINAL',
        '    WHERE hour >= arrayMin(dirty_hours)',
        '      AND hour <= arrayMax(dirty_hours)',
        '      AND hour IN (SELECT arrayJoin(dirty_hours))',
        '    GROUP BY hour, k',
        ') AS fresh',
        'FULL OUTER JOIN',
        '(',
        '    SELECT hour, k',
        '    FROM {{database}}.r{{local}} FINAL',
        '    WHERE hour >= arrayMin(dirty_hours)',
        '      AND hour <= arrayMax(dirty_hours)',
        '      AND hour IN (SELECT arrayJoin(dirty_hours))',
        ') AS previous',
        'USING (hour, k)',
        'SETTINGS join_use_nulls = 0;',
      ),
    },
    {
      name: 'refresh_view: hours of the raw ledger, rollup_version, APPEND TO on the REFRESH line',
      input: lines(
        '{{#refresh_view r}}',
        'from: ai_usage AS u',
        'dirty: toStartOfHour(ts) AS hour',
        'keys: hour, k',
        'rollup_version: 4',
        'append: same_line',
        'columns:',
        '    hour, k, calls, max_inserted_at,',
        'fresh:',
        '        toStartOfHour(ts) AS hour, k,',
        '        count() AS calls,',
        '        max(inserted_at) AS max_inserted_at',
        '{{/refresh_view}}',
      ),
      output: lines(
        'CREATE MATERIALIZED VIEW IF NOT EXISTS {{database}}.r_refresh{{on_cluster}}',
        'REFRESH EVERY {{refresh_seconds}} SECOND APPEND TO {{database}}.r{{local}}',
        'AS',
        'WITH',
        '    (SELECT max(max_inserted_at) FROM {{database}}.r{{local}} WHERE rollup_version >= 4) - INTERVAL {{watermark_lag_seconds}} SECOND AS since,',
        '    (SELECT groupUniqArray(toStartOfHour(ts)) FROM {{database}}.ai_usage{{local}} WHERE inserted_at > since{{ttl_guard}}) AS dirty_hours',
        'SELECT',
        '    hour, k, calls, max_inserted_at,',
        '    now64(6) AS version,',
        '    toUInt8(calls = 0) AS is_deleted,',
        '    toUInt8(4) AS rollup_version',
        'FROM',
        '(',
        '    SELECT',
        '        toStartOfHour(ts) AS hour, k,',
        '        count() AS calls,',
        '        max(inserted_at) AS max_inserted_at',
        '    FROM {{database}}.ai_usage{{local}} AS u FINAL',
        '    WHERE ts >= arrayMin(dirty_hours)',
        '      AND ts < arrayMax(dirty_hours) + INTERVAL 1 HOUR',
        '      AND toStartOfHour(ts) IN (SELECT arrayJoin(dirty_hours))',
        '    GROUP BY hour, k',
        ') AS fresh',
        'FULL OUTER JOIN',
        '(',
        '    SELECT hour, k',
        '    FROM {{database}}.r{{local}} FINAL',
        '    WHERE hour >= arrayMin(dirty_hours)',
        '      AND hour <= arrayMax(dirty_hours)',
        '      AND hour IN (SELECT arrayJoin(dirty_hours))',
        ') AS previous',
        'USING (hour, k)',
        'SETTINGS join_use_nulls = 0;',
      ),
    },
    {
      name: "refresh_view: days, 0002's has() lookups",
      input: lines(
        '{{#refresh_view d}}',
        'from: r',
        'after: r_refresh',
        'dirty: toDate(hour) AS day',
        'keys: day, k',
        'lookup: has',
        'columns:',
        '    day, k, calls, max_version,',
        'fresh:',
        '        toDate(hour) AS day, k,',
        '        {{sum calls}}',
        '        max(version) AS max_version',
        '{{/refresh_view}}',
      ),
      output: lines(
        'CREATE MATERIALIZED VIEW IF NOT EXISTS {{database}}.d_refresh{{on_cluster}}',
        'REFRESH EVERY {{refresh_seconds}} SECOND DEPENDS ON {{database}}.r_refresh',
        'APPEND TO {{database}}.d{{local}}',
        'AS',
        'WITH',
        '    (SELECT max(max_version) FROM {{database}}.d{{local}}) - INTERVAL {{watermark_lag_seconds}} SECOND AS since,',
        '    (SELECT groupUniqArray(toDate(hour)) FROM {{database}}.r{{local}} WHERE version > since) AS dirty_days',
        'SELECT',
        '    day, k, calls, max_version,',
        '    now64(6) AS version,',
        '    toUInt8(calls = 0) AS is_deleted',
        'FROM',
        '(',
        '    SELECT',
        '        toDate(hour) AS day, k,',
        '        sum(calls) AS calls,',
        '        max(version) AS max_version',
        '    FROM {{database}}.r{{local}} FINAL',
        "    WHERE hour >= toDateTime(arrayMin(dirty_days), 'UTC')",
        "      AND hour < toDateTime(arrayMax(dirty_days), 'UTC') + INTERVAL 1 DAY",
        '      AND has(dirty_days, toDate(hour))',
        '    GROUP BY day, k',
        ') AS fresh',
        'FULL OUTER JOIN',
        '(',
        '    SELECT day, k',
        '    FROM {{database}}.d{{local}} FINAL',
        '    WHERE has(dirty_days, day)',
        ') AS previous',
        'USING (day, k)',
        'SETTINGS join_use_nulls = 0;',
      ),
    },
  ])('$name', ({ input, output }) => {
    expect(expandMacros(input, 'x.sql')).toBe(output);
  });

  const view = (...clauses: string[]): string =>
    lines('SELECT 1;', '{{#refresh_view r}}', ...clauses, '{{/refresh_view}}');
  const good = ['from: src', 'dirty: hour', 'keys: hour', 'columns:', '    hour, calls, max_version,', 'fresh:', '        hour,', '        max(version) AS max_version'];

  test.each([
    { name: 'unknown macro', input: 'SELECT 1;\n{{#nope a}}\n{{/nope}}', error: 'x.sql:2: unknown macro {{#nope}}' },
    { name: 'unclosed block', input: '{{#each t in a}}\nCREATE {{t}};', error: 'x.sql:1: {{#each}} is not closed by {{/each}}' },
    { name: 'close without open', input: 'SELECT 1;\n{{/each}}', error: 'x.sql:2: {{/each}} without its {{#...}}' },
    { name: 'nested blocks', input: '{{#each t in a}}\n{{#each u in b}}\n{{/each}}', error: 'x.sql:2: {{#each u in b}} inside {{#each}} (opened at line 1)' },
    { name: 'malformed open line', input: '{{#each t in a}} trailing', error: 'x.sql:1: malformed macro line' },
    { name: 'each without a statement end', input: '{{#each t in a}}\nCREATE {{t}}\n{{/each}}', error: 'x.sql:2: {{#each}}: the body must end with a statement' },
    { name: 'each over a placeholder name', input: '{{#each database in a}}\nCREATE {{database}};\n{{/each}}', error: 'x.sql:1: {{#each}}: database is a placeholder name' },
    { name: 'each with a bad value', input: '{{#each t in a, b c}}\nCREATE {{t}};\n{{/each}}', error: 'x.sql:1: {{#each}}: "b c" is not a column or table name' },
    { name: '{{sum}} outside refresh_view', input: 'SELECT\n    {{sum a}}', error: 'x.sql:2: {{sum ...}} is only valid in the fresh: lines' },
    { name: 'unknown clause', input: view(...good, 'form: 0002'), error: 'x.sql:11: {{#refresh_view}}: unknown clause form:' },
    { name: 'missing clause', input: view(...good.filter((c) => !c.startsWith('keys'))), error: 'x.sql:2: {{#refresh_view}}: missing keys:' },
    { name: 'clause given twice', input: view(...good, 'dirty: hour'), error: 'x.sql:11: {{#refresh_view}}: dirty: given twice' },
    { name: 'unsupported dirty form', input: view(...good.map((c) => (c === 'dirty: hour' ? 'dirty: toMonday(hour)' : c))), error: 'x.sql:4: {{#refresh_view r}}: dirty: must be one of' },
    { name: 'keys without the bucket', input: view(...good.map((c) => (c === 'keys: hour' ? 'keys: k' : c))), error: 'x.sql:5: {{#refresh_view r}}: keys: must include the bucket hour' },
    { name: 'append with after', input: view(...good, 'after: x', 'append: same_line'), error: 'x.sql:12: {{#refresh_view r}}: append: must be same_line' },
    { name: '{{sum}} in columns', input: view(...good.map((c) => (c === '    hour, calls, max_version,' ? '    {{sum calls}}' : c))), error: 'x.sql:7: {{#refresh_view}}: unexpected "{{sum calls}}"' },
    { name: 'indented line before a section', input: view('    hour,', ...good), error: 'x.sql:3: {{#refresh_view}}: indented line outside columns: or fresh:' },
    { name: 'not a clause', input: view(...good, 'SELECT 1'), error: 'x.sql:11: {{#refresh_view}}: expected "clause: value"' },
    { name: 'empty section', input: view(...good.slice(0, 6)), error: 'x.sql:8: {{#refresh_view}}: fresh: is empty' },
    { name: 'rollup_table last column without a comma', input: lines('{{#rollup_table r}}', 'partition: toYear(day)', 'order: day', 'columns:', '    day Date', '{{/rollup_table}}'), error: 'x.sql:5: {{#rollup_table}}: the last column must read' },
  ])('malformed: $name', ({ input, error }) => {
    expect(() => expandMacros(input, 'x.sql')).toThrow(error);
  });

  test('errors from the migration path name the migration file', () => {
    expect(() => templateChecksum('{{#nope}}\n{{/nope}}', '0009_next.sql')).toThrow('genai-ledger: 0009_next.sql:1: unknown macro {{#nope}}');
  });

  test('a macro is checksummed and rendered as the SQL it expands to', () => {
    const macro = lines('{{#each t in a, b}}', '-- @cluster-only', 'CREATE {{t}}{{on_cluster}};', '{{/each}}', 'SELECT 1;');
    const written = lines('-- @cluster-only', 'CREATE a{{on_cluster}};', '', '-- @cluster-only', 'CREATE b{{on_cluster}};', 'SELECT 1;');
    expect(templateChecksum(macro)).toBe(templateChecksum(written));
    expect(renderTemplate(macro, { database: 'd' })).toEqual(['SELECT 1']);
    expect(renderTemplate(macro, { database: 'd', cluster: 'c' })).toEqual(['CREATE a ON CLUSTER `c`', 'CREATE b ON CLUSTER `c`', 'SELECT 1']);
  });
});
