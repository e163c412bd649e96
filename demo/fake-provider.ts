/**
 * A local stand-in for the OpenAI and Anthropic HTTP APIs, used by the conformance harness and by
 * `genai-ledger demo` (which is why it ships, in demo/, rather than living under test/).
 *
 * It answers with realistic response bodies (and SSE streams) and FIXED, documented usage numbers,
 * so tests can assert exact token counts. Every request is recorded in `requests` (unless
 * `recordRequests: false`).
 *
 * Usage per request: a request carrying the `x-fake-usage` header (FAKE_USAGE_HEADER, a JSON
 * `FakeUsageOverride`) gets those numbers instead of the fixed ones, in each API's own shape
 * (OpenAI counts cached tokens inside prompt_tokens, Anthropic's input_tokens excludes them).
 * `x-fake-status: 429` (or 500) answers with that error. The demo uses both to vary its traffic;
 * requests without the headers behave exactly as documented below.
 *
 * Endpoints (all under `/v1`):
 *  - POST /v1/chat/completions  (OpenAI, streaming with `stream: true`, usage chunk with
 *                                `stream_options.include_usage`; non-streaming requests that offer
 *                                `tools` and carry no `tool` message yet get a call of the first tool,
 *                                finish_reason `tool_calls`, same usage)
 *  - POST /v1/embeddings        (OpenAI; honours `encoding_format: 'base64'` which the openai SDK
 *                                requests by default)
 *  - POST /v1/responses         (OpenAI Responses API, streaming with `stream: true`)
 *  - POST /v1/messages          (Anthropic Messages API, streaming with `stream: true`)
 *
 * Error mode: a request whose `model` is `fail-model` gets a 500, `fail-model-429` a 429, in the
 * provider's error JSON shape. 500s carry `x-should-retry: false` so the official SDKs do not retry them
 * (the scenarios also set maxRetries: 0); 429s carry `retry-after-ms: 5` so retrying clients (the ai
 * SDK honours it) retry within milliseconds.
 *
 * Response model: request model names are mapped to a dated snapshot the way the real APIs do
 * (`RESPONSE_MODEL`, e.g. `gpt-4o` -> `gpt-4o-2024-08-06`); unknown names are echoed unchanged.
 *
 * Content: every generated completion text contains `COMPLETION_MARKER`, so a test can prove that no
 * completion content reaches the ledger. (Scenario prompts contain `PROMPT_MARKER`, see capture.ts.)
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export const COMPLETION_MARKER = 'COMPLETION-CONTENT-MARKER';

/** Request model -> response model, as the real APIs report it. Unknown models are echoed. */
export const RESPONSE_MODEL: Readonly<Record<string, string>> = {
  'gpt-4o': 'gpt-4o-2024-08-06',
  'gpt-4o-mini': 'gpt-4o-mini-2024-07-18',
  'gpt-4.1': 'gpt-4.1-2025-04-14',
  'o3-mini': 'o3-mini-2025-01-31',
  o3: 'o3-2025-04-16',
  'o4-mini': 'o4-mini-2025-04-16',
  'gpt-5': 'gpt-5-2025-08-07',
  'gpt-5-mini': 'gpt-5-mini-2025-08-07',
  'text-embedding-3-small': 'text-embedding-3-small',
  'claude-sonnet-4-5': 'claude-sonnet-4-5-20250929',
  'claude-haiku-4-5': 'claude-haiku-4-5-20251001',
  'claude-3-5-haiku-latest': 'claude-3-5-haiku-20241022',
  'claude-opus-4-1': 'claude-opus-4-1-20250805',
};

export function responseModelFor(requestModel: string): string {
  return RESPONSE_MODEL[requestModel] ?? requestModel;
}

/** o-series and gpt-5 models report reasoning tokens (part of the output tokens). */
export function isReasoningModel(model: string): boolean {
  return /^(o\d|gpt-5)/.test(model);
}

