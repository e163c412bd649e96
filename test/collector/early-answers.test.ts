/**
 * Answers given before the request body was read (401, 413, 415) reach a client that is still
 * writing its body, instead of a broken pipe: an OTLP exporter streaming its (gzipped) body must
 * see the 401 or 413 (not retried), not EPIPE/ECONNRESET (retried as a network error). The
 * collector used to answer and close at once; this failed `collector.e2e.test.ts` now and then.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { scrape, startCollectorProcess, type CollectorProcess } from './support/collector-process.js';

const TOKEN = 'tok-early-0123456789abcdef';
const base = mkdtempSync(join(tmpdir(), 'genai-ledger-early-answers-'));
let collector: CollectorProcess;

beforeAll(async () => {
  collector = await startCollectorProcess(join(base, 'store'), ['--max-body-bytes', '1MiB'], {
    GENAI_LEDGER_TOKENS: JSON.stringify([{ token: TOKEN }]),
  });
});

afterAll(async () => {
  await collector?.stop('SIGKILL').catch(() => undefined);
  rmSync(base, { recursive: true, force: true });
});

const CHUNK = Buffer.alloc(64 * 1024);
const CHUNKS = 32; // 2 MiB, twice the limit

interface Outcome {
  status?: number;
  /** The answer came after the client had sent its whole body (the server took it first). */
  afterBody?: boolean;
  error?: string;
}

/**
 * POSTs 2 MiB in 64 KiB chunks, a few ms apart (a body still arriving when the server could
 * answer). Answering early and closing makes the client's next write fail, or not, depending on
 * which of the answer and the reset it reads first; the server taking the whole body before
 * answering is what can be checked every time.
 */
function streamBody(headers: Record<string, string>, keepAlive: boolean): Promise<Outcome> {
  return new Promise((resolve) => {
    const agent = keepAlive ? new http.Agent({ keepAlive: true }) : false;
    const outcome: Outcome = {};
    let sent = 0;
    let answered = false;
    let written = false;
    const done = (): void => {
      if (answered && written) {
        if (agent) agent.destroy();
        resolve(outcome);
      }
    };
    const req = http.request(`${collector.url}/v1/traces`, { method: 'POST', headers, agent }, (res) => {
      outcome.status = res.statusCode;
      outcome.afterBody = sent >= CHUNKS;
      res.resume();
      res.on('end', () => {
        answered = true;
        done();
      });
    });
    req.on('error', (error: NodeJS.ErrnoException) => {
      outcome.error = error.code ?? error.message;
      answered = written = true;
      done();
    });
    req.on('finish', () => {
      written = true;
      done();
    });
    const next = (): void => {
      if (outcome.error) return;
      if (sent++ === CHUNKS) {
        req.end();
        return;
      }
      req.write(CHUNK);
      setTimeout(next, 2);
    };
    next();
  });
}

const pb = 'application/x-protobuf';
const sized = { 'content-length': String(CHUNKS * CHUNK.length) };

test.each<{ what: string; headers: Record<string, string>; status: number }>([
  { what: 'no token', headers: { 'content-type': pb, ...sized }, status: 401 },
  { what: 'a declared body over the limit', headers: { 'content-type': pb, authorization: `Bearer ${TOKEN}`, ...sized }, status: 413 },
  { what: 'a chunked body growing over the limit', headers: { 'content-type': pb, authorization: `Bearer ${TOKEN}` }, status: 413 },
  { what: 'an unknown content type', headers: { 'content-type': 'text/xml', authorization: `Bearer ${TOKEN}`, ...sized }, status: 415 },
])('$what: the client writing its body gets $status, not a broken pipe (keep-alive and not)', async ({ headers, status }) => {
  for (const keepAlive of [false, true]) {
    for (let i = 0; i < 3; i++) {
      expect(await streamBody(headers, keepAlive), `keepAlive ${keepAlive}, try ${i}`).toEqual({ status, afterBody: true });
    }
  }
  expect((await scrape(collector.url)).get(`genai_ledger_http_requests_total{route="/v1/traces",code="${status}"}`)).toBeGreaterThanOrEqual(6);
});
