import type { ClickHouseClient, ClickHouseSettings } from '@clickhouse/client';

/**
 * Read queries for the CLI and reports. Two implementations: straight to the store (a ClickHouse
 * client) and through a running collector's read-only query endpoint, which is how readers reach
 * an embedded store the collector holds open.
 */
export interface QueryRunner {
  /** Runs one SELECT with `{name:Type}` parameters; rows as JSON objects (64-bit ints as numbers, decimals as strings). */
  query<T = Record<string, unknown>>(sql: string, params?: Record<string, unknown>): Promise<T[]>;
  close(): Promise<void>;
}

/** Output settings every runner applies, so both return the same JSON shapes. */
export const QUERY_OUTPUT_SETTINGS: ClickHouseSettings = {
  output_format_json_quote_decimals: 1,
  output_format_json_quote_64bit_integers: 0,
};

export function clientRunner(client: ClickHouseClient, settings: ClickHouseSettings = {}): QueryRunner {
  return {
    async query<T>(sql: string, params: Record<string, unknown> = {}) {
      const result = await client.query({
        query: sql, query_params: params, format: 'JSONEachRow',
        clickhouse_settings: { ...QUERY_OUTPUT_SETTINGS, ...settings },
      });
      return result.json<T>();
    },
    close: () => client.close(),
  };
}
