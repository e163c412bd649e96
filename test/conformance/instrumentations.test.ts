/**
 * What each real instrumentation emits for each scenario, asserted on live spans (not on fixtures).
 *
 * The fake provider reports fixed usage (fake-provider.ts FAKE_USAGE):
 *   OpenAI chat       prompt 1200 (of which cached 1024), completion 300 (reasoning 200 for o-series), total 1500
 *   OpenAI responses  input 1200 (cached 1024), output 300 (reasoning 200 for o-series), total 1500
 *   OpenAI embeddings prompt 50, total 50
 *   Anthropic         input 200 (EXCLUDES cache), cache_creation 1000, cache_read 5000, output 300
 *
 * `tokenAttributes(span)` is every attribute that carries a token count, so `toEqual` on it also proves
 * which counts an instrumentation does NOT emit. `contentKeys(span)` lists the attributes / event
 * attributes whose value contains prompt or completion text (the ledger must never store those).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import OpenAI from 'openai';
import * as anthropicNs from '@anthropic-ai/sdk';
import { AnthropicInstrumentation } from '@traceloop/instrumentation-anthropic';
import { COMPLETION_MARKER, startFakeProvider, type FakeProvider } from '../support/fake-provider.js';
import { PROMPT_MARKER, capture, type CaptureResult, type InstrumentationId } from '../support/capture.js';

let fake: FakeProvider;

beforeAll(async () => {
  fake = await startFakeProvider();
});

afterAll(async () => {
  await fake.close();
});

async function run(instrumentation: InstrumentationId, scenario: string): Promise<CaptureResult> {
  const r = await capture(instrumentation, scenario, fake.url);
  if (!r.scenario.expectError && r.error !== undefined) throw r.error;
  if (r.scenario.expectError) expect(r.error, 'the SDK call should have thrown').toBeDefined();
  return r;
}

function onlySpan(r: CaptureResult): ReadableSpan {
  expect(r.spans.map((s) => s.name)).toHaveLength(1);
  return r.spans[0]!;
}

function spanNamed(r: CaptureResult, name: string, nth = 0): ReadableSpan {
  const s = r.spans.filter((x) => x.name === name)[nth];
  expect(s, `span ${name} #${nth}`).toBeDefined();
  return s!;
}

const TOKEN_KEY = /(^|\.)usage\.|token_count/;

function tokenAttributes(span: ReadableSpan): Record<string, unknown> {
  return Object.fromEntries(Object.entries(span.attributes).filter(([k]) => TOKEN_KEY.test(k)));
}

function contentKeys(span: ReadableSpan): string[] {
  const has = (v: unknown) => {
    const text = typeof v === 'string' ? v : JSON.stringify(v);
    return text !== undefined && (text.includes(PROMPT_MARKER) || text.includes(COMPLETION_MARKER));
  };
  const keys = Object.entries(span.attributes).filter(([, v]) => has(v)).map(([k]) => k);
  for (const e of span.events) {
    for (const [k, v] of Object.entries(e.attributes ?? {})) if (has(v)) keys.push(`event:${e.name}:${k}`);
  }
  return keys.sort();
}

function parentOf(r: CaptureResult, span: ReadableSpan): ReadableSpan | undefined {
  const pid = span.parentSpanContext?.spanId;
  return pid ? r.spans.find((s) => s.spanContext().spanId === pid) : undefined;
}

// ====================================================================== @opentelemetry/instrumentation-openai

describe('@opentelemetry/instrumentation-openai (otel-openai)', () => {
  const I = 'otel-openai';
  const SCOPE = '@opentelemetry/instrumentation-openai';
  const CHAT_TOKENS = { 'gen_ai.usage.input_tokens': 1200, 'gen_ai.usage.output_tokens': 300 };

  function expectCallSpan(s: ReadableSpan, name: string) {
    expect(s.name).toBe(name);
    expect(s.kind).toBe(SpanKind.CLIENT);
    expect(s.instrumentationScope.name).toBe(SCOPE);
    expect(s.parentSpanContext).toBeUndefined();
  }

  it('chat: one CLIENT span, gen_ai.system (not provider.name), input/output tokens only', async () => {
    const s = onlySpan(await run(I, 'chat'));
    expectCallSpan(s, 'chat gpt-4o');
    expect(s.status.code).toBe(SpanStatusCode.UNSET);
    expect(s.attributes).toEqual({
      'gen_ai.operation.name': 'chat',
      'gen_ai.system': 'openai',
      'gen_ai.request.model': 'gpt-4o',
      'gen_ai.request.max_tokens': 100,
      'gen_ai.request.temperature': 0.2,
      'gen_ai.response.model': 'gpt-4o-2024-08-06',
      'gen_ai.response.id': 'chatcmpl-fake0001',
      'gen_ai.response.finish_reasons': ['stop'],
      'server.address': 'api.openai.com',
      'server.port': 443,
      ...CHAT_TOKENS,
    });
    // input_tokens = prompt_tokens, which INCLUDES the 1024 cached tokens; the cached count itself is not emitted.
    expect(tokenAttributes(s)).toEqual(CHAT_TOKENS);
    expect(contentKeys(s)).toEqual([]); // message content goes to log events (Logs API), never to span attributes
  });

  it('chat-reasoning: reasoning tokens are not emitted (only output_tokens 300)', async () => {
    const s = onlySpan(await run(I, 'chat-reasoning'));
    expectCallSpan(s, 'chat o3-mini');
    expect(s.attributes['gen_ai.response.model']).toBe('o3-mini-2025-01-31');
    expect(s.attributes['gen_ai.request.max_tokens']).toBe(1000);
    expect(tokenAttributes(s)).toEqual(CHAT_TOKENS);
  });

  it('chat-stream with include_usage: usage from the final chunk', async () => {
    const s = onlySpan(await run(I, 'chat-stream'));
    expectCallSpan(s, 'chat gpt-4o');
    expect(s.attributes['gen_ai.response.model']).toBe('gpt-4o-2024-08-06');
    expect(tokenAttributes(s)).toEqual(CHAT_TOKENS);
  });

  it('chat-stream without include_usage: a call span with no token attributes', async () => {
    const s = onlySpan(await run(I, 'chat-stream-no-usage'));
    expect(s.attributes['gen_ai.response.model']).toBe('gpt-4o-2024-08-06');
    expect(tokenAttributes(s)).toEqual({});
  });

  it('chat with a custom base URL: server.address/port come from the base URL', async () => {
    const s = onlySpan(await run(I, 'chat-localhost'));
    expect(s.attributes['server.address']).toBe('127.0.0.1');
    expect(s.attributes['server.port']).toBe(fake.port);
    expect(s.attributes['gen_ai.system']).toBe('openai');
  });

  it('embeddings: operation embeddings, input_tokens only', async () => {
    const s = onlySpan(await run(I, 'embeddings'));
    expectCallSpan(s, 'embeddings text-embedding-3-small');
    expect(s.attributes).toMatchObject({
      'gen_ai.operation.name': 'embeddings',
      'gen_ai.system': 'openai',
      'gen_ai.request.model': 'text-embedding-3-small',
      'gen_ai.response.model': 'text-embedding-3-small',
    });
    expect(tokenAttributes(s)).toEqual({ 'gen_ai.usage.input_tokens': 50 });
  });

  it('responses: gen_ai.provider.name (not gen_ai.system), operation chat, instructions leak into gen_ai.system_instructions', async () => {
    const s = onlySpan(await run(I, 'responses'));
    expectCallSpan(s, 'chat gpt-4o');
    expect(s.attributes).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai',
      'gen_ai.request.model': 'gpt-4o',
      'gen_ai.request.max_tokens': 200,
      'gen_ai.response.model': 'gpt-4o-2024-08-06',
      'gen_ai.response.id': 'resp_fake0001',
    });
    expect(s.attributes['gen_ai.system']).toBeUndefined();
    // input_tokens INCLUDES the 1024 cached tokens; cached and reasoning counts are not emitted.
    expect(tokenAttributes(s)).toEqual(CHAT_TOKENS);
    expect(contentKeys(s)).toEqual(['gen_ai.system_instructions']); // set even with captureMessageContent off
  });

  it('responses-stream: usage from response.completed', async () => {
    const s = onlySpan(await run(I, 'responses-stream'));
    expect(s.attributes['gen_ai.provider.name']).toBe('openai');
    expect(s.attributes['gen_ai.response.model']).toBe('gpt-4o-2024-08-06');
    expect(tokenAttributes(s)).toEqual(CHAT_TOKENS);
  });

  it('error: status ERROR, error.type = SDK error class name, no exception event, no tokens', async () => {
    const r = await run(I, 'error');
    expect(r.error).toBeInstanceOf(OpenAI.InternalServerError);
    const s = onlySpan(r);
    expectCallSpan(s, 'chat fail-model');
    expect(s.status).toEqual({ code: SpanStatusCode.ERROR, message: '500 The server had an error while processing your request.' });
    expect(s.attributes['error.type']).toBe('InternalServerError');
    expect(s.events).toEqual([]);
    expect(tokenAttributes(s)).toEqual({});
  });
});

// ====================================================================== @traceloop/instrumentation-openai

describe('@traceloop/instrumentation-openai (traceloop-openai)', () => {
  const I = 'traceloop-openai';
  const SCOPE = '@traceloop/instrumentation-openai';
  const CHAT_TOKENS = { 'gen_ai.usage.input_tokens': 1200, 'gen_ai.usage.output_tokens': 300, 'gen_ai.usage.total_tokens': 1500 };
  const CONTENT = ['gen_ai.input.messages', 'gen_ai.output.messages'];

  it('chat: one CLIENT span, gen_ai.provider.name, input/output/total tokens, content in gen_ai.{input,output}.messages', async () => {
    const s = onlySpan(await run(I, 'chat'));
    expect(s.name).toBe('chat gpt-4o');
    expect(s.kind).toBe(SpanKind.CLIENT);
    expect(s.instrumentationScope.name).toBe(SCOPE);
    expect(s.status.code).toBe(SpanStatusCode.UNSET);
    expect(s.attributes).toMatchObject({
      'gen_ai.provider.name': 'openai',
      'gen_ai.operation.name': 'chat',
      'gen_ai.request.model': 'gpt-4o',
      'gen_ai.request.max_tokens': 100,
      'gen_ai.request.temperature': 0.2,
      'gen_ai.response.model': 'gpt-4o-2024-08-06',
      'gen_ai.response.id': 'chatcmpl-fake0001',
      'gen_ai.response.finish_reasons': ['stop'],
    });
    expect(s.attributes['gen_ai.system']).toBeUndefined();
    expect(s.attributes['server.address']).toBeUndefined();
    expect(tokenAttributes(s)).toEqual(CHAT_TOKENS); // no cached / reasoning counts
    expect(contentKeys(s)).toEqual(CONTENT);
  });

  it('chat-reasoning: no reasoning token attribute', async () => {
    const s = onlySpan(await run(I, 'chat-reasoning'));
    expect(s.attributes['gen_ai.response.model']).toBe('o3-mini-2025-01-31');
    expect(tokenAttributes(s)).toEqual(CHAT_TOKENS);
  });

  it('chat-stream: the usage chunk is ignored, span has no token attributes', async () => {
    const s = onlySpan(await run(I, 'chat-stream'));
    expect(s.name).toBe('chat gpt-4o');
    expect(s.attributes['gen_ai.response.model']).toBe('gpt-4o-2024-08-06');
    expect(tokenAttributes(s)).toEqual({});
  });

  it('chat-stream without include_usage: no token attributes', async () => {
    const s = onlySpan(await run(I, 'chat-stream-no-usage'));
    expect(tokenAttributes(s)).toEqual({});
  });

  it('chat with a custom base URL: provider still "openai" (unknown hosts default to openai)', async () => {
    const s = onlySpan(await run(I, 'chat-localhost'));
    expect(s.attributes['gen_ai.provider.name']).toBe('openai');
  });

  it('embeddings: NOT instrumented, no span at all', async () => {
    const r = await run(I, 'embeddings');
    expect(r.spans).toEqual([]);
    expect(r.unendedSpans).toEqual([]);
  });

  it('responses: operation chat, input/output/total tokens, no cache or reasoning counts', async () => {
    const s = onlySpan(await run(I, 'responses'));
    expect(s.name).toBe('chat gpt-4o');
    expect(s.kind).toBe(SpanKind.CLIENT);
    expect(s.attributes).toMatchObject({
      'gen_ai.provider.name': 'openai',
      'gen_ai.operation.name': 'chat',
      'gen_ai.request.model': 'gpt-4o',
      'gen_ai.request.max_tokens': 200,
      'gen_ai.response.model': 'gpt-4o-2024-08-06',
      'gen_ai.response.id': 'resp_fake0001',
    });
    expect(tokenAttributes(s)).toEqual(CHAT_TOKENS);
    expect(contentKeys(s)).toEqual(CONTENT);
  });

  it('responses-stream: span ends with request attributes only (no response model, no tokens)', async () => {
    const s = onlySpan(await run(I, 'responses-stream'));
    expect(s.attributes['gen_ai.request.model']).toBe('gpt-4o');
    expect(s.attributes['gen_ai.response.model']).toBeUndefined();
    expect(tokenAttributes(s)).toEqual({});
    expect(contentKeys(s)).toEqual(['gen_ai.input.messages']);
  });

  it('error: the span is never ended, so nothing is exported', async () => {
    const r = await run(I, 'error');
    expect(r.error).toBeInstanceOf(OpenAI.InternalServerError);
    expect(r.spans).toEqual([]);
    expect(r.unendedSpans).toEqual(['chat fail-model']);
  });
});

// ====================================================================== @arizeai/openinference-instrumentation-openai

describe('@arizeai/openinference-instrumentation-openai (openinference-openai)', () => {
  const I = 'openinference-openai';
  const SCOPE = '@arizeai/openinference-instrumentation-openai';
  const CHAT_TOKENS = {
    'llm.token_count.prompt': 1200, // includes cache_read
    'llm.token_count.completion': 300, // includes reasoning
    'llm.token_count.total': 1500,
    'llm.token_count.prompt_details.cache_read': 1024,
    'llm.token_count.prompt_details.audio': 0,
    'llm.token_count.completion_details.audio': 0,
    'llm.token_count.completion_details.reasoning': 0,
  };
  const RESPONSES_TOKENS = {
    'llm.token_count.prompt': 1200,
    'llm.token_count.completion': 300,
    'llm.token_count.total': 1500,
    'llm.token_count.prompt_details.cache_read': 1024,
    'llm.token_count.completion_details.reasoning': 0,
  };
  const CHAT_CONTENT = ['input.value', 'llm.input_messages.0.message.content', 'llm.input_messages.1.message.content', 'llm.output_messages.0.message.content', 'output.value'];

  it('chat: one INTERNAL span "OpenAI Chat Completions", llm.* attributes, status OK', async () => {
    const s = onlySpan(await run(I, 'chat'));
    expect(s.name).toBe('OpenAI Chat Completions');
    expect(s.kind).toBe(SpanKind.INTERNAL);
    expect(s.instrumentationScope.name).toBe(SCOPE);
    expect(s.status.code).toBe(SpanStatusCode.OK);
    expect(s.attributes).toMatchObject({
      'openinference.span.kind': 'LLM',
      'llm.system': 'openai',
      'llm.provider': 'openai', // from the base URL host (api.openai.com)
      'llm.model_name': 'gpt-4o-2024-08-06', // request model at start, overwritten with the response model
      'llm.invocation_parameters': '{"model":"gpt-4o","max_tokens":100,"temperature":0.2}',
      'llm.finish_reason': 'stop',
    });
    expect(tokenAttributes(s)).toEqual(CHAT_TOKENS);
    expect(contentKeys(s)).toEqual(CHAT_CONTENT);
    // output.value is the raw response JSON, usage included
    expect(JSON.parse(String(s.attributes['output.value'])).usage.prompt_tokens_details.cached_tokens).toBe(1024);
  });

  it('chat-reasoning: completion_details.reasoning 200', async () => {
    const s = onlySpan(await run(I, 'chat-reasoning'));
    expect(s.attributes['llm.model_name']).toBe('o3-mini-2025-01-31');
    expect(tokenAttributes(s)).toEqual({ ...CHAT_TOKENS, 'llm.token_count.completion_details.reasoning': 200 });
  });

  it('chat-stream: no token counts even with include_usage; llm.model_name stays the request model; status UNSET', async () => {
    const s = onlySpan(await run(I, 'chat-stream'));
    expect(s.attributes['llm.model_name']).toBe('gpt-4o');
    expect(s.status.code).toBe(SpanStatusCode.UNSET);
    expect(tokenAttributes(s)).toEqual({});
  });

  it('chat-stream without include_usage: no token counts', async () => {
    const s = onlySpan(await run(I, 'chat-stream-no-usage'));
    expect(tokenAttributes(s)).toEqual({});
  });

  it('chat with a custom base URL: no llm.provider attribute (llm.system is still openai)', async () => {
    const s = onlySpan(await run(I, 'chat-localhost'));
    expect(s.attributes['llm.provider']).toBeUndefined();
    expect(s.attributes['llm.system']).toBe('openai');
    expect(tokenAttributes(s)).toEqual(CHAT_TOKENS);
  });

  it('embeddings: "OpenAI Embeddings", span kind EMBEDDING, embedding.model_name, NO token counts', async () => {
    const s = onlySpan(await run(I, 'embeddings'));
    expect(s.name).toBe('OpenAI Embeddings');
    expect(s.kind).toBe(SpanKind.INTERNAL);
    expect(s.attributes).toMatchObject({
      'openinference.span.kind': 'EMBEDDING',
      'embedding.model_name': 'text-embedding-3-small',
      'llm.system': 'openai',
      'llm.provider': 'openai',
    });
    expect(s.attributes['llm.model_name']).toBeUndefined();
    expect(tokenAttributes(s)).toEqual({});
    expect(contentKeys(s)).toEqual(['embedding.embeddings.0.embedding.text', 'embedding.embeddings.1.embedding.text', 'input.value']);
    expect(Array.isArray(s.attributes['embedding.embeddings.0.embedding.vector'])).toBe(true);
  });

  it('responses: "OpenAI Responses", cache_read + reasoning counts, instructions also in llm.invocation_parameters', async () => {
    const s = onlySpan(await run(I, 'responses'));
    expect(s.name).toBe('OpenAI Responses');
    expect(s.kind).toBe(SpanKind.INTERNAL);
    expect(s.attributes).toMatchObject({ 'openinference.span.kind': 'LLM', 'llm.system': 'openai', 'llm.provider': 'openai', 'llm.model_name': 'gpt-4o-2024-08-06' });
    expect(tokenAttributes(s)).toEqual(RESPONSES_TOKENS);
    expect(contentKeys(s)).toEqual([
      'input.value',
      'llm.input_messages.0.message.content',
      'llm.input_messages.1.message.content',
      'llm.invocation_parameters',
      'llm.output_messages.0.message.contents.0.message_content.text',
      'output.value',
    ]);
  });

  it('responses-stream: usage from the final response event', async () => {
    const s = onlySpan(await run(I, 'responses-stream'));
    expect(s.attributes['llm.model_name']).toBe('gpt-4o-2024-08-06');
    expect(tokenAttributes(s)).toEqual(RESPONSES_TOKENS);
  });

  it('error: the span is never ended, so nothing is exported', async () => {
    const r = await run(I, 'error');
    expect(r.error).toBeInstanceOf(OpenAI.InternalServerError);
    expect(r.spans).toEqual([]);
    expect(r.unendedSpans).toEqual(['OpenAI Chat Completions']);
  });
});

// ====================================================================== @traceloop/instrumentation-anthropic

describe('@traceloop/instrumentation-anthropic (traceloop-anthropic)', () => {
  const I = 'traceloop-anthropic';
  const SCOPE = '@traceloop/instrumentation-anthropic';
  // input_tokens is the RAW Anthropic value: it EXCLUDES cache reads/writes; total = input + output (also without cache).
  const TOKENS = {
    'gen_ai.usage.input_tokens': 200,
    'gen_ai.usage.output_tokens': 300,
    'gen_ai.usage.total_tokens': 500,
    'gen_ai.usage.cache_read.input_tokens': 5000,
    'gen_ai.usage.cache_creation.input_tokens': 1000,
  };
  const CONTENT = ['gen_ai.input.messages', 'gen_ai.output.messages', 'gen_ai.system_instructions'];

  it('manuallyInstrument() throws on @anthropic-ai/sdk 1.x (Anthropic.Completions is gone); the harness uses a shim', async () => {
    const instr = new AnthropicInstrumentation({ enabled: false });
    expect(() => instr.manuallyInstrument(anthropicNs as never)).toThrow(TypeError);
    const r = await run(I, 'messages-cache');
    expect(r.notes.join('\n')).toMatch(/manuallyInstrument\(@anthropic-ai\/sdk\) threw/);
  });

  it('messages-cache: one CLIENT span, raw input tokens + cache read/creation', async () => {
    const s = onlySpan(await run(I, 'messages-cache'));
    expect(s.name).toBe('chat claude-haiku-4-5');
    expect(s.kind).toBe(SpanKind.CLIENT);
    expect(s.instrumentationScope.name).toBe(SCOPE);
    expect(s.status.code).toBe(SpanStatusCode.UNSET);
    expect(s.attributes).toMatchObject({
      'gen_ai.provider.name': 'anthropic',
      'gen_ai.operation.name': 'chat',
      'gen_ai.request.model': 'claude-haiku-4-5',
      'gen_ai.request.max_tokens': 1024,
      'gen_ai.response.model': 'claude-haiku-4-5-20251001',
      'gen_ai.response.finish_reasons': ['stop'],
    });
    expect(s.attributes['gen_ai.response.id']).toBeUndefined();
    expect(tokenAttributes(s)).toEqual(TOKENS);
    expect(contentKeys(s)).toEqual(CONTENT);
  });

  it('messages-cache-stream: same usage from message_start + message_delta; no finish_reasons', async () => {
    const s = onlySpan(await run(I, 'messages-cache-stream'));
    expect(s.name).toBe('chat claude-haiku-4-5');
    expect(s.attributes['gen_ai.response.model']).toBe('claude-haiku-4-5-20251001');
    expect(s.attributes['gen_ai.response.finish_reasons']).toBeUndefined();
    expect(tokenAttributes(s)).toEqual(TOKENS);
  });

  it('error: status ERROR with the SDK message, exception event, no error.type, no tokens', async () => {
    const r = await run(I, 'error');
    expect(r.error).toBeInstanceOf(anthropicNs.InternalServerError);
    const s = onlySpan(r);
    expect(s.name).toBe('chat fail-model');
    expect(s.status.code).toBe(SpanStatusCode.ERROR);
    expect(s.status.message).toBe('500 {"type":"error","error":{"type":"api_error","message":"Internal server error"}}');
    expect(s.attributes['error.type']).toBeUndefined();
    expect(s.events.map((e) => e.name)).toEqual(['exception']);
    expect(s.events[0]!.attributes).toMatchObject({ 'exception.type': 'InternalServerError' });
    expect(tokenAttributes(s)).toEqual({});
    expect(contentKeys(s)).toEqual(['gen_ai.input.messages', 'gen_ai.system_instructions']);
  });
});

// ====================================================================== ai SDK telemetry

describe('ai SDK telemetry (ai-sdk)', () => {
  const I = 'ai-sdk';
  const OPENAI_TOKENS = {
    'ai.usage.inputTokens': 1200, // includes cache reads
    'ai.usage.inputTokenDetails.noCacheTokens': 176,
    'ai.usage.inputTokenDetails.cacheReadTokens': 1024,
    'ai.usage.cachedInputTokens': 1024,
    'ai.usage.outputTokens': 300, // includes reasoning
    'ai.usage.outputTokenDetails.textTokens': 300,
    'ai.usage.outputTokenDetails.reasoningTokens': 0,
    'ai.usage.reasoningTokens': 0,
    'ai.usage.totalTokens': 1500,
  };
  const CALL_GEN_AI_TOKENS = { 'gen_ai.usage.input_tokens': 1200, 'gen_ai.usage.output_tokens': 300 };
  const COMMON = {
    'ai.telemetry.functionId': 'support-bot',
    'resource.name': 'support-bot',
    'ai.telemetry.metadata.orgId': 'acme',
    'ai.telemetry.metadata.userId': 'u1',
  };

  /** outer aggregate span + the call span below it */
  function outerAndCall(r: CaptureResult, outer: string, call: string) {
    const o = spanNamed(r, outer);
    const c = spanNamed(r, call);
    expect(o.parentSpanContext).toBeUndefined();
    expect(parentOf(r, c)).toBe(o);
    for (const s of [o, c]) {
      expect(s.kind).toBe(SpanKind.INTERNAL);
      expect(s.instrumentationScope.name).toBe('ai');
      expect(s.attributes).toMatchObject({ ...COMMON, 'ai.operationId': s.name, 'operation.name': `${s.name} support-bot` });
    }
    return { o, c };
  }

  it('generateText-openai (Responses API): outer ai.generateText repeats the usage of ai.generateText.doGenerate', async () => {
    const r = await run(I, 'generateText-openai');
    expect(r.spans.map((s) => s.name)).toEqual(['ai.generateText', 'ai.generateText.doGenerate']);
    const { o, c } = outerAndCall(r, 'ai.generateText', 'ai.generateText.doGenerate');
    expect(o.attributes).toMatchObject({ 'ai.model.provider': 'openai.responses', 'ai.model.id': 'gpt-4o' });
    expect(c.attributes).toMatchObject({
      'ai.model.provider': 'openai.responses',
      'ai.model.id': 'gpt-4o',
      'gen_ai.system': 'openai.responses',
      'gen_ai.request.model': 'gpt-4o',
      'ai.response.model': 'gpt-4o-2024-08-06',
      'gen_ai.response.model': 'gpt-4o-2024-08-06',
      'ai.response.id': 'resp_fake0001',
      'gen_ai.response.id': 'resp_fake0001',
      'ai.response.finishReason': 'stop',
      'gen_ai.response.finish_reasons': ['stop'],
    });
    expect(o.attributes['gen_ai.system']).toBeUndefined();
    expect(o.attributes['ai.response.model']).toBeUndefined();
    expect(tokenAttributes(c)).toEqual({ ...OPENAI_TOKENS, ...CALL_GEN_AI_TOKENS });
    expect(tokenAttributes(o)).toEqual(OPENAI_TOKENS); // aggregate: same numbers, no gen_ai.usage.*
    expect(contentKeys(o)).toEqual(['ai.prompt', 'ai.response.text']);
    expect(contentKeys(c)).toEqual(['ai.prompt.messages', 'ai.response.text']);
  });

  it('generateText-openai-chat (Chat Completions): provider openai.chat, same usage shape', async () => {
    const r = await run(I, 'generateText-openai-chat');
    const { o, c } = outerAndCall(r, 'ai.generateText', 'ai.generateText.doGenerate');
    expect(c.attributes).toMatchObject({ 'ai.model.provider': 'openai.chat', 'gen_ai.system': 'openai.chat', 'gen_ai.response.model': 'gpt-4o-2024-08-06', 'ai.response.id': 'chatcmpl-fake0001' });
    expect(tokenAttributes(c)).toEqual({ ...OPENAI_TOKENS, ...CALL_GEN_AI_TOKENS });
    expect(tokenAttributes(o)).toEqual(OPENAI_TOKENS);
  });

  it('generateText-openai-chat-tools: two doGenerate calls + ai.toolCall; the outer span SUMS the steps', async () => {
    const r = await run(I, 'generateText-openai-chat-tools');
    expect(r.spans.map((s) => s.name)).toEqual(['ai.generateText', 'ai.generateText.doGenerate', 'ai.toolCall', 'ai.generateText.doGenerate']);
    const o = spanNamed(r, 'ai.generateText');
    const calls = [spanNamed(r, 'ai.generateText.doGenerate', 0), spanNamed(r, 'ai.generateText.doGenerate', 1)];
    for (const c of calls) {
      expect(parentOf(r, c)).toBe(o);
      expect(tokenAttributes(c)).toEqual({ ...OPENAI_TOKENS, ...CALL_GEN_AI_TOKENS });
    }
    expect(calls[0]!.attributes['ai.response.finishReason']).toBe('tool-calls');
    expect(tokenAttributes(o)).toEqual({
      'ai.usage.inputTokens': 2400,
      'ai.usage.inputTokenDetails.noCacheTokens': 352,
      'ai.usage.inputTokenDetails.cacheReadTokens': 2048,
      'ai.usage.cachedInputTokens': 2048,
      'ai.usage.outputTokens': 600,
      'ai.usage.outputTokenDetails.textTokens': 600,
      'ai.usage.outputTokenDetails.reasoningTokens': 0,
      'ai.usage.reasoningTokens': 0,
      'ai.usage.totalTokens': 3000,
    });
    const tool = spanNamed(r, 'ai.toolCall');
    expect(parentOf(r, tool)).toBe(o);
    expect(tokenAttributes(tool)).toEqual({});
    expect(Object.keys(tool.attributes)).toEqual(expect.arrayContaining(['ai.toolCall.name', 'ai.toolCall.id', 'ai.toolCall.args', 'ai.toolCall.result']));
  });

  it('generateText-openai-reasoning: reasoningTokens 200 (included in outputTokens 300)', async () => {
    const r = await run(I, 'generateText-openai-reasoning');
    const { c } = outerAndCall(r, 'ai.generateText', 'ai.generateText.doGenerate');
    expect(c.attributes['gen_ai.response.model']).toBe('o3-mini-2025-01-31');
    expect(tokenAttributes(c)).toEqual({
      ...OPENAI_TOKENS,
      ...CALL_GEN_AI_TOKENS,
      'ai.usage.outputTokenDetails.textTokens': 100,
      'ai.usage.outputTokenDetails.reasoningTokens': 200,
      'ai.usage.reasoningTokens': 200,
    });
  });

  it('streamText-openai (Responses API): usage on ai.streamText.doStream, stream events', async () => {
    const r = await run(I, 'streamText-openai');
    expect(r.spans.map((s) => s.name)).toEqual(['ai.streamText', 'ai.streamText.doStream']);
    const { o, c } = outerAndCall(r, 'ai.streamText', 'ai.streamText.doStream');
    expect(c.attributes).toMatchObject({ 'ai.model.provider': 'openai.responses', 'gen_ai.response.model': 'gpt-4o-2024-08-06' });
    expect(typeof c.attributes['ai.response.msToFirstChunk']).toBe('number');
    expect(c.events.map((e) => e.name)).toEqual(['ai.stream.firstChunk', 'ai.stream.finish']);
    expect(tokenAttributes(c)).toEqual({ ...OPENAI_TOKENS, ...CALL_GEN_AI_TOKENS });
    expect(tokenAttributes(o)).toEqual(OPENAI_TOKENS);
  });

  it('streamText-openai-chat (Chat Completions stream): usage on doStream', async () => {
    const r = await run(I, 'streamText-openai-chat');
    const { c } = outerAndCall(r, 'ai.streamText', 'ai.streamText.doStream');
    expect(c.attributes['ai.model.provider']).toBe('openai.chat');
    expect(tokenAttributes(c)).toEqual({ ...OPENAI_TOKENS, ...CALL_GEN_AI_TOKENS });
    // the provider asked for the usage chunk itself
    const req = fake.requests.filter((x) => x.path === '/v1/chat/completions' && x.body?.stream === true).at(-1);
    expect(req?.body.stream_options).toEqual({ include_usage: true });
  });

  it('embed-openai: ai.embed -> ai.embed.doEmbed, ai.usage.tokens only, no response model', async () => {
    const r = await run(I, 'embed-openai');
    expect(r.spans.map((s) => s.name)).toEqual(['ai.embed', 'ai.embed.doEmbed']);
    const { o, c } = outerAndCall(r, 'ai.embed', 'ai.embed.doEmbed');
    expect(c.attributes).toMatchObject({ 'ai.model.provider': 'openai.embedding', 'ai.model.id': 'text-embedding-3-small' });
    expect(c.attributes['gen_ai.system']).toBeUndefined();
    expect(c.attributes['ai.response.model']).toBeUndefined();
    expect(tokenAttributes(c)).toEqual({ 'ai.usage.tokens': 50 });
    expect(tokenAttributes(o)).toEqual({ 'ai.usage.tokens': 50 });
    expect(contentKeys(o)).toEqual(['ai.value']);
    expect(contentKeys(c)).toEqual(['ai.values']);
    expect(Object.keys(c.attributes)).toContain('ai.embeddings');
  });

  const ANTHROPIC_TOKENS = {
    'ai.usage.inputTokens': 6200, // 200 + 5000 read + 1000 write: INCLUDES cache tokens
    'ai.usage.inputTokenDetails.noCacheTokens': 200,
    'ai.usage.inputTokenDetails.cacheReadTokens': 5000,
    'ai.usage.inputTokenDetails.cacheWriteTokens': 1000,
    'ai.usage.cachedInputTokens': 5000,
    'ai.usage.outputTokens': 300,
    'ai.usage.totalTokens': 6500,
  };

  it('generateText-anthropic: inputTokens INCLUDE cache read + write; raw usage in providerMetadata', async () => {
    const r = await run(I, 'generateText-anthropic');
    const { o, c } = outerAndCall(r, 'ai.generateText', 'ai.generateText.doGenerate');
    expect(c.attributes).toMatchObject({
      'ai.model.provider': 'anthropic.messages',
      'gen_ai.system': 'anthropic.messages',
      'ai.model.id': 'claude-haiku-4-5',
      'gen_ai.request.model': 'claude-haiku-4-5',
      'gen_ai.response.model': 'claude-haiku-4-5-20251001',
      'ai.response.id': 'msg_fake0001',
    });
    expect(tokenAttributes(c)).toEqual({ ...ANTHROPIC_TOKENS, 'gen_ai.usage.input_tokens': 6200, 'gen_ai.usage.output_tokens': 300 });
    expect(tokenAttributes(o)).toEqual(ANTHROPIC_TOKENS);
    const meta = JSON.parse(String(c.attributes['ai.response.providerMetadata']));
    expect(meta.anthropic.usage).toMatchObject({ input_tokens: 200, cache_read_input_tokens: 5000, cache_creation_input_tokens: 1000, cache_creation: { ephemeral_5m_input_tokens: 1000, ephemeral_1h_input_tokens: 0 } });
    expect(meta.anthropic.cacheCreationInputTokens).toBe(1000);
  });

  it('streamText-anthropic: same usage on doStream', async () => {
    const r = await run(I, 'streamText-anthropic');
    const { o, c } = outerAndCall(r, 'ai.streamText', 'ai.streamText.doStream');
    expect(c.attributes['gen_ai.response.model']).toBe('claude-haiku-4-5-20251001');
    expect(tokenAttributes(c)).toEqual({ ...ANTHROPIC_TOKENS, 'gen_ai.usage.input_tokens': 6200, 'gen_ai.usage.output_tokens': 300 });
    expect(tokenAttributes(o)).toEqual(ANTHROPIC_TOKENS);
  });

  it('error-openai: both spans status ERROR with an exception event (AI_APICallError), no error.type, no usage', async () => {
    const r = await run(I, 'error-openai');
    expect((r.error as Error).name).toBe('AI_APICallError');
    const { o, c } = outerAndCall(r, 'ai.generateText', 'ai.generateText.doGenerate');
    for (const s of [o, c]) {
      expect(s.status).toEqual({ code: SpanStatusCode.ERROR, message: 'The server had an error while processing your request.' });
      expect(s.events.map((e) => e.name)).toEqual(['exception']);
      expect(s.events[0]!.attributes).toMatchObject({ 'exception.type': 'AI_APICallError', 'exception.message': 'The server had an error while processing your request.' });
      expect(s.attributes['error.type']).toBeUndefined();
      expect(tokenAttributes(s)).toEqual({});
    }
    expect(c.attributes).toMatchObject({ 'ai.model.id': 'fail-model', 'gen_ai.request.model': 'fail-model' });
  });

  it('error-openai-429-retried: one ERROR doGenerate span per attempt, outer ERROR AI_RetryError', async () => {
    const r = await run(I, 'error-openai-429-retried');
    expect((r.error as Error).name).toBe('AI_RetryError');
    expect(r.spans.map((s) => s.name)).toEqual(['ai.generateText', 'ai.generateText.doGenerate', 'ai.generateText.doGenerate', 'ai.generateText.doGenerate']);
    const [outer, ...attempts] = r.spans;
    expect(outer!.status).toEqual({ code: SpanStatusCode.ERROR, message: 'Failed after 3 attempts. Last error: Rate limit reached for requests' });
    expect(outer!.events[0]!.attributes).toMatchObject({ 'exception.type': 'AI_RetryError' });
    for (const a of attempts) {
      expect(parentOf(r, a)).toBe(outer);
      expect(a.status).toEqual({ code: SpanStatusCode.ERROR, message: 'Rate limit reached for requests' });
      expect(a.events[0]!.attributes).toMatchObject({ 'exception.type': 'AI_APICallError' });
      expect(tokenAttributes(a)).toEqual({});
    }
  });
});

// ====================================================================== harness self-checks

describe('capture harness', () => {
  it('leaves the SDK prototypes unwrapped after each capture', async () => {
    const wrapped = () =>
      [OpenAI.Chat.Completions.prototype.create, OpenAI.Embeddings.prototype.create, OpenAI.Responses.prototype.create, anthropicNs.Anthropic.Messages.prototype.create].map(
        (f) => (f as unknown as { __wrapped?: boolean }).__wrapped === true,
      );
    for (const [i, n] of [['otel-openai', 'chat'], ['traceloop-openai', 'chat'], ['openinference-openai', 'chat'], ['traceloop-anthropic', 'messages-cache']] as const) {
      await run(i, n);
      expect(wrapped(), `${i} left a wrapper behind`).toEqual([false, false, false, false]);
    }
  });

  it('ESM and CJS copies of openai are different classes (patch the copy the app imports)', async () => {
    const { createRequire } = await import('node:module');
    const cjs = createRequire(import.meta.url)('openai') as typeof import('openai');
    expect(cjs.OpenAI).not.toBe(OpenAI);
  });
});
