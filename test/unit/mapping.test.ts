import { describe, expect, it } from 'vitest';
import { UsageMapper } from '../../usage/mapper.js';
import { normalizeProvider } from '../../usage/provider-name.js';
import type { Attributes } from '../../usage/span-record.js';
import { spanRecord } from '../support/span-record.js';

const mapper = new UsageMapper();
const map = (attrs: Attributes, overrides = {}) => mapper.map(spanRecord(attrs, overrides));

const tokens = (row: ReturnType<typeof map>) => row && {
  input: row.input_tokens, output: row.output_tokens, cacheRead: row.cache_read_tokens, cacheWrite: row.cache_write_tokens,
  reasoning: row.reasoning_tokens, inputAudio: row.input_audio_tokens, outputAudio: row.output_audio_tokens,
};
const t = (input: number, output: number, cacheRead = 0, cacheWrite = 0, reasoning = 0, inputAudio = 0, outputAudio = 0) =>
  ({ input, output, cacheRead, cacheWrite, reasoning, inputAudio, outputAudio });

describe('token conventions map to semantic-convention counts', () => {
  it.each([
    ['OTel semconv current', {
      'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'openai', 'gen_ai.request.model': 'gpt-4o',
      'gen_ai.usage.input_tokens': 1200, 'gen_ai.usage.output_tokens': 300, 'gen_ai.usage.cache_read.input_tokens': 1024,
      'gen_ai.usage.reasoning.output_tokens': 100, 'gen_ai.usage.cache_creation.input_tokens': 0,
    }, t(1200, 300, 1024, 0, 100)],
    ['OTel semconv deprecated prompt/completion', {
      'gen_ai.operation.name': 'chat', 'gen_ai.system': 'openai', 'gen_ai.request.model': 'gpt-4o',
      'gen_ai.usage.prompt_tokens': 10, 'gen_ai.usage.completion_tokens': 20,
    }, t(10, 20)],
    ['OTel genai audio tokens (realtime)', {
      'gen_ai.operation.name': 'realtime', 'gen_ai.provider.name': 'openai', 'gen_ai.request.model': 'gpt-4o-realtime-preview',
      'gen_ai.usage.input_tokens': 900, 'gen_ai.usage.output_tokens': 400, 'gen_ai.usage.audio.input_tokens': 800, 'gen_ai.usage.audio.output_tokens': 350,
    }, t(900, 400, 0, 0, 0, 800, 350)],
    ['OpenLLMetry old names', {
      'llm.request.type': 'chat', 'gen_ai.system': 'OpenAI', 'gen_ai.request.model': 'gpt-4o',
      'gen_ai.usage.prompt_tokens': 1200, 'gen_ai.usage.completion_tokens': 300, 'llm.usage.total_tokens': 1500,
      'gen_ai.usage.cache_read_input_tokens': 1024,
    }, t(1200, 300, 1024)],
    ['OpenLLMetry total only (embeddings)', {
      'llm.request.type': 'embedding', 'gen_ai.system': 'openai', 'gen_ai.request.model': 'text-embedding-3-small', 'llm.usage.total_tokens': 50,
    }, t(50, 0)],
    ['OpenInference LLM span', {
      'openinference.span.kind': 'LLM', 'llm.system': 'openai', 'llm.provider': 'openai', 'llm.model_name': 'gpt-4o-2024-08-06',
      'llm.token_count.prompt': 1200, 'llm.token_count.completion': 300, 'llm.token_count.total': 1500,
      'llm.token_count.prompt_details.cache_read': 1024, 'llm.token_count.completion_details.reasoning': 0,
      'llm.token_count.prompt_details.audio': 0,
    }, t(1200, 300, 1024)],
    ['ai SDK doGenerate (v5+ names)', {
      'ai.operationId': 'ai.generateText.doGenerate', 'ai.model.provider': 'openai.chat', 'ai.model.id': 'gpt-4o',
      'ai.usage.inputTokens': 1200, 'ai.usage.outputTokens': 300, 'ai.usage.cachedInputTokens': 1024, 'ai.usage.reasoningTokens': 0,
    }, t(1200, 300, 1024)],
    ['ai SDK doGenerate (v4 names)', {
      'ai.operationId': 'ai.generateText.doGenerate', 'ai.model.provider': 'openai.chat', 'ai.model.id': 'gpt-4o',
      'ai.usage.promptTokens': 7, 'ai.usage.completionTokens': 3,
    }, t(7, 3)],
    ['ai SDK anthropic with token details', {
      'ai.operationId': 'ai.generateText.doGenerate', 'ai.model.provider': 'anthropic.messages', 'ai.model.id': 'claude-sonnet-4-5',
      'ai.usage.inputTokens': 6200, 'ai.usage.outputTokens': 300,
      'ai.usage.inputTokenDetails.cacheReadTokens': 5000, 'ai.usage.inputTokenDetails.cacheWriteTokens': 1000,
    }, t(6200, 300, 5000, 1000)],
    ['ai SDK embed: only ai.usage.tokens', {
      'ai.operationId': 'ai.embed.doEmbed', 'ai.model.provider': 'openai.embedding', 'ai.model.id': 'text-embedding-3-small', 'ai.usage.tokens': 50,
    }, t(50, 0)],
    ['Anthropic raw counts: cache larger than input → exclusive', {
      'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'anthropic', 'gen_ai.request.model': 'claude-sonnet-4-5',
      'gen_ai.usage.input_tokens': 200, 'gen_ai.usage.output_tokens': 300,
      'gen_ai.usage.cache_read.input_tokens': 5000, 'gen_ai.usage.cache_creation.input_tokens': 1000,
    }, t(6200, 300, 5000, 1000)],
    ['Anthropic raw counts: total counts cache apart → exclusive', {
      'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'anthropic', 'gen_ai.request.model': 'claude-sonnet-4-5',
      'gen_ai.usage.input_tokens': 9000, 'gen_ai.usage.output_tokens': 300, 'gen_ai.usage.total_tokens': 10300,
      'gen_ai.usage.cache_read.input_tokens': 1000,
    }, t(10000, 300, 1000)],
    ['inclusive input with cache below it stays as is', {
      'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'anthropic', 'gen_ai.request.model': 'claude-sonnet-4-5',
      'gen_ai.usage.input_tokens': 6200, 'gen_ai.usage.output_tokens': 300, 'gen_ai.usage.total_tokens': 6500,
      'gen_ai.usage.cache_read.input_tokens': 5000, 'gen_ai.usage.cache_creation.input_tokens': 1000,
    }, t(6200, 300, 5000, 1000)],
    ['reasoning reported outside output → added once', {
      'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'openai', 'gen_ai.request.model': 'o3',
      'gen_ai.usage.input_tokens': 100, 'gen_ai.usage.output_tokens': 50, 'gen_ai.usage.reasoning_tokens': 400,
    }, t(100, 450, 0, 0, 400)],
    ['reasoning below output but counted apart by the total (Gemini thoughts) → added once', {
      'gen_ai.operation.name': 'generate_content', 'gen_ai.provider.name': 'gcp.gen_ai', 'gen_ai.request.model': 'gemini-2.5-flash',
      'gen_ai.usage.input_tokens': 1200, 'gen_ai.usage.output_tokens': 300, 'gen_ai.usage.total_tokens': 1700,
      'gen_ai.usage.reasoning_tokens': 200, 'gen_ai.usage.cache_read.input_tokens': 1024,
    }, t(1200, 500, 1024, 0, 200)],
    ['reasoning inside output, total agrees → left as is', {
      'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'openai', 'gen_ai.request.model': 'o3-mini',
      'gen_ai.usage.input_tokens': 1200, 'gen_ai.usage.output_tokens': 300, 'gen_ai.usage.total_tokens': 1500,
      'gen_ai.usage.reasoning_tokens': 200,
    }, t(1200, 300, 0, 0, 200)],
    ['string counts (OTLP int64 as text)', {
      'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'openai', 'gen_ai.request.model': 'gpt-4o',
      'gen_ai.usage.input_tokens': '1200', 'gen_ai.usage.output_tokens': '300',
    }, t(1200, 300)],
  ] as const)('%s', (_name, attrs, expected) => {
    expect(tokens(map(attrs))).toEqual(expected);
  });

  it('uses the scope rule for instrumentations known to pass Anthropic raw input through', () => {
    const row = map({
      'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'anthropic', 'gen_ai.request.model': 'claude-sonnet-4-5',
      'gen_ai.usage.input_tokens': 6000, 'gen_ai.usage.output_tokens': 300, 'gen_ai.usage.cache_read.input_tokens': 1000,
    }, { scopeName: '@traceloop/instrumentation-anthropic' });
    expect(tokens(row)).toEqual(t(7000, 300, 1000));
  });
});

