import { CliError, USAGE_EXIT_CODE } from './cli-error.js';

const UNIT_MS: Readonly<Record<string, number>> = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** `--since 7d` or `--from/--to` (ISO dates or times, UTC unless an offset is given) → [fromMs, toMs). */
export function parsePeriod(values: { since?: string; from?: string; to?: string }, nowMs = Date.now()): { fromMs: number; toMs: number } {
  if (values.since && values.from) throw new CliError('use --since or --from, not both', USAGE_EXIT_CODE);
  const toMs = values.to ? parseInstant('--to', values.to) : nowMs;
  let fromMs: number;
  if (values.from) fromMs = parseInstant('--from', values.from);
  else {
    const since = values.since ?? '30d';
    const match = /^(\d+)([mhdw])$/.exec(since);
    if (!match) throw new CliError(`--since: expected a duration like 30m, 24h, 7d or 2w, got '${since}'`, USAGE_EXIT_CODE);
    fromMs = toMs - Number(match[1]) * UNIT_MS[match[2]!]!;
  }
  if (!(fromMs < toMs)) throw new CliError('the period is empty: its start is not before its end', USAGE_EXIT_CODE);
  return { fromMs, toMs };
}

function parseInstant(flag: string, text: string): number {
  const iso = /^\d{4}-\d{2}-\d{2}$/.test(text) ? `${text}T00:00:00Z` : /[zZ]|[+-]\d{2}:?\d{2}$/.test(text) ? text : `${text}Z`;
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) throw new CliError(`${flag}: not a date or time: '${text}'`, USAGE_EXIT_CODE);
  return ms;
}
