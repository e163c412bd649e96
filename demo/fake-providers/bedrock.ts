/**
 * A local stand-in for the AWS Bedrock Runtime API (REST-JSON, as `@aws-sdk/client-bedrock-runtime`
 * speaks it), answering with FIXED, documented usage so tests can assert exact token counts.
 * Point a client at it with `endpoint: fake.url`, any region and dummy credentials (requests are
 * signed by the SDK; the fake does not check signatures). It speaks HTTP/2 in clear text, because the
 * SDK's default request handler for this client is `NodeHttp2Handler` (the real endpoint negotiates
 * h2 over TLS): a client built with its defaults works unchanged.
 *
 * Operations (the model id is the URL-encoded path segment, so ARNs and `us.`/`eu.`/`global.`
 * inference-profile ids arrive as users wrote them):
 *  - POST /model/{modelId}/converse                       Converse
 *  - POST /model/{modelId}/converse-stream                ConverseStream: AWS event-stream frames
 *                                                         (messageStart, contentBlockDelta…, contentBlockStop,
 *                                                         messageStop, metadata with usage + metrics)
 *  - POST /model/{modelId}/invoke                         InvokeModel, the model's native body:
 *                                                         Anthropic (`anthropic_version: bedrock-2023-05-31`)
 *                                                         or Amazon Nova (`messages` + `inferenceConfig`)
 *  - POST /model/{modelId}/invoke-with-response-stream    InvokeModelWithResponseStream, Anthropic only:
 *                                                         `chunk` events carrying the Messages API's stream events
 *                                                         (base64), the last with `amazon-bedrock-invocationMetrics`
 *
 * Usage semantics, as Bedrock documents them: Converse's `inputTokens` EXCLUDES cache reads and writes
 * (`totalTokens` = input + output + cacheRead + cacheWrite); the Anthropic body's `input_tokens`
 * excludes them too (the Messages API's meaning); Nova's body reports `cacheReadInputTokenCount` /
 * `cacheWriteInputTokenCount` beside an `inputTokens` that excludes them.
 *
 * Errors: a model id containing `fail-model` gets HTTP 500 `InternalServerException`
 * (`x-amzn-errortype` header + `{ message }` body, how Bedrock answers), `fail-model-429` a 429
 * `ThrottlingException`. Completions contain COMPLETION_MARKER.
 */
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { EventStreamCodec } from '@smithy/eventstream-codec';
import { COMPLETION_MARKER } from '../fake-provider.js';

/** Fixed usage of every Bedrock answer (cache figures excluded from the input counts, as Bedrock reports them). */
export const FAKE_BEDROCK_USAGE = {
  /** Converse / ConverseStream (any model) and the Anthropic body (same numbers, Messages API names). */
  converse: { inputTokens: 200, cacheReadInputTokens: 5000, cacheWriteInputTokens: 1000, outputTokens: 300, totalTokens: 6500 },
  /** Amazon Nova InvokeModel body: a cache read, no cache write. */
  nova: { inputTokens: 1000, cacheReadInputTokenCount: 2000, cacheWriteInputTokenCount: 0, outputTokens: 300, totalTokens: 3300 },
} as const;

const COMPLETION_TEXT = `Hello! ${COMPLETION_MARKER}`;
const TEXT_PIECES = ['Hello! ', COMPLETION_MARKER];
const LATENCY_MS = 120;

export interface BedrockRequest {
  operation: 'converse' | 'converse-stream' | 'invoke' | 'invoke-with-response-stream';
  /** The model id, decoded from the path. */
  modelId: string;
  body: any;
}

export interface FakeBedrock {
  /** `http://127.0.0.1:PORT`: the client's `endpoint`. */
  url: string;
  requests: BedrockRequest[];
  close(): Promise<void>;
}

const ROUTE = /^\/model\/([^/]+)\/(converse|converse-stream|invoke|invoke-with-response-stream)$/;

const codec = new EventStreamCodec(
  (bytes) => Buffer.from(bytes).toString('utf8'),
  (text) => Buffer.from(text, 'utf8'),
);

