/**
 * Realistic, deterministic span traffic for benchmarks and demos: the attribute shapes the real
 * instrumentations emit (captured in test/fixtures/captured), several tenants, features and
 * models, plus ordinary HTTP/DB spans. Spans are made by the real OTel SDK.
 */
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan,
} from '@opentelemetry/sdk-trace-base';
import { context, SpanKind, trace, type Attributes } from '@opentelemetry/api';

export interface TrafficOptions {
  spans: number;
  /** Share of spans that are AI calls or their aggregates (0..1). */
  aiShare: number;
  seed?: number;
  /** First span start, Unix ms. */
  startMs?: number;
  /** Time the spans spread over, ms. */
  spreadMs?: number;
}

const ORGS = ['acme', 'globex', 'initech', 'umbrella', 'hooli', 'stark', 'wayne', 'wonka'];
const FEATURES = ['support-bot', 'search', 'summarize', 'triage', 'translate'];
const SERVICES = ['support-api', 'search-api', 'batch-worker'];

/** xorshift32: fast and reproducible, so every run measures the same traffic. */
export function prng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    return x / 0x1_0000_0000;
  };
}

type Template = (r: () => number, who: Attributes) => Array<{ name: string; kind: SpanKind; attributes: Attributes; scope: string }>;

const pick = <T>(r: () => number, items: readonly T[]): T => items[Math.floor(r() * items.length)]!;
const tokens = (r: () => number, max: number) => 1 + Math.floor(r() * max);

const TEMPLATES: Template[] = [
  // @opentelemetry/instrumentation-openai chat
  (r, who) => {
    const [req, res] = pick(r, [['gpt-4o', 'gpt-4o-2024-08-06'], ['gpt-4o-mini', 'gpt-4o-mini-2024-07-18'], ['o3-mini', 'o3-mini-2025-01-31']]);
    return [{ name: `chat ${req}`, kind: SpanKind.CLIENT, scope: '@opentelemetry/instrumentation-openai', attributes: {
      'gen_ai.operation.name': 'chat', 'gen_ai.system': 'openai', 'gen_ai.request.model': req, 'gen_ai.response.model': res,
      'gen_ai.request.max_tokens': 1000, 'gen_ai.usage.input_tokens': tokens(r, 4000), 'gen_ai.usage.output_tokens': tokens(r, 800),
      'server.address': 'api.openai.com', 'server.port': 443, ...who } }];
  },
  // @traceloop/instrumentation-anthropic with prompt caching (raw, exclusive input)
  (r, who) => {
    const model = pick(r, ['claude-sonnet-4-5', 'claude-haiku-4-5']);
    const input = tokens(r, 500);
    const read = tokens(r, 8000);
    const write = r() < 0.3 ? tokens(r, 2000) : 0;
    const output = tokens(r, 600);
    return [{ name: `chat ${model}`, kind: SpanKind.CLIENT, scope: '@traceloop/instrumentation-anthropic', attributes: {
      'gen_ai.provider.name': 'anthropic', 'gen_ai.operation.name': 'chat', 'gen_ai.request.model': model,
      'gen_ai.response.model': `${model}-20251001`, 'gen_ai.request.max_tokens': 1024,
      'gen_ai.usage.input_tokens': input, 'gen_ai.usage.output_tokens': output, 'gen_ai.usage.total_tokens': input + output,
      'gen_ai.usage.cache_read.input_tokens': read, 'gen_ai.usage.cache_creation.input_tokens': write, ...who } }];
  },
  // the ai SDK: an outer aggregate span and the call
  (r, who) => {
    const input = tokens(r, 3000);
    const cached = Math.floor(input / 2);
    const output = tokens(r, 500);
    const usage = {
      'ai.usage.inputTokens': input, 'ai.usage.inputTokenDetails.noCacheTokens': input - cached,
      'ai.usage.inputTokenDetails.cacheReadTokens': cached, 'ai.usage.outputTokens': output,
      'ai.usage.totalTokens': input + output, 'ai.usage.cachedInputTokens': cached,
    };
    const meta = {
      'ai.telemetry.functionId': pick(r, FEATURES), 'ai.telemetry.metadata.orgId': who['tenant.id']!,
      'ai.telemetry.metadata.userId': who['user.id']!, 'ai.model.provider': 'openai.responses', 'ai.model.id': 'gpt-4o',
    };
    return [
      { name: 'ai.generateText', kind: SpanKind.INTERNAL, scope: 'ai', attributes: { 'ai.operationId': 'ai.generateText', ...meta, ...usage } },
      { name: 'ai.generateText.doGenerate', kind: SpanKind.CLIENT, scope: 'ai', attributes: {
        'ai.operationId': 'ai.generateText.doGenerate', ...meta, ...usage, 'gen_ai.system': 'openai.responses',
        'gen_ai.request.model': 'gpt-4o', 'gen_ai.response.model': 'gpt-4o-2024-08-06', 'ai.response.model': 'gpt-4o-2024-08-06',
        'gen_ai.usage.input_tokens': input, 'gen_ai.usage.output_tokens': output } },
    ];
  },
  // OpenInference LLM span
  (r, who) => {
    const prompt = tokens(r, 3000);
    const completion = tokens(r, 700);
    return [{ name: 'OpenAI Chat Completions', kind: SpanKind.INTERNAL, scope: '@arizeai/openinference-instrumentation-openai', attributes: {
      'openinference.span.kind': 'LLM', 'llm.model_name': 'gpt-4o-mini-2024-07-18', 'llm.system': 'openai', 'llm.provider': 'openai',
      'llm.token_count.prompt': prompt, 'llm.token_count.completion': completion, 'llm.token_count.total': prompt + completion,
      'llm.token_count.prompt_details.cache_read': Math.floor(prompt / 3), 'llm.token_count.completion_details.reasoning': 0,
      'session.id': `s-${Math.floor(r() * 1000)}`, ...who } }];
  },
  // embeddings
  (r, who) => [{ name: 'embeddings text-embedding-3-small', kind: SpanKind.CLIENT, scope: '@opentelemetry/instrumentation-openai', attributes: {
    'gen_ai.operation.name': 'embeddings', 'gen_ai.system': 'openai', 'gen_ai.request.model': 'text-embedding-3-small',
    'gen_ai.response.model': 'text-embedding-3-small', 'gen_ai.usage.input_tokens': tokens(r, 2000), ...who } }],
];

