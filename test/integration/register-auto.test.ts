/**
 * register() 'auto' with the packages this repository installs: one source per AI SDK, and an app
 * calling OpenAI, Anthropic and LangChain's ChatOpenAI against the fake providers gets one row per
 * call, attributed, without setting frameworkSpans.
 *
 * The SDKs are required the way a CommonJS app loads them (require hooks patch them; vitest's own
 * `import` is not hooked). Fake usage (demo/fake-provider.ts) and published prices per 1M tokens:
 *   gpt-4o (openai.com/api/pricing) input $2.50, output $10; @opentelemetry/instrumentation-openai
 *   reports no cached count, so 1200 × 2.50 + 300 × 10 = 6000 µ$ = $0.006.
 *   claude-haiku-4-5 (anthropic.com/pricing) input $1, 5-minute cache write $1.25, cache read $0.10,
 *   output $5: 200 × 1 + 1000 × 1.25 + 5000 × 0.1 + 300 × 5 = 3450 µ$ = $0.00345.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { diag, DiagLogLevel } from '@opentelemetry/api';
import type OpenAIType from 'openai';
import type AnthropicType from '@anthropic-ai/sdk';
import type { ChatOpenAI as ChatOpenAIType } from '@langchain/openai';
import { register, type Registration } from '../../instrumentation/register.js';
import { withUsageContext } from '../../instrumentation/usage-context.js';
import { createStoreClient } from '../../clickhouse/store.js';
import { startFakeProvider, type FakeProvider } from '../../demo/fake-provider.js';
import { queryRows } from '../support/store.js';

const require = createRequire(import.meta.url);
const dir = mkdtempSync(join(tmpdir(), 'genai-ledger-register-auto-'));
const lines: string[] = [];
let fake: FakeProvider;
let registration: Registration;

beforeAll(async () => {
  const keep = (message: string) => void lines.push(message);
  diag.setLogger({ error: keep, warn: keep, info: keep, debug() {}, verbose() {} }, DiagLogLevel.INFO);
  fake = await startFakeProvider();
  registration = await register({ store: dir, serviceName: 'support-api' });
}, 60_000);
afterAll(async () => {
  await registration?.shutdown();
  await fake?.close();
  rmSync(dir, { recursive: true, force: true });
});

it('enables one source per installed SDK and says which, and why, one line each', () => {
  expect(registration.instrumentations).toEqual([
    '@opentelemetry/instrumentation-openai',
    '@opentelemetry/instrumentation-aws-sdk',
    '@traceloop/instrumentation-vertexai',
    '@arizeai/openinference-instrumentation-langchain',
  ]);
  const ours = lines.filter((l) => l.startsWith('genai-ledger: '));
  expect(ours).toEqual([
    expect.stringMatching(/^genai-ledger: OpenAI \(openai 6\.\d+\.\d+\): enabled @opentelemetry\/instrumentation-openai 0\.\d+\.\d+, preferred of 3 installed \(it reports /),
    expect.stringMatching(/^genai-ledger: Anthropic \(@anthropic-ai\/sdk 1\.\d+\.\d+\): no instrumentation: the SDK traces its own calls/),
    expect.stringMatching(/^genai-ledger: Bedrock \(@aws-sdk\/client-bedrock-runtime 3\.\d+\.\d+\): enabled @opentelemetry\/instrumentation-aws-sdk/),
    // @google/genai 2.x: the only Google instrumentation's module definition says >=1.0.0 <2.0.0.
    expect.stringMatching(/^genai-ledger: Google Gen AI \(@google\/genai 2\.\d+\.\d+\): its calls are not recorded: @traceloop\/instrumentation-google-generativeai 0\.\d+\.\d+ cannot work with it: it patches @google\/genai >=1\.0\.0 <2\.0\.0 only, installed 2\./),
    expect.stringMatching(/^genai-ledger: Vertex AI \(@google-cloud\/vertexai 1\.\d+\.\d+\): enabled @traceloop\/instrumentation-vertexai 0\.\d+\.\d+, the only one installed/),
    expect.stringMatching(/^genai-ledger: LangChain \(@langchain\/core 1\.\d+\.\d+\): enabled @arizeai\/openinference-instrumentation-langchain/),
    // @langfuse/openai is installed too (test/conformance/langfuse.test.ts): its generations are wrappers as well.
    expect.stringMatching(/^genai-ledger: @langfuse\/openai and an OpenAI source record the same calls: its generations and LangChain's model-call spans are wrappers \(frameworkSpans 'wrappers'\)/),
  ]);
});

it('OpenAI, Anthropic and LangChain calls: one row per call, attributed, costs exact', async () => {
  const OpenAI = require('openai') as typeof OpenAIType;
  const Anthropic = require('@anthropic-ai/sdk') as typeof AnthropicType;
  const { ChatOpenAI } = require('@langchain/openai') as { ChatOpenAI: typeof ChatOpenAIType };
  const openai = new OpenAI({ apiKey: 'sk-test', maxRetries: 0, baseURL: `${fake.url}/v1` });
  const anthropic = new Anthropic({ apiKey: 'sk-ant-test', maxRetries: 0, baseURL: fake.url });
  const chat = new ChatOpenAI({ model: 'gpt-4o', apiKey: 'sk-test', maxRetries: 0, configuration: { baseURL: `${fake.url}/v1` } });

  await withUsageContext({ orgId: 'acme', userId: 'u-42', feature: 'support-bot' }, async () => {
    await openai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Say hello.' }] });
    await anthropic.messages.create({ model: 'claude-haiku-4-5', max_tokens: 1024, messages: [{ role: 'user', content: 'Say hello.' }] });
    await chat.invoke('Say hello.');
  });
  await registration.flush();

  const client = await createStoreClient({ kind: 'embedded', path: dir });
  const rows = await queryRows(client, `
    SELECT provider, request_model, instrumentation, org_id, user_id, feature, input_tokens, cache_read_tokens, cache_write_tokens,
           output_tokens, toString(cost_usd) AS cost
    FROM genai_ledger.ai_usage_exact ORDER BY provider, instrumentation`);
  await client.close();
  const who = { org_id: 'acme', user_id: 'u-42', feature: 'support-bot' };
  const gpt4o = { ...who, provider: 'openai', request_model: 'gpt-4o', instrumentation: '@opentelemetry/instrumentation-openai', input_tokens: 1200, cache_read_tokens: 0, cache_write_tokens: 0, output_tokens: 300, cost: '0.006' };
  expect(rows).toEqual([
    { ...who, provider: 'anthropic', request_model: 'claude-haiku-4-5', instrumentation: 'com.anthropic.sdk.typescript', input_tokens: 6200, cache_read_tokens: 5000, cache_write_tokens: 1000, output_tokens: 300, cost: '0.00345' },
    // The direct call and LangChain's (through its own openai copy, patched too); LangChain's span is a wrapper.
    gpt4o,
    gpt4o,
  ]);
  const { notStored } = registration.exporter.stats()!;
  expect(notStored).toMatchObject({ aggregate: 1 });
}, 120_000);