describe('one AI call, one row', () => {
  it.each([
    ['plain HTTP span', { 'http.request.method': 'GET', 'url.full': 'https://example.com' }, 'GET /'],
    ['ai SDK outer generateText (aggregate)', { 'ai.operationId': 'ai.generateText', 'ai.model.id': 'gpt-4o', 'ai.usage.inputTokens': 5 }, 'ai.generateText'],
    ['ai SDK outer embed (aggregate)', { 'ai.operationId': 'ai.embed', 'ai.model.id': 'x', 'ai.usage.tokens': 5 }, 'ai.embed'],
    ['ai SDK tool call', { 'ai.operationId': 'ai.toolCall', 'ai.toolCall.name': 'search' }, 'ai.toolCall'],
    ['invoke_agent totals', { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.request.model': 'gpt-4o', 'gen_ai.usage.input_tokens': 9 }, 'invoke_agent bot'],
    ['agent step totals', { 'gen_ai.operation.name': 'step', 'gen_ai.usage.input_tokens': 9 }, 'step'],
    ['workflow span', { 'gen_ai.operation.name': 'invoke_workflow', 'gen_ai.usage.input_tokens': 9 }, 'invoke_workflow'],
    ['OpenInference chain', { 'openinference.span.kind': 'CHAIN', 'llm.token_count.prompt': 9 }, 'chain'],
    ['OpenLLMetry workflow', { 'traceloop.span.kind': 'workflow', 'gen_ai.usage.input_tokens': 9, 'gen_ai.request.model': 'gpt-4o' }, 'wf'],
    ['model without usage or operation', { 'gen_ai.request.model': 'gpt-4o' }, 'something'],
    // @mastra/otel-exporter names its other span types as operations (test/conformance/mastra.test.ts).
    ['Mastra generation loop', { 'gen_ai.operation.name': 'model_generation', 'mastra.span.type': 'model_generation' }, 'model_generation gpt-4o'],
    ['Mastra stream chunk', { 'gen_ai.operation.name': 'model_chunk', 'mastra.span.type': 'model_chunk' }, 'model_chunk bot'],
    ['Mastra processor', { 'gen_ai.operation.name': 'processor_run', 'mastra.span.type': 'processor_run' }, 'processor_run'],
  ] as const)('%s → no row', (_name, attrs, name) => {
    expect(map(attrs, { name })).toBeUndefined();
  });

  it.each([
    ['semconv chat', { 'gen_ai.operation.name': 'chat' }, 'chat'],
    ['semconv embeddings', { 'gen_ai.operation.name': 'embeddings' }, 'embeddings'],
    ['ai SDK doStream', { 'ai.operationId': 'ai.streamText.doStream' }, 'chat'],
    ['ai SDK doEmbed', { 'ai.operationId': 'ai.embedMany.doEmbed' }, 'embeddings'],
    ['OpenInference EMBEDDING', { 'openinference.span.kind': 'EMBEDDING' }, 'embeddings'],
    ['OpenLLMetry completion', { 'llm.request.type': 'completion' }, 'text_completion'],
    ['Mastra model call', { 'gen_ai.operation.name': 'chat', 'mastra.span.type': 'model_inference' }, 'chat'],
    ['Mastra RAG embedding', { 'gen_ai.operation.name': 'embeddings', 'mastra.span.type': 'rag_embedding' }, 'embeddings'],
    ['hand-made span named by operation', { 'gen_ai.request.model': 'm', 'gen_ai.usage.input_tokens': 1 }, 'embeddings'],
  ] as const)('%s → operation %s', (_name, attrs, operation) => {
    expect(map(attrs, { name: 'embeddings m' })?.operation).toBe(operation);
  });
});

describe('provider names', () => {
  it.each([
    ['openai', 'openai'], ['OpenAI', 'openai'], ['Anthropic', 'anthropic'], ['xai', 'x_ai'], ['x-ai', 'x_ai'],
    ['az.ai.openai', 'azure.ai.openai'], ['Azure', 'azure.ai.openai'], ['az.ai.inference', 'azure.ai.inference'],
    ['vertex_ai', 'gcp.vertex_ai'], ['gemini', 'gcp.gemini'], ['google.generative-ai', 'gcp.gemini'],
    ['google.vertex.chat', 'gcp.vertex_ai'], ['openai.chat', 'openai'], ['openai.responses', 'openai'],
    ['anthropic.messages', 'anthropic'], ['amazon-bedrock', 'aws.bedrock'], ['aws.bedrock', 'aws.bedrock'],
    ['mistralai', 'mistral_ai'], ['MistralAI', 'mistral_ai'], ['ibm.watsonx.ai', 'ibm.watsonx.ai'], ['some-new-ai', 'some-new-ai'],
  ])('%s → %s', (raw, expected) => {
    expect(normalizeProvider(raw)).toBe(expected);
  });

  it('prefers gen_ai.provider.name over the deprecated gen_ai.system', () => {
    expect(map({ 'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'azure.ai.openai', 'gen_ai.system': 'openai' })?.provider)
      .toBe('azure.ai.openai');
  });
});

describe('row fields', () => {
  const base = { 'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'openai', 'gen_ai.request.model': 'gpt-4o', 'gen_ai.response.model': 'gpt-4o-2024-08-06' };

  it('fills identity, time and resource fields', () => {
    const row = map(base, { parentSpanId: '53995c3f42cd8ad8', scopeName: '@opentelemetry/instrumentation-openai' })!;
    expect(row).toMatchObject({
      ts: '2026-11-23 12:00:00.123456', duration_ms: 1500, trace_id: '0af7651916cd43dd8448eb211c80319c',
      span_id: 'b7ad6b7169203331', parent_span_id: '53995c3f42cd8ad8', service_name: 'support-api', environment: 'prod',
      request_model: 'gpt-4o', response_model: 'gpt-4o-2024-08-06', instrumentation: '@opentelemetry/instrumentation-openai',
      error_type: '', cost_usd: null, priced_model: '', price_source: '',
    });
  });

  it.each([
    ['span attributes', { 'tenant.id': 'acme', 'user.id': 'u1', feature: 'search', 'gen_ai.conversation.id': 'c1' }, {}, ['acme', 'u1', 'search', 'c1']],
    ['resource attributes', {}, { 'org.id': 'globex', 'enduser.id': 'u2' }, ['globex', 'u2', '', '']],
    ['span wins over resource', { 'organization.id': 'span-org' }, { 'tenant.id': 'res-org' }, ['span-org', '', '', '']],
    ['ai SDK telemetry metadata', {
      'ai.telemetry.metadata.orgId': 'initech', 'ai.telemetry.metadata.userId': 'u3',
      'ai.telemetry.metadata.sessionId': 's9', 'ai.telemetry.functionId': 'support-bot',
    }, {}, ['initech', 'u3', 'support-bot', 's9']],
    ['metadata feature beats functionId', { 'ai.telemetry.metadata.feature': 'triage', 'ai.telemetry.functionId': 'support-bot' }, {}, ['', '', 'triage', '']],
    ['our own keys win', { 'genai_ledger.org_id': 'ours', 'tenant.id': 'theirs', 'genai_ledger.feature': 'f' }, {}, ['ours', '', 'f', '']],
    ['OpenInference / Langfuse sessions', { 'session.id': 'sess', 'langfuse.user.id': 'lu' }, {}, ['', 'lu', '', 'sess']],
    ['numeric ids', { 'tenant.id': 42 }, {}, ['42', '', '', '']],
  ] as const)('attribution from %s', (_name, attrs, resource, [org, user, feature, conversation]) => {
    const row = map({ ...base, ...attrs }, { resource: { 'service.name': 's', ...resource } })!;
    expect([row.org_id, row.user_id, row.feature, row.conversation_id]).toEqual([org, user, feature, conversation]);
  });

  it('takes custom attribution key lists', () => {
    const custom = new UsageMapper({ attribution: { org: ['account.id'] } });
    const row = custom.map(spanRecord({ ...base, 'account.id': 'A-1', 'tenant.id': 'ignored', 'user.id': 'u' }))!;
    expect([row.org_id, row.user_id]).toEqual(['A-1', 'u']);
  });

  it.each([
    ['error.type attribute', { 'error.type': 'RateLimitError' }, { statusCode: 2 }, 'RateLimitError'],
    ['exception event', {}, { statusCode: 2, events: [{ name: 'exception', attributes: { 'exception.type': 'APIError' } }] }, 'APIError'],
    ['status error alone', {}, { statusCode: 2 }, '_OTHER'],
    ['status ok', {}, { statusCode: 1 }, ''],
  ] as const)('error type from %s', (_name, attrs, overrides, expected) => {
    expect(map({ ...base, ...attrs }, overrides)?.error_type).toBe(expected);
  });

  it('keeps a failed call as a row with its usage', () => {
    const row = map({ ...base, 'error.type': '500', 'gen_ai.usage.input_tokens': 12 }, { statusCode: 2 })!;
    expect([row.error_type, row.input_tokens, row.output_tokens]).toEqual(['500', 12, 0]);
  });

  it('collects billed units and keeps a self-reported cost as evidence only', () => {
    const row = map({
      ...base, 'genai_ledger.usage.credits': 5, 'genai_ledger.usage.audio_seconds': 12.5, 'gen_ai.usage.cost': 0.0123,
    })!;
    expect(row.usage_details).toEqual({ credits: 5, audio_seconds: 12.5, reported_cost_usd: 0.0123 });
    expect(row.cost_usd).toBeNull();
    const trusting = new UsageMapper({ trustReportedCost: true }).map(spanRecord({ ...base, 'llm.cost.total': 0.0000001 }))!;
    expect([trusting.cost_usd, trusting.price_source]).toEqual(['0.0000001', 'span']);
  });

  it('stores no content and only allow-listed attributes, truncated', () => {
    const withContent = new UsageMapper({ attributeAllowList: ['gen_ai.*', 'server.address', 'input.value'], maxAttributeLength: 8 });
    const row = withContent.map(spanRecord({
      ...base, 'gen_ai.prompt.0.content': 'secret prompt', 'gen_ai.input.messages': '[{"role":"user"}]', 'input.value': 'secret',
      'gen_ai.completion.0.content': 'secret answer', 'server.address': 'api.openai.com', 'user.email': 'a@b.c',
      'gen_ai.response.finish_reasons': ['stop'],
    }))!;
    expect(row.attributes).toEqual({
      'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'openai', 'gen_ai.request.model': 'gpt-4o',
      'gen_ai.response.model': 'gpt-4o-2', 'server.address': 'api.open', 'gen_ai.response.finish_reasons': '["stop"]',
    });
    expect(JSON.stringify(row)).not.toMatch(/secret/);
    expect(map(base)?.attributes).toEqual({});
  });
});

describe('malformed spans are counted and skipped, the batch goes on', () => {
  it.each([
    ['negative tokens', { 'gen_ai.usage.input_tokens': -5 }, {}, /input_tokens: not a valid count/],
    ['NaN tokens', { 'gen_ai.usage.output_tokens': Number.NaN }, {}, /output_tokens/],
    ['overflowing tokens', { 'gen_ai.usage.input_tokens': 2 ** 60 }, {}, /not a valid count/],
    ['garbage string tokens', { 'gen_ai.usage.input_tokens': 'lots' }, {}, /not a valid count/],
    ['fractional tokens', { 'gen_ai.usage.output_tokens': 0.5 }, {}, /output_tokens: not a whole count/],
    ['negative billed units', { 'genai_ledger.usage.credits': -1 }, {}, /credits: not a valid count/],
    ['zero start time', {}, { startUnixMicros: 0 }, /invalid start time/],
    ['end before start', {}, { endUnixMicros: 1 }, /end time before start/],
  ] as const)('%s', (_name, attrs, overrides, reason) => {
    const good = spanRecord({ 'gen_ai.operation.name': 'chat', 'gen_ai.usage.input_tokens': 1 });
    const bad = spanRecord({ 'gen_ai.operation.name': 'chat', ...attrs }, { spanId: 'baadbaadbaadbaad', ...overrides });
    const result = mapper.mapAll([good, bad, { ...good, spanId: '00f067aa0ba902b7' }]);
    expect(result.rows.map((r) => r.span_id)).toEqual(['b7ad6b7169203331', '00f067aa0ba902b7']);
    expect(result.malformed).toBe(1);
    expect(result.errors[0]).toMatch(/^span baadbaadbaadbaad: /);
    expect(result.errors[0]).toMatch(reason);
  });

  it('counts non-AI spans as skipped', () => {
    const result = mapper.mapAll([spanRecord({ 'http.route': '/' }), spanRecord({ 'gen_ai.operation.name': 'chat' })]);
    expect([result.rows.length, result.skipped, result.malformed, result.unpriced]).toEqual([1, 1, 0, 1]);
  });
});
