/** Hand-made spans for collector tests, made by the real OTel SDK. */
import { SpanKind, type Attributes } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';

/** A gpt-4o call with 1200 input tokens of which 1024 are cache reads, 300 output: $0.00472. */
export const CACHED_GPT4O: Attributes = {
  'gen_ai.operation.name': 'chat',
  'gen_ai.provider.name': 'openai',
  'gen_ai.request.model': 'gpt-4o',
  'gen_ai.response.model': 'gpt-4o-2024-08-06',
  'gen_ai.usage.input_tokens': 1200,
  'gen_ai.usage.output_tokens': 300,
  'gen_ai.usage.cache_read.input_tokens': 1024,
};
export const CACHED_GPT4O_COST = '0.00472';

/** `n` finished spans: `ai` of them AI calls (CACHED_GPT4O + extra), the rest ordinary HTTP spans, interleaved. */
export function makeSpans(options: { ai: number; plain?: number; extra?: Attributes; service?: string }): ReadableSpan[] {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': options.service ?? 'collector-test' }),
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  const tracer = provider.getTracer('@opentelemetry/instrumentation-openai');
  const http = provider.getTracer('@opentelemetry/instrumentation-http');
  const total = options.ai + (options.plain ?? 0);
  for (let i = 0; i < total; i++) {
    // Spread the AI calls evenly among the ordinary spans.
    const isAi = Math.floor(((i + 1) * options.ai) / total) > Math.floor((i * options.ai) / total);
    if (isAi) {
      tracer.startSpan('chat gpt-4o', { kind: SpanKind.CLIENT, attributes: { ...CACHED_GPT4O, ...options.extra } }).end();
    } else {
      http.startSpan('GET /api/tickets/:id', { kind: SpanKind.SERVER, attributes: { 'http.request.method': 'GET', 'http.route': '/api/tickets/:id', 'http.response.status_code': 200 } }).end();
    }
  }
  return exporter.getFinishedSpans();
}

/** The span with another span id (e.g. all zeros: malformed). */
export function withSpanId(span: ReadableSpan, spanId: string): ReadableSpan {
  const ctx = { ...span.spanContext(), spanId };
  const view = Object.create(span) as ReadableSpan;
  Object.defineProperty(view, 'spanContext', { value: () => ctx });
  return view;
}
