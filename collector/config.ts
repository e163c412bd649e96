/**
 * The collector's configuration: one struct, every field defaulted and documented in SETTINGS
 * (which also renders `genai-ledger collect --help`). Values come from command-line flags, then
 * GENAI_LEDGER_* environment variables, then the defaults. Anything invalid fails at start with a
 * ConfigError naming the flag and the variable.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { describeStore, parseStore, resolveStoreOption, type Store } from '../clickhouse/store.js';
import { isWebhookUrl } from '../delivery/budgets/alerting.js';
import { loadTokensFile, parseTokens, type TokenEntry } from './auth.js';
import { LOG_LEVELS, type LogLevel } from './log.js';

export interface QueryLimits {
  /** max_execution_time of a query, seconds. */
  timeoutSeconds: number;
  /** max_result_rows (result_overflow_mode = 'throw'). */
  maxResultRows: number;
  /** max_result_bytes (result_overflow_mode = 'throw'). */
  maxResultBytes: number;
  /** max_memory_usage of a query, bytes. */
  maxMemoryBytes: number;
}

export interface CollectorConfig {
  host: string;
  /** 0 picks a free port (the URL is logged and written to the discovery file). */
  port: number;
  /** ClickHouse URL or embedded-store directory. */
  store: string;
  /** Price overrides file, or undefined for the bundled catalog only. */
  prices: string | undefined;
  /** Ingest tokens; empty = ingestion is open (no Authorization needed). */
  tokens: TokenEntry[];
  /** Where the tokens came from, for the start log line (never the tokens themselves). */
  tokensSource: string;
  /** Bearer token of the query endpoint. */
  queryToken: string;
  /** True when queryToken was generated at start (it is then only in the discovery file). */
  queryTokenGenerated: boolean;
  queryEndpoint: boolean;
  query: QueryLimits;
  /** Largest request body as received (compressed). */
  maxBodyBytes: number;
  /** Largest request body after decompression. */
  maxDecompressedBytes: number;
  /** Writer queue bound (rows): requests that do not fit get 429 + Retry-After. */
  maxQueueRows: number;
  /** Writer queue bound (serialized bytes). */
  maxQueueBytes: number;
  maxBatchRows: number;
  flushIntervalMs: number;
  /** After a pause this long in requests, queued rows are written at once (0 = wait for the interval). */
  idleFlushMs: number;
  /** Retry-After sent with 429 / 503. */
  retryAfterSeconds: number;
  /** Longest a SIGTERM drain may take before the process gives up (exit 1). */
  shutdownTimeoutMs: number;
  /** Raw rows' retention when ai_usage is created; undefined = forever. */
  ttlDays: number | undefined;
  logLevel: LogLevel;
  /** LangChain's model-call spans and Langfuse's generations: the calls, or wrappers of the provider spans that record them too (MapperOptions.frameworkSpans). */
  frameworkSpans: FrameworkSpans;
  /** Budgets file (JSON or YAML) whose alerts the collector fires; undefined = no budget alerts. */
  budgets: string | undefined;
  /** Where budget alerts are POSTed (signed with GENAI_LEDGER_ALERT_WEBHOOK_SECRET when set); undefined = logged only. */
  alertWebhook: string | undefined;
  /** HMAC-SHA256 key of the alerts' signature: from the environment only, never a flag (it would show in `ps`). */
  alertWebhookSecret: string | undefined;
  /** Rate cards file (JSON or YAML): synced into rate_cards, billed_daily kept current; undefined = no billing. */
  rates: string | undefined;
  /** With `rates`: billed_daily is refreshed at most this often (ms). */
  billingRefreshMs: number;
  /** Write <store>/collector.json for an embedded store so the CLI finds the query endpoint. */
  discovery: boolean;
  /**
   * The durable write-ahead spool: a 200 is answered only once the request's rows are fsync'd in
   * it, and they reach ClickHouse from there (surviving ClickHouse outages and SIGKILL).
   * undefined = off (--no-spool / GENAI_LEDGER_SPOOL=off): rows are queued in memory only.
   */
  spool: SpoolConfig | undefined;
  /** Test-only: GENAI_LEDGER_FAULT_INJECTION=1 serves POST /debug/faults (never from a flag). */
  faultInjection: boolean;
}

export interface SpoolConfig {
  dir: string;
  maxBytes: number;
  /** false skips fdatasync (survives SIGKILL, not power loss). Default true. */
  fsync: boolean;
}

