/**
 * Where usage rows live: a ClickHouse server over HTTP(S), or an embedded ClickHouse engine
 * (chDB) in a local directory. Both are driven through the same `@clickhouse/client` API;
 * only the connection underneath differs.
 *
 * chDB facts this module is built on (chdb 3.4, engine 26.7, checked by hand and in the store tests):
 * - A data directory can be open in one process at a time. A second process fails with
 *   `Code: 76 ... Cannot lock file <dir>/status. Another server instance in same directory is
 *   already running. (CANNOT_OPEN_FILE)` (printed to stderr by libchdb; the thrown error often
 *   only says `Failed to create connection for path '<dir>'`); `<dir>/status` holds
 *   `PID: <pid>` of the owner while it runs, so a live foreign pid there identifies the lock.
 * - One process binds one data directory at a time. Several connections to the same directory
 *   coexist (they share one engine); opening a different directory while one is open fails with
 *   `chdb: only one active data directory per process; close the current session ...`.
 *   Closing every connection to the first directory frees the process to open another one.
 * - `clickhouse_settings` are applied as session `SET`s and stay set for later statements on the
 *   same connection (and `USE db` persists the same way). An insert_deduplication_token leaking
 *   into a later insert would silently drop it, so the embedded connection is wrapped to reset
 *   every setting a previous call changed (see StickySettingsConnection).
 * - chDB's `default` database has the Overlay engine; databases created here are Atomic, which
 *   refreshable materialized views (the rollups) require.
 */
import { randomUUID } from 'node:crypto';
import { fstatSync, mkdirSync, readFileSync } from 'node:fs';
import { resolve as resolvePath, join } from 'node:path';
import { Readable } from 'node:stream';
import { diag } from '@opentelemetry/api';
import { createClient } from '@clickhouse/client';
import type { ClickHouseClient, ClickHouseClientConfigOptions, ClickHouseSettings } from '@clickhouse/client';
import { isMissingPackage } from './missing-package.js';
import { isProcessAlive } from './process-alive.js';

export const DEFAULT_STORE = './.genai-ledger';
export const DEFAULT_DATABASE = 'genai_ledger';

export type Store =
  | { kind: 'http'; url: URL; database: string }
  | { kind: 'embedded'; path: string };

export interface StoreClientOptions {
  /** Overrides the database named by the store (default: the URL path, else 'genai_ledger'). */
  database?: string;
  /** Create the database if missing. Default true. Over HTTP this is one `CREATE DATABASE IF NOT
   *  EXISTS` through a short-lived client bound to `default` (the server refuses requests naming
   *  a missing database); a refusal by the server (read-only user, no grant) is ignored, since the
   *  database may well exist; an unreachable server throws StoreError('STORE_UNAVAILABLE'). */
  ensureDatabase?: boolean;
  /** Settings sent with every query. */
  clickhouse_settings?: ClickHouseSettings;
  /** HTTP request timeout (ms). Default: the client's (300 s). */
  request_timeout?: number;
  /** Application name reported to the server. */
  application?: string;
}

/** Base class of the errors this module throws; messages never contain passwords. */
export class StoreError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreError';
    this.code = code;
  }
}

/** The embedded store directory is held by another process (chDB allows one per directory). */
export class StoreLockedError extends StoreError {
  readonly path: string;
  readonly pid: number | undefined;
  constructor(path: string, pid: number | undefined, options?: { cause?: unknown }) {
    super(
      'STORE_LOCKED',
      `the embedded store ${path} is open in another process (${pid === undefined ? 'pid unknown' : `pid ${pid}`}); ` +
        'stop it or query through the collector',
      options,
    );
    this.name = 'StoreLockedError';
    this.path = path;
    this.pid = pid;
  }
}

