/**
 * Where the exporter's mapped spans go: the ledger's writer queue (answered at once) or its
 * write-ahead spool (answered once fsync'd). One interface over the two; the ledger's own I/O runs
 * with tracing suppressed, so it makes no spans of its own.
 */
import { context } from '@opentelemetry/api';
import { suppressTracing } from '@opentelemetry/core';
import type { IngestResult, Ledger } from '../delivery/ledger.js';
import type { StageOutput } from './mapping-stage.js';

export interface RowSink {
  /** True when `deliver` resolves only once the rows are fsync'd (a spool), and rejects when it refuses them. */
  readonly durable: boolean;
  deliver(output: StageOutput): IngestResult | Promise<IngestResult>;
}

export function ledgerSink(ledger: Ledger): RowSink {
  const quietly = <T>(fn: () => T): T => context.with(suppressTracing(context.active()), fn);
  if (ledger.durable) {
    return {
      durable: true,
      deliver: (o) => quietly(() => ('mapped' in o ? ledger.ingestMappedDurable(o.mapped) : ledger.ingestDurable(o.records))),
    };
  }
  return {
    durable: false,
    deliver: (o) => quietly(() => ('mapped' in o ? ledger.ingestMapped(o.mapped) : ledger.ingest(o.records))),
  };
}
