/**
 * Spans of one SDK call under a tracer provider of its own (for instrumentations and SDKs that
 * capture.ts does not install: a test attaches them to `provider` itself).
 *
 * Nothing is registered globally but the AsyncLocalStorage context manager (otel-context.ts), so
 * an SDK that traces itself through the global API (`@anthropic-ai/sdk` ≥ 0.136) records only when
 * handed `provider` explicitly.
 */
import { NodeTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-node';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import { ensureContextManager } from './otel-context.js';
import { orderSpans, SERVICE_NAME } from './capture.js';

export interface SpanCapture<T> {
  spans: ReadableSpan[];
  result?: T;
  error?: unknown;
  /** Names of spans started and never ended (an instrumentation that forgets a failed call). */
  unended: string[];
}

/** Counts spans open, so a capture knows which never ended. */
class OpenSpans implements SpanProcessor {
  readonly open = new Map<Span, string>();
  onStart(span: Span): void {
    this.open.set(span, span.name);
  }
  onEnd(span: ReadableSpan): void {
    this.open.delete(span as Span);
  }
  async forceFlush(): Promise<void> {}
  async shutdown(): Promise<void> {}
}

/**
 * Runs `call` with a fresh provider; `attach` installs what records spans and returns its
 * uninstall. Streams are drained inside `call`, so every span that will end has ended by then
 * (one macrotask later for instrumentations that end spans in a `finally`).
 */
export async function captureSpans<T>(
  attach: (provider: NodeTracerProvider) => () => void,
  call: (provider: NodeTracerProvider) => Promise<T>,
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
    await new Promise((resolve) => setTimeout(resolve, 20));
    detach();
  }
  await provider.forceFlush();
  out.spans = orderSpans(exporter.getFinishedSpans());
  out.unended = [...open.open.values()];
  await provider.shutdown();
  return out;
}

