/**
 * Runs a traffic plan the way a real app would: the official `openai` SDK instrumented by
 * @opentelemetry/instrumentation-openai, `recordUsage` for the calls no instrumentation covers
 * (a credit-billed scraping API, a transcription), the OTel Node SDK with `withUsageContext`
 * attribution, and an exporter: the ledger's own into the store, or OTLP to a running collector. The provider is the built-in
 * fake (fake-provider.ts) on 127.0.0.1, told per request what usage to report.
 *
 * Instrumentations stamp spans with the real clock, so a span processor in front of the ledger
 * moves each instrumented span to its planned time (start and duration) before it is exported;
 * recordUsage spans get their planned time directly.
 */
import { context, createContextKey, metrics, type Context } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { SimpleSpanProcessor, type ReadableSpan, type Span, type SpanExporter, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { OpenAIInstrumentation } from '@opentelemetry/instrumentation-openai';
import OpenAI from 'openai';
import * as openaiModule from 'openai';
import { recordUsage } from '../instrumentation/record-usage.js';
import { contextWithUsage, UsageContextSpanProcessor } from '../instrumentation/usage-context.js';
import { FAKE_STATUS_HEADER, FAKE_USAGE_HEADER, startFakeProvider } from './fake-provider.js';
import { SCRAPE_MODEL, SCRAPE_PROVIDER, type PlannedCall } from './traffic.js';

export const DEMO_SERVICE_NAME = 'genai-ledger-demo';
export const DEMO_ENVIRONMENT = 'demo';
const DEFAULT_CONCURRENCY = 48;

export interface RunDemoOptions {
  calls: readonly PlannedCall[];
  /** Where the spans go: the ledger exporter on a store, or an OTLP exporter to a running collector. */
  exporter: SpanExporter;
  /** Calls in flight at once. Default 48. */
  concurrency?: number;
  /** Called after each call with the number done. */
  onProgress?: (done: number) => void;
}

export interface RunDemoResult {
  calls: number;
  /** Calls the fake provider answered with an error (they are still rows, with error_type). */
  failed: number;
}

interface PlannedTime {
  atMs: number;
  durationMs: number;
}

const PLANNED_TIME = createContextKey('genai-ledger demo planned time');

function hrTime(ms: number): [number, number] {
  const seconds = Math.floor(ms / 1000);
  return [seconds, Math.round((ms - seconds * 1000) * 1e6)];
}

function hrToMs(t: readonly [number, number]): number {
  return t[0] * 1000 + t[1] / 1e6;
}

/** The span as it would have been recorded at its planned time. */
function shifted(span: ReadableSpan, time: PlannedTime): ReadableSpan {
  const offsetMs = time.atMs - hrToMs(span.startTime);
  return {
    name: span.name,
    kind: span.kind,
    spanContext: () => span.spanContext(),
    ...(span.parentSpanContext ? { parentSpanContext: span.parentSpanContext } : {}),
    startTime: hrTime(time.atMs),
    endTime: hrTime(time.atMs + time.durationMs),
    duration: hrTime(time.durationMs),
    status: span.status,
    attributes: span.attributes,
    links: span.links,
    events: span.events.map((e) => ({ ...e, time: hrTime(hrToMs(e.time) + offsetMs) })),
    ended: span.ended,
    resource: span.resource,
    instrumentationScope: span.instrumentationScope,
    droppedAttributesCount: span.droppedAttributesCount,
    droppedEventsCount: span.droppedEventsCount,
    droppedLinksCount: span.droppedLinksCount,
  };
}

/** Moves spans started under a planned time to that time, then hands them on. */
export class TimeShiftProcessor implements SpanProcessor {
  readonly #planned = new WeakMap<object, PlannedTime>();

  constructor(private readonly next: SpanProcessor) {}

  onStart(span: Span, parentContext: Context): void {
    const time = parentContext.getValue(PLANNED_TIME) as PlannedTime | undefined;
    if (time) this.#planned.set(span, time);
    this.next.onStart(span, parentContext);
  }

  onEnd(span: ReadableSpan): void {
    const time = this.#planned.get(span);
    this.next.onEnd(time ? shifted(span, time) : span);
  }

  forceFlush(): Promise<void> {
    return this.next.forceFlush();
  }

  shutdown(): Promise<void> {
    return this.next.shutdown();
  }
}

/** Runs the calls; resolves when every row is written (or counted as dropped). */
export async function runDemo(options: RunDemoOptions): Promise<RunDemoResult> {
  const fake = await startFakeProvider({ recordRequests: false });
  const exporter = options.exporter;
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': DEMO_SERVICE_NAME, 'deployment.environment.name': DEMO_ENVIRONMENT }),
    spanProcessors: [new UsageContextSpanProcessor(), new TimeShiftProcessor(new SimpleSpanProcessor(exporter))],
  });
  // Global: recordUsage() uses the global tracer, and withUsageContext needs the context manager.
  provider.register();

  // The instrumentation's module hooks see `require`, not this ESM import: apply its patch to the
  // loaded module, as its hook would (the same code path, minus the loader).
  const instrumentation = new OpenAIInstrumentation();
  instrumentation.setTracerProvider(provider);
  instrumentation.setMeterProvider(metrics.getMeterProvider());
  const definition = instrumentation.getModuleDefinitions().find((d) => d.name === 'openai');
  if (!definition?.patch) throw new Error('@opentelemetry/instrumentation-openai: no module definition for openai');
  const version = (openaiModule as unknown as { VERSION?: string }).VERSION ?? '6.0.0';
  definition.patch(openaiModule, version);

  const client = new OpenAI({ apiKey: 'sk-demo-not-a-real-key', baseURL: `${fake.url}/v1`, maxRetries: 0, timeout: 30_000 });
  let failed = 0;
  let done = 0;
  let next = 0;
  try {
    const worker = async (): Promise<void> => {
      while (next < options.calls.length) {
        const call = options.calls[next++]!;
        if (!(await execute(client, call))) failed++;
        done++;
        options.onProgress?.(done);
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, options.concurrency ?? DEFAULT_CONCURRENCY) }, worker));
    await provider.forceFlush();
    await exporter.forceFlush?.();
    return { calls: done, failed };
  } finally {
    definition.unpatch?.(openaiModule, version);
    instrumentation.disable();
    await provider.shutdown();
    await fake.close();
  }
}

