/**
 * The collector's HTTP layer: a node:http server, an exact-path router that counts and times
 * every answer, bounded body reading, and small response helpers. Route handlers live in their
 * own modules (traces-handler.ts, query-endpoint.ts, health.ts).
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from './log.js';
import type { CollectorMetrics } from './metrics.js';

export type RouteHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void> | void;

export interface Route {
  /** Methods served; others get 405 with Allow. */
  methods: readonly string[];
  path: string;
  handler: RouteHandler;
  /** Still served while draining (health and metrics); other routes answer 503 then. */
  duringDrain?: boolean;
}

/** The request body exceeds the configured limit (HTTP 413). */
export class BodyTooLargeError extends Error {
  override readonly name = 'BodyTooLargeError';
  constructor(readonly limitBytes: number) {
    super(`request body exceeds the ${limitBytes}-byte limit`);
  }
}

/** The client went away before its body arrived. */
export class ClientAbortedError extends Error {
  override readonly name = 'ClientAbortedError';
}

/**
 * Reads the whole body, refusing more than `limit` bytes (a Content-Length above it is refused
 * before anything is read).
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) return Promise.reject(new BodyTooLargeError(limit));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        reject(new BodyTooLargeError(limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    const onError = (error: Error): void => {
      cleanup();
      reject(error);
    };
    const onClose = (): void => {
      if (req.complete) return;
      cleanup();
      reject(new ClientAbortedError('the client closed the connection before sending its whole body'));
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

/** Most of an unread request body an early answer waits for (discarding it); beyond, it closes the connection. */
export const DISCARD_BODY_MAX_BYTES = 64 * 1024 * 1024;
/** Longest an early answer waits for the rest of the request body. */
export const DISCARD_BODY_MAX_MS = 10_000;

/**
 * Answers. An answer given before the request body was read (401, 415, 413, 404, 503 while
 * draining) is sent once the rest of the body has arrived, discarded: a server that answers and
 * closes while the client is still writing makes the client's next write fail (EPIPE, ECONNRESET)
 * and can make it lose the answer (RFC 9112 §9.6), so an OTLP exporter would see a network error
 * and retry, not the 401 or 413. Bounded by DISCARD_BODY_MAX_BYTES / _MS; beyond, the answer goes
 * at once with `connection: close` (a client that big or that slow may then see the reset).
 */
export function send(
  res: ServerResponse,
  status: number,
  body: string | Uint8Array,
  contentType: string,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const answer = (close: boolean): void => {
    const payload = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
    res.writeHead(status, { 'content-type': contentType, 'content-length': String(payload.byteLength), ...headers, ...(close ? { connection: 'close' } : {}) });
    res.end(payload);
  };
  if (bodyUnread(res.req)) afterBody(res.req, res, answer);
  else answer(false);
}

function bodyUnread(req: IncomingMessage): boolean {
  if (req.readableEnded || req.destroyed) return false;
  return req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
}

/** Reads and drops the rest of the body, then answers (`close` when it stopped short of the end). */
function afterBody(req: IncomingMessage, res: ServerResponse, answer: (close: boolean) => void): void {
  if (Number(req.headers['content-length']) > DISCARD_BODY_MAX_BYTES) {
    answer(true);
    return;
  }
  let seen = 0;
  const finish = (outcome: 'read' | 'cut' | 'gone'): void => {
    clearTimeout(timer);
    req.off('data', onData);
    req.off('end', onEnd);
    req.off('close', onClose);
    if (outcome === 'gone') res.destroy();
    else answer(outcome === 'cut');
  };
  const onData = (chunk: Buffer): void => {
    seen += chunk.length;
    if (seen > DISCARD_BODY_MAX_BYTES) finish('cut');
  };
  const onEnd = (): void => finish('read');
  const onClose = (): void => {
    if (!req.readableEnded) finish('gone');
  };
  const timer = setTimeout(() => finish('cut'), DISCARD_BODY_MAX_MS);
  req.on('data', onData);
  req.on('end', onEnd);
  req.on('close', onClose);
  req.resume();
}

export function sendJson(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  send(res, status, JSON.stringify(value), 'application/json', headers);
}