/** The fixed usage numbers the fake provider reports. */
export const FAKE_USAGE = {
  openaiChat: {
    prompt_tokens: 1200,
    completion_tokens: 300,
    total_tokens: 1500,
    cached_tokens: 1024, // included in prompt_tokens
    reasoning_tokens: 0, // included in completion_tokens
    reasoning_tokens_reasoning_model: 200, // o-series / gpt-5
  },
  openaiEmbeddings: { prompt_tokens: 50, total_tokens: 50, dimensions: 4 },
  openaiResponses: {
    input_tokens: 1200,
    cached_tokens: 1024, // included in input_tokens
    output_tokens: 300,
    reasoning_tokens: 0, // included in output_tokens
    reasoning_tokens_reasoning_model: 200,
    total_tokens: 1500,
  },
  anthropic: {
    input_tokens: 200, // EXCLUDES cache tokens (raw Anthropic semantics)
    cache_creation_input_tokens: 1000, // all to the 5-minute cache, unless the request asks for 1-hour entries:
    cache_creation_1h_mixed: 400, // of the 1000, when its cache_control breakpoints mix ttl '1h' and 5-minute ones
    cache_read_input_tokens: 5000,
    output_tokens: 300,
    thinking_tokens: 200, // of the 300 (usage.output_tokens_details), when the request enables `thinking`
  },
} as const;

export interface RecordedRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: any;
}

export interface FakeProvider {
  /** `http://127.0.0.1:PORT` (no trailing slash, no `/v1`). */
  url: string;
  port: number;
  close(): Promise<void>;
  requests: RecordedRequest[];
}

export interface FakeProviderOptions {
  /** Port to listen on; default 0 (ephemeral). */
  port?: number;
  /** Keep every request in `requests`. Default true (long-running demos turn it off). */
  recordRequests?: boolean;
  /**
   * Usage of Anthropic's streamed `message_delta`: `output` (default) sends `{ output_tokens }` only, as the API
   * long did; `cumulative` sends the running totals of every count, as the current API does (MessageDeltaUsage).
   */
  anthropicDeltaUsage?: 'output' | 'cumulative';
}

/** Request header with a JSON {@link FakeUsageOverride}: the usage this one response reports. */
export const FAKE_USAGE_HEADER = 'x-fake-usage';
/** Request header asking for an error answer: `429` or `500`. */
export const FAKE_STATUS_HEADER = 'x-fake-status';

/** Usage of one response, in semantic-convention meaning: input includes cached and cache-write tokens, output includes reasoning. */
export interface FakeUsageOverride {
  input_tokens?: number;
  output_tokens?: number;
  cached_tokens?: number;
  cache_write_tokens?: number;
  reasoning_tokens?: number;
}

function usageOverride(headers: http.IncomingHttpHeaders): FakeUsageOverride | undefined {
  const raw = headers[FAKE_USAGE_HEADER];
  if (typeof raw !== 'string' || raw === '') return undefined;
  try {
    const parsed = JSON.parse(raw) as unknown;
    return typeof parsed === 'object' && parsed !== null ? (parsed as FakeUsageOverride) : undefined;
  } catch {
    return undefined;
  }
}

function statusOverride(headers: http.IncomingHttpHeaders): number | undefined {
  const raw = headers[FAKE_STATUS_HEADER];
  return raw === '429' ? 429 : raw === '500' ? 500 : undefined;
}

const count = (value: number | undefined): number => (typeof value === 'number' && Number.isFinite(value) && value > 0 ? Math.floor(value) : 0);

// Fixed timestamps / ids keep the captured fixtures stable across regenerations.
const CREATED = 1767225600; // 2026-01-01T00:00:00Z
const COMPLETION_TEXT = `Hello! ${COMPLETION_MARKER}`;
/** Arguments of the tool call the chat endpoint makes when the request offers tools (`{ city: string }`). */
export const TOOL_CALL_ARGUMENTS = '{"city":"Paris"}';

