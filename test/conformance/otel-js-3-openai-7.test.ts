/**
 * `openai` 7 in an app on OpenTelemetry JS 3.x (test/fixtures/otel3-app): @opentelemetry/
 * instrumentation-openai 0.22 does not patch it (otel-js-3.test.ts), OpenInference's openai
 * instrumentation 4.2.7 does (it declares ^5, ^6 and ^7). `NodeSDK` wires GenAiLedgerExporter the
 * other way its docs show, `traceExporter` (the SDK wraps it in a BatchSpanProcessor), and
 * `shutdown()` flushes both.
 *
 * OpenInference reports cached and reasoning tokens, so they are priced. The fake reports prompt
 * 1200 (cached 1024 included), completion 300 (reasoning 200 on o-series, included). OpenAI's
 * published prices per 1M tokens (openai.com/api/pricing): gpt-4o input $2.50, cached $1.25,
 * output $10; o3-mini input $1.10, cached $0.55, output $4.40:
 *   gpt-4o   176 × 2.50 + 1024 × 1.25 + 300 × 10   = 440 + 1280 + 3000   = 4720 µ$   = $0.00472
 *   o3-mini  176 × 1.10 + 1024 × 0.55 + 300 × 4.40 = 193.6 + 563.2 + 1320 = 2076.8 µ$ = $0.0020768
 */
import { describe, expect, it } from 'vitest';
import type OpenAI from 'openai';
import { GenAiLedgerExporter } from '../../exporter/span-exporter.js';
import { supportProblem } from '../../instrumentation/support.js';
import { PROMPT_MARKER, redirectFetch } from '../support/capture.js';
import { startFakeProvider } from '../support/fake-provider.js';
import { appRequire, fakeAndStore, loadOtel3, rootRequire, versionOf } from '../support/otel3-app.js';
import { queryRows } from '../support/store.js';

const OPENINFERENCE = '@arizeai/openinference-instrumentation-openai';
const APP = {
  node: process.versions.node,
  packages: {
    '@opentelemetry/api': versionOf('@opentelemetry/api'),
    '@opentelemetry/sdk-node': versionOf('@opentelemetry/sdk-node'),
    [OPENINFERENCE]: versionOf(OPENINFERENCE, rootRequire),
    openai: versionOf('openai'),
  },
};
// openai 7 and the 3.x line declare Node >= 22 / 22.15: the test runs where the support check says this app can.
const RUNS = supportProblem(APP) === undefined;

const env = fakeAndStore(startFakeProvider);

const messages = [
  { role: 'system' as const, content: `You are terse. ${PROMPT_MARKER}` },
  { role: 'user' as const, content: `Say hello. ${PROMPT_MARKER}` },
];

describe(`OpenTelemetry JS 3.x with openai ${APP.packages.openai} under ${OPENINFERENCE} ${APP.packages[OPENINFERENCE]}`, () => {
  it.runIf(RUNS)('NodeSDK with traceExporter: each call one exact row, cached and reasoning tokens priced', async () => {
    const otel = loadOtel3();
    const { OpenAIInstrumentation } = rootRequire(OPENINFERENCE) as { OpenAIInstrumentation: new () => unknown };
    const exporter = new GenAiLedgerExporter({ client: env.store.client, database: env.store.database });
    const sdk = new otel.NodeSDK({ serviceName: 'support-api', autoDetectResources: false, traceExporter: exporter, instrumentations: [new OpenAIInstrumentation()] });
    sdk.start();
    try {
      const OpenAI7 = appRequire('openai') as typeof OpenAI; // after start(), as a CommonJS app loads it
      const openai = new OpenAI7({ apiKey: 'sk-test', maxRetries: 0, fetch: redirectFetch(env.fake.url) });
      await openai.chat.completions.create({ model: 'gpt-4o', messages, max_tokens: 100, temperature: 0.2 });
      await openai.chat.completions.create({ model: 'o3-mini', messages, max_completion_tokens: 1000 });
      await openai.responses.create({ model: 'gpt-4o', instructions: `Be terse. ${PROMPT_MARKER}`, input: `Say hello. ${PROMPT_MARKER}`, max_output_tokens: 200 });
    } finally {
      await sdk.shutdown(); // flushes the SDK's BatchSpanProcessor, then shuts the exporter down, which writes what it holds
    }

    const rows = await queryRows(env.store.client, `
      SELECT service_name, provider, operation, request_model, response_model, input_tokens, output_tokens,
             cache_read_tokens, reasoning_tokens, toString(cost_usd) AS cost, error_type
      FROM genai_ledger.ai_usage_exact ORDER BY ts`);
    const row = { service_name: 'support-api', provider: 'openai', operation: 'chat', input_tokens: 1200, output_tokens: 300, cache_read_tokens: 1024, error_type: '' };
    // OpenInference's only model attribute, llm.model_name, is the response's model (as on openai 6:
    // test/fixtures/captured/openinference-openai-chat.json), so it is the request model too.
    expect(rows).toEqual([
      { ...row, request_model: 'gpt-4o-2024-08-06', response_model: 'gpt-4o-2024-08-06', reasoning_tokens: 0, cost: '0.00472' },
      { ...row, request_model: 'o3-mini-2025-01-31', response_model: 'o3-mini-2025-01-31', reasoning_tokens: 200, cost: '0.0020768' },
      { ...row, request_model: 'gpt-4o-2024-08-06', response_model: 'gpt-4o-2024-08-06', reasoning_tokens: 0, cost: '0.00472' },
    ]);
  }, 120_000);
});
