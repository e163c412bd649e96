import { join } from 'node:path';
import type { ClickHouseClient } from '@clickhouse/client';
import { diag } from '@opentelemetry/api';
import { migrate } from '../clickhouse/migrate.js';
import { syncModelPrices } from '../clickhouse/prices.js';
import { createStoreClient, parseStore, resolveStoreOption, storeDatabase } from '../clickhouse/store.js';
import { UsageMapper, type MapperOptions } from '../usage/mapper.js';
import { loadPriceBook, type PriceBook } from '../pricing/index.js';
import type { SpanRecord } from '../usage/span-record.js';
import { BatchWriter, createWriterStats, type BatchWriterConfig, type WriterStats } from './writer/batch-writer.js';
import { serializeRows } from '../clickhouse/serialize.js';
import { chunkOfLines, type RowChunk } from '../clickhouse/row-chunk.js';
import type { UsageRow } from '../usage/usage-row.js';
import { DeadLetterFile, DEAD_LETTER_FILE, type DeadLetterOptions, type DeadLetterStats } from './dead-letter.js';
import { DEFAULT_MAX_RECORD_BYTES, DEFAULT_MAX_RECORD_ROWS, Spool, type SpoolOptions, type SpoolStats } from './spool/spool.js';
import { SpoolPump, type SpoolPumpOptions } from './spool/pump.js';
import { SpoolFullError } from './spool/errors.js';
import { StoreSetup, type SetupStep } from './store-setup.js';
import { classifyInsertError } from './writer/errors.js';

/** The on-disk spool of a Ledger: where, how big, how it retries. */
export interface LedgerSpoolOptions extends Omit<SpoolOptions, 'meter' | 'stats'>, SpoolPumpOptions {}

/**
 * Everything one pipeline needs, each defaulted: where rows go, how they are priced and attributed,
 * and how they are batched. Shared by the in-process exporter and the collector.
 */
export interface LedgerOptions extends Omit<MapperOptions, 'prices'> {
  /** ClickHouse URL or embedded-store directory. Default: GENAI_LEDGER_STORE, CLICKHOUSE_URL, './.genai-ledger'. */
  store?: string;
  /** A client to use instead of opening `store` (it is not closed by the ledger). */
  client?: ClickHouseClient;
  /** Database of `client` (default 'genai_ledger'). */
  database?: string;
  /** Price overrides file (JSON/YAML) or a loaded price book. Default: the bundled catalog only. */
  prices?: string | PriceBook;
  /** Apply migrations and load `model_prices` at start. Default true. */
  migrate?: boolean;
  /** Raw rows' retention in days when the table is created. Default: forever. */
  ttlDays?: number;
  writer?: BatchWriterConfig;
  /**
   * Durable ingestion. With a spool, rows go through a bounded write-ahead log in `spool.dir`
   * (fsync'd before `ingestDurable` resolves) and reach ClickHouse from there: they survive
   * ClickHouse being down (they wait on disk, not in memory) and the process being killed
   * (replayed at the next open). Without it (default) nothing changes: rows are queued in memory.
   */
  spool?: LedgerSpoolOptions;
  /**
   * Where rows ClickHouse refuses are kept (JSON Lines, see dead-letter.ts): a file path, options,
   * or false for none. Default: `<spool.dir>/dead-letter.jsonl` with a spool; none without one
   * (then `writer.onReject`, or a diag warning). `writer.onReject` is called either way.
   */
  deadLetter?: string | DeadLetterOptions | false;
}

/** What one `ingest` call did with its spans. */
export interface IngestResult {
  rows: number;
  skipped: number;
  malformed: number;
  /** Rows the writer's queue (or the spool, when full) refused. */
  dropped: number;
  errors: string[];
  /** True when the rows are in the on-disk spool, fsync'd (ingestDurable with a spool). */
  durable?: boolean;
}

/** Spans mapped and serialized elsewhere (the exporter's mapping thread), for `ingestMapped`. */
export interface MappedBatch {
  spans: number;
  skipped: number;
  /** Of the skipped, the aggregates (agent, workflow, step, tool and the `ai` SDK's outer spans). */
  aggregates: number;
  malformed: number;
  unpriced: number;
  errors: string[];
  /** The rows, serialized (a chunk of JSONCompactEachRow lines, transferred from the mapping thread). */
  chunk: RowChunk;
  /** Rows that could not be serialized, and why: rejected (dead letter, onReject). */
  unserializable: Array<{ row: UsageRow; reason: string }>;
}

