import type { ClickHouseClient } from '@clickhouse/client';
import { migrate } from '../clickhouse/migrate.js';
import { syncModelPrices } from '../clickhouse/prices.js';
import { createStoreClient, parseStore, resolveStoreOption, storeDatabase } from '../clickhouse/store.js';
import { UsageMapper, type MapperOptions } from './mapper.js';
import { loadPriceBook, type PriceBook } from './pricing/index.js';
import type { SpanRecord } from './span-record.js';
import { BatchWriter, createWriterStats, type BatchWriterConfig, type WriterStats } from './writer/batch-writer.js';

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
}

/** What one `ingest` call did with its spans. */
export interface IngestResult {
  rows: number;
  skipped: number;
  malformed: number;
  /** Rows the writer's queue refused (full or shut down). */
  dropped: number;
  errors: string[];
}

export interface LedgerStats extends WriterStats {
  spansReceived: number;
  rowsMapped: number;
  spansSkipped: number;
  spansMalformed: number;
  rowsUnpriced: number;
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
  ) {
    this.stats = stats;
  }

  static async open(options: LedgerOptions = {}): Promise<Ledger> {
    const prices = typeof options.prices === 'object'
      ? options.prices
      : await loadPriceBook(options.prices ? { overridesFile: options.prices } : {});
    let client = options.client;
    let database = options.database ?? 'genai_ledger';
    if (!client) {
      const store = parseStore(options.store ?? resolveStoreOption());
      database = storeDatabase(store);
      client = await createStoreClient(store);
    }
    try {
      if (options.migrate ?? true) {
        await migrate(client, { database, ...(options.ttlDays ? { ttlDays: options.ttlDays } : {}) });
        await syncModelPrices(client, prices.listPrices(), { table: `${database}.model_prices` });
      }
    } catch (error) {
      if (!options.client) await client.close();
      throw error;
    }
    const stats: LedgerStats = {
      ...createWriterStats(), spansReceived: 0, rowsMapped: 0, spansSkipped: 0, spansMalformed: 0, rowsUnpriced: 0,
    };
    const mapper = new UsageMapper({ ...options, prices });
    const writer = new BatchWriter(client, { table: `${database}.ai_usage`, ...options.writer, stats });
    return new Ledger(client, database, prices, mapper, writer, !options.client, stats);
  }

  /**
   * Maps and enqueues; never waits on ClickHouse and never throws. `orgId`, when given (a token
   * bound to a tenant), wins over whatever the spans claim.
   */
  ingest(spans: readonly SpanRecord[], orgId?: string): IngestResult {
    const result = this.mapper.mapAll(spans);
    if (orgId !== undefined) for (const row of result.rows) row.org_id = orgId;
    const accepted = result.rows.length > 0 ? this.writer.enqueue(result.rows) : 0;
    const s = this.stats;
    s.spansReceived += spans.length;
    s.rowsMapped += result.rows.length;
    s.spansSkipped += result.skipped;
    s.spansMalformed += result.malformed;
    s.rowsUnpriced += result.unpriced;
    return {
      rows: result.rows.length, skipped: result.skipped, malformed: result.malformed,
      dropped: result.rows.length - accepted, errors: result.errors,
    };
  }

  /** Resolves when everything ingested so far is written (or dropped and counted). */
  flush(): Promise<void> {
    return this.writer.flush();
  }

  async close(): Promise<void> {
    await this.writer.shutdown();
    if (this.ownsClient) await this.client.close();
  }
}
