/**
 * What Grafana and the ClickHouse datasource plugin (grafana-clickhouse-datasource) do to a
 * panel's `rawSql` before ClickHouse sees it, reproduced so that tests can run the very SQL a
 * dashboard would send. Three stages, in the plugin's order:
 *
 * 1. Frontend, `Datasource.applyConditionalAll` (src/data/CHDatasource.ts): every
 *    `$__conditionalAll(cond, $var)`, from the last one to the first, becomes `cond`, or `1=1` when
 *    the variable's current value is All (`$__all`) or empty. Arguments are split like the plugin
 *    does it (commas at bracket depth 1); the variable is named `$var` or `${var}`.
 * 2. Frontend, `templateSrv.replace(sql, scopedVars, format)`: `$var`, `${var}`, `${var:format}`,
 *    `[[var]]`. Without a format the plugin's own formatter applies: a multi-value becomes
 *    `'a','b'` (no escaping), a single value is inserted as it is (no quotes). Named formats follow
 *    Grafana's registry (`singlequote` → `'a','b'` with `'` escaped as `\'`, `sqlstring` →
 *    `'a','b'` with `''`, `csv`, `raw`, `doublequote`, `pipe`). All without a custom
 *    allValue expands to every option of the variable; a custom allValue is inserted raw.
 *    Unknown names (Grafana's built-ins like `$__timeFilter`) are left alone.
 * 3. Backend, sqlds `interpolate` with the plugin's macros (pkg/macros/macros.go): the regex
 *    `\$__name\b(?:\((.*?)\))?` per macro, arguments split on commas and trimmed:
 *    `$__timeFilter(c)` → `c >= toDateTime(from_s) AND c <= toDateTime(to_s)`,
 *    `$__timeFilter_ms(c)` → `c >= fromUnixTimestamp64Milli(from_ms) AND c <= fromUnixTimestamp64Milli(to_ms)`,
 *    `$__dateFilter(c)` → `c >= toDate('YYYY-MM-DD') AND c <= toDate('YYYY-MM-DD')`,
 *    `$__dateTimeFilter(d, t)` / `$__dt(d, t)`, `$__fromTime`, `$__toTime` (+ `_ms`),
 *    `$__interval_s`, `$__timeInterval(c)` → `toStartOfInterval(toDateTime(c), INTERVAL n second)`,
 *    `$__timeInterval_ms(c)` → `toStartOfInterval(toDateTime64(c, 3), INTERVAL n millisecond)`.
 *    The lazy `(.*?)` ends an argument list at the first `)`, so a macro argument that itself
 *    contains parentheses is broken in older sqlds releases: this expander refuses it, so the
 *    dashboards never rely on it. Likewise a query with both `$__fromTime` and `$__fromTime_ms`
 *    (each match is replaced as a literal everywhere, in Go's random map order).
 */

export interface VariableState {
  /** Selected value(s); `'$__all'` (or `['$__all']`) = All. */
  value: string | string[];
  /** The variable's options (what its query returned), used when All is expanded. */
  options?: string[];
  /** A custom All value (inserted raw). */
  allValue?: string;
}

export interface ExpandContext {
  from: Date;
  to: Date;
  /** Grafana's computed interval for the panel ($__interval), ms. */
  intervalMs: number;
  variables: Record<string, VariableState>;
}

const ALL = '$__all';

function isAll(state: VariableState | undefined): boolean {
  if (!state) return false;
  const text = Array.isArray(state.value) ? state.value.join(',') : state.value;
  return text === '' || text === ALL;
}

/** The plugin's getMacroArgs: arguments of the call whose `(` is at `argsIndex`, or [] when unbalanced. */
function macroArgs(query: string, argsIndex: number): string[] {
  const args: string[] = [];
  const re = /\(|\)|,/g;
  let depth = 0;
  let lastArgEnd = 1;
  const sub = query.substring(argsIndex);
  let m: RegExpExecArray | null;
  while ((m = re.exec(sub)) !== null) {
    const node = m[0];
    if (node === '(') depth++;
    else if (node === ')') depth--;
    if (node === ',' && depth === 1) {
      args.push(sub.substring(lastArgEnd, re.lastIndex - 1));
      lastArgEnd = re.lastIndex;
    }
    if (depth === 0) {
      args.push(sub.substring(lastArgEnd, re.lastIndex - 1));
      return args;
    }
  }
  return [];
}

