/**
 * A local stand-in for the Gemini Developer API (generativelanguage.googleapis.com, as `@google/genai`
 * and `@google/generative-ai` speak it) and for Gemini on Vertex AI ({location}-aiplatform.googleapis.com,
 * as `@google/genai` with `vertexai: true` and `@google-cloud/vertexai` speak it), answering with FIXED,
 * documented usage so tests can assert exact token counts. Point a client at it with
 * `httpOptions: { baseUrl: fake.url }` (`@google/genai`), `requestOptions: { baseUrl: fake.url }`
 * (`@google/generative-ai`) or `apiEndpoint: fake.host` (`@google-cloud/vertexai`, which always
 * writes `https://`); any API key or bearer token.
 *
 * Operations (any API version segment; the model is the path segment):
 *  - POST /{version}/models/{model}:generateContent                  (Developer API, `v1beta` by default)
 *  - POST /{version}/projects/{p}/locations/{l}/publishers/google/models/{model}:generateContent   (Vertex, `v1` or `v1beta1`)
 *  - the same with `:streamGenerateContent?alt=sse`: SSE, `data: <GenerateContentResponse>`
 *    events separated by CRLF CRLF as Google sends them; every chunk carries `usageMetadata`, the
 *    earlier ones with the prompt counts only, the last one complete (how the API reports a stream).
 *    Vertex answers carry `createTime` and `usageMetadata.trafficType` besides, as Vertex's
 *    `GenerateContentResponse` documents them.
 *
 * Usage semantics, as the API reference documents `UsageMetadata`: `promptTokenCount` INCLUDES
 * `cachedContentTokenCount`; `candidatesTokenCount` EXCLUDES `thoughtsTokenCount` (thinking is billed
 * at the output price on top of it); `totalTokenCount` = prompt + candidates + thoughts.
 *
 * Errors: a model `fail-model` gets HTTP 500 `INTERNAL`, `fail-model-429` a 429 `RESOURCE_EXHAUSTED`,
 * in Google's error JSON (`{ error: { code, message, status } }`). Completions contain COMPLETION_MARKER.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { COMPLETION_MARKER } from '../fake-provider.js';

/** Fixed usage of every Gemini answer (the API's own field names and meaning). */
export const FAKE_GEMINI_USAGE = {
  promptTokenCount: 1200, // cached content INCLUDED
  cachedContentTokenCount: 1024,
  candidatesTokenCount: 300, // thoughts EXCLUDED
  thoughtsTokenCount: 200,
  totalTokenCount: 1700, // 1200 + 300 + 200
} as const;

const TEXT_PIECES = ['Hello! ', COMPLETION_MARKER];
const RESPONSE_ID = 'fake-gemini-response-0001';

export interface GeminiRequest {
  method: 'generateContent' | 'streamGenerateContent';
  /** The model, as the path names it (`gemini-2.5-flash`). */
  model: string;
  /** `v1beta` or `v1` (Vertex: `v1` or `v1beta1`). */
  version: string;
  /** The project and location of a Vertex path; undefined on the Developer API's. */
  vertex?: { project: string; location: string };
  headers: http.IncomingHttpHeaders;
  body: any;
}

export interface FakeGemini {
  /** `http://127.0.0.1:PORT`: the client's base URL. */
  url: string;
  /** `127.0.0.1:PORT`: what `@google-cloud/vertexai` takes as `apiEndpoint`. */
  host: string;
  requests: GeminiRequest[];
  close(): Promise<void>;
}

const ROUTE = /^\/(v1beta|v1|v1alpha)\/models\/([^/:]+):(generateContent|streamGenerateContent)$/;
const VERTEX_ROUTE = /^\/(v1|v1beta1)\/projects\/([^/]+)\/locations\/([^/]+)\/publishers\/google\/models\/([^/:]+):(generateContent|streamGenerateContent)$/;