export interface LedgerStats extends WriterStats {
  spansReceived: number;
  rowsMapped: number;
  spansSkipped: number;
  /** Of the skipped spans, the aggregates. */
  spansAggregate: number;
  spansMalformed: number;
  rowsUnpriced: number;
  /** The spool's counters (with a spool). */
  spool?: SpoolStats;
  /** The dead-letter file's counters (with one). */
  deadLetter?: DeadLetterStats;
}

interface Durability {
  spool: Spool;
  pump: SpoolPump;
  /** The store's setup: the pump starts delivering once it is done. */
  setup: StoreSetup;
}

/** Spans in, rows into ClickHouse: the one pipeline behind both ways in. */
export class Ledger {
  readonly stats: LedgerStats;

  private constructor(
    readonly client: ClickHouseClient,
    readonly database: string,
    readonly prices: PriceBook,
    private readonly mapper: UsageMapper,
    private readonly writer: BatchWriter,
    private readonly ownsClient: boolean,
    stats: LedgerStats,
    private readonly durability: Durability | undefined,
    private readonly deadLetter: DeadLetterFile | undefined,
    private readonly onReject: ((rows: UsageRow[], error: Error) => void) | undefined,
  ) {
    this.stats = stats;
  }

  /** True when ingestDurable acknowledges only what is fsync'd in a spool. */
  get durable(): boolean {
    return this.durability !== undefined;
  }

  /** The spool, when configured (tests and tools). */
  get spool(): Spool | undefined {
    return this.durability?.spool;
  }

  static async open(options: LedgerOptions = {}): Promise<Ledger> {
    const prices = typeof options.prices === 'object'
      ? options.prices
      : await loadPriceBook(options.prices ? { overridesFile: options.prices } : {});
    let client = options.client;
    let database = options.database ?? 'genai_ledger';
    const steps: SetupStep[] = [];
    if (!client) {
      const store = parseStore(options.store ?? resolveStoreOption());
      database = storeDatabase(store);
      if (options.spool && store.kind === 'http') {
        // Opened without a connection (the spool takes rows while ClickHouse is down); the setup
        // creates the database as createStoreClient does, through an admin connection.
        client = await createStoreClient(store, { ensureDatabase: false });
        steps.push({ missing: 'database not created', run: async () => (await createStoreClient(store)).close() });
      } else {
        client = await createStoreClient(store);
      }
    }
    const db = client;
    if (options.migrate ?? true) {
      steps.push(
        { missing: 'migrations not applied', run: () => migrate(db, { database, ...(options.ttlDays ? { ttlDays: options.ttlDays } : {}) }) },
        { missing: 'model_prices not synced', run: () => syncModelPrices(db, prices.listPrices(), { table: `${database}.model_prices` }) },
      );
    }
    // With a spool the store may come later: an unreachable one (no ClickHouse code, or a
    // retryable one) is set up in the background. Without, nothing could hold the rows: fail now.
    const setup = options.spool ? new StoreSetup(steps) : undefined;
    try {
      if (setup) {
        const error = await setup.start();
        if (error !== undefined && classifyInsertError(error) !== 'retryable') throw error;
        if (error !== undefined) diag.warn(`genai-ledger: ${setup.waiting}; opening on the spool, retrying in the background`);
      } else {
        for (const step of steps) await step.run();
      }
    } catch (error) {
      setup?.close();
      if (!options.client) await client.close();
      throw error;
    }
    const stats: LedgerStats = {
      ...createWriterStats(), spansReceived: 0, rowsMapped: 0, spansSkipped: 0, spansAggregate: 0, spansMalformed: 0, rowsUnpriced: 0,
    };
    const mapper = new UsageMapper({ ...options, prices });
    const deadLetterOptions = resolveDeadLetter(options);
    const deadLetter = deadLetterOptions ? new DeadLetterFile(deadLetterOptions) : undefined;
    if (deadLetter) stats.deadLetter = deadLetter.stats;
    const userReject = options.writer?.onReject;
    const onReject = deadLetter || userReject
      ? (rows: UsageRow[], error: Error): void => {
          deadLetter?.write(rows, error);
          userReject?.(rows, error);
        }
      : undefined;
    const writer = new BatchWriter(client, { table: `${database}.ai_usage`, ...options.writer, stats, ...(onReject ? { onReject } : {}) });
    let durability: Durability | undefined;
    if (options.spool) {
      try {
        durability = await openDurability(options.spool, writer, options.writer?.meter, setup!);
      } catch (error) {
        setup?.close();
        await writer.shutdown();
        deadLetter?.close();
        if (!options.client) await client.close();
        throw error;
      }
      stats.spool = durability.spool.stats;
      const { pump } = durability;
      durability.setup.onReady(() => pump.start());
    }
    return new Ledger(client, database, prices, mapper, writer, !options.client, stats, durability, deadLetter, onReject);
  }

