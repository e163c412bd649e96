/**
 * OpenLIT's instrumentations loaded from its dist without init(): init() would download a pricing
 * JSON and start its own SDK. Importing this module sets what init() sets first (OpenLIT's wrappers
 * throw without an application name), with content capture, metrics and events off.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
const OPENLIT_DIST = dirname(require.resolve('openlit'));

/** What the conformance tests use of an OpenLIT instrumentation. */
export interface OpenlitInstrumentation {
  setTracerProvider(provider: unknown): void;
  setMeterProvider(provider: unknown): void;
  getModuleDefinitions(): Array<{ name: string; supportedVersions: string[] }>;
  manualPatch?(module: unknown): void;
  enable(): void;
  disable(): void;
}

/** The default export of a module of OpenLIT's dist (`path` relative to it). */
export function openlitModule<T>(path: string): T {
  return (require(join(OPENLIT_DIST, path)) as { default: T }).default;
}

openlitModule<{ updateConfig(options: Record<string, unknown>): void }>('config.js').updateConfig({
  applicationName: 'conformance',
  environment: 'test',
  captureMessageContent: false,
  disableMetrics: true,
  disableEvents: true,
});