/** One event-stream frame, headers as Bedrock sends them for an event. */
function eventFrame(eventType: string, payload: unknown): Uint8Array {
  const headers: Parameters<EventStreamCodec['encode']>[0]['headers'] = {
    ':event-type': { type: 'string', value: eventType },
    ':content-type': { type: 'string', value: 'application/json' },
    ':message-type': { type: 'string', value: 'event' },
  };
  return codec.encode({ headers, body: Buffer.from(JSON.stringify(payload), 'utf8') });
}

function sendJson(res: http2.Http2ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'x-amzn-requestid': 'fake-request-0001', ...headers });
  res.end(text);
}

function sendError(res: http2.Http2ServerResponse, status: 429 | 500): void {
  const type = status === 429 ? 'ThrottlingException' : 'InternalServerException';
  const message = status === 429 ? 'Too many requests, please wait before trying again.' : 'The server encountered an internal error.';
  sendJson(res, status, { message }, { 'x-amzn-errortype': `${type}:http://internal.amazon.com/coral/com.amazon.bedrock/` });
}

function failStatus(modelId: string): 429 | 500 | undefined {
  if (modelId.includes('fail-model-429')) return 429;
  return modelId.includes('fail-model') ? 500 : undefined;
}

function isNova(modelId: string): boolean {
  return modelId.includes('amazon.nova');
}

// ---------------------------------------------------------------- Converse

const converseUsage = () => ({ ...FAKE_BEDROCK_USAGE.converse, cacheDetails: [{ ttl: '5m', inputTokens: FAKE_BEDROCK_USAGE.converse.cacheWriteInputTokens }] });

function converse(res: http2.Http2ServerResponse): void {
  sendJson(res, 200, {
    output: { message: { role: 'assistant', content: [{ text: COMPLETION_TEXT }] } },
    stopReason: 'end_turn',
    usage: converseUsage(),
    metrics: { latencyMs: LATENCY_MS },
  });
}

function converseStream(res: http2.Http2ServerResponse): void {
  res.writeHead(200, { 'content-type': 'application/vnd.amazon.eventstream', 'x-amzn-requestid': 'fake-request-0001' });
  res.write(eventFrame('messageStart', { role: 'assistant' }));
  for (const text of TEXT_PIECES) res.write(eventFrame('contentBlockDelta', { contentBlockIndex: 0, delta: { text } }));
  res.write(eventFrame('contentBlockStop', { contentBlockIndex: 0 }));
  res.write(eventFrame('messageStop', { stopReason: 'end_turn' }));
  res.write(eventFrame('metadata', { usage: converseUsage(), metrics: { latencyMs: LATENCY_MS } }));
  res.end();
}

// ---------------------------------------------------------------- InvokeModel

function anthropicUsage() {
  const u = FAKE_BEDROCK_USAGE.converse;
  return {
    input_tokens: u.inputTokens,
    cache_creation_input_tokens: u.cacheWriteInputTokens,
    cache_read_input_tokens: u.cacheReadInputTokens,
    cache_creation: { ephemeral_5m_input_tokens: u.cacheWriteInputTokens, ephemeral_1h_input_tokens: 0 },
    output_tokens: u.outputTokens,
  };
}

/** Bedrock repeats the counts in response headers of InvokeModel. */
function tokenHeaders(input: number, output: number, cacheRead: number, cacheWrite: number): Record<string, string> {
  return {
    'x-amzn-bedrock-input-token-count': String(input),
    'x-amzn-bedrock-output-token-count': String(output),
    'x-amzn-bedrock-cache-read-input-token-count': String(cacheRead),
    'x-amzn-bedrock-cache-write-input-token-count': String(cacheWrite),
    'x-amzn-bedrock-invocation-latency': String(LATENCY_MS),
  };
}