function openaiChatUsage(model: string, o?: FakeUsageOverride) {
  const u = FAKE_USAGE.openaiChat;
  if (o) {
    const input = count(o.input_tokens);
    const output = count(o.output_tokens);
    return {
      prompt_tokens: input,
      completion_tokens: output,
      total_tokens: input + output,
      prompt_tokens_details: { cached_tokens: Math.min(input, count(o.cached_tokens)), audio_tokens: 0 },
      completion_tokens_details: {
        reasoning_tokens: Math.min(output, count(o.reasoning_tokens)), audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0,
      },
    };
  }
  return {
    prompt_tokens: u.prompt_tokens,
    completion_tokens: u.completion_tokens,
    total_tokens: u.total_tokens,
    prompt_tokens_details: { cached_tokens: u.cached_tokens, audio_tokens: 0 },
    completion_tokens_details: {
      reasoning_tokens: isReasoningModel(model) ? u.reasoning_tokens_reasoning_model : u.reasoning_tokens,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    },
  };
}

function openaiResponsesUsage(model: string, o?: FakeUsageOverride) {
  const u = FAKE_USAGE.openaiResponses;
  if (o) {
    const input = count(o.input_tokens);
    const output = count(o.output_tokens);
    return {
      input_tokens: input,
      input_tokens_details: { cached_tokens: Math.min(input, count(o.cached_tokens)) },
      output_tokens: output,
      output_tokens_details: { reasoning_tokens: Math.min(output, count(o.reasoning_tokens)) },
      total_tokens: input + output,
    };
  }
  return {
    input_tokens: u.input_tokens,
    input_tokens_details: { cached_tokens: u.cached_tokens },
    output_tokens: u.output_tokens,
    output_tokens_details: {
      reasoning_tokens: isReasoningModel(model) ? u.reasoning_tokens_reasoning_model : u.reasoning_tokens,
    },
    total_tokens: u.total_tokens,
  };
}

/** The `ttl` of every `cache_control` breakpoint of a Messages request (`5m` when it names none, as the API defaults). */
function cacheTtls(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) for (const item of node) cacheTtls(item, out);
  else if (typeof node === 'object' && node !== null) {
    for (const [key, value] of Object.entries(node)) {
      if (key === 'cache_control' && typeof value === 'object' && value !== null) out.push(String((value as { ttl?: string }).ttl ?? '5m'));
      else cacheTtls(value, out);
    }
  }
  return out;
}

/** Tokens written to the 1-hour cache, of `write`: all with only 1h breakpoints, a fixed part with both TTLs. */
function oneHourWrites(body: any, write: number): number {
  const ttls = cacheTtls([body?.system, body?.messages, body?.tools]);
  if (!ttls.includes('1h')) return 0;
  return ttls.every((t) => t === '1h') ? write : Math.min(write, FAKE_USAGE.anthropic.cache_creation_1h_mixed);
}

function anthropicUsage(body: any, o?: FakeUsageOverride) {
  const u = FAKE_USAGE.anthropic;
  const read = o ? count(o.cached_tokens) : u.cache_read_input_tokens;
  const write = o ? count(o.cache_write_tokens) : u.cache_creation_input_tokens;
  const output = o ? count(o.output_tokens) : u.output_tokens;
  const oneHour = oneHourWrites(body, write);
  const thinking = body?.thinking?.type === 'enabled' ? (o ? Math.min(output, count(o.reasoning_tokens)) : u.thinking_tokens) : undefined;
  return {
    input_tokens: o ? Math.max(0, count(o.input_tokens) - read - write) : u.input_tokens,
    cache_creation_input_tokens: write,
    cache_read_input_tokens: read,
    cache_creation: { ephemeral_5m_input_tokens: write - oneHour, ephemeral_1h_input_tokens: oneHour },
    output_tokens: output,
    ...(thinking !== undefined ? { output_tokens_details: { thinking_tokens: thinking } } : {}),
    service_tier: 'standard',
  };
}

function sendJson(res: http.ServerResponse, status: number, body: unknown, extraHeaders: Record<string, string> = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...extraHeaders,
  });
  res.end(text);
}

