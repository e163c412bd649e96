/**
 * AWS Bedrock: the real `@aws-sdk/client-bedrock-runtime` against the fake Bedrock Runtime
 * (demo/fake-providers/bedrock.ts), under each Bedrock instrumentation → usage rows, exact costs.
 *
 * The fake's usage (Bedrock's meaning: input counts exclude the cache):
 *   Converse / ConverseStream / Anthropic body: input 200 + cache read 5000 + cache write 1000, output 300.
 *   Nova body: input 1000 + cache read 2000, output 300.
 *
 * Published prices per Mtok (AWS Bedrock pricing page; Anthropic's for the global profile):
 *   Claude Haiku 4.5, global profile: input 1.00, output 5.00, cache write (5 min) 1.25, cache read 0.10.
 *   Claude Haiku 4.5, regional (in-region id, us./eu. geo profiles): 10% more: 1.10, 5.50, 1.375, 0.11.
 *   Amazon Nova Lite: input 0.06, output 0.24, cache read 0.015.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as sdk from '@aws-sdk/client-bedrock-runtime';
import { UsageMapper } from '../../usage/mapper.js';
import { loadPriceBook } from '../../pricing/index.js';
import { fromReadableSpan } from '../../exporter/readable-span.js';
import type { UsageRow } from '../../usage/usage-row.js';
import { FAKE_BEDROCK_USAGE, startFakeBedrock, type FakeBedrock } from '../../demo/fake-providers/bedrock.js';
import { COMPLETION_MARKER } from '../support/fake-provider.js';
import { PROMPT_MARKER } from '../support/capture.js';
import { BEDROCK_SCENARIOS, bedrockClient, captureBedrock, MODEL, type BedrockInstrumentationId } from '../support/bedrock-capture.js';

let fake: FakeBedrock;
let mapper: UsageMapper;

beforeAll(async () => {
  fake = await startFakeBedrock();
  mapper = new UsageMapper({ prices: await loadPriceBook(), attributeAllowList: ['gen_ai.*', 'llm.*', 'input.*', 'output.*'] });
});
afterAll(() => fake.close());

type Expected = Partial<Pick<UsageRow,
  'provider' | 'operation' | 'request_model' | 'response_model' | 'priced_model' | 'input_tokens' | 'output_tokens' |
  'cache_read_tokens' | 'cache_write_tokens' | 'reasoning_tokens' | 'cost_usd' | 'error_type'>>;

const REGIONAL = 'aws/regional.anthropic.claude-haiku-4-5-20251001-v1:0';
const GLOBAL = 'aws/global.anthropic.claude-haiku-4-5-20251001-v1:0';
const NOVA = 'aws/amazon.nova-lite-v1:0';
const BEDROCK = { provider: 'aws.bedrock', operation: 'chat' } as const;

// Cache tokens not reported: 200 × 1.10 + 300 × 5.50 = 220 + 1650 µ$.
const HAIKU_REGIONAL_NO_CACHE: Expected = { ...BEDROCK, priced_model: REGIONAL, input_tokens: 200, output_tokens: 300, cache_read_tokens: 0, cache_write_tokens: 0, cost_usd: '0.00187' };
// 200 × 1.00 + 300 × 5.00 = 200 + 1500 µ$.
const HAIKU_GLOBAL_NO_CACHE: Expected = { ...HAIKU_REGIONAL_NO_CACHE, priced_model: GLOBAL, cost_usd: '0.0017' };
// Everything reported: 200 × 1.10 + 5000 × 0.11 + 1000 × 1.375 + 300 × 5.50 = 220 + 550 + 1375 + 1650 µ$.
const HAIKU_REGIONAL_CACHED: Expected = { ...BEDROCK, priced_model: REGIONAL, input_tokens: 6200, output_tokens: 300, cache_read_tokens: 5000, cache_write_tokens: 1000, cost_usd: '0.003795' };
// 1000 × 0.06 + 300 × 0.24 = 60 + 72 µ$.
const NOVA_NO_CACHE: Expected = { ...BEDROCK, priced_model: NOVA, input_tokens: 1000, output_tokens: 300, cache_read_tokens: 0, cost_usd: '0.000132' };
// 1000 × 0.06 + 2000 × 0.015 + 300 × 0.24 = 60 + 30 + 72 µ$.
const NOVA_CACHED: Expected = { ...BEDROCK, priced_model: NOVA, input_tokens: 3000, output_tokens: 300, cache_read_tokens: 2000, cost_usd: '0.000162' };
// OpenInference names the model `anthropic` for any `us.`/`eu.`/`global.` profile or ARN: no price can be found.
const OI_PROFILE: Expected = { ...BEDROCK, request_model: 'anthropic', input_tokens: 200, output_tokens: 300, priced_model: '', cost_usd: null };

const CASES: Array<[BedrockInstrumentationId, string, Expected[]]> = [
  // @opentelemetry/instrumentation-aws-sdk: input/output only (never the cache counts).
  ['otel-aws-sdk', 'converse', [{ ...HAIKU_REGIONAL_NO_CACHE, request_model: MODEL.us }]],
  ['otel-aws-sdk', 'converse-global', [HAIKU_GLOBAL_NO_CACHE]],
  ['otel-aws-sdk', 'converse-in-region', [HAIKU_REGIONAL_NO_CACHE]],
  ['otel-aws-sdk', 'converse-arn', [{ ...HAIKU_REGIONAL_NO_CACHE, request_model: MODEL.arn }]],
  ['otel-aws-sdk', 'converse-stream', [HAIKU_REGIONAL_NO_CACHE]],
  ['otel-aws-sdk', 'invoke-anthropic', [HAIKU_REGIONAL_NO_CACHE]],
  ['otel-aws-sdk', 'invoke-anthropic-us', [HAIKU_REGIONAL_NO_CACHE]],
  ['otel-aws-sdk', 'invoke-anthropic-global', [HAIKU_GLOBAL_NO_CACHE]],
  // Streamed Anthropic body: reads output_tokens from message_start only (1), never message_delta's 300:
  // 200 × 1.10 + 1 × 5.50 = 220 + 5.5 µ$.
  ['otel-aws-sdk', 'invoke-anthropic-stream', [{ ...HAIKU_REGIONAL_NO_CACHE, output_tokens: 1, cost_usd: '0.0002255' }]],
  ['otel-aws-sdk', 'invoke-nova', [NOVA_NO_CACHE]],
  ['otel-aws-sdk', 'error', [{ provider: 'aws.bedrock', request_model: 'fail-model', input_tokens: 0, cost_usd: null, error_type: 'InternalServerException' }]],
  // @arizeai/openinference-instrumentation-bedrock: cache counts on InvokeModel only; model name lost for profiles.
  ['openinference-bedrock', 'converse', [OI_PROFILE]],
  ['openinference-bedrock', 'converse-global', [OI_PROFILE]],
  ['openinference-bedrock', 'converse-in-region', [{ ...HAIKU_REGIONAL_NO_CACHE, request_model: 'claude-haiku-4-5-20251001' }]],
  ['openinference-bedrock', 'converse-arn', [OI_PROFILE]],
  ['openinference-bedrock', 'converse-stream', [OI_PROFILE]],
  ['openinference-bedrock', 'invoke-anthropic', [HAIKU_REGIONAL_CACHED]],
  ['openinference-bedrock', 'invoke-anthropic-us', [{ ...HAIKU_REGIONAL_CACHED, request_model: 'anthropic', priced_model: '', cost_usd: null }]],
  ['openinference-bedrock', 'invoke-anthropic-global', [{ ...HAIKU_REGIONAL_CACHED, request_model: 'anthropic', priced_model: '', cost_usd: null }]],
  ['openinference-bedrock', 'invoke-anthropic-stream', [HAIKU_REGIONAL_CACHED]],
  ['openinference-bedrock', 'invoke-nova', [NOVA_CACHED]],
  ['openinference-bedrock', 'error', [{ provider: 'aws.bedrock', input_tokens: 0, cost_usd: null, error_type: 'InternalServerException' }]],
  // @traceloop/instrumentation-bedrock: InvokeModel only (Converse spans carry no usage: no row), no cache counts,
  // no row for a failed call.
  ['traceloop-bedrock', 'converse', []],
  ['traceloop-bedrock', 'converse-global', []],
  ['traceloop-bedrock', 'converse-stream', []],
  ['traceloop-bedrock', 'invoke-anthropic', [{ ...HAIKU_REGIONAL_NO_CACHE, request_model: 'claude-haiku-4-5-20251001-v1:0' }]],
  ['traceloop-bedrock', 'invoke-anthropic-us', [HAIKU_REGIONAL_NO_CACHE]],
  // `global.` is read as the vendor (operation text_completion), no usage read: a row whose cost is unknown (null, not $0).
  ['traceloop-bedrock', 'invoke-anthropic-global', [{ provider: 'aws.bedrock', operation: 'text_completion', request_model: 'anthropic.claude-haiku-4-5-20251001-v1:0', input_tokens: 0, output_tokens: 0, cost_usd: null }]],
  ['traceloop-bedrock', 'invoke-anthropic-stream', [HAIKU_REGIONAL_NO_CACHE]],
  ['traceloop-bedrock', 'invoke-nova', [{ ...NOVA_NO_CACHE, request_model: 'nova-lite-v1:0' }]],
  ['traceloop-bedrock', 'error', []],
];

function scenario(name: string) {
  const s = BEDROCK_SCENARIOS.find((x) => x.name === name);
  if (!s) throw new Error(`unknown Bedrock scenario ${name}`);
  return s;
}

describe('Bedrock instrumentations → one row per call, exact cost', () => {
  it.each(CASES)('%s %s', async (instrumentation, name, expected) => {
    const s = scenario(name);
    const { spans, error } = await captureBedrock(instrumentation, s, fake.url);
    expect(error === undefined).toBe(!s.expectError);
    // Every instrumentation makes exactly one span per call, row or not.
    expect(spans).toHaveLength(1);
    const result = mapper.mapAll(spans.map(fromReadableSpan));
    expect(result.malformed).toBe(0);
    expect(result.rows).toHaveLength(expected.length);
    result.rows.forEach((row, i) => expect(row).toMatchObject(expected[i]!));
    const text = JSON.stringify(result.rows);
    expect(text).not.toContain(PROMPT_MARKER);
    expect(text).not.toContain(COMPLETION_MARKER);
  }, 30_000);
});

describe('the fake Bedrock speaks the wire protocol the SDK reads', () => {
  it('Converse: usage with cache counts and their TTL split', async () => {
    const out = await bedrockClient(fake.url).send(new sdk.ConverseCommand({ modelId: MODEL.arn, messages: [{ role: 'user', content: [{ text: 'hi' }] }] }));
    expect(out.usage).toEqual({ ...FAKE_BEDROCK_USAGE.converse, cacheDetails: [{ ttl: '5m', inputTokens: 1000 }] });
    expect(out.stopReason).toBe('end_turn');
    // The ARN reached the server decoded, as the user wrote it.
    expect(fake.requests.at(-1)).toMatchObject({ operation: 'converse', modelId: MODEL.arn });
  });

  it('ConverseStream: event-stream frames decoded into messageStart … metadata', async () => {
    const out = await bedrockClient(fake.url).send(new sdk.ConverseStreamCommand({ modelId: MODEL.global, messages: [{ role: 'user', content: [{ text: 'hi' }] }] }));
    const events: string[] = [];
    let text = '';
    let usage: unknown;
    for await (const event of out.stream!) {
      events.push(Object.keys(event).filter((k) => k !== '$unknown')[0]!);
      text += event.contentBlockDelta?.delta?.text ?? '';
      usage = event.metadata?.usage ?? usage;
    }
    expect(events).toEqual(['messageStart', 'contentBlockDelta', 'contentBlockDelta', 'contentBlockStop', 'messageStop', 'metadata']);
    expect(text).toContain(COMPLETION_MARKER);
    expect(usage).toMatchObject(FAKE_BEDROCK_USAGE.converse);
  });

  it('InvokeModelWithResponseStream: Anthropic stream events in chunks, invocation metrics on the last', async () => {
    const out = await bedrockClient(fake.url).send(new sdk.InvokeModelWithResponseStreamCommand({ modelId: MODEL.inRegion, body: '{"anthropic_version":"bedrock-2023-05-31","max_tokens":10,"messages":[]}' }));
    const types: string[] = [];
    let last: Record<string, unknown> = {};
    for await (const event of out.body!) {
      last = JSON.parse(Buffer.from(event.chunk!.bytes!).toString('utf8')) as Record<string, unknown>;
      types.push(String(last.type));
    }
    expect(types).toEqual(['message_start', 'content_block_start', 'content_block_delta', 'content_block_delta', 'content_block_stop', 'message_delta', 'message_stop']);
    expect(last['amazon-bedrock-invocationMetrics']).toMatchObject({ inputTokenCount: 200, outputTokenCount: 300 });
  });

  it.each([
    ['fail-model', 'InternalServerException', 500],
    ['fail-model-429', 'ThrottlingException', 429],
  ])('%s → %s %i', async (modelId, name, status) => {
    const err = await bedrockClient(fake.url).send(new sdk.ConverseCommand({ modelId, messages: [] })).catch((e: unknown) => e);
    expect(err).toMatchObject({ name, $metadata: { httpStatusCode: status } });
  });
});