/**
 * Ends the connection after this response (a client that sent too much starts afresh). send()
 * first reads the rest of the body, so the client gets the answer, not a reset.
 */
export function closeAfterResponse(_req: IncomingMessage, res: ServerResponse): void {
  res.setHeader('connection', 'close');
}

export interface RouterOptions {
  metrics: CollectorMetrics;
  log: Logger;
  /** True once shutdown began: routes without `duringDrain` answer 503. */
  draining: () => boolean;
  retryAfterSeconds: number;
}

/** Exact-path routing; every answer is counted by route and code, and timed. */
export function createRouter(routes: readonly Route[], options: RouterOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const byPath = new Map(routes.map((r) => [r.path, r]));
  return (req, res) => {
    const started = process.hrtime.bigint();
    const path = (req.url ?? '/').split('?', 1)[0]!;
    const route = byPath.get(path);
    const label = route ? route.path : 'other';
    res.once('finish', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      options.metrics.requests.inc({ route: label, code: String(res.statusCode) });
      options.metrics.requestDuration.observe(seconds, { route: label });
    });
    if (options.draining()) res.setHeader('connection', 'close');
    if (!route) {
      sendJson(res, 404, { error: `no route ${req.method} ${path.slice(0, 100)}` });
      return;
    }
    if (!route.methods.includes(req.method ?? '')) {
      sendJson(res, 405, { error: `${req.method} not allowed on ${route.path}` }, { allow: route.methods.join(', ') });
      return;
    }
    if (options.draining() && !route.duringDrain) {
      options.metrics.refused.inc({ reason: 'draining' });
      sendJson(res, 503, { error: 'the collector is shutting down' }, { 'retry-after': String(options.retryAfterSeconds) });
      return;
    }
    let result: Promise<void> | void;
    try {
      result = route.handler(req, res);
    } catch (error) {
      internalError(res, options.log, route.path, error);
      return;
    }
    if (result) result.catch((error: unknown) => internalError(res, options.log, route.path, error));
  };
}

function internalError(res: ServerResponse, log: Logger, route: string, error: unknown): void {
  log.error('request failed', { route, error: error instanceof Error ? error.message : String(error) });
  if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
  else res.destroy();
}

export interface HttpServerHandle {
  server: http.Server;
  /** The URL clients use (`http://host:port`, 127.0.0.1 when listening on every interface). */
  url: string;
  port: number;
  /** Requests whose answer has not finished yet. */
  inFlight(): number;
  /** Stops accepting connections, closes idle ones; resolves when every in-flight request has been answered. */
  stop(timeoutMs: number): Promise<boolean>;
}

export async function listen(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  options: { host: string; port: number; keepAliveTimeoutMs?: number },
): Promise<HttpServerHandle> {
  let inFlight = 0;
  const idleWaiters: Array<() => void> = [];
  const sockets = new Set<Socket>();
  const server = http.createServer((req, res) => {
    inFlight++;
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      inFlight--;
      if (inFlight === 0) for (const wake of idleWaiters.splice(0)) wake();
    };
    res.once('finish', finish);
    res.once('close', finish);
    handler(req, res);
  });
  server.keepAliveTimeout = options.keepAliveTimeoutMs ?? 30_000;
  server.headersTimeout = Math.max(server.keepAliveTimeout + 1000, 60_000);
  server.requestTimeout = 120_000;
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  const host = options.host === '0.0.0.0' || options.host === '::' || options.host === '' ? '127.0.0.1' : options.host;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  return {
    server,
    url,
    port,
    inFlight: () => inFlight,
    async stop(timeoutMs) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const idle = inFlight === 0 ? Promise.resolve() : new Promise<void>((resolve) => idleWaiters.push(resolve));
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), timeoutMs);
      });
      const outcome = await Promise.race([idle.then(() => 'idle' as const), timeout]);
      // Answered requests leave keep-alive connections behind: close them (their next request would get 503 anyway).
      server.closeIdleConnections();
      for (const socket of sockets) if (outcome === 'timeout') socket.destroy();
      const settled = await Promise.race([closed.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 1000))]);
      if (!settled) for (const socket of sockets) socket.destroy();
      clearTimeout(timer);
      return outcome === 'idle';
    },
  };
}