/** Stage 1: `$__conditionalAll(cond, $var)`. */
export function applyConditionalAll(rawQuery: string, variables: Record<string, VariableState>): string {
  const macro = '$__conditionalAll(';
  let query = rawQuery;
  let index = query.lastIndexOf(macro);
  while (index !== -1) {
    const params = macroArgs(query, index + macro.length - 1);
    if (params.length !== 2) throw new Error(`$__conditionalAll needs 2 arguments: ${query.slice(index, index + 80)}`);
    const [cond, varArg] = params as [string, string];
    const name = /(?<=\$\{)[\w\d]+(?=\})|(?<=\$)[\w\d]+/.exec(varArg.trim())?.[0];
    if (name === undefined) throw new Error(`$__conditionalAll: second argument must be $var or \${var}, got '${varArg}'`);
    if (!(name in variables)) throw new Error(`$__conditionalAll: unknown variable '${name}'`);
    const phrase = isAll(variables[name]) ? '1=1' : cond;
    query = query.replace(`${macro}${cond},${varArg})`, phrase);
    index = query.lastIndexOf(macro);
  }
  return query;
}

const escapeSingle = (v: string): string => v.replace(/'/g, "\\'");

/** Grafana's format registry (the formats a ClickHouse query can use). */
function formatValue(value: string | string[], format: string | undefined): string {
  const list = Array.isArray(value) ? value : [value];
  switch (format) {
    case undefined:
      // The plugin's own formatter (CHDatasource.format).
      return Array.isArray(value) ? `'${value.join("','")}'` : value;
    case 'singlequote':
      return list.map((v) => `'${escapeSingle(v)}'`).join(',');
    case 'sqlstring':
      return list.map((v) => `'${v.replace(/'/g, "''")}'`).join(',');
    case 'doublequote':
      return list.map((v) => `"${v.replace(/"/g, '\\"')}"`).join(',');
    case 'csv':
      return list.join(',');
    case 'pipe':
      return list.join('|');
    case 'raw':
      return list.join(',');
    default:
      throw new Error(`variable format '${format}' is not reproduced by this expander`);
  }
}

/** Stage 2: template variables. */
export function replaceVariables(query: string, variables: Record<string, VariableState>): string {
  const re = /\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:^}]+))?(?::([^}]+))?\}/g;
  return query.replace(re, (match, bare?: string, bracket?: string, bracketFormat?: string, braced?: string, _path?: string, bracedFormat?: string) => {
    const name = bare ?? bracket ?? braced;
    const format = bracketFormat ?? bracedFormat;
    if (name === undefined) return match;
    const state = variables[name];
    if (!state) return match;
    if (isAll(state)) {
      if (state.allValue !== undefined) return state.allValue;
      return formatValue(state.options ?? [], format);
    }
    return formatValue(state.value, format);
  });
}

function seconds(d: Date): number {
  return Math.floor(d.getTime() / 1000);
}

function utcDate(d: Date): string {
  return d.toISOString().slice(0, 10);
}

type Macro = (args: string[], ctx: ExpandContext) => string;

function oneArg(name: string, args: string[]): string {
  if (args.length !== 1) throw new Error(`$__${name}: expected 1 argument, received ${args.length}`);
  return args[0] as string;
}

/** The plugin's macros (pkg/macros/macros.go). */
export const MACROS: Readonly<Record<string, Macro>> = {
  fromTime: (_a, c) => `toDateTime(${seconds(c.from)})`,
  toTime: (_a, c) => `toDateTime(${seconds(c.to)})`,
  fromTime_ms: (_a, c) => `fromUnixTimestamp64Milli(${c.from.getTime()})`,
  toTime_ms: (_a, c) => `fromUnixTimestamp64Milli(${c.to.getTime()})`,
  timeFilter: (a, c) => {
    const col = oneArg('timeFilter', a);
    return `${col} >= toDateTime(${seconds(c.from)}) AND ${col} <= toDateTime(${seconds(c.to)})`;
  },
  timeFilter_ms: (a, c) => {
    const col = oneArg('timeFilter_ms', a);
    return `${col} >= fromUnixTimestamp64Milli(${c.from.getTime()}) AND ${col} <= fromUnixTimestamp64Milli(${c.to.getTime()})`;
  },
  dateFilter: (a, c) => {
    const col = oneArg('dateFilter', a);
    return `${col} >= toDate('${utcDate(c.from)}') AND ${col} <= toDate('${utcDate(c.to)}')`;
  },
  dateTimeFilter: (a, c) => {
    if (a.length !== 2) throw new Error(`$__dateTimeFilter: expected 2 arguments, received ${a.length}`);
    const [d, t] = a as [string, string];
    return `(${d} >= toDate('${utcDate(c.from)}') AND ${d} <= toDate('${utcDate(c.to)}')) AND (${t} >= toDateTime(${seconds(c.from)}) AND ${t} <= toDateTime(${seconds(c.to)}))`;
  },
  dt: (a, c) => (MACROS.dateTimeFilter as Macro)(a, c),
  timeInterval: (a, c) => `toStartOfInterval(toDateTime(${oneArg('timeInterval', a)}), INTERVAL ${Math.trunc(Math.max(c.intervalMs / 1000, 1))} second)`,
  timeInterval_ms: (a, c) => `toStartOfInterval(toDateTime64(${oneArg('timeInterval_ms', a)}, 3), INTERVAL ${Math.trunc(Math.max(c.intervalMs, 1))} millisecond)`,
  interval_s: (_a, c) => String(Math.trunc(Math.max(c.intervalMs / 1000, 1))),
};