const DATABASE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `http(s)://user:pass@host:8123/db` → http store; anything else → an embedded store directory. */
export function parseStore(value: string): Store {
  const trimmed = value.trim();
  if (/^https?:\/\//i.test(trimmed)) {
    let url: URL;
    try {
      url = new URL(trimmed);
    } catch (err) {
      throw new StoreError('STORE_INVALID', `invalid ClickHouse URL ${redactUrlString(trimmed)}`, { cause: err });
    }
    const path = decodeURIComponent(url.pathname.replace(/^\/+|\/+$/g, ''));
    const database = path === '' ? (url.searchParams.get('database') ?? DEFAULT_DATABASE) : path;
    if (!DATABASE_NAME.test(database)) {
      throw new StoreError('STORE_INVALID', `invalid database name ${JSON.stringify(database)} in ${redactUrl(url)}`);
    }
    return { kind: 'http', url, database };
  }
  if (trimmed === '') throw new StoreError('STORE_INVALID', 'empty store location');
  return { kind: 'embedded', path: resolvePath(trimmed) };
}

/** The store location from a CLI flag, else GENAI_LEDGER_STORE, else CLICKHOUSE_URL, else './.genai-ledger'. */
export function resolveStoreOption(flag?: string, env: NodeJS.ProcessEnv = process.env): string {
  for (const candidate of [flag, env.GENAI_LEDGER_STORE, env.CLICKHOUSE_URL]) {
    if (candidate !== undefined && candidate.trim() !== '') return candidate.trim();
  }
  return DEFAULT_STORE;
}

/** The URL with its password replaced by `***` (username kept). */
export function redactUrl(url: URL): string {
  if (url.password === '') return url.toString();
  const copy = new URL(url.toString());
  copy.password = '***';
  return copy.toString();
}

function redactUrlString(value: string): string {
  return value.replace(/(\/\/[^:/@]*:)[^@/]*@/, '$1***@');
}

/** A log-safe description of a store. */
export function describeStore(store: Store): string {
  return store.kind === 'http' ? redactUrl(store.url) : store.path;
}

