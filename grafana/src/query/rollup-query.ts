/**
 * The one place that chooses what a panel reads: a small rollup when every filter it cannot apply
 * is on All, else the fine rollup (or the raw ledger). The query holds a branch for each, and
 * `$__conditionalAll(0, $var)` turns off the one that does not apply (ClickHouse reads nothing for
 * a constant false condition). A daily small rollup is read for the whole days of the window and
 * the hourly rollup it folds for the edge hours; an hourly one next to the raw ledger is read for
 * the whole hours and the ledger for the partial hours at the edges.
 */
import { exact, holds, ROLLUPS, type Rollup } from '../../../clickhouse/rollups.js';
import { allSelected, allWords, filterClause, type Filter } from './filters.js';
import { sql, unionAll, where } from './sql.js';
import { edgeCallDays, edgeCalls, edgeHours, RANGE, wholeDays, wholeHours, type Window } from './window.js';

/** The raw ledger, deduplicated. */
export const LEDGER = 'ai_usage_exact';

/**
 * A column the panel reads: its name in the rollups, `[alias, column]`, or `[alias, expression of
 * the branch's time column]` (`hour`, `ts` in the raw ledger).
 */
export type Column = string | readonly [alias: string, column: string | ((time: string) => string)];

/** A condition, or one written for the branch's time column. */
export type Condition = string | ((time: string) => string);
const on = (conditions: readonly Condition[], time: string): string[] => conditions.map((c) => (typeof c === 'string' ? c : c(time)));

export interface RollupRead {
  select: readonly Column[];
  /** The variables that narrow the rows, in their order. */
  filters: readonly Filter[];
  window?: Window;
  /** Read when every filter on a column it does not keep is All. */
  small?: Rollup;
  /** Read otherwise: a rollup holding every filter's column, or the raw ledger. */
  fine: Rollup | typeof LEDGER;
  /** Conditions every branch adds after the filters; a function gets the branch's time column (`hour`, `ts`). */
  where?: readonly Condition[];
  /** More conditions for the small rollup to apply, beside the filters being All. */
  smallOnlyIf?: readonly string[];
}

const name = (c: Column): string => (typeof c === 'string' ? c : c[0]);
const source = (c: Column): string | ((time: string) => string) => (typeof c === 'string' ? c : c[1]);

/** A daily rollup's `day` is read as the `hour` its day starts at. */
const readable = (r: Rollup, column: string): boolean => holds(r, column) || (column === 'hour' && r.bucket === 'day');

function check(r: Rollup, columns: readonly Column[], filters: readonly Filter[]): void {
  for (const c of columns) {
    const s = source(c);
    if (typeof s === 'string' && !readable(r, s)) throw new Error(`grafana: ${r.name} has no column ${s} (declared in clickhouse/rollups.ts)`);
  }
  for (const f of filters) if (!holds(r, f.column)) throw new Error(`grafana: ${r.name} cannot be filtered by $${f.variable} (${f.column})`);
}

/** The select list of a rollup branch; a daily rollup's `day` stands for `hour`. */
function rollupColumns(r: Rollup, columns: readonly Column[]): string {
  const time = r.bucket === 'day' ? "toDateTime(day, 'UTC')" : 'hour';
  return columns
    .map((c) => {
      const s = source(c);
      const expr = typeof s === 'function' ? s(time) : s === 'hour' ? time : s;
      return expr === name(c) ? expr : `${expr} AS ${name(c)}`;
    })
    .join(', ');
}

/** The select list of a raw-ledger branch: each rollup measure as the ledger expression it sums. */
function ledgerColumns(small: Rollup | undefined, columns: readonly Column[]): string {
  return columns
    .map((c) => {
      const s = source(c);
      const expr = typeof s === 'function' ? s('ts') : (small?.fromLedger?.[s] ?? s);
      return expr === name(c) ? expr : `${expr} AS ${name(c)}`;
    })
    .join(', ');
}

