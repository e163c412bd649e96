import type { MatchLogic } from '@pydantic/genai-prices';

/** A compiled MatchLogic: tests an already lower-cased, trimmed model id. */
export type Matcher = (lowerId: string) => boolean;

/**
 * Compiles the catalog's MatchLogic once (regexes included), with the catalog library's semantics:
 * equals / starts_with / ends_with / contains are case-insensitive, a regex is tested against the
 * lower-cased id.
 */
export function compileMatch(logic: MatchLogic): Matcher {
  if ('or' in logic) {
    const parts = logic.or.map(compileMatch);
    return (id) => parts.some((p) => p(id));
  }
  if ('and' in logic) {
    const parts = logic.and.map(compileMatch);
    return (id) => parts.every((p) => p(id));
  }
  if ('equals' in logic) {
    const v = logic.equals.toLowerCase();
    return (id) => id === v;
  }
  if ('starts_with' in logic) {
    const v = logic.starts_with.toLowerCase();
    return (id) => id.startsWith(v);
  }
  if ('ends_with' in logic) {
    const v = logic.ends_with.toLowerCase();
    return (id) => id.endsWith(v);
  }
  if ('contains' in logic) {
    const v = logic.contains.toLowerCase();
    return (id) => id.includes(v);
  }
  if ('regex' in logic) {
    const re = new RegExp(logic.regex);
    return (id) => re.test(id);
  }
  return () => false;
}

const MATCH_KINDS = ['equals', 'starts_with', 'ends_with', 'contains', 'regex'] as const;

/**
 * Checks that `value` is a MatchLogic; returns a problem description or undefined. Used for
 * override files, where a typo must be an error rather than a matcher that never matches.
 */
export function matchLogicProblem(value: unknown, path = 'match'): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return `${path} must be an object`;
  const keys = Object.keys(value);
  if (keys.length !== 1) return `${path} must have exactly one of or, and, ${MATCH_KINDS.join(', ')}`;
  const key = keys[0]!;
  const inner = (value as Record<string, unknown>)[key];
  if (key === 'or' || key === 'and') {
    if (!Array.isArray(inner) || inner.length === 0) return `${path}.${key} must be a non-empty list`;
    for (let i = 0; i < inner.length; i++) {
      const problem = matchLogicProblem(inner[i], `${path}.${key}[${i}]`);
      if (problem) return problem;
    }
    return undefined;
  }
  if (!(MATCH_KINDS as readonly string[]).includes(key)) {
    return `${path}: unknown match kind "${key}" (expected or, and, ${MATCH_KINDS.join(', ')})`;
  }
  if (typeof inner !== 'string' || inner === '') return `${path}.${key} must be a non-empty string`;
  if (key === 'regex') {
    try {
      new RegExp(inner);
    } catch (err) {
      return `${path}.regex is not a valid regular expression: ${(err as Error).message}`;
    }
  }
  return undefined;
}

const DATE_SUFFIX = /(-)(20\d{2})(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])(?=-|:|$)/g;

/**
 * `claude-3-5-sonnet-20241022` → `claude-3-5-sonnet-2024-10-22` (valid dates only), as the catalog
 * library retries a model id that did not match.
 */
export function normalizeDateSuffix(id: string): string {
  if (!id.includes('-20')) return id;
  return id.replace(DATE_SUFFIX, (whole: string, dash: string, y: string, m: string, d: string) => {
    const date = new Date(Date.UTC(Number(y), Number(m) - 1, Number(d)));
    return date.getUTCFullYear() !== Number(y) || date.getUTCMonth() !== Number(m) - 1 || date.getUTCDate() !== Number(d)
      ? whole
      : `${dash}${y}-${m}-${d}`;
  });
}