function invokeModel(modelId: string, res: http2.Http2ServerResponse): void {
  if (isNova(modelId)) {
    const u = FAKE_BEDROCK_USAGE.nova;
    sendJson(res, 200, {
      output: { message: { role: 'assistant', content: [{ text: COMPLETION_TEXT }] } },
      stopReason: 'end_turn',
      usage: u,
    }, tokenHeaders(u.inputTokens, u.outputTokens, u.cacheReadInputTokenCount, u.cacheWriteInputTokenCount));
    return;
  }
  const u = FAKE_BEDROCK_USAGE.converse;
  sendJson(res, 200, {
    id: 'msg_bdrk_fake0001',
    type: 'message',
    role: 'assistant',
    model: anthropicModelName(modelId),
    content: [{ type: 'text', text: COMPLETION_TEXT }],
    stop_reason: 'end_turn',
    stop_sequence: null,
    usage: anthropicUsage(),
  }, tokenHeaders(u.inputTokens, u.outputTokens, u.cacheReadInputTokens, u.cacheWriteInputTokens));
}

/** `us.anthropic.claude-haiku-4-5-20251001-v1:0` → `claude-haiku-4-5-20251001`, the `model` Bedrock's Anthropic body carries. */
function anthropicModelName(modelId: string): string {
  const name = modelId.slice(modelId.lastIndexOf('anthropic.') + 'anthropic.'.length);
  return name.replace(/-v\d+(?::\d+)?$/, '');
}

function invokeModelStream(modelId: string, res: http2.Http2ServerResponse): void {
  const u = FAKE_BEDROCK_USAGE.converse;
  const events: Array<Record<string, unknown>> = [
    {
      type: 'message_start',
      message: {
        id: 'msg_bdrk_fake0001', type: 'message', role: 'assistant', model: anthropicModelName(modelId), content: [],
        stop_reason: null, stop_sequence: null, usage: { ...anthropicUsage(), output_tokens: 1 },
      },
    },
    { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
    ...TEXT_PIECES.map((text) => ({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } })),
    { type: 'content_block_stop', index: 0 },
    { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: u.outputTokens } },
    {
      type: 'message_stop',
      'amazon-bedrock-invocationMetrics': {
        inputTokenCount: u.inputTokens, outputTokenCount: u.outputTokens, invocationLatency: LATENCY_MS, firstByteLatency: 40,
        cacheReadInputTokenCount: u.cacheReadInputTokens, cacheWriteInputTokenCount: u.cacheWriteInputTokens,
      },
    },
  ];
  res.writeHead(200, { 'content-type': 'application/vnd.amazon.eventstream', 'x-amzn-requestid': 'fake-request-0001' });
  for (const event of events) res.write(eventFrame('chunk', { bytes: Buffer.from(JSON.stringify(event), 'utf8').toString('base64') }));
  res.end();
}

// ---------------------------------------------------------------- server

function parseBody(raw: Buffer): any {
  if (raw.length === 0) return undefined;
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch {
    return raw.toString('utf8');
  }
}

export async function startFakeBedrock(): Promise<FakeBedrock> {
  const requests: BedrockRequest[] = [];
  const sessions = new Set<http2.ServerHttp2Session>();
  const server = http2.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const match = req.method === 'POST' ? ROUTE.exec((req.url ?? '/').split('?')[0]!) : null;
      if (!match) return sendJson(res, 404, { message: `no route ${req.method} ${req.url}` }, { 'x-amzn-errortype': 'UnknownOperationException' });
      const modelId = decodeURIComponent(match[1]!);
      const operation = match[2] as BedrockRequest['operation'];
      requests.push({ operation, modelId, body: parseBody(Buffer.concat(chunks)) });
      const fail = failStatus(modelId);
      if (fail) return sendError(res, fail);
      switch (operation) {
        case 'converse': return converse(res);
        case 'converse-stream': return converseStream(res);
        case 'invoke': return invokeModel(modelId, res);
        case 'invoke-with-response-stream': return invokeModelStream(modelId, res);
      }
    });
  });
  server.on('session', (s) => {
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve, reject) => {
        for (const s of sessions) s.destroy();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}