const PLAIN: Array<{ name: string; kind: SpanKind; attributes: Attributes }> = [
  { name: 'GET /api/tickets/:id', kind: SpanKind.SERVER, attributes: {
    'http.request.method': 'GET', 'http.route': '/api/tickets/:id', 'http.response.status_code': 200, 'url.scheme': 'https',
    'server.address': 'support.example.com', 'user_agent.original': 'Mozilla/5.0', 'network.protocol.version': '1.1' } },
  { name: 'SELECT tickets', kind: SpanKind.CLIENT, attributes: {
    'db.system.name': 'postgresql', 'db.collection.name': 'tickets', 'db.operation.name': 'SELECT',
    'db.query.text': 'SELECT * FROM tickets WHERE id = $1', 'server.address': 'db', 'server.port': 5432 } },
  { name: 'redis GET', kind: SpanKind.CLIENT, attributes: { 'db.system.name': 'redis', 'db.operation.name': 'GET', 'server.address': 'cache' } },
];

/** Finished SDK spans: `spans` of them, `aiShare` of which belong to AI calls. */
export function generateSpans(options: TrafficOptions): ReadableSpan[] {
  const r = prng(options.seed ?? 42);
  const startMs = options.startMs ?? Date.UTC(2026, 10, 20);
  const spreadMs = options.spreadMs ?? 3 * 24 * 3600 * 1000;
  const exporter = new InMemorySpanExporter();
  const providers = SERVICES.map((service) => new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': service, 'deployment.environment.name': 'prod', 'service.version': '1.4.2' }),
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  }));
  let made = 0;
  while (made < options.spans) {
    const provider = pick(r, providers);
    const at = startMs + Math.floor(r() * spreadMs);
    const ai = r() < options.aiShare;
    const who: Attributes = { 'tenant.id': pick(r, ORGS), 'user.id': `user-${Math.floor(r() * 200)}`, 'app.feature': pick(r, FEATURES) };
    const shapes = ai ? pick(r, TEMPLATES)(r, who) : [{ ...pick(r, PLAIN), scope: 'http' }];
    let parent = context.active();
    for (const shape of shapes) {
      if (made >= options.spans) break;
      const tracer = provider.getTracer(shape.scope);
      const span = tracer.startSpan(shape.name, { kind: shape.kind, attributes: shape.attributes, startTime: at }, parent);
      span.end(at + 50 + Math.floor(r() * 3000));
      parent = trace.setSpan(parent, span);
      made++;
    }
  }
  return exporter.getFinishedSpans();
}