function startSse(res: http.ServerResponse) {
  res.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
  });
}

function sseData(res: http.ServerResponse, data: unknown, event?: string) {
  const payload = typeof data === 'string' ? data : JSON.stringify(data);
  res.write(`${event ? `event: ${event}\n` : ''}data: ${payload}\n\n`);
}

function failStatus(model: unknown): number | undefined {
  if (model === 'fail-model') return 500;
  if (model === 'fail-model-429') return 429;
  return undefined;
}

/** 500s say `x-should-retry: false`; 429s say `retry-after-ms: 5` so clients that do retry them retry fast. */
function errorHeaders(status: number): Record<string, string> {
  return status === 429 ? { 'retry-after-ms': '5', 'retry-after': '0' } : { 'x-should-retry': 'false' };
}

function sendOpenAIError(res: http.ServerResponse, status: number) {
  const body =
    status === 429
      ? { error: { message: 'Rate limit reached for requests', type: 'requests', param: null, code: 'rate_limit_exceeded' } }
      : { error: { message: 'The server had an error while processing your request.', type: 'server_error', param: null, code: null } };
  sendJson(res, status, body, { ...errorHeaders(status), 'x-request-id': 'req_fake_error' });
}

function sendAnthropicError(res: http.ServerResponse, status: number) {
  const body =
    status === 429
      ? { type: 'error', error: { type: 'rate_limit_error', message: 'Number of request tokens has exceeded your rate limit.' } }
      : { type: 'error', error: { type: 'api_error', message: 'Internal server error' } };
  sendJson(res, status, body, { ...errorHeaders(status), 'request-id': 'req_fake_error' });
}

// ---------------------------------------------------------------- OpenAI chat completions

function handleChatCompletions(body: any, res: http.ServerResponse, o?: FakeUsageOverride) {
  const model = String(body.model);
  const respModel = responseModelFor(model);
  const id = 'chatcmpl-fake0001';
  if (!body.stream) {
    // Tool loop support: with `tools` and no tool result yet, answer with a call of the first tool.
    const firstTool = Array.isArray(body.tools) ? body.tools[0]?.function?.name : undefined;
    const hasToolResult = Array.isArray(body.messages) && body.messages.some((m: any) => m?.role === 'tool');
    const callTool = typeof firstTool === 'string' && !hasToolResult;
    sendJson(res, 200, {
      id,
      object: 'chat.completion',
      created: CREATED,
      model: respModel,
      choices: [
        {
          index: 0,
          message: callTool
            ? {
                role: 'assistant',
                content: null,
                refusal: null,
                annotations: [],
                tool_calls: [{ id: 'call_fake0001', type: 'function', function: { name: firstTool, arguments: TOOL_CALL_ARGUMENTS } }],
              }
            : { role: 'assistant', content: COMPLETION_TEXT, refusal: null, annotations: [] },
          logprobs: null,
          finish_reason: callTool ? 'tool_calls' : 'stop',
        },
      ],
      usage: openaiChatUsage(model, o),
      service_tier: 'default',
      system_fingerprint: 'fp_fake0001',
    });
    return;
  }
  const includeUsage = body.stream_options?.include_usage === true;
  const base = { id, object: 'chat.completion.chunk', created: CREATED, model: respModel, service_tier: 'default', system_fingerprint: 'fp_fake0001' };
  const usageNull = includeUsage ? { usage: null } : {};
  startSse(res);
  sseData(res, { ...base, choices: [{ index: 0, delta: { role: 'assistant', content: '', refusal: null }, logprobs: null, finish_reason: null }], ...usageNull });
  for (const piece of ['Hello! ', COMPLETION_MARKER]) {
    sseData(res, { ...base, choices: [{ index: 0, delta: { content: piece }, logprobs: null, finish_reason: null }], ...usageNull });
  }
  sseData(res, { ...base, choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }], ...usageNull });
  if (includeUsage) sseData(res, { ...base, choices: [], usage: openaiChatUsage(model, o) });
  sseData(res, '[DONE]');
  res.end();
}

