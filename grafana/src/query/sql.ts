/**
 * Laying SQL out in template literals: `sql` indents a multi-line value to the column where it is
 * interpolated, so a query's parts can be written as SQL and nested without `\n` escapes.
 */

/** Tagged template: the first newline and trailing blanks dropped, values indented where they stand. */
export function sql(strings: TemplateStringsArray, ...values: Array<string | number>): string {
  let out = strings[0] ?? '';
  values.forEach((value, i) => {
    const lineStart = out.slice(out.lastIndexOf('\n') + 1);
    const pad = /^\s*$/.test(lineStart) ? lineStart : '';
    out += String(value).replaceAll('\n', `\n${pad}`) + (strings[i + 1] ?? '');
  });
  return out.replace(/^\n/, '').trimEnd();
}

/**
 * `WHERE a\n  AND b ...`; a condition may start with `-- comment` lines, kept above its `AND`.
 */
export function where(conditions: readonly string[]): string {
  return conditions
    .map((condition, i) => {
      const lines = condition.split('\n');
      const comments = lines.filter((l) => l.startsWith('--')).map((l) => `  ${l}\n`);
      const body = lines.filter((l) => !l.startsWith('--')).join('\n');
      return i === 0 ? `${comments.join('')}WHERE ${body}` : `${comments.join('')}  AND ${body}`;
    })
    .join('\n');
}

/** Branches of one relation, read as one. */
export const unionAll = (branches: readonly string[]): string => branches.join('\nUNION ALL\n');