/** The request a path names, without its body and headers; undefined for any other path. */
function route(pathname: string): Pick<GeminiRequest, 'method' | 'model' | 'version' | 'vertex'> | undefined {
  const gemini = ROUTE.exec(pathname);
  if (gemini) return { method: gemini[3] as GeminiRequest['method'], model: decodeURIComponent(gemini[2]!), version: gemini[1]! };
  const vertex = VERTEX_ROUTE.exec(pathname);
  if (!vertex) return undefined;
  return {
    method: vertex[5] as GeminiRequest['method'],
    model: decodeURIComponent(vertex[4]!),
    version: vertex[1]!,
    vertex: { project: decodeURIComponent(vertex[2]!), location: decodeURIComponent(vertex[3]!) },
  };
}

function usageMetadata(vertex: boolean) {
  const u = FAKE_GEMINI_USAGE;
  return {
    ...u,
    promptTokensDetails: [{ modality: 'TEXT', tokenCount: u.promptTokenCount }],
    cacheTokensDetails: [{ modality: 'TEXT', tokenCount: u.cachedContentTokenCount }],
    ...(vertex ? { trafficType: 'ON_DEMAND' } : {}),
  };
}

/** Fields only Vertex's answers carry. */
function vertexFields(req: GeminiRequest) {
  return req.vertex ? { createTime: new Date().toISOString() } : {};
}

/** What a streamed chunk before the last one reports: the prompt is known, the output is not yet. */
function partialUsageMetadata() {
  const u = FAKE_GEMINI_USAGE;
  return {
    promptTokenCount: u.promptTokenCount,
    cachedContentTokenCount: u.cachedContentTokenCount,
    totalTokenCount: u.promptTokenCount,
    promptTokensDetails: [{ modality: 'TEXT', tokenCount: u.promptTokenCount }],
  };
}

function candidate(text: string, finished: boolean) {
  return {
    content: { parts: [{ text }], role: 'model' },
    ...(finished ? { finishReason: 'STOP' } : {}),
    index: 0,
  };
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function sendError(res: http.ServerResponse, status: 500 | 429 | 404, message: string): void {
  const name = status === 500 ? 'INTERNAL' : status === 429 ? 'RESOURCE_EXHAUSTED' : 'NOT_FOUND';
  sendJson(res, status, { error: { code: status, message, status: name } });
}

function failStatus(model: string): 500 | 429 | undefined {
  if (model === 'fail-model') return 500;
  if (model === 'fail-model-429') return 429;
  return undefined;
}

function answer(req: GeminiRequest, res: http.ServerResponse): void {
  const fail = failStatus(req.model);
  if (fail === 500) return sendError(res, 500, 'Internal error encountered.');
  if (fail === 429) return sendError(res, 429, 'Resource has been exhausted (e.g. check quota).');
  if (req.method === 'generateContent') {
    sendJson(res, 200, {
      candidates: [candidate(TEXT_PIECES.join(''), true)],
      usageMetadata: usageMetadata(req.vertex !== undefined),
      modelVersion: req.model,
      ...vertexFields(req),
      responseId: RESPONSE_ID,
    });
    return;
  }
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  TEXT_PIECES.forEach((piece, i) => {
    const last = i === TEXT_PIECES.length - 1;
    const chunk = {
      candidates: [candidate(piece, last)],
      usageMetadata: last ? usageMetadata(req.vertex !== undefined) : partialUsageMetadata(),
      modelVersion: req.model,
      ...vertexFields(req),
      responseId: RESPONSE_ID,
    };
    res.write(`data: ${JSON.stringify(chunk)}\r\n\r\n`);
  });
  res.end();
}

export async function startFakeGemini(): Promise<FakeGemini> {
  const requests: GeminiRequest[] = [];
  const sockets = new Set<Socket>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://fake');
      const routed = route(url.pathname);
      if (req.method !== 'POST' || !routed) return sendError(res, 404, `no route ${req.method} ${url.pathname}`);
      if (routed.method === 'streamGenerateContent' && url.searchParams.get('alt') !== 'sse') {
        return sendError(res, 404, 'this fake streams Server-Sent Events only (alt=sse)');
      }
      let body: unknown;
      try {
        body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : {};
      } catch {
        return sendJson(res, 400, { error: { code: 400, message: 'Invalid JSON payload received.', status: 'INVALID_ARGUMENT' } });
      }
      const request: GeminiRequest = { ...routed, headers: req.headers, body };
      requests.push(request);
      answer(request, res);
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