// ---------------------------------------------------------------- OpenAI embeddings

function handleEmbeddings(body: any, res: http.ServerResponse, o?: FakeUsageOverride) {
  const inputs: unknown[] = Array.isArray(body.input) ? body.input : [body.input];
  const dims = FAKE_USAGE.openaiEmbeddings.dimensions;
  const base64 = body.encoding_format === 'base64';
  const data = inputs.map((_, index) => {
    const vec = Array.from({ length: dims }, (_v, i) => Number(((index + 1) * 0.1 + i * 0.01).toFixed(4)));
    return {
      object: 'embedding',
      index,
      embedding: base64 ? Buffer.from(new Float32Array(vec).buffer).toString('base64') : vec,
    };
  });
  sendJson(res, 200, {
    object: 'list',
    data,
    model: responseModelFor(String(body.model)),
    usage: o
      ? { prompt_tokens: count(o.input_tokens), total_tokens: count(o.input_tokens) }
      : { prompt_tokens: FAKE_USAGE.openaiEmbeddings.prompt_tokens, total_tokens: FAKE_USAGE.openaiEmbeddings.total_tokens },
  });
}

// ---------------------------------------------------------------- OpenAI responses

function responsesObject(body: any, status: 'in_progress' | 'completed', o?: FakeUsageOverride) {
  const model = String(body.model);
  const done = status === 'completed';
  return {
    id: 'resp_fake0001',
    object: 'response',
    created_at: CREATED,
    status,
    background: false,
    error: null,
    incomplete_details: null,
    instructions: body.instructions ?? null,
    max_output_tokens: body.max_output_tokens ?? null,
    max_tool_calls: null,
    model: responseModelFor(model),
    output: done ? [responsesMessageItem('completed')] : [],
    parallel_tool_calls: true,
    previous_response_id: null,
    prompt_cache_key: null,
    reasoning: { effort: isReasoningModel(model) ? 'medium' : null, summary: null },
    safety_identifier: null,
    service_tier: 'default',
    store: true,
    temperature: body.temperature ?? 1,
    text: { format: { type: 'text' }, verbosity: 'medium' },
    tool_choice: 'auto',
    tools: [],
    top_logprobs: 0,
    top_p: body.top_p ?? 1,
    truncation: 'disabled',
    usage: done ? openaiResponsesUsage(model, o) : null,
    user: null,
    metadata: {},
  };
}

function responsesMessageItem(status: 'in_progress' | 'completed') {
  return {
    id: 'msg_fake0001',
    type: 'message',
    status,
    role: 'assistant',
    content: status === 'completed' ? [{ type: 'output_text', annotations: [], logprobs: [], text: COMPLETION_TEXT }] : [],
  };
}

function handleResponses(body: any, res: http.ServerResponse, o?: FakeUsageOverride) {
  if (!body.stream) {
    sendJson(res, 200, responsesObject(body, 'completed', o));
    return;
  }
  startSse(res);
  let seq = 0;
  const ev = (data: Record<string, unknown>) => sseData(res, { ...data, sequence_number: seq++ }, String(data.type));
  const itemId = 'msg_fake0001';
  ev({ type: 'response.created', response: responsesObject(body, 'in_progress') });
  ev({ type: 'response.in_progress', response: responsesObject(body, 'in_progress') });
  ev({ type: 'response.output_item.added', output_index: 0, item: responsesMessageItem('in_progress') });
  ev({ type: 'response.content_part.added', item_id: itemId, output_index: 0, content_index: 0, part: { type: 'output_text', annotations: [], logprobs: [], text: '' } });
  for (const delta of ['Hello! ', COMPLETION_MARKER]) {
    ev({ type: 'response.output_text.delta', item_id: itemId, output_index: 0, content_index: 0, delta, logprobs: [] });
  }
  ev({ type: 'response.output_text.done', item_id: itemId, output_index: 0, content_index: 0, text: COMPLETION_TEXT, logprobs: [] });
  ev({ type: 'response.content_part.done', item_id: itemId, output_index: 0, content_index: 0, part: { type: 'output_text', annotations: [], logprobs: [], text: COMPLETION_TEXT } });
  ev({ type: 'response.output_item.done', output_index: 0, item: responsesMessageItem('completed') });
  ev({ type: 'response.completed', response: responsesObject(body, 'completed', o) });
  res.end();
}

