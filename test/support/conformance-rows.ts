/**
 * Helpers of the conformance files that drive SDK lines capture.ts's scenario table does not hold
 * (Gemini, LangChain, the `ai` SDK 7): hand an instrumentation a capture's provider, map captured
 * spans with the real mapper and the bundled catalog, and name the versions that ran.
 */
import { readFileSync } from 'node:fs';
import { metrics } from '@opentelemetry/api';
import type { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { fromReadableSpan } from '../../exporter/readable-span.js';
import { loadPriceBook } from '../../pricing/index.js';
import { UsageMapper, type MapperOptions, type MapResult } from '../../usage/mapper.js';

/** What registerInstrumentations() does: the tracer provider, and the (global, no-op) meter provider. */
export function attachTo(
  provider: NodeTracerProvider,
  instrumentation: { setTracerProvider(p: NodeTracerProvider): void; setMeterProvider(p: ReturnType<typeof metrics.getMeterProvider>): void },
): void {
  instrumentation.setTracerProvider(provider);
  instrumentation.setMeterProvider(metrics.getMeterProvider());
}

let prices: ReturnType<typeof loadPriceBook> | undefined;

/** The real mapper with the bundled catalog (and `options`), on captured spans. */
export async function mapSpans(spans: readonly ReadableSpan[], options: Omit<MapperOptions, 'prices'> = {}): Promise<MapResult> {
  prices ??= loadPriceBook();
  return new UsageMapper({ ...options, prices: await prices }).mapAll(spans.map(fromReadableSpan));
}

/** The version of an installed package (or npm alias), read from node_modules: tests name what they ran. */
export function installedVersion(name: string): string {
  const file = new URL(`../../node_modules/${name}/package.json`, import.meta.url);
  return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
}
