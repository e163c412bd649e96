/**
 * The newest `@opentelemetry/instrumentation-aws-sdk` line (0.79, on instrumentation 0.300 and core 3:
 * Node >= 22.15) in an app on OpenTelemetry JS 3.x (test/fixtures/otel3-app): `NodeSDK` wiring
 * GenAiLedgerExporter, `@aws-sdk/client-bedrock-runtime` calling the fake Bedrock Runtime
 * (demo/fake-providers/bedrock.ts) with the scenarios of test/support/bedrock-capture.ts. Rows land
 * in the embedded store.
 *
 * What it shows: 0.79 reports what 0.78 did (bedrock.test.ts pins 0.78): `gen_ai.usage.input_tokens`
 * and `output_tokens` only, never the cache reads or writes, and InvokeModelWithResponseStream with an
 * Anthropic body still reports output 1 (message_start's count, never message_delta's 300).
 *
 * The fake's usage: Converse / ConverseStream / Anthropic body input 200 (cache excluded) + cache
 * read 5000 + cache write 1000, output 300; Nova body input 1000 + cache read 2000, output 300.
 * Published prices per Mtok (AWS Bedrock pricing page; Anthropic's for the global profile):
 *   Claude Haiku 4.5 regional (in-region id, us./eu. profiles): input 1.10, output 5.50.
 *   Claude Haiku 4.5 global profile: input 1.00, output 5.00.   Amazon Nova Lite: input 0.06, output 0.24.
 * With no cache count reported, only the 200 (1000) input tokens are priced:
 *   regional 200 × 1.10 + 300 × 5.50 = 220 + 1650 µ$ = $0.00187
 *   global   200 × 1.00 + 300 × 5.00 = 200 + 1500 µ$ = $0.0017
 *   streamed Anthropic body 200 × 1.10 + 1 × 5.50 = 220 + 5.5 µ$ = $0.0002255
 *   Nova     1000 × 0.06 + 300 × 0.24 = 60 + 72 µ$ = $0.000132
 */
import { describe, expect, it } from 'vitest';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { supportProblem } from '../../instrumentation/support.js';
import { startFakeBedrock } from '../../demo/fake-providers/bedrock.js';
import { appRequire, fakeAndStore, startOtel3App, versionOf } from '../support/otel3-app.js';
import { queryRows } from '../support/store.js';

const APP = {
  node: process.versions.node,
  packages: {
    '@opentelemetry/api': versionOf('@opentelemetry/api'),
    '@opentelemetry/sdk-node': versionOf('@opentelemetry/sdk-node'),
    '@opentelemetry/instrumentation-aws-sdk': versionOf('@opentelemetry/instrumentation-aws-sdk'),
    '@aws-sdk/client-bedrock-runtime': versionOf('@aws-sdk/client-bedrock-runtime'),
  },
};
// 0.79 and the 3.x line declare Node >= 22.15: the test runs where the support check says this app can.
const RUNS = supportProblem(APP) === undefined;

const env = fakeAndStore(startFakeBedrock);

const SCENARIOS = ['converse', 'converse-global', 'converse-in-region', 'converse-arn', 'converse-stream', 'invoke-anthropic',
  'invoke-anthropic-us', 'invoke-anthropic-global', 'invoke-anthropic-stream', 'invoke-nova', 'error'];

const REGIONAL = 'aws/regional.anthropic.claude-haiku-4-5-20251001-v1:0';
const HAIKU = { service_name: 'bedrock-app', provider: 'aws.bedrock', operation: 'chat', input_tokens: 200, output_tokens: 300, cache_read_tokens: 0, cache_write_tokens: 0, error_type: '' };
const REGIONAL_ROW = { ...HAIKU, priced_model: REGIONAL, cost: '0.00187' };
const GLOBAL_ROW = { ...HAIKU, priced_model: 'aws/global.anthropic.claude-haiku-4-5-20251001-v1:0', cost: '0.0017' };
const US = 'us.anthropic.claude-haiku-4-5-20251001-v1:0';
const GLOBAL = 'global.anthropic.claude-haiku-4-5-20251001-v1:0';
const IN_REGION = 'anthropic.claude-haiku-4-5-20251001-v1:0';