// ---------------------------------------------------------------- Anthropic messages

function handleMessages(body: any, res: http.ServerResponse, o: FakeUsageOverride | undefined, deltaUsage: 'output' | 'cumulative') {
  const respModel = responseModelFor(String(body.model));
  const id = 'msg_fake0001';
  if (!body.stream) {
    sendJson(res, 200, {
      id,
      type: 'message',
      role: 'assistant',
      model: respModel,
      content: [{ type: 'text', text: COMPLETION_TEXT }],
      stop_reason: 'end_turn',
      stop_sequence: null,
      usage: anthropicUsage(body, o),
    });
    return;
  }
  startSse(res);
  const ev = (data: Record<string, unknown>) => sseData(res, data, String(data.type));
  const usage = anthropicUsage(body, o);
  const { cache_creation: _split, service_tier: _tier, output_tokens_details, ...totals } = usage;
  ev({
    type: 'message_start',
    message: {
      id,
      type: 'message',
      role: 'assistant',
      model: respModel,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: { ...usage, output_tokens: 1, output_tokens_details: undefined },
    },
  });
  ev({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } });
  ev({ type: 'ping' });
  for (const text of ['Hello! ', COMPLETION_MARKER]) {
    ev({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } });
  }
  ev({ type: 'content_block_stop', index: 0 });
  ev({
    type: 'message_delta',
    delta: { stop_reason: 'end_turn', stop_sequence: null },
    // Cumulative totals, not increments to add to message_start's.
    usage: deltaUsage === 'cumulative' ? { ...totals, output_tokens_details } : { output_tokens: usage.output_tokens },
  });
  ev({ type: 'message_stop' });
  res.end();
}

// ---------------------------------------------------------------- server

export async function startFakeProvider(options: FakeProviderOptions = {}): Promise<FakeProvider> {
  const requests: RecordedRequest[] = [];
  const record = options.recordRequests ?? true;
  const sockets = new Set<import('node:net').Socket>();

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let body: any = undefined;
      try {
        body = raw ? JSON.parse(raw) : undefined;
      } catch {
        body = raw;
      }
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      if (record) requests.push({ method: req.method ?? 'GET', path, headers: req.headers, body });
      try {
        route(req.method ?? 'GET', path, body, req.headers, res);
      } catch (err) {
        sendJson(res, 500, { error: { message: `fake provider crashed: ${String(err)}`, type: 'server_error' } });
      }
    });
  });

  function route(method: string, path: string, body: any, headers: http.IncomingHttpHeaders, res: http.ServerResponse) {
    if (method !== 'POST') {
      sendJson(res, 404, { error: { message: `no route ${method} ${path}`, type: 'invalid_request_error' } });
      return;
    }
    const fail = failStatus(body?.model) ?? statusOverride(headers);
    const o = usageOverride(headers);
    switch (path) {
      case '/v1/chat/completions':
        if (fail) return sendOpenAIError(res, fail);
        return handleChatCompletions(body, res, o);
      case '/v1/embeddings':
        if (fail) return sendOpenAIError(res, fail);
        return handleEmbeddings(body, res, o);
      case '/v1/responses':
        if (fail) return sendOpenAIError(res, fail);
        return handleResponses(body, res, o);
      case '/v1/messages':
        if (fail) return sendAnthropicError(res, fail);
        return handleMessages(body, res, o, options.anthropicDeltaUsage ?? 'output');
      default:
        sendJson(res, 404, { error: { message: `no route ${method} ${path}`, type: 'invalid_request_error' } });
    }
  }

  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    close: () =>
      new Promise<void>((resolve, reject) => {
        for (const s of sockets) s.destroy();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}