/** A setting the collector cannot start with; the message names the flag and the variable. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

type Kind = 'string' | 'port' | 'count' | 'bytes' | 'bool' | 'level' | 'seconds';

interface Setting {
  flag: string;
  env: string;
  kind: Kind;
  default: string | undefined;
  doc: string;
}

const MiB = 1024 * 1024;
const FRAMEWORK_SPANS = ['calls', 'wrappers'] as const;
type FrameworkSpans = (typeof FRAMEWORK_SPANS)[number];

/** Every flag, its variable, default and meaning. The order is the --help order. */
export const SETTINGS = {
  host: { flag: 'host', env: 'GENAI_LEDGER_HOST', kind: 'string', default: '127.0.0.1', doc: 'address to listen on (0.0.0.0 for every interface)' },
  port: { flag: 'port', env: 'GENAI_LEDGER_PORT', kind: 'port', default: '4318', doc: 'OTLP/HTTP port (0 = any free port)' },
  store: { flag: 'store', env: 'GENAI_LEDGER_STORE', kind: 'string', default: undefined, doc: 'ClickHouse URL or embedded store directory (default: GENAI_LEDGER_STORE, CLICKHOUSE_URL, ./.genai-ledger)' },
  prices: { flag: 'prices', env: 'GENAI_LEDGER_PRICES', kind: 'string', default: undefined, doc: 'price overrides file (JSON or YAML) that wins over the bundled catalog' },
  tokensFile: { flag: 'tokens-file', env: 'GENAI_LEDGER_TOKENS_FILE', kind: 'string', default: undefined, doc: 'ingest tokens, JSON or YAML: a list of {token, org?} (GENAI_LEDGER_TOKENS holds the same inline). None: ingestion needs no token' },
  queryToken: { flag: 'query-token', env: 'GENAI_LEDGER_QUERY_TOKEN', kind: 'string', default: undefined, doc: 'bearer token of POST /v1/query (default: generated at start, written to <store>/collector.json)' },
  queryEndpoint: { flag: 'query-endpoint', env: 'GENAI_LEDGER_QUERY_ENDPOINT', kind: 'bool', default: 'on', doc: 'serve the read-only query endpoint' },
  queryTimeout: { flag: 'query-timeout', env: 'GENAI_LEDGER_QUERY_TIMEOUT', kind: 'seconds', default: '30', doc: 'max_execution_time of a query, seconds' },
  queryMaxRows: { flag: 'query-max-rows', env: 'GENAI_LEDGER_QUERY_MAX_ROWS', kind: 'count', default: '100000', doc: 'max_result_rows of a query' },
  queryMaxResultBytes: { flag: 'query-max-result-bytes', env: 'GENAI_LEDGER_QUERY_MAX_RESULT_BYTES', kind: 'bytes', default: '64MiB', doc: 'max_result_bytes of a query' },
  queryMaxMemory: { flag: 'query-max-memory', env: 'GENAI_LEDGER_QUERY_MAX_MEMORY', kind: 'bytes', default: '2GiB', doc: 'max_memory_usage of a query' },
  maxBodyBytes: { flag: 'max-body-bytes', env: 'GENAI_LEDGER_MAX_BODY_BYTES', kind: 'bytes', default: '16MiB', doc: 'largest request body as sent (compressed); larger → 413' },
  maxDecompressedBytes: { flag: 'max-decompressed-bytes', env: 'GENAI_LEDGER_MAX_DECOMPRESSED_BYTES', kind: 'bytes', default: '64MiB', doc: 'largest request body after gunzip; larger → 413' },
  maxQueueRows: { flag: 'max-queue-rows', env: 'GENAI_LEDGER_MAX_QUEUE_ROWS', kind: 'count', default: '100000', doc: 'rows waiting for ClickHouse at most; a request that does not fit → 429 + Retry-After' },
  maxQueueBytes: { flag: 'max-queue-bytes', env: 'GENAI_LEDGER_MAX_QUEUE_BYTES', kind: 'bytes', default: '64MiB', doc: 'serialized rows waiting at most' },
  maxBatchRows: { flag: 'max-batch-rows', env: 'GENAI_LEDGER_MAX_BATCH_ROWS', kind: 'count', default: '10000', doc: 'rows per insert' },
  flushInterval: { flag: 'flush-interval', env: 'GENAI_LEDGER_FLUSH_INTERVAL', kind: 'seconds', default: '1', doc: 'longest a row waits before its insert, seconds' },
  idleFlush: { flag: 'idle-flush', env: 'GENAI_LEDGER_IDLE_FLUSH', kind: 'seconds', default: '0.1', doc: 'write queued rows once requests pause this long, seconds (0 = only every --flush-interval)' },
  retryAfter: { flag: 'retry-after', env: 'GENAI_LEDGER_RETRY_AFTER', kind: 'seconds', default: '1', doc: 'Retry-After of 429/503 answers, whole seconds' },
  shutdownTimeout: { flag: 'shutdown-timeout', env: 'GENAI_LEDGER_SHUTDOWN_TIMEOUT', kind: 'seconds', default: '30', doc: 'longest a SIGTERM drain may take, seconds' },
  ttlDays: { flag: 'ttl-days', env: 'GENAI_LEDGER_TTL_DAYS', kind: 'count', default: undefined, doc: 'keep raw rows N days (applied when ai_usage is created)' },
  logLevel: { flag: 'log-level', env: 'GENAI_LEDGER_LOG_LEVEL', kind: 'level', default: 'info', doc: `JSON log lines on stderr at this level and above (${LOG_LEVELS.join('|')})` },
  frameworkSpans: { flag: 'framework-spans', env: 'GENAI_LEDGER_FRAMEWORK_SPANS', kind: 'string', default: 'calls', doc: 'LangChain instrumentations\' model-call spans and Langfuse\'s generations: calls (rows), or wrappers when the apps also run a provider instrumentation, whose spans of the same calls are then the rows' },
  budgets: { flag: 'budgets', env: 'GENAI_LEDGER_BUDGETS', kind: 'string', default: undefined, doc: 'budgets file (JSON or YAML): alerts fire once per budget, period and alert_at threshold as rows are written' },
  alertWebhook: { flag: 'alert-webhook', env: 'GENAI_LEDGER_ALERT_WEBHOOK', kind: 'string', default: undefined, doc: 'URL budget alerts are POSTed to, retried until a 2xx (signed with GENAI_LEDGER_ALERT_WEBHOOK_SECRET when set); none: alerts are logged' },
  rates: { flag: 'rates', env: 'GENAI_LEDGER_RATES', kind: 'string', default: undefined, doc: 'rate cards file (YAML or JSON): loaded into the store\'s rate_cards at start, then billed_daily kept current as calls arrive (see --billing-refresh)' },
  billingRefresh: { flag: 'billing-refresh', env: 'GENAI_LEDGER_BILLING_REFRESH', kind: 'seconds', default: '60', doc: 'with --rates: re-bill the days that received calls (by call time) at most this often, seconds' },
  discovery: { flag: 'discovery', env: 'GENAI_LEDGER_DISCOVERY', kind: 'bool', default: 'on', doc: 'write <store>/collector.json (mode 0600) so CLI readers find the query endpoint' },
  spool: { flag: 'spool', env: 'GENAI_LEDGER_SPOOL', kind: 'bool', default: 'on', doc: 'durable write-ahead spool: answer 200 only once the rows are fsync\'d on disk, so they survive ClickHouse outages and SIGKILL (off, or --no-spool: rows wait in memory only)' },
  spoolDir: { flag: 'spool-dir', env: 'GENAI_LEDGER_SPOOL_DIR', kind: 'string', default: undefined, doc: 'spool directory, one collector at a time (default: <store>/spool for an embedded store; required with a ClickHouse URL unless the spool is off)' },
  spoolMaxBytes: { flag: 'spool-max-bytes', env: 'GENAI_LEDGER_SPOOL_MAX_BYTES', kind: 'bytes', default: '1GiB', doc: 'spool size at most; when full, requests get 503 + Retry-After (413 for one that could never fit)' },
  spoolFsync: { flag: 'spool-fsync', env: 'GENAI_LEDGER_SPOOL_FSYNC', kind: 'bool', default: 'on', doc: 'fdatasync each group of appends (off survives SIGKILL but not power loss)' },
} as const satisfies Record<string, Setting>;

