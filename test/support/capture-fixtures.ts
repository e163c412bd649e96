/**
 * Regenerates test/fixtures/captured/<instrumentation>-<scenario>.json from live runs of every scenario.
 *
 *   UPDATE_FIXTURES=1 npx vitest run test/conformance/capture.test.ts
 *
 * Without UPDATE_FIXTURES the same test compares live output with the committed fixtures (ignoring ids,
 * timestamps, ports and other run-dependent values), so an instrumentation upgrade that changes what it
 * emits shows up as a failing test.
 *
 * Besides the span files it writes `index.json`: per fixture the scenario description, the instrumentation
 * package and version, whether the SDK call threw, spans left unended, and harness notes.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Attributes } from '@opentelemetry/api';
import { startFakeProvider } from './fake-provider.js';
import { INSTRUMENTATION_PACKAGES, SCENARIOS, captureScenario, scenarioId, type CaptureResult, type Scenario } from './capture.js';
import { CAPTURED_FIXTURES_DIR, toCapturedSpan, type CapturedSpan } from './span-json.js';

const require = createRequire(import.meta.url);

export function packageVersion(name: string): string {
  // Resolve the package's main entry and walk up to its package.json (some packages hide package.json from `exports`).
  let dir = path.dirname(require.resolve(name));
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === name && pkg.version) return pkg.version;
    } catch {
      // keep walking
    }
    const up = path.dirname(dir);
    if (up === dir) return 'unknown';
    dir = up;
  }
}

export interface FixtureIndexEntry {
  id: string;
  instrumentation: string;
  package: string;
  packageVersion: string;
  sdk: string;
  scenario: string;
  description: string;
  spanCount: number;
  threw: string | null;
  unendedSpans: string[];
  notes: string[];
}

function sdkOf(s: Scenario): string {
  if (s.instrumentation === 'ai-sdk') return `ai@${packageVersion('ai')} @ai-sdk/openai@${packageVersion('@ai-sdk/openai')} @ai-sdk/anthropic@${packageVersion('@ai-sdk/anthropic')}`;
  if (s.instrumentation === 'traceloop-anthropic') return `@anthropic-ai/sdk@${packageVersion('@anthropic-ai/sdk')}`;
  return `openai@${packageVersion('openai')}`;
}

export function indexEntry(r: CaptureResult): FixtureIndexEntry {
  const s = r.scenario;
  const pkg = INSTRUMENTATION_PACKAGES[s.instrumentation];
  return {
    id: scenarioId(s),
    instrumentation: s.instrumentation,
    package: pkg,
    packageVersion: packageVersion(pkg),
    sdk: sdkOf(s),
    scenario: s.name,
    description: s.description,
    spanCount: r.spans.length,
    threw: r.error === undefined ? null : `${(r.error as Error)?.constructor?.name ?? 'Error'}: ${(r.error as Error)?.message ?? String(r.error)}`,
    unendedSpans: r.unendedSpans,
    notes: r.notes,
  };
}

/** Runs every scenario live and returns the results (does not write anything). */
export async function captureAll(scenarios: Scenario[] = SCENARIOS): Promise<CaptureResult[]> {
  const fake = await startFakeProvider();
  try {
    const results: CaptureResult[] = [];
    for (const s of scenarios) results.push(await captureScenario(s, fake.url));
    return results;
  } finally {
    await fake.close();
  }
}

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * The only edit made to real output before it is written: absolute paths of this checkout inside string
 * values (exception stack traces) become `<repo>`, so fixtures do not depend on where they were captured.
 */
export function sanitizeForFixture(span: CapturedSpan): CapturedSpan {
  const clean = (attrs: Attributes): Attributes => {
    const out: Attributes = {};
    for (const [k, v] of Object.entries(attrs)) out[k] = typeof v === 'string' ? v.split(REPO_ROOT).join('<repo>') : v;
    return out;
  };
  return { ...span, attributes: clean(span.attributes), events: span.events.map((e) => ({ ...e, attributes: clean(e.attributes) })) };
}

/**
 * Attribute values that change from run to run (ports, clocks, latencies, stack traces). The drift check
 * compares only their presence.
 */
export const VOLATILE_ATTRIBUTES = new Set([
  'server.port', // ephemeral port of the fake provider in *-chat-localhost
  'ai.response.timestamp', // anthropic responses carry no timestamp: the ai SDK uses the clock
  'ai.response.msToFirstChunk',
  'ai.response.msToFinish',
  'ai.response.avgOutputTokensPerSecond',
  'ai.response.avgCompletionTokensPerSecond',
  'exception.stacktrace',
]);

export interface SpanShape {
  name: string;
  kind: number;
  scope: string;
  parent: number | null;
  status: number;
  statusMessage?: string;
  attributes: Record<string, unknown>;
  events: Array<{ name: string; attributes: Record<string, unknown> }>;
}

/** A fixture without ids, times and volatile values: what must stay identical between runs. */
export function shapeOf(spans: CapturedSpan[]): SpanShape[] {
  const index = new Map(spans.map((s, i) => [s.spanId, i]));
  const stable = (attrs: Attributes) =>
    Object.fromEntries(Object.entries(attrs).map(([k, v]) => [k, VOLATILE_ATTRIBUTES.has(k) ? '<volatile>' : v]).sort(([a], [b]) => String(a).localeCompare(String(b))));
  return spans.map((s) => ({
    name: s.name,
    kind: s.kind,
    scope: `${s.scopeName}@${s.scopeVersion ?? ''}`,
    parent: s.parentSpanId !== undefined ? (index.get(s.parentSpanId) ?? -1) : null,
    status: s.status.code,
    ...(s.status.message !== undefined ? { statusMessage: s.status.message } : {}),
    attributes: stable(s.attributes),
    events: s.events.map((e) => ({ name: e.name, attributes: stable(e.attributes) })),
  }));
}

export function writeFixtures(results: CaptureResult[], dir: string = CAPTURED_FIXTURES_DIR): string[] {
  mkdirSync(dir, { recursive: true });
  const written: string[] = [];
  for (const r of results) {
    const spans: CapturedSpan[] = r.spans.map(toCapturedSpan).map(sanitizeForFixture);
    const file = path.join(dir, `${scenarioId(r.scenario)}.json`);
    writeFileSync(file, `${JSON.stringify(spans, null, 2)}\n`);
    written.push(file);
  }
  const index = results.map(indexEntry);
  writeFileSync(path.join(dir, 'index.json'), `${JSON.stringify(index, null, 2)}\n`);
  return written;
}

/** Captures every scenario and (re)writes the fixture files. */
export async function captureFixtures(dir: string = CAPTURED_FIXTURES_DIR): Promise<string[]> {
  return writeFixtures(await captureAll(), dir);
}