/** Removes every occurrence of the store's password from an error message. */
function scrub(message: string, store: Store): string {
  if (store.kind !== 'http') return message;
  let out = message;
  for (const secret of new Set([store.url.password, safeDecode(store.url.password)])) {
    if (secret.length >= 1) out = out.split(secret).join('***');
  }
  return out;
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/** The database a store client works in. */
export function storeDatabase(store: Store, options: StoreClientOptions = {}): string {
  const database = options.database ?? (store.kind === 'http' ? store.database : DEFAULT_DATABASE);
  if (!DATABASE_NAME.test(database)) throw new StoreError('STORE_INVALID', `invalid database name ${JSON.stringify(database)}`);
  return database;
}

/**
 * A `@clickhouse/client` client for the store, its default database set and (unless
 * `ensureDatabase: false`) created if missing. The same client API either way; only the
 * connection underneath differs. Embedded: throws StoreLockedError when another process holds
 * the directory, StoreError('STORE_BUSY') when this process already holds another directory.
 * HTTP: throws StoreError('STORE_UNAVAILABLE') when the server cannot be reached. Error messages
 * and the client's log lines (routed to OTel diag) never contain the password.
 */
export async function createStoreClient(store: Store, options: StoreClientOptions = {}): Promise<ClickHouseClient> {
  const database = storeDatabase(store, options);
  const common: ClickHouseClientConfigOptions = {
    application: options.application ?? 'genai-ledger',
    // The client's own log lines go to OTel diag (scrubbed), never to the console.
    log: { LoggerClass: diagLoggerFor(store) },
    ...(options.clickhouse_settings ? { clickhouse_settings: options.clickhouse_settings } : {}),
    ...(options.request_timeout !== undefined ? { request_timeout: options.request_timeout } : {}),
  };
  if (store.kind === 'http') {
    const base = new URL(store.url.toString());
    const username = safeDecode(base.username) || 'default';
    const password = safeDecode(base.password);
    base.username = '';
    base.password = '';
    base.pathname = '/';
    base.search = '';
    const connect = (db: string): ClickHouseClient =>
      createClient({ ...common, url: base.toString(), username, password, database: db });
    if (options.ensureDatabase !== false) {
      const admin = connect('default');
      try {
        await admin.command({ query: `CREATE DATABASE IF NOT EXISTS ${database}` });
      } catch (err) {
        const message = scrub(errorMessage(err), store);
        if (!hasClickHouseCode(err)) {
          throw new StoreError('STORE_UNAVAILABLE', `cannot reach ClickHouse at ${redactUrl(store.url)}: ${message}`);
        }
        diag.debug(`genai-ledger: CREATE DATABASE ${database} refused (${message}); assuming it exists`);
      } finally {
        await admin.close().catch(() => undefined);
      }
    }
    return connect(database);
  }

  const connection = await openEmbeddedConnection(store.path);
  const client = createClient({ ...common, connection });
  try {
    if (options.ensureDatabase !== false) {
      await client.command({ query: `CREATE DATABASE IF NOT EXISTS ${database}` });
    }
    // chDB ignores the client's `database` option; USE sticks to the connection instead.
    await client.command({ query: `USE ${database}` });
  } catch (err) {
    await client.close().catch(() => undefined);
    throw new StoreError('STORE_UNAVAILABLE', `cannot open database ${database} in ${store.path}: ${errorMessage(err)}`, { cause: err });
  }
  return client;
}

type ClientLogger = InstanceType<NonNullable<NonNullable<ClickHouseClientConfigOptions['log']>['LoggerClass']>>;
type LogParams = Parameters<ClientLogger['warn']>[0];

/** A @clickhouse/client Logger class writing to OTel diag, with the store's password scrubbed. */
function diagLoggerFor(store: Store): new () => ClientLogger {
  const line = ({ module, message, args, err }: LogParams & { err?: Error }): string =>
    scrub(
      `@clickhouse/client ${module}: ${message}${args ? ` ${safeJson(args)}` : ''}${err ? `: ${err.message}` : ''}`,
      store,
    );
  return class DiagLogger implements ClientLogger {
    trace(p: LogParams): void {
      diag.verbose(line(p));
    }
    debug(p: LogParams): void {
      diag.debug(line(p));
    }
    info(p: LogParams): void {
      diag.info(line(p));
    }
    warn(p: LogParams): void {
      diag.warn(line(p));
    }
    error(p: LogParams & { err: Error }): void {
      diag.error(line(p));
    }
  };
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}

function hasClickHouseCode(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^\d+$/.test(code);
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

type ClientConnection = NonNullable<ClickHouseClientConfigOptions['connection']>;

/**
 * The embedded engine appends whatever waits on the process's stdin (fd 0) to every INSERT when
 * stdin is a pipe, socket or file (ClickHouse's client reads stdin as insert data): such an INSERT
 * fails or takes the app's input as rows. No engine setting or connection argument turns that off
 * (chdb 3.4), and stdin is the app's: the ledger leaves it alone and says so once. The CLI and the
 * test runner, which own their processes, point fd 0 at /dev/null themselves (cli/stdio.ts).
 */
let stdinWarned = false;
function warnIfStdinFeedsEngine(): void {
  if (stdinWarned) return;
  stdinWarned = true;
  try {
    const stat = fstatSync(0);
    if (!(stat.isFIFO() || stat.isSocket() || stat.isFile())) return;
  } catch {
    return; // no fd 0: nothing for the engine to read
  }
  diag.warn(
    'genai-ledger: stdin is a pipe, socket or file, and the embedded ClickHouse engine reads it into INSERTs: ' +
      "start the app with stdin from /dev/null (spawn's stdio 'ignore', `< /dev/null`) or use a ClickHouse URL",
  );
}

async function openEmbeddedConnection(path: string): Promise<ClientConnection> {
  mkdirSync(path, { recursive: true });
  warnIfStdinFeedsEngine();
  // Imported lazily: HTTP-only deployments never load the native engine, nor need it installed.
  const { createChdbConnection } = await import('chdb/connection').catch((err: unknown) => {
    if (!isMissingPackage(err, 'chdb')) throw err;
    throw new StoreError('STORE_ENGINE_MISSING', 'the embedded store needs the chdb package: npm install chdb (or set a ClickHouse URL)', { cause: err });
  });
  let inner: ClientConnection;
  try {
    inner = createChdbConnection({ path }) as unknown as ClientConnection;
  } catch (err) {
    throw translateOpenError(err, path);
  }
  return new StickySettingsConnection(inner);
}

function noop(): void {}

function translateOpenError(err: unknown, path: string): StoreError {
  const texts: string[] = [];
  for (let e: unknown = err, depth = 0; e !== undefined && e !== null && depth < 5; depth++) {
    texts.push(errorMessage(e));
    e = e instanceof Error ? e.cause : undefined;
  }
  const text = texts.join('\n');
  // The engine's own words ("Cannot lock file <dir>/status. Another server instance in same
  // directory is already running.") reach the error only sometimes (chDB may print them to stderr
  // and throw a bare "Failed to create connection"), so a live foreign pid in <dir>/status counts too.
  const owner = readLockOwner(path);
  const foreignOwner = owner !== undefined && owner !== process.pid && isProcessAlive(owner);
  if (/Cannot lock file|Another server instance in same directory/i.test(text) || (foreignOwner && !/only one active data directory/i.test(text))) {
    return new StoreLockedError(path, owner, { cause: err });
  }
  const other = /only one active data directory per process.*?path='([^']*)'/is.exec(text);
  if (other) {
    return new StoreError(
      'STORE_BUSY',
      `cannot open the embedded store ${path}: this process already has ${other[1]} open, and the embedded engine ` +
        'binds one data directory per process; close every client of it first',
      { cause: err },
    );
  }
  return new StoreError('STORE_UNAVAILABLE', `cannot open the embedded store ${path}: ${text}`, { cause: err });
}