type SettingName = keyof typeof SETTINGS;

/** `--help` lines for the options, from SETTINGS. */
export function settingsHelp(width = 100): string {
  const lines: string[] = [];
  const indent = 34;
  const metavar: Record<Kind, string> = { bool: 'on|off', bytes: 'BYTES', seconds: 'S', string: 'VALUE', level: 'LEVEL', port: 'N', count: 'N' };
  for (const s of Object.values(SETTINGS) as Setting[]) {
    const head = `  --${s.flag} ${metavar[s.kind]}`;
    const words = `${s.doc}${s.default !== undefined ? `. Default ${s.default}` : ''} [${s.env}]`.split(' ');
    let line = head.length < indent ? head.padEnd(indent) : `${head}\n${' '.repeat(indent)}`;
    let used = head.length < indent ? indent : indent;
    for (const word of words) {
      if (used + word.length + 1 > width && used > indent) {
        lines.push(line.trimEnd());
        line = ' '.repeat(indent);
        used = indent;
      }
      line += `${word} `;
      used += word.length + 1;
    }
    lines.push(line.trimEnd());
  }
  return lines.join('\n');
}

/** Parses `collect` flags and the environment into a CollectorConfig; throws ConfigError. */
export function parseCollectorConfig(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): CollectorConfig {
  const options: Record<string, { type: 'string' }> = {};
  for (const s of Object.values(SETTINGS) as Setting[]) options[s.flag] = { type: 'string' };
  // `--no-spool` is `--spool off`.
  const args = argv.map((a) => (a === '--no-spool' ? '--spool=off' : a));
  let flags: Record<string, string | undefined>;
  try {
    flags = parseArgs({ args, options, strict: true, allowPositionals: false }).values as Record<string, string | undefined>;
  } catch (error) {
    throw new ConfigError((error instanceof Error ? error.message : String(error)).split('\n', 1)[0]!);
  }

  const raw = (name: SettingName): { value: string | undefined; origin: string } => {
    const s: Setting = SETTINGS[name];
    const fromFlag = flags[s.flag];
    if (fromFlag !== undefined) return { value: fromFlag, origin: `--${s.flag}` };
    const fromEnv = env[s.env];
    if (fromEnv !== undefined && fromEnv.trim() !== '') return { value: fromEnv, origin: s.env };
    return { value: s.default, origin: `default of --${s.flag}` };
  };
  const label = (name: SettingName): string => `--${SETTINGS[name].flag} (${SETTINGS[name].env})`;
  const fail = (name: SettingName, what: string, value: string): never => {
    throw new ConfigError(`${label(name)}: expected ${what}, got ${JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value)}`);
  };
  const num = (name: SettingName, min: number, max = Number.MAX_SAFE_INTEGER): number => {
    const { value } = raw(name);
    const kind: Kind = SETTINGS[name].kind;
    const text = (value ?? '').trim();
    const n = kind === 'bytes' ? parseBytes(text) : kind === 'seconds' ? Number(text) : /^\d+$/.test(text) ? Number(text) : NaN;
    const whole = kind !== 'seconds';
    if (!Number.isFinite(n) || n < min || n > max || (whole && !Number.isInteger(n))) {
      const what = kind === 'bytes' ? `a size in bytes ≥ ${min} (e.g. 1048576, 512KiB, 16MiB)`
        : kind === 'seconds' ? `a number of seconds ≥ ${min}`
        : `a whole number from ${min} to ${max}`;
      fail(name, what, text);
    }
    return n;
  };
  const bool = (name: SettingName): boolean => {
    const text = (raw(name).value ?? '').trim().toLowerCase();
    if (['on', 'true', '1', 'yes'].includes(text)) return true;
    if (['off', 'false', '0', 'no'].includes(text)) return false;
    return fail(name, 'on or off', text);
  };
  const str = (name: SettingName): string | undefined => {
    const { value } = raw(name);
    if (value === undefined) return undefined;
    if (value.trim() === '') return fail(name, 'a non-empty value', value);
    return value.trim();
  };

  const webhookUrl = (value: string | undefined): string | undefined =>
    value === undefined || isWebhookUrl(value) ? value : fail('alertWebhook', 'an http(s) URL', value);

  const host = str('host')!;
  const port = num('port', 0, 65535);
  const store = resolveStoreOption(flags[SETTINGS.store.flag], env);

  const level = (raw('logLevel').value ?? '').trim().toLowerCase();
  if (!(LOG_LEVELS as readonly string[]).includes(level)) fail('logLevel', LOG_LEVELS.join(' | '), level);
  const frameworkSpans = (raw('frameworkSpans').value ?? '').trim().toLowerCase();
  if (!(FRAMEWORK_SPANS as readonly string[]).includes(frameworkSpans)) fail('frameworkSpans', FRAMEWORK_SPANS.join(' | '), frameworkSpans);

  let tokens: TokenEntry[] = [];
  let tokensSource = 'none';
  const tokensFile = str('tokensFile');
  const inline = env.GENAI_LEDGER_TOKENS;
  if (tokensFile !== undefined) {
    if (inline !== undefined && inline.trim() !== '') {
      throw new ConfigError(`${label('tokensFile')} and GENAI_LEDGER_TOKENS are both set: use one`);
    }
    try {
      tokens = loadTokensFile(tokensFile);
    } catch (error) {
      throw new ConfigError(`${label('tokensFile')}: ${(error as Error).message}`);
    }
    tokensSource = `file ${tokensFile}`;
  } else if (inline !== undefined && inline.trim() !== '') {
    try {
      tokens = parseTokens(inline);
    } catch (error) {
      throw new ConfigError(`GENAI_LEDGER_TOKENS: ${(error as Error).message}`);
    }
    tokensSource = 'GENAI_LEDGER_TOKENS';
  }

  const givenQueryToken = str('queryToken');
  if (givenQueryToken !== undefined && givenQueryToken.length < 16) {
    throw new ConfigError(`${label('queryToken')}: expected at least 16 characters (got ${givenQueryToken.length})`);
  }
  if (givenQueryToken !== undefined && tokens.some((t) => t.token === givenQueryToken)) {
    throw new ConfigError(`${label('queryToken')}: must differ from every ingest token (it reads every org's rows)`);
  }

  const ttl = raw('ttlDays').value;
  const maxBatchRows = num('maxBatchRows', 1);

  let spool: SpoolConfig | undefined;
  if (bool('spool')) {
    let dir = str('spoolDir');
    if (dir === undefined) {
      let parsed: Store | undefined;
      try {
        parsed = parseStore(store);
      } catch {
        parsed = undefined;
      }
      if (parsed?.kind === 'embedded') dir = join(parsed.path, 'spool');
      else {
        throw new ConfigError(
          `${label('spoolDir')}: required with a ClickHouse server store (a local directory for the write-ahead spool), or turn the spool off with --no-spool (GENAI_LEDGER_SPOOL=off)`,
        );
      }
    }
    spool = { dir, maxBytes: num('spoolMaxBytes', 1024 * 1024), fsync: bool('spoolFsync') };
  }
  return {
    host,
    port,
    store,
    prices: str('prices'),
    tokens,
    tokensSource,
    queryToken: givenQueryToken ?? randomBytes(32).toString('base64url'),
    queryTokenGenerated: givenQueryToken === undefined,
    queryEndpoint: bool('queryEndpoint'),
    query: {
      timeoutSeconds: num('queryTimeout', 0.001),
      maxResultRows: num('queryMaxRows', 1),
      maxResultBytes: num('queryMaxResultBytes', 1024),
      maxMemoryBytes: num('queryMaxMemory', MiB),
    },
    maxBodyBytes: num('maxBodyBytes', 1024),
    maxDecompressedBytes: num('maxDecompressedBytes', 1024),
    maxQueueRows: num('maxQueueRows', 1),
    maxQueueBytes: num('maxQueueBytes', 64 * 1024),
    maxBatchRows,
    flushIntervalMs: Math.round(num('flushInterval', 0.01) * 1000),
    idleFlushMs: Math.round(num('idleFlush', 0) * 1000),
    retryAfterSeconds: Math.ceil(num('retryAfter', 0)),
    shutdownTimeoutMs: Math.round(num('shutdownTimeout', 0.1) * 1000),
    ttlDays: ttl === undefined ? undefined : num('ttlDays', 1, 100_000),
    logLevel: level as LogLevel,
    frameworkSpans: frameworkSpans as FrameworkSpans,
    budgets: str('budgets'),
    alertWebhook: webhookUrl(str('alertWebhook')),
    alertWebhookSecret: env.GENAI_LEDGER_ALERT_WEBHOOK_SECRET?.trim() || undefined,
    rates: str('rates'),
    billingRefreshMs: Math.round(num('billingRefresh', 0.01) * 1000),
    discovery: bool('discovery'),
    spool,
    faultInjection: env.GENAI_LEDGER_FAULT_INJECTION === '1',
  };
}

const UNITS: Record<string, number> = {
  '': 1, b: 1, k: 1024, kb: 1000, kib: 1024, m: MiB, mb: 1e6, mib: MiB, g: 1024 * MiB, gb: 1e9, gib: 1024 * MiB,
};

/** `16777216`, `16MiB`, `16M` (binary), `16MB` (decimal), `512KiB`, `2GiB` → bytes; NaN if unreadable. */
export function parseBytes(text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([a-zA-Z]*)$/.exec(text.trim());
  if (!match) return NaN;
  const unit = UNITS[match[2]!.toLowerCase()];
  if (unit === undefined) return NaN;
  return Math.floor(Number(match[1]) * unit);
}

/** The configuration as logged at start: no token values, only counts. */
export function describeConfig(config: CollectorConfig): Record<string, unknown> {
  const { tokens, queryToken: _secret, store, ...rest } = config;
  let where: string;
  try {
    where = describeStore(parseStore(store));
  } catch {
    where = '(invalid)';
  }
  return { ...rest, store: where, tokens: tokens.length, orgBoundTokens: tokens.filter((t) => t.org !== undefined).length };
}