const SYSTEM_PROMPTS: Readonly<Record<string, string>> = {
  'support-bot': 'You are the support assistant. Answer from the help center articles provided.',
  triage: 'Classify the ticket: billing, bug, how-to, account, other. Answer with one word.',
  summarize: 'Summarize the document for an executive in five bullet points.',
};

/** One planned call through the real SDK (or recordUsage); false when the provider answered with an error. */
async function execute(client: OpenAI, call: PlannedCall): Promise<boolean> {
  const who = { orgId: call.orgId, userId: call.userId, feature: call.feature, ...(call.conversationId ? { conversationId: call.conversationId } : {}) };
  if (call.kind === 'scrape') {
    recordUsage({
      ...who, provider: SCRAPE_PROVIDER, model: SCRAPE_MODEL, operation: 'scrape',
      units: { credits: call.credits, pages: call.pages }, startTime: new Date(call.atMs), durationMs: call.durationMs,
    });
    return true;
  }
  if (call.kind === 'transcription') {
    recordUsage({
      ...who, provider: 'openai', model: call.model, operation: 'transcription',
      units: { audio_seconds: call.audioSeconds }, startTime: new Date(call.atMs), durationMs: call.durationMs,
    });
    return true;
  }

  const headers: Record<string, string> = { [FAKE_USAGE_HEADER]: JSON.stringify(call.usage) };
  if (call.failStatus) headers[FAKE_STATUS_HEADER] = String(call.failStatus);
  const ctx = contextWithUsage(who).setValue(PLANNED_TIME, { atMs: call.atMs, durationMs: call.durationMs } satisfies PlannedTime);
  try {
    await context.with(ctx, async () => {
      switch (call.kind) {
        case 'chat': {
          const messages = [
            { role: 'system' as const, content: SYSTEM_PROMPTS[call.feature] ?? 'You are helpful.' },
            { role: 'user' as const, content: `Request ${call.index} from ${call.userId}.` },
          ];
          if (call.stream) {
            const stream = await client.chat.completions.create(
              { model: call.model, messages, stream: true, stream_options: { include_usage: true } }, { headers });
            for await (const _chunk of stream) { /* drain */ }
          } else {
            await client.chat.completions.create({ model: call.model, messages, max_tokens: 4096 }, { headers });
          }
          break;
        }
        case 'responses':
          await client.responses.create(
            { model: call.model, instructions: 'Review the pull request diff; list bugs and risky changes.', input: `Diff #${call.index}`, reasoning: { effort: 'medium' } },
            { headers });
          break;
        case 'embeddings':
          await client.embeddings.create(
            { model: call.model, input: Array.from({ length: call.inputs }, (_, i) => `passage ${call.index}.${i}`) }, { headers });
          break;
      }
    });
    return true;
  } catch (error) {
    if (error instanceof OpenAI.APIError) return false;
    throw error;
  }
}