/** The live process other than this one that holds an embedded store directory, if any. */
export function embeddedStoreHolder(path: string): number | undefined {
  const pid = readLockOwner(path);
  return pid !== undefined && pid !== process.pid && isProcessAlive(pid) ? pid : undefined;
}

/** The pid in `<dir>/status` (`PID: 1234`), written by the engine that holds the directory. */
function readLockOwner(path: string): number | undefined {
  try {
    const match = /^PID:\s*(\d+)/m.exec(readFileSync(join(path, 'status'), 'utf8'));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Settings chDB's connection consumes itself instead of issuing `SET` (never sticky). */
const NOT_SET_BY_CHDB = new Set([
  'default_format',
  'wait_end_of_query',
  'send_progress_in_http_headers',
  'http_response_buffer_size',
  'http_headers_progress_interval_ms',
  'http_send_progress_interval_ms',
  'enable_http_compression',
  'http_zlib_compression_level',
  'http_response_compression_method',
  'http_native_compression_disable_checksumming_on_decompress',
]);

/** `INSERT INTO <table> (<columns>) FORMAT <format>` with its body in `values`: how the BatchWriter inserts. */
const INSERT_WITH_BODY = /^INSERT INTO ([\w.]+) \(([\w, ]+)\) FORMAT (JSONCompactEachRow|JSONEachRow|TabSeparated|TSV|CSV)$/;

type RawInsert = (params: { table: string; columns: string[]; format: string; values: Buffer; settings: Record<string, string | number | boolean>; signal?: AbortSignal }) => Promise<unknown>;

/**
 * Gives the embedded connection per-query settings, like HTTP: chDB applies
 * `clickhouse_settings` as session `SET`s, which persist. Before each statement, every setting
 * an earlier call set and this call does not is reset with `SET name = DEFAULT`, in the same
 * multi-statement call. Calls are serialized so that session state is never interleaved
 * (a chDB connection runs one statement at a time anyway).
 *
 * An `exec` that inserts a body (the BatchWriter's inserts) goes through chDB's raw insert: the
 * body's bytes are handed to the engine as they are, with its settings in the statement (not
 * sticky). The connection's own `exec` would decode them into a JS string and copy that again,
 * on the app's thread, for every batch.
 */
class StickySettingsConnection implements ClientConnection {
  readonly #inner: ClientConnection;
  readonly #dirty = new Set<string>();
  #tail: Promise<unknown> = Promise.resolve();

  constructor(inner: ClientConnection) {
    this.#inner = inner;
  }

  #prepare<P extends { query: string; clickhouse_settings?: ClickHouseSettings }>(params: P): P {
    const settings = (params.clickhouse_settings ?? {}) as Record<string, unknown>;
    const resets = this.#resets(settings);
    for (const [name, value] of Object.entries(settings)) {
      if (value !== undefined && !NOT_SET_BY_CHDB.has(name)) this.#dirty.add(name);
    }
    if (resets.length === 0) return params;
    return { ...params, query: `${resets.join('; ')}; ${params.query}` };
  }

  /** `SET name = DEFAULT` for each setting an earlier call left and `settings` does not set. */
  #resets(settings: Record<string, unknown>): string[] {
    const resets: string[] = [];
    for (const name of this.#dirty) {
      if (settings[name] === undefined) {
        resets.push(`SET ${name} = DEFAULT`);
        this.#dirty.delete(name);
      }
    }
    return resets;
  }

  async #rawInsert(params: Parameters<ClientConnection['exec']>[0], insert: RegExpExecArray, raw: RawInsert): ReturnType<ClientConnection['exec']> {
    const chunks: Buffer[] = [];
    for await (const chunk of params.values as AsyncIterable<Buffer | Uint8Array | string>) {
      chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    }
    const values = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
    const query_id = params.query_id ?? randomUUID();
    const result = { stream: Readable.from([]), query_id, response_headers: {} };
    if (values.length === 0) return result;
    const resets = this.#resets({});
    if (resets.length > 0) await this.#inner.command({ query: resets.join('; '), query_id: randomUUID() });
    const settings: Record<string, string | number | boolean> = {};
    for (const [name, value] of Object.entries(params.clickhouse_settings ?? {})) {
      if (value !== undefined && !NOT_SET_BY_CHDB.has(name)) settings[name] = value as string | number | boolean;
    }
    // chDB's errors carry the ClickHouse code as `clickhouseCode` (delivery/writer/errors.ts reads either).
    await raw({
      table: insert[1]!, columns: insert[2]!.split(',').map((c) => c.trim()), format: insert[3]!, values, settings,
      ...(params.abort_signal ? { signal: params.abort_signal } : {}),
    });
    return result;
  }

  #serial<T>(run: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(run, run);
    this.#tail = result.then(noop, noop);
    return result;
  }

  ping(params: Parameters<ClientConnection['ping']>[0]): ReturnType<ClientConnection['ping']> {
    return this.#serial(() => this.#inner.ping(params));
  }
  query(params: Parameters<ClientConnection['query']>[0]): ReturnType<ClientConnection['query']> {
    return this.#serial(() => this.#inner.query(this.#prepare(params)));
  }
  insert(params: Parameters<ClientConnection['insert']>[0]): ReturnType<ClientConnection['insert']> {
    return this.#serial(() => this.#inner.insert(this.#prepare(params)));
  }
  command(params: Parameters<ClientConnection['command']>[0]): ReturnType<ClientConnection['command']> {
    return this.#serial(() => this.#inner.command(this.#prepare(params)));
  }
  exec(params: Parameters<ClientConnection['exec']>[0]): ReturnType<ClientConnection['exec']> {
    const insert = params.values !== undefined ? INSERT_WITH_BODY.exec(params.query) : null;
    const raw = (this.#inner as { chdb?: { rawInsert?: RawInsert } }).chdb?.rawInsert;
    if (insert && raw) return this.#serial(() => this.#rawInsert(params, insert, raw));
    return this.#serial(() => this.#inner.exec(this.#prepare(params)));
  }
  close(): Promise<void> {
    return this.#serial(() => this.#inner.close());
  }
}
