/**
 * Structured logs: one JSON object per line on stderr, `{"time","level","msg",...fields}`.
 *
 * Callers pass only what is safe to print: tokens, Authorization headers and request bodies are
 * never given to the logger (the collector logs token *counts* and org ids, never token values).
 * As a second line of defence, field names that look like secrets are masked.
 */
import { diag, DiagLogLevel, type DiagLogger } from '@opentelemetry/api';

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const SECRET_FIELD = /token|authorization|password|secret/i;

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  enabled(level: LogLevel): boolean;
}

export interface LoggerOptions {
  level?: LogLevel;
  /** Where lines go. Default process.stderr. */
  write?: (line: string) => void;
  /** Fields added to every line. */
  base?: LogFields;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const min = RANK[options.level ?? 'info'];
  const write = options.write ?? ((line: string) => process.stderr.write(line));
  const base = options.base ?? {};
  const emit = (level: LogLevel, msg: string, fields?: LogFields): void => {
    if (RANK[level] < min) return;
    const record: LogFields = { time: new Date().toISOString(), level, msg, ...base };
    if (fields) for (const [key, value] of Object.entries(fields)) record[key] = safeValue(key, value);
    let line: string;
    try {
      line = JSON.stringify(record);
    } catch {
      line = JSON.stringify({ time: record.time, level, msg, note: 'fields not serializable' });
    }
    write(`${line}\n`);
  };
  return {
    debug: (msg, fields) => emit('debug', msg, fields),
    info: (msg, fields) => emit('info', msg, fields),
    warn: (msg, fields) => emit('warn', msg, fields),
    error: (msg, fields) => emit('error', msg, fields),
    enabled: (level) => RANK[level] >= min,
  };
}

function safeValue(key: string, value: unknown): unknown {
  if (SECRET_FIELD.test(key) && !/count|file|source/i.test(key)) return '[redacted]';
  if (value instanceof Error) return value.message.split('\n', 1)[0];
  if (typeof value === 'bigint') return value.toString();
  return value;
}

/** A logger that drops everything (tests, library use). */
export const silentLogger: Logger = {
  debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined, enabled: () => false,
};

/** Routes OpenTelemetry `diag` (the writer's and store client's warnings) into the structured log. */
export function routeDiagTo(logger: Logger, level: LogLevel): void {
  const text = (message: string, args: unknown[]): string =>
    [message, ...args.map((a) => (a instanceof Error ? a.message : typeof a === 'string' ? a : safeJson(a)))].join(' ');
  const adapter: DiagLogger = {
    error: (m, ...a) => logger.error(text(m, a), { source: 'diag' }),
    warn: (m, ...a) => logger.warn(text(m, a), { source: 'diag' }),
    info: (m, ...a) => logger.info(text(m, a), { source: 'diag' }),
    debug: (m, ...a) => logger.debug(text(m, a), { source: 'diag' }),
    verbose: (m, ...a) => logger.debug(text(m, a), { source: 'diag' }),
  };
  const diagLevel = { debug: DiagLogLevel.DEBUG, info: DiagLogLevel.INFO, warn: DiagLogLevel.WARN, error: DiagLogLevel.ERROR }[level];
  diag.setLogger(adapter, { logLevel: diagLevel, suppressOverrideMessage: true });
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}
