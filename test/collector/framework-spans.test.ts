/**
 * The collector's --framework-spans / GENAI_LEDGER_FRAMEWORK_SPANS: parsed like every setting, and
 * passed to the mapper (on the mapping thread too): with `wrappers`, a LangChain model-call span and
 * the provider span of the same call are one row, the provider's.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SpanKind } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { ConfigError, parseCollectorConfig } from '../../collector/config.js';
import { collectorRunner } from '../../collector/query-client.js';
import { startCollectorProcess, waitUntilWritten, type CollectorProcess } from './support/collector-process.js';
import { CACHED_GPT4O, CACHED_GPT4O_COST } from './support/spans.js';

describe('--framework-spans', () => {
  it.each([
    [[], {}, 'calls'],
    [['--framework-spans', 'wrappers'], {}, 'wrappers'],
    [[], { GENAI_LEDGER_FRAMEWORK_SPANS: 'Wrappers' }, 'wrappers'],
    [['--framework-spans', 'calls'], { GENAI_LEDGER_FRAMEWORK_SPANS: 'wrappers' }, 'calls'],
  ] as const)('%j %j → %s', (argv, env, expected) => {
    expect(parseCollectorConfig([...argv], env).frameworkSpans).toBe(expected);
  });

  it('a bad value fails with one line naming the flag and the variable', () => {
    expect(() => parseCollectorConfig(['--framework-spans', 'both'], {})).toThrow(ConfigError);
    expect(() => parseCollectorConfig(['--framework-spans', 'both'], {}))
      .toThrow('--framework-spans (GENAI_LEDGER_FRAMEWORK_SPANS): expected calls | wrappers, got "both"');
  });
});

const base = mkdtempSync(join(tmpdir(), 'genai-ledger-framework-spans-'));
let collector: CollectorProcess | undefined;
afterAll(async () => {
  await collector?.stop('SIGKILL').catch(() => undefined);
  rmSync(base, { recursive: true, force: true });
});

it('wrappers: a LangChain span and the provider span of one call → one row, the provider’s', async () => {
  collector = await startCollectorProcess(join(base, 'store'), ['--no-spool'], { GENAI_LEDGER_FRAMEWORK_SPANS: 'wrappers' });
  const memory = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(memory)] });
  // What OpenInference's LangChain instrumentation and the OpenAI instrumentation write for one ChatOpenAI call.
  provider.getTracer('@arizeai/openinference-instrumentation-langchain').startSpan('ChatOpenAI', {
    attributes: { 'openinference.span.kind': 'LLM', 'llm.model_name': 'gpt-4o', 'llm.token_count.prompt': 1200, 'llm.token_count.completion': 300 },
  }).end();
  provider.getTracer('@opentelemetry/instrumentation-openai').startSpan('chat gpt-4o', { kind: SpanKind.CLIENT, attributes: CACHED_GPT4O }).end();

  const exporter = new OTLPTraceExporter({ url: `${collector.url}/v1/traces` });
  const result = await new Promise<ExportResult>((resolve) => exporter.export(memory.getFinishedSpans(), resolve));
  expect(result.code).toBe(ExportResultCode.SUCCESS);
  await exporter.shutdown();
  await waitUntilWritten(collector.url, 1);

  const runner = collectorRunner({ url: collector.url, token: collector.queryToken! });
  expect(await runner.query('SELECT instrumentation, toString(cost_usd) AS cost FROM ai_usage')).toEqual([
    { instrumentation: '@opentelemetry/instrumentation-openai', cost: CACHED_GPT4O_COST },
  ]);
}, 60_000);
