/**
 * Spans of one SDK call under a tracer provider of its own (for instrumentations and SDKs that
 * capture.ts does not install: a test attaches them to `provider` itself).
 *
 * Nothing is registered globally but the AsyncLocalStorage context manager (otel-context.ts), so
 * an SDK that traces itself through the global API (`@anthropic-ai/sdk` ≥ 0.136) records only when
 * handed `provider` explicitly.
 */
import { NodeTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-node';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import { ensureContextManager } from './otel-context.js';
import { OpenSpans } from './open-spans.js';
import { orderSpans, SERVICE_NAME } from './capture.js';

export interface SpanCapture<T> {
  spans: ReadableSpan[];
  result?: T;
  error?: unknown;
  /** Names of spans started and never ended (an instrumentation that forgets a failed call). */
  unended: string[];
}

export interface CaptureOptions {
  /** How long to wait for spans still open after the call (streams read on their own, `finally` blocks). Default 250 ms. */
  settleTimeoutMs?: number;
}

/**
 * Runs `call` with a fresh provider; `attach` installs what records spans and returns its
 * uninstall. Streams are drained inside `call`; spans still open then (an instrumentation that
 * reads a stream on its own, or ends spans in a `finally`) are waited for.
 */
export async function captureSpans<T>(
  attach: (provider: NodeTracerProvider) => () => void,
  call: (provider: NodeTracerProvider) => Promise<T>,
  options: CaptureOptions = {},
): Promise<SpanCapture<T>> {
  ensureContextManager();
  const exporter = new InMemorySpanExporter();
  const open = new OpenSpans();
  const provider = new NodeTracerProvider({
    resource: defaultResource().merge(resourceFromAttributes({ 'service.name': SERVICE_NAME })),
    spanProcessors: [open, new SimpleSpanProcessor(exporter)],
  });
  const detach = attach(provider);
  const out: SpanCapture<T> = { spans: [], unended: [] };
  try {
    out.result = await call(provider);
  } catch (error) {
    out.error = error;
  } finally {
    out.unended = await open.settled(options.settleTimeoutMs ?? 250);
    detach();
  }
  await provider.forceFlush();
  out.spans = orderSpans(exporter.getFinishedSpans());
  await provider.shutdown();
  return out;
}

