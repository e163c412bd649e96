import { diag, metrics } from '@opentelemetry/api';
import { registerInstrumentations, type Instrumentation } from '@opentelemetry/instrumentation';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, type BufferConfig, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { GenAiLedgerExporter, type GenAiLedgerExporterOptions } from '../exporter/span-exporter.js';
import { detectInstrumentations } from './auto-detect.js';
import { installedPackages } from './package-probe.js';
import { supportProblem } from './support.js';
import { UsageContextSpanProcessor, type UsageContextSpanProcessorOptions } from './usage-context.js';

export interface RegisterOptions extends GenAiLedgerExporterOptions, UsageContextSpanProcessorOptions {
  /** `service.name` of the resource. Default: OTEL_SERVICE_NAME, else 'unknown_service'. */
  serviceName?: string;
  /** `deployment.environment.name`. Default: GENAI_LEDGER_ENVIRONMENT or NODE_ENV. */
  environment?: string;
  /**
   * Also send every span to an OTLP/HTTP endpoint (your tracing backend): true for the standard
   * OTEL_EXPORTER_OTLP_* settings, or the traces URL. Needs @opentelemetry/exporter-trace-otlp-proto.
   */
  otlp?: boolean | string;
  /**
   * Instrumentations to enable. Default 'auto': for each installed AI SDK, the preferred installed
   * instrumentation that supports it (instrumentation-preferences.ts), one line each on `diag`; with a
   * LangChain instrumentation (or `@langfuse/openai`) and a provider's, `frameworkSpans` defaults to
   * 'wrappers' (one row per call).
   */
  instrumentations?: 'auto' | Instrumentation[];
  /** BatchSpanProcessor settings for the ledger exporter. */
  batch?: BufferConfig;
}

export interface Registration {
  provider: NodeTracerProvider;
  exporter: GenAiLedgerExporter;
  instrumentations: string[];
  /** Writes everything recorded so far to the store (the SDK's forceFlush alone does not). */
  flush(): Promise<void>;
  /** Flushes and stops everything; call it before the process exits. */
  shutdown(): Promise<void>;
}

/**
 * Sets up the OTel Node SDK for AI spend: a global tracer provider whose spans go to the ledger
 * (and optionally to OTLP), attribution from `withUsageContext` (from inbound baggage only with
 * `trustBaggage`), and the GenAI instrumentations.
 * Call it before the app imports the AI SDKs, so module hooks can patch them.
 */
/** The packages whose versions supportProblem() judges. */
const SUPPORT_CHECKED = [
  '@opentelemetry/api', '@opentelemetry/sdk-node', '@opentelemetry/sdk-trace', '@opentelemetry/instrumentation-openai', 'openai',
  '@opentelemetry/instrumentation-aws-sdk',
];

export async function register(options: RegisterOptions = {}): Promise<Registration> {
  // First: a bad trustBaggage key throws before the exporter opens the store.
  const attribution = new UsageContextSpanProcessor({ trustBaggage: options.trustBaggage });
  const problem = supportProblem({
    node: process.versions.node,
    packages: Object.fromEntries(SUPPORT_CHECKED.map((pkg) => [pkg, installedPackages.version(pkg)])),
  });
  if (problem) diag.error(`genai-ledger register(): ${problem}`); // said, never thrown: the app keeps running
  const auto = options.instrumentations === undefined || options.instrumentations === 'auto';
  const detected = auto ? await detectInstrumentations(installedPackages, { frameworkSpans: options.frameworkSpans }) : undefined;
  for (const line of detected?.log ?? []) diag[line.level](line.message);
  const exporter = new GenAiLedgerExporter(detected ? { ...options, frameworkSpans: detected.frameworkSpans } : options);
  const processors = [attribution, new BatchSpanProcessor(exporter, options.batch)];
  if (options.otlp) processors.push(new BatchSpanProcessor(await otlpExporter(options.otlp)));

  const environment = options.environment ?? process.env.GENAI_LEDGER_ENVIRONMENT ?? process.env.NODE_ENV;
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({
      'service.name': options.serviceName ?? process.env.OTEL_SERVICE_NAME ?? 'unknown_service',
      ...(environment ? { 'deployment.environment.name': environment } : {}),
    }),
    spanProcessors: processors,
  });
  provider.register();

  const instrumentations = detected?.instrumentations ?? (options.instrumentations as Instrumentation[]);
  const unregister = registerInstrumentations({
    instrumentations, tracerProvider: provider, meterProvider: metrics.getMeterProvider(),
  });
  return {
    provider,
    exporter,
    instrumentations: instrumentations.map((i) => i.instrumentationName),
    async flush() {
      await provider.forceFlush();
      await exporter.forceFlush();
    },
    async shutdown() {
      unregister();
      await provider.shutdown();
    },
  };
}

async function otlpExporter(otlp: true | string): Promise<SpanExporter> {
  const pkg = '@opentelemetry/exporter-trace-otlp-proto';
  let module: { OTLPTraceExporter: new (config?: { url?: string }) => SpanExporter };
  try {
    module = await import(pkg);
  } catch {
    throw new Error(`register({ otlp }) needs ${pkg}: npm install ${pkg}`);
  }
  return new module.OTLPTraceExporter(typeof otlp === 'string' ? { url: otlp } : {});
}