describe(`instrumentation-aws-sdk ${APP.packages['@opentelemetry/instrumentation-aws-sdk']} under sdk-node ${APP.packages['@opentelemetry/sdk-node']}, client-bedrock-runtime ${APP.packages['@aws-sdk/client-bedrock-runtime']}`, () => {
  it.runIf(RUNS)('NodeSDK: Converse, ConverseStream and InvokeModel become exact rows; no cache counts, streamed Anthropic output 1', async () => {
    const { AwsInstrumentation } = appRequire('@opentelemetry/instrumentation-aws-sdk') as { AwsInstrumentation: new () => unknown };
    const app = startOtel3App(env.store, 'bedrock-app', [new AwsInstrumentation()]);
    let spans: ReadableSpan[] = [];
    try {
      // Required after start(), as a CommonJS app loads it after its tracing setup, so the require hook
      // patches @smithy/core's client; the scenarios module then imports this same loaded copy.
      appRequire('@aws-sdk/client-bedrock-runtime');
      const { BEDROCK_SCENARIOS, bedrockClient } = await import('../support/bedrock-capture.js');
      for (const name of SCENARIOS) {
        const scenario = BEDROCK_SCENARIOS.find((s) => s.name === name)!;
        const outcome = await scenario.run(bedrockClient(env.fake.url)).then(() => 'ok', (e: unknown) => (e as Error).name);
        expect(outcome, name).toBe(scenario.expectError ? 'InternalServerException' : 'ok');
      }
      spans = await app.flush();
    } finally {
      await app.shutdown();
    }

    expect(spans.map((s) => s.instrumentationScope)).toEqual(SCENARIOS.map(() => ({ name: '@opentelemetry/instrumentation-aws-sdk', version: '0.79.0' })));
    // What 0.79 reports as usage: input and output only, on every successful call (0.78's set, bedrock.test.ts).
    const usageKeys = spans.map((s) => Object.keys(s.attributes).filter((k) => k.startsWith('gen_ai.usage.')).sort());
    expect(usageKeys).toEqual(SCENARIOS.map((n) => (n === 'error' ? [] : ['gen_ai.usage.input_tokens', 'gen_ai.usage.output_tokens'])));

    const rows = await queryRows(env.store.client, `
      SELECT service_name, provider, operation, request_model, priced_model, input_tokens, output_tokens,
             cache_read_tokens, cache_write_tokens, toString(cost_usd) AS cost, error_type
      FROM genai_ledger.ai_usage_exact ORDER BY ts`);
    expect(rows).toEqual([
      { ...REGIONAL_ROW, request_model: US },
      { ...GLOBAL_ROW, request_model: GLOBAL },
      { ...REGIONAL_ROW, request_model: IN_REGION },
      { ...REGIONAL_ROW, request_model: 'arn:aws:bedrock:eu-west-1:123456789012:inference-profile/eu.anthropic.claude-haiku-4-5-20251001-v1:0' },
      { ...REGIONAL_ROW, request_model: US },
      { ...REGIONAL_ROW, request_model: IN_REGION },
      { ...REGIONAL_ROW, request_model: US },
      { ...GLOBAL_ROW, request_model: GLOBAL },
      { ...REGIONAL_ROW, request_model: IN_REGION, output_tokens: 1, cost: '0.0002255' },
      { ...HAIKU, request_model: 'amazon.nova-lite-v1:0', priced_model: 'aws/amazon.nova-lite-v1:0', input_tokens: 1000, cost: '0.000132' },
      { ...HAIKU, request_model: 'fail-model', priced_model: '', input_tokens: 0, output_tokens: 0, cost: null, error_type: 'InternalServerException' },
    ]);
  }, 120_000);
});
