/**
 * An app on OpenTelemetry JS 3.x: the packages test/fixtures/otel3-app depends on (api 1.10,
 * sdk-node 0.30x, sdk-trace 3.x, instrumentation-openai 0.22, openai 7), resolved from that folder
 * as the app would resolve them. Their api 1.10 peer cannot share this repository's root with the
 * 2.x line (whose packages want api < 1.10), so they live in the fixture's own node_modules
 * (a `file:` dev dependency). This repository's code keeps its api 1.9.1, as it does inside such an
 * app: an older API copy uses the global context and providers a newer one registered.
 *
 * Loaded through `require`, after the SDK starts, so the instrumentations' require hooks patch
 * `openai` as they do in a CommonJS app. Node >= 22.15 only (their engines): callers gate on it.
 */
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll } from 'vitest';
import type { ReadableSpan, SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { GenAiLedgerExporter } from '../../exporter/span-exporter.js';
import { openTestStore, type TestStore } from './store.js';

const FIXTURE = new URL('../fixtures/otel3-app/package.json', import.meta.url);

/** `require` from the app's folder: its own copies of the 3.x packages and of openai 7. */
export const appRequire = createRequire(FIXTURE);
/** `require` from this repository's root: openai 6 and the instrumentations of the 2.x-era lines. */
export const rootRequire = createRequire(new URL('../../package.json', import.meta.url));

/** The version of a package as the app (or the root) resolves it. */
export function versionOf(name: string, from: NodeJS.Require = appRequire): string {
  const entry = from.resolve(name);
  const dir = entry.slice(0, entry.lastIndexOf(`/node_modules/${name}/`) + `/node_modules/${name}/`.length);
  return (JSON.parse(readFileSync(`${dir}package.json`, 'utf8')) as { version: string }).version;
}

/** The 3.x SDK's shapes this repository's tests use (its types live in the fixture's node_modules). */
export interface Otel3 {
  NodeSDK: new (config: {
    serviceName?: string;
    traceExporter?: SpanExporter;
    spanProcessors?: SpanProcessor[];
    instrumentations?: unknown[];
    autoDetectResources?: boolean;
  }) => { start(): void; shutdown(): Promise<void> };
  BatchSpanProcessor: new (options: { exporter: SpanExporter; scheduledDelayMillis?: number }) => SpanProcessor;
  SimpleSpanProcessor: new (options: { exporter: SpanExporter }) => SpanProcessor;
  InMemorySpanExporter: new () => SpanExporter & { getFinishedSpans(): ReadableSpan[] };
  BasicTracerProvider: new (config: { spanProcessors?: SpanProcessor[]; resource?: unknown }) => {
    getTracer(name: string, version?: string): import('@opentelemetry/api').Tracer;
    forceFlush(): Promise<void>;
  };
  resourceFromAttributes(attributes: Record<string, string>): unknown;
  apiVersion: string;
}

export function loadOtel3(): Otel3 {
  const sdkTrace = appRequire('@opentelemetry/sdk-trace') as Record<string, unknown>;
  return {
    NodeSDK: (appRequire('@opentelemetry/sdk-node') as { NodeSDK: Otel3['NodeSDK'] }).NodeSDK,
    BatchSpanProcessor: sdkTrace.BatchSpanProcessor as Otel3['BatchSpanProcessor'],
    SimpleSpanProcessor: sdkTrace.SimpleSpanProcessor as Otel3['SimpleSpanProcessor'],
    InMemorySpanExporter: sdkTrace.InMemorySpanExporter as Otel3['InMemorySpanExporter'],
    BasicTracerProvider: sdkTrace.TracerProvider as Otel3['BasicTracerProvider'],
    resourceFromAttributes: (appRequire('@opentelemetry/resources') as { resourceFromAttributes: Otel3['resourceFromAttributes'] }).resourceFromAttributes,
    apiVersion: versionOf('@opentelemetry/api'),
  };
}

/**
 * A file's fake provider (`start`) and embedded store, opened before its tests and closed after them;
 * read them from the returned object inside the tests.
 */
export function fakeAndStore<F extends { close(): unknown }>(start: () => Promise<F>): { fake: F; store: TestStore } {
  const env = {} as { fake: F; store: TestStore };
  beforeAll(async () => {
    env.fake = await start();
    env.store = await openTestStore();
  });
  afterAll(async () => {
    await env.fake?.close();
    await env.store?.close();
  });
  return env;
}

export interface Otel3App {
  otel: Otel3;
  /** Writes every span ended so far to the store and returns them all (before shutdown(), which clears them). */
  flush(): Promise<ReadableSpan[]>;
  shutdown(): Promise<void>;
}

/**
 * Starts a NodeSDK app wired as the 3.x docs show, `spanProcessors: [new BatchSpanProcessor({ exporter })]`
 * with GenAiLedgerExporter writing to `store`, plus an in-memory copy of every span for the test to read.
 * The app's SDK modules are required after this, as a CommonJS app loads them after its tracing setup.
 */
export function startOtel3App(store: TestStore, serviceName: string, instrumentations: unknown[]): Otel3App {
  const otel = loadOtel3();
  const exporter = new GenAiLedgerExporter({ client: store.client, database: store.database });
  const seen = new otel.InMemorySpanExporter();
  const batch = new otel.BatchSpanProcessor({ exporter, scheduledDelayMillis: 20 });
  const sdk = new otel.NodeSDK({
    serviceName,
    autoDetectResources: false,
    spanProcessors: [batch, new otel.SimpleSpanProcessor({ exporter: seen })],
    instrumentations,
  });
  sdk.start();
  return {
    otel,
    async flush() {
      await batch.forceFlush(); // hands the spans to the exporter, which forceFlush() writes
      await exporter.forceFlush();
      return seen.getFinishedSpans();
    },
    shutdown: () => sdk.shutdown(),
  };
}
