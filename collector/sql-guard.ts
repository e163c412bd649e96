/**
 * A syntactic gate in front of the query endpoint, on top of ClickHouse's `readonly = 1` (which
 * the embedded engine honours: INSERT, CREATE, DROP, ALTER, file()/url() table functions and
 * setting changes are refused; see test/collector/query-readonly.test.ts). The gate exists because
 * readonly does not cover everything the embedded engine can do:
 * - `SELECT ... INTO OUTFILE '<path>'` writes a file on the collector's host under readonly;
 * - several `;`-separated statements run in one call.
 * So the text must be ONE statement starting with SELECT, WITH, SHOW, DESCRIBE/DESC, EXPLAIN or
 * EXISTS (optionally parenthesised), with no INTO OUTFILE anywhere outside strings and comments.
 *
 * The lexer errs on the side of refusing: `/* *\/` comments do not nest here (so nothing a nesting
 * parser would run is hidden), and `#` is not treated as a comment.
 */

export class QueryRefusedError extends Error {
  override readonly name = 'QueryRefusedError';
}

const ALLOWED_FIRST = new Set(['SELECT', 'WITH', 'SHOW', 'DESCRIBE', 'DESC', 'EXPLAIN', 'EXISTS']);
export const MAX_SQL_LENGTH = 256 * 1024;

interface Token {
  kind: 'word' | 'semicolon' | 'other';
  text: string;
}

/** Words and punctuation outside strings, quoted identifiers and comments. Throws on unterminated ones. */
function lex(sql: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  const n = sql.length;
  while (i < n) {
    const c = sql[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (c === '-' && sql[i + 1] === '-') {
      const end = sql.indexOf('\n', i);
      i = end === -1 ? n : end + 1;
    } else if (c === '/' && sql[i + 1] === '*') {
      const end = sql.indexOf('*/', i + 2);
      if (end === -1) throw new QueryRefusedError('unterminated comment');
      i = end + 2;
    } else if (c === "'" || c === '"' || c === '`') {
      let j = i + 1;
      for (;;) {
        if (j >= n) throw new QueryRefusedError('unterminated quoted text');
        const d = sql[j]!;
        if (d === '\\') j += 2;
        else if (d === c && sql[j + 1] === c) j += 2;
        else if (d === c) break;
        else j++;
      }
      tokens.push({ kind: 'other', text: c });
      i = j + 1;
    } else if (/[A-Za-z_]/.test(c)) {
      let j = i + 1;
      while (j < n && /[A-Za-z0-9_]/.test(sql[j]!)) j++;
      tokens.push({ kind: 'word', text: sql.slice(i, j).toUpperCase() });
      i = j;
    } else if (c === ';') {
      tokens.push({ kind: 'semicolon', text: ';' });
      i++;
    } else {
      tokens.push({ kind: 'other', text: c });
      i++;
    }
  }
  return tokens;
}

/** Throws QueryRefusedError unless `sql` is one read-only statement. */
export function assertReadOnlySql(sql: string): void {
  if (typeof sql !== 'string' || sql.trim() === '') throw new QueryRefusedError('empty query');
  if (sql.length > MAX_SQL_LENGTH) throw new QueryRefusedError(`query longer than ${MAX_SQL_LENGTH} characters`);
  const tokens = lex(sql);
  const semicolon = tokens.findIndex((t) => t.kind === 'semicolon');
  if (semicolon !== -1 && tokens.slice(semicolon + 1).some((t) => t.kind !== 'semicolon')) {
    throw new QueryRefusedError('one statement per query');
  }
  const first = tokens.find((t) => !(t.kind === 'other' && t.text === '('));
  if (!first || first.kind !== 'word' || !ALLOWED_FIRST.has(first.text)) {
    throw new QueryRefusedError(`only read queries are allowed (SELECT, WITH, SHOW, DESCRIBE, EXPLAIN, EXISTS), not ${first ? `'${first.text}'` : 'this'}`);
  }
  for (let k = 0; k + 1 < tokens.length; k++) {
    if (tokens[k]!.text === 'INTO' && tokens[k + 1]!.text === 'OUTFILE') throw new QueryRefusedError('INTO OUTFILE is not allowed');
  }
}