/** Stage 3: the backend macros, as sqlds interpolates them. */
export function applyMacros(query: string, ctx: ExpandContext): string {
  // sqlds replaces every literal occurrence of a match (strings.Replace(..., -1)) and visits the
  // macros in Go map order: `$__fromTime` would also rewrite the head of `$__fromTime_ms` when it
  // happens to come first. A query using both is expanded differently from run to run: refuse it.
  for (const name of Object.keys(MACROS)) {
    if (name.endsWith('_ms') && query.includes(`$__${name}`) && new RegExp(`\\$__${name.slice(0, -3)}\\b`).test(query)) {
      throw new Error(`$__${name.slice(0, -3)} and $__${name} in one query: sqlds may rewrite one inside the other`);
    }
  }
  let sql = query;
  for (const [name, macro] of Object.entries(MACROS)) {
    const re = new RegExp(`\\$__${name}\\b(?:\\((.*?)\\))?`, 'g');
    for (const match of [...sql.matchAll(re)]) {
      const inner = match[1];
      if (inner !== undefined && inner.includes('(')) {
        throw new Error(`$__${name}(${inner}...): a macro argument with parentheses is cut at the first ')' by sqlds; use a plain column`);
      }
      const args = inner === undefined ? [] : inner.split(',').map((s) => s.trim());
      sql = sql.split(match[0]).join(macro(args, ctx));
    }
  }
  const leftover = /\$__\w+/.exec(sql);
  if (leftover) throw new Error(`unexpanded macro ${leftover[0]}`);
  return sql;
}

/** The SQL ClickHouse receives for a panel target's rawSql. */
export function expandQuery(rawSql: string, ctx: ExpandContext): string {
  const stage1 = applyConditionalAll(rawSql, ctx.variables);
  const stage2 = replaceVariables(stage1, ctx.variables);
  const sql = applyMacros(stage2, ctx);
  const unresolved = /\$\{?(\w+)/.exec(sql.replace(/'(?:[^'\\]|\\.)*'/g, "''"));
  if (unresolved) throw new Error(`unresolved variable $${unresolved[1]} in: ${sql}`);
  return sql;
}

/** Grafana's kbn.roundInterval: the interval a panel gets for range / maxDataPoints, ms. */
export function roundInterval(ms: number): number {
  const steps: Array<[number, number]> = [
    [15, 10], [35, 20], [75, 50], [150, 100], [350, 200], [750, 500], [1500, 1000], [3500, 2000],
    [7500, 5000], [12500, 10000], [17500, 15000], [25000, 20000], [45000, 30000], [90000, 60000],
    [210000, 120000], [450000, 300000], [750000, 600000], [1050000, 900000], [1500000, 1200000],
    [2700000, 1800000], [5400000, 3600000], [9000000, 7200000], [16200000, 10800000],
    [32400000, 21600000], [86400000, 43200000], [604800000, 86400000], [1814400000, 604800000],
    [3628800000, 2592000000],
  ];
  for (const [below, value] of steps) if (ms < below) return value;
  return 31536000000;
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** `'1h'` → 3600000. */
export function parseDuration(text: string): number {
  const m = /^(\d+)(ms|s|m|h|d|w)$/.exec(text.trim());
  if (!m) throw new Error(`unsupported duration '${text}'`);
  return Number(m[1]) * (UNIT_MS[m[2] as string] as number);
}

/** The panel's $__interval: range / maxDataPoints rounded, at least the panel's min interval (Grafana's calculateInterval). */
export function panelIntervalMs(from: Date, to: Date, maxDataPoints: number, minInterval?: string): number {
  const raw = roundInterval((to.getTime() - from.getTime()) / maxDataPoints);
  const floor = minInterval ? parseDuration(minInterval) : 0;
  return Math.max(raw, floor);
}