  /**
   * Maps and enqueues; never waits on ClickHouse and never throws. `orgId`, when given (a token
   * bound to a tenant), wins over whatever the spans claim.
   */
  ingest(spans: readonly SpanRecord[], orgId?: string): IngestResult {
    const result = this.#map(spans, orgId);
    let dropped: number;
    if (this.durability) {
      dropped = this.#submit(this.#serialize(result.rows));
    } else {
      const accepted = result.rows.length > 0 ? this.writer.enqueue(result.rows) : 0;
      dropped = result.rows.length - accepted;
    }
    return {
      rows: result.rows.length, skipped: result.skipped, malformed: result.malformed,
      dropped, errors: result.errors,
    };
  }

  /**
   * Maps the spans and, with a spool, resolves once their rows are fsync'd in it (`durable:
   * true`): acknowledged rows then survive ClickHouse outages and crashes. Rejects with
   * SpoolFullError when the spool holds `maxBytes` already (nothing stored: answer 503 +
   * Retry-After), or SpoolWriteError when the write or fsync failed (nothing acknowledged).
   * Without a spool it is `ingest` (queued in memory, `durable: false`).
   */
  async ingestDurable(spans: readonly SpanRecord[], orgId?: string): Promise<IngestResult> {
    if (!this.durability) return { ...this.ingest(spans, orgId), durable: false };
    const result = this.#map(spans, orgId);
    const chunk = this.#serialize(result.rows);
    if (chunk.rows > 0) await this.durability.spool.append(chunk);
    return {
      rows: result.rows.length, skipped: result.skipped, malformed: result.malformed,
      dropped: 0, errors: result.errors, durable: true,
    };
  }

  /** `ingest` for a batch mapped and serialized elsewhere: counted alike, its rows queued (or spooled). */
  ingestMapped(batch: MappedBatch): IngestResult {
    const chunk = this.#countMapped(batch);
    const dropped = this.durability ? this.#submit(chunk) : chunk.rows - this.writer.enqueueChunk(chunk);
    return { rows: chunk.rows + batch.unserializable.length, skipped: batch.skipped, malformed: batch.malformed, dropped, errors: batch.errors };
  }

  /** `ingestDurable` for a batch mapped and serialized elsewhere. */
  async ingestMappedDurable(batch: MappedBatch): Promise<IngestResult> {
    if (!this.durability) return { ...this.ingestMapped(batch), durable: false };
    const chunk = this.#countMapped(batch);
    if (chunk.rows > 0) await this.durability.spool.append(chunk);
    return {
      rows: chunk.rows + batch.unserializable.length, skipped: batch.skipped, malformed: batch.malformed,
      dropped: 0, errors: batch.errors, durable: true,
    };
  }