const branch = (comment: string | undefined, columns: string, relation: string, conditions: readonly string[]): string =>
  sql`
${comment ? `-- ${comment}\n` : ''}SELECT ${columns}
FROM ${relation}
${where(conditions)}`;

/** The hourly rollup a daily one is folded from: it gives the hours at the window's edges. */
function hourlyOf(daily: Rollup): Rollup {
  const hourly = ROLLUPS.find((r) => r.name === daily.from);
  if (!hourly || hourly.bucket !== 'hour') throw new Error(`grafana: ${daily.name} is not folded from an hourly rollup`);
  return hourly;
}

/** The UNION ALL of the branches a panel reads, to be used as `FROM (...)`. */
export function rollupQuery(q: RollupRead): string {
  const w = q.window ?? RANGE;
  const conditions = q.where ?? [];
  const extra = on(conditions, 'hour');
  const { small, fine } = q;
  const lacking = small ? q.filters.filter((f) => !small.dimensions.includes(f.column)) : [];
  const applies = [allSelected(lacking), ...(q.smallOnlyIf ?? [])].filter((c) => c !== '').join(' AND ');
  const kept = small ? q.filters.filter((f) => small.dimensions.includes(f.column)).map(filterClause) : [];
  const branches: string[] = [];
  const when = lacking.length > 0 ? `${allWords(lacking)}: ` : '';

  if (small && fine === LEDGER) {
    check(small, q.select.filter((c) => typeof source(c) === 'string' && !small.fromLedger?.[source(c) as string]), []);
    const single = q.filters.filter((f) => f.single).map(filterClause);
    const multi = q.filters.filter((f) => !f.single);
    if (!w.ts) throw new Error('grafana: the raw ledger is read only in a window with a ts condition');
    branches.push(branch(`${when}${small.about} for the whole hours of the range`, rollupColumns(small, q.select), exact(small), [...single, wholeHours(w), applies, ...extra, ...kept.filter((k) => !single.includes(k))]));
    branches.push(
      branch('The raw ledger for the partial hours at its edges; for the whole range when a filter is set.', ledgerColumns(small, q.select), LEDGER, [
        w.ts,
        ...single,
        edgeCalls(w, applies),
        `-- (implied by the line above; lets the primary index skip the days in between)\n${edgeCallDays(w, applies)}`,
        ...on(conditions, 'ts'),
        ...multi.map(filterClause),
      ]),
    );
    return unionAll(branches);
  }
  if (fine === LEDGER) throw new Error('grafana: the raw ledger is read next to a small hourly rollup only');

  check(fine, q.select, q.filters);
  if (small) {
    check(small, q.select, []);
    if (small.bucket === 'day') {
      const hourly = hourlyOf(small);
      check(hourly, q.select, []);
      const cond = applies ? [applies] : [];
      branches.push(branch(`${when}${small.about} for the whole days of the range, ${hourly.about} for the hours at its edges.`, rollupColumns(small, q.select), exact(small), [wholeDays(w), ...cond, ...kept, ...extra]));
      branches.push(branch(undefined, rollupColumns(hourly, q.select), exact(hourly), [...w.hour, edgeHours(w), ...cond, ...kept, ...extra]));
    } else {
      branches.push(branch(`${when}${small.about}`, rollupColumns(small, q.select), exact(small), [...w.hour, ...(applies ? [applies] : []), ...kept, ...extra]));
    }
    if (!applies) return unionAll(branches);
  }
  const otherwise = small ? [`NOT (${applies})`] : [];
  branches.push(branch(small ? `Otherwise ${fine.about}.` : undefined, rollupColumns(fine, q.select), exact(fine), [...w.hour, ...otherwise, ...q.filters.map(filterClause), ...extra]));
  return unionAll(branches);
}

/** A flat read of one rollup (no branch to choose): its WHERE lines. */
export function rollupWhere(filters: readonly Filter[], window: Window = RANGE, extra: readonly string[] = []): string {
  return where([...window.hour, ...filters.map(filterClause), ...extra]);
}
