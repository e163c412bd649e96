import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { parseCommandArgs } from './args.js';
import { CliError, USAGE_EXIT_CODE } from './cli-error.js';
import type { Command } from './main.js';
import { readStdin, writeLines } from './stdio.js';
import { openReaderForCli } from './store-client.js';
import { renderTable } from './table.js';

const HELP = `Usage: genai-ledger query "SQL" | --file FILE [--param NAME=VALUE ...] [--format jsonl|json|table] [--store S]

Runs one read-only SQL query against the ledger (tables ai_usage_exact, ai_usage_hourly_exact,
ai_usage_daily_exact, model_prices, ...; unqualified names are in the ledger's database) and
prints the rows. Values are passed as ClickHouse query parameters, never spliced into the SQL:
write {name:Type} in the query and give --param name=value, e.g.

  genai-ledger query "SELECT feature, sum(cost_usd) AS usd FROM ai_usage_exact
    WHERE org_id = {org:String} AND ts >= now() - INTERVAL {days:UInt32} DAY GROUP BY feature" \\
    --param org=acme --param days=7 --format table

Options:
  --file FILE          read the query from FILE (its leading comment header is skipped); - = stdin
  --param NAME=VALUE   value of the {NAME:Type} placeholder (repeatable); arrays as ['a','b']
  --format F           jsonl (default, one JSON object per row), json (one array) or table
  --store S            ClickHouse URL or embedded store directory (default: GENAI_LEDGER_STORE,
                       CLICKHOUSE_URL, ./.genai-ledger); a store a running collector holds is
                       queried through it`;

export const queryCommand: Command = {
  summary: 'run a read-only SQL query (with {name:Type} parameters)',
  help: HELP,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(() => parseArgs({
      args: argv, strict: true, allowPositionals: true,
      options: {
        file: { type: 'string' }, param: { type: 'string', multiple: true, default: [] },
        format: { type: 'string', default: 'jsonl' }, store: { type: 'string' },
      },
    }));
    if (!['jsonl', 'json', 'table'].includes(values.format)) {
      throw new CliError(`--format: jsonl, json or table, not '${values.format}'`, USAGE_EXIT_CODE);
    }
    if (values.file !== undefined && positionals.length > 0) throw new CliError('give the query as an argument or with --file, not both', USAGE_EXIT_CODE);
    if (values.file === undefined && positionals.length !== 1) {
      throw new CliError(positionals.length === 0 ? 'no query: genai-ledger query "SELECT ..." or --file FILE' : 'one query at a time: quote the SQL as one argument', USAGE_EXIT_CODE);
    }
    const raw = values.file !== undefined ? await readQueryFile(values.file) : positionals[0]!;
    const sql = values.file !== undefined ? stripCommentHeader(raw) : trimStatement(raw);
    if (sql === '') throw new CliError(values.file !== undefined ? `${values.file}: no SQL after the comment header` : 'the query is empty', USAGE_EXIT_CODE);

    const params = parseParams(values.param);
    const placeholders = findPlaceholders(sql);
    for (const [name, type] of placeholders) {
      if (!(name in params)) throw new CliError(`missing parameter '${name}' (${type}): pass --param ${name}=VALUE`, USAGE_EXIT_CODE);
    }
    for (const name of Object.keys(params)) {
      if (!placeholders.has(name)) throw new CliError(`--param ${name}: the query has no {${name}:Type} placeholder`, USAGE_EXIT_CODE);
    }

    const { runner } = await openReaderForCli(values.store);
    try {
      const rows = await runner.query(sql, params);
      if (values.format === 'table') await writeLines([renderTable(rows)]);
      else if (values.format === 'json') await writeLines([JSON.stringify(rows)]);
      else await writeLines(rows.map((row) => JSON.stringify(row)));
      return 0;
    } finally {
      await runner.close();
    }
  },
};

async function readQueryFile(path: string): Promise<string> {
  if (path === '-') return Buffer.from(await readStdin()).toString('utf8');
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new CliError(`cannot read ${path}: ${code === 'ENOENT' ? 'no such file' : (error as Error).message}`);
  }
}

/** Drops the leading comment lines / blocks (and blank lines) of a .sql file, then trims the statement. */
export function stripCommentHeader(text: string): string {
  let rest = text.replace(/^\uFEFF/, '');
  for (;;) {
    const trimmed = rest.replace(/^\s+/, '');
    if (trimmed.startsWith('--') || trimmed.startsWith('#!') || trimmed.startsWith('# ')) {
      const newline = trimmed.indexOf('\n');
      rest = newline < 0 ? '' : trimmed.slice(newline + 1);
    } else if (trimmed.startsWith('/*')) {
      const end = trimmed.indexOf('*/');
      rest = end < 0 ? '' : trimmed.slice(end + 2);
    } else {
      rest = trimmed;
      break;
    }
  }
  return trimStatement(rest);
}

/** Whitespace and trailing semicolons off. */
export function trimStatement(text: string): string {
  return text.trim().replace(/(;\s*)+$/, '').trim();
}

/** `--param a=1 --param b=x=y` → { a: '1', b: 'x=y' }. */
export function parseParams(list: readonly string[]): Record<string, string> {
  const params: Record<string, string> = {};
  for (const item of list) {
    const eq = item.indexOf('=');
    const name = eq < 0 ? item : item.slice(0, eq);
    if (eq < 0 || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
      throw new CliError(`--param: expected NAME=VALUE, got '${item}'`, USAGE_EXIT_CODE);
    }
    if (name in params) throw new CliError(`--param ${name} given twice`, USAGE_EXIT_CODE);
    params[name] = item.slice(eq + 1);
  }
  return params;
}

/**
 * The `{name:Type}` placeholders of a query (name → type), outside string literals, quoted
 * identifiers and comments.
 */
export function findPlaceholders(sql: string): Map<string, string> {
  const found = new Map<string, string>();
  let i = 0;
  while (i < sql.length) {
    const c = sql[i]!;
    if (c === "'" || c === '"' || c === '`') {
      i = skipQuoted(sql, i, c);
    } else if (c === '-' && sql[i + 1] === '-') {
      const end = sql.indexOf('\n', i);
      i = end < 0 ? sql.length : end + 1;
    } else if (c === '/' && sql[i + 1] === '*') {
      const end = sql.indexOf('*/', i + 2);
      i = end < 0 ? sql.length : end + 2;
    } else if (c === '{') {
      const match = /^\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*:\s*([^{}]*?)\s*\}/.exec(sql.slice(i));
      if (match && match[2] !== '') {
        if (!found.has(match[1]!)) found.set(match[1]!, match[2]!);
        i += match[0].length;
      } else {
        i++;
      }
    } else {
      i++;
    }
  }
  return found;
}

function skipQuoted(sql: string, start: number, quote: string): number {
  let i = start + 1;
  while (i < sql.length) {
    const c = sql[i]!;
    if (c === '\\') i += 2;
    else if (c === quote) {
      if (sql[i + 1] === quote) i += 2;
      else return i + 1;
    } else i++;
  }
  return sql.length;
}