  #countMapped(batch: MappedBatch): RowChunk {
    const s = this.stats;
    s.spansReceived += batch.spans;
    s.rowsMapped += batch.chunk.rows + batch.unserializable.length;
    s.spansSkipped += batch.skipped;
    s.spansAggregate += batch.aggregates;
    s.spansMalformed += batch.malformed;
    s.rowsUnpriced += batch.unpriced;
    for (const { row, reason } of batch.unserializable) this.#unserializable(row, new Error(reason));
    return batch.chunk;
  }

  /** Non-durable ingest with a spool: submitted, not awaited (a full spool drops and counts them). Returns the rows dropped at once. */
  #submit(chunk: RowChunk): number {
    if (chunk.rows === 0) return 0;
    try {
      this.durability!.spool.submit(chunk).catch((error: unknown) => this.#lost(chunk.rows, error));
      return 0;
    } catch (error) {
      this.#lost(chunk.rows, error);
      return chunk.rows;
    }
  }

  #map(spans: readonly SpanRecord[], orgId: string | undefined): ReturnType<UsageMapper['mapAll']> {
    const result = this.mapper.mapAll(spans);
    if (orgId !== undefined) for (const row of result.rows) row.org_id = orgId;
    const s = this.stats;
    s.spansReceived += spans.length;
    s.rowsMapped += result.rows.length;
    s.spansSkipped += result.skipped;
    s.spansAggregate += result.aggregates;
    s.spansMalformed += result.malformed;
    s.rowsUnpriced += result.unpriced;
    return result;
  }

  /** Rows → a chunk of JSONCompactEachRow lines; a row that cannot be serialized is rejected (dead letter). */
  #serialize(rows: UsageRow[]): RowChunk {
    const { lines, unserializable } = serializeRows(rows);
    for (const { row, reason } of unserializable) this.#unserializable(row, new Error(reason));
    return chunkOfLines(lines);
  }

  #unserializable(row: UsageRow, error: Error): void {
    this.stats.rejectedRows++;
    if (this.onReject) this.onReject([row], error);
    else diag.warn(`genai-ledger: a usage row cannot be serialized: ${error.message}`);
  }

  /** Rows of a non-durable ingest that the spool did not take. */
  #lost(rows: number, error: unknown): void {
    this.stats.droppedRows += rows;
    if (!(error instanceof SpoolFullError)) diag.error(`genai-ledger: cannot spool ${rows} usage rows: ${(error as Error).message}`);
  }

  /**
   * Resolves when everything ingested so far is written (or dropped and counted). With a spool:
   * when everything spooled so far has been handed to ClickHouse and settled, or a delivery failed
   * (the rows stay in the spool and are sent again later), or at once while the store is not set up.
   */
  flush(): Promise<void> {
    return this.durability ? this.durability.pump.flush() : this.writer.flush();
  }

  /**
   * With a spool, while the store is not set up (unreachable when the ledger opened): what the
   * ledger waits for, e.g. `clickhouse: migrations not applied: <reason>`. Rows are acknowledged
   * from the spool meanwhile and delivered once it is. Undefined when ready (and without a spool).
   */
  get waitingFor(): string | undefined {
    return this.durability?.setup.waiting;
  }

  /** Calls `listener` once the store is set up: at once unless `waitingFor`; never after close(). */
  onStoreReady(listener: () => void): void {
    if (this.durability) this.durability.setup.onReady(listener);
    else listener();
  }

  /** With a spool: tries once more to deliver, then leaves what is still pending on disk for the next open. */
  async close(): Promise<void> {
    this.durability?.setup.close();
    if (this.durability) await this.durability.pump.close();
    await this.writer.shutdown();
    if (this.durability) await this.durability.spool.close();
    this.deadLetter?.close();
    if (this.ownsClient) await this.client.close();
  }
}

function resolveDeadLetter(options: LedgerOptions): DeadLetterOptions | undefined {
  const d = options.deadLetter;
  if (d === false) return undefined;
  if (typeof d === 'string') return { path: d };
  if (d) return d;
  return options.spool ? { path: join(options.spool.dir, DEAD_LETTER_FILE) } : undefined;
}

async function openDurability(options: LedgerSpoolOptions, writer: BatchWriter, meter: BatchWriterConfig['meter'], setup: StoreSetup): Promise<Durability> {
  const capacity = writer.capacity;
  const spool = await Spool.open({
    ...options,
    // A record always fits the writer's queue at once.
    maxRecordRows: Math.min(options.maxRecordRows ?? DEFAULT_MAX_RECORD_ROWS, capacity.maxQueueRows),
    maxRecordBytes: Math.min(options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES, capacity.maxQueueBytes),
    ...(meter !== undefined ? { meter } : {}),
  });
  const pump = new SpoolPump(spool, writer, options);
  return { spool, pump, setup };
}
