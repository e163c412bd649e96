/**
 * `POST /v1/traces`: OTLP/HTTP trace export, exactly as the official OTLP exporters send it
 * (protobuf or JSON, gzip/deflate or not).
 *
 * The write path, in order:
 *   authenticate → content type → read body (≤ maxBodyBytes) → decompress (≤ maxDecompressedBytes)
 *   → prefilter (protobuf: ordinary spans dropped unread) → decode → [hook] → then either
 *     - with a spool (`ledger.durable`): await ledger.ingestDurable (maps, appends, fdatasync), or
 *     - without: admission (queue headroom) → ledger.ingest (maps, enqueues; synchronous)
 *   → 200 ExportTraceServiceResponse (partial_success when spans were malformed).
 * With a spool a 200 means the request's rows are on disk: they reach ClickHouse from there, through
 * ClickHouse outages and process crashes. A full spool answers 503 + Retry-After (413 when the
 * request alone is larger than the whole spool); a spool write/fsync failure, or a closed spool, 503.
 * The hook is where a write-ahead spool goes later: it receives the decoded batch (and the whole
 * decompressed body) and may await an fsync before the request is acknowledged; a hook that throws
 * makes the answer 503 (retried).
 *
 * Answers: 401 (+ WWW-Authenticate: Bearer) missing/wrong token; 415 unknown content type or
 * encoding; 413 body too large; 400 undecodable body (never retried by OTLP clients); 429 +
 * Retry-After when the writer's queue has no room (retried, honouring Retry-After); 503 while
 * shutting down or when the spool is full or failing. Error bodies are google.rpc.Status in the request's encoding, as OTLP/HTTP asks.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import protobuf from 'protobufjs';
import {
  decodeTraceRequest, encodeTraceResponse, encodingForContentType, maybeGunzip,
  OtlpBodyTooLargeError, OtlpContentEncodingError, OtlpDecodeError, type DecodedTraces, type OtlpEncoding,
} from './otlp/decode.js';
import type { IngestResult, LedgerStats } from '../exporter/ledger.js';
import type { SpanRecord } from '../exporter/span-record.js';
import { countAiCalls, type QueueAdmission } from './admission.js';
import type { TokenAuthenticator } from './auth.js';
import { BodyTooLargeError, ClientAbortedError, closeAfterResponse, readBody, send } from './http.js';
import type { Logger } from './log.js';
import type { CollectorMetrics } from './metrics.js';
import { prefilterProtobuf, renumberErrors } from './prefilter.js';
import { SpoolClosedError, SpoolFullError, SpoolWriteError } from '../exporter/spool/errors.js';

/** What the handler needs of a Ledger (a test double can stand in). */
export interface LedgerSink {
  ingest(spans: readonly SpanRecord[], orgId?: string): IngestResult;
  flush(): Promise<void>;
  readonly stats: LedgerStats;
  /** True when the ledger has a write-ahead spool: requests are then answered after `ingestDurable`. */
  readonly durable?: boolean;
  /** Resolves once the rows are fsync'd in the spool; rejects with SpoolFullError / SpoolWriteError / SpoolClosedError. */
  ingestDurable?(spans: readonly SpanRecord[], orgId?: string): Promise<IngestResult>;
}

/** One decoded request, as the hook sees it. */
export interface TraceBatch {
  encoding: OtlpEncoding;
  /** The request body after decompression (what a spool would store). */
  body: Uint8Array;
  spans: SpanRecord[];
  /** Spans the decoder rejected as malformed. */
  rejected: number;
  errors: string[];
  /** Org of the request's token; undefined when the spans decide. */
  org: string | undefined;
}

/**
 * Runs between decoding and ingesting. Resolve to go on; throw to refuse the request with 503
 * (the client retries). The later on-disk spool appends and fsyncs here.
 */
export type IngestHook = (batch: TraceBatch) => Promise<void> | void;

export interface TracesHandlerOptions {
  ledger: LedgerSink;
  auth: TokenAuthenticator;
  admission: QueueAdmission;
  metrics: CollectorMetrics;
  log: Logger;
  maxBodyBytes: number;
  maxDecompressedBytes: number;
  retryAfterSeconds: number;
  hook?: IngestHook;
  /** How long a request larger than the whole queue may wait for room, slice by slice. Default 30 s. */
  oversizedWaitMs?: number;
  /** Skip ordinary spans of protobuf requests before decoding them (prefilter.ts). Default true. */
  prefilter?: boolean;
  /** Called after rows were enqueued (the idle flusher listens). */
  onIngested?: (rows: number) => void;
}

// google.rpc.Status, the OTLP/HTTP error body.
const StatusType = new protobuf.Type('Status')
  .add(new protobuf.Field('code', 1, 'int32'))
  .add(new protobuf.Field('message', 2, 'string'));
new protobuf.Root().define('google.rpc').add(StatusType);

const GRPC_CODE: Record<number, number> = { 400: 3, 401: 16, 413: 3, 415: 3, 429: 8, 500: 13, 503: 14 };

const DEBUG_SLOW_INGESTS = process.env.GENAI_LEDGER_SPOOL_DEBUG === '1';

const CONTENT_TYPE: Record<OtlpEncoding, string> = { protobuf: 'application/x-protobuf', json: 'application/json' };

function sendStatus(res: ServerResponse, status: number, message: string, encoding: OtlpEncoding, headers: Record<string, string> = {}): void {
  const code = GRPC_CODE[status] ?? 2;
  const body = encoding === 'json'
    ? JSON.stringify({ code, message })
    : StatusType.encode(StatusType.create({ code, message })).finish();
  send(res, status, body, CONTENT_TYPE[encoding], headers);
}

export function createTracesHandler(options: TracesHandlerOptions) {
  const { ledger, auth, admission, metrics, log } = options;
  const retryAfter = { 'retry-after': String(options.retryAfterSeconds) };
  const oversizedWaitMs = options.oversizedWaitMs ?? 30_000;
  const prefilter = options.prefilter ?? true;

  return async function handleTraces(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const contentType = req.headers['content-type'];
    const encoding = encodingForContentType(contentType);
    const principal = auth.authenticate(req.headers);
    if (!principal) {
      metrics.refused.inc({ reason: 'unauthorized' });
      sendStatus(res, 401, 'missing or invalid bearer token', encoding ?? 'json', { 'www-authenticate': 'Bearer realm="genai-ledger"' });
      return;
    }
    if (!encoding) {
      metrics.refused.inc({ reason: 'unsupported' });
      sendStatus(res, 415, `unsupported content type '${String(contentType ?? '').slice(0, 60)}' (use application/x-protobuf or application/json)`, 'json');
      return;
    }

    let decoded: DecodedTraces;
    let body: Uint8Array;
    let received: number;
    try {
      const raw = await readBody(req, options.maxBodyBytes);
      body = maybeGunzip(raw, req.headers['content-encoding'], { maxDecompressedBytes: options.maxDecompressedBytes });
      if (encoding === 'protobuf' && prefilter) {
        // Ordinary spans are dropped before decoding (prefilter.ts); only possible AI calls are decoded.
        const filtered = prefilterProtobuf(body);
        decoded = filtered.body ? decodeTraceRequest(filtered.body, encoding) : { spans: [], rejected: 0, errors: [] };
        if (filtered.keptIndex) {
          decoded.errors = renumberErrors(decoded.errors, filtered.keptIndex);
          received = filtered.total;
          metrics.spansPrefiltered.inc(undefined, filtered.total - filtered.kept);
        } else {
          received = decoded.spans.length + decoded.rejected;
        }
      } else {
        decoded = decodeTraceRequest(body, encoding);
        received = decoded.spans.length + decoded.rejected;
      }
    } catch (error) {
      if (error instanceof BodyTooLargeError || error instanceof OtlpBodyTooLargeError) {
        metrics.refused.inc({ reason: 'too_large' });
        if (error instanceof BodyTooLargeError) closeAfterResponse(req, res);
        sendStatus(res, 413, error.message, encoding);
      } else if (error instanceof OtlpContentEncodingError) {
        metrics.refused.inc({ reason: 'unsupported' });
        sendStatus(res, 415, error.message, encoding);
      } else if (error instanceof OtlpDecodeError) {
        metrics.refused.inc({ reason: 'bad_request' });
        log.debug('undecodable trace request', { error: error.message });
        sendStatus(res, 400, error.message, encoding);
      } else if (error instanceof ClientAbortedError) {
        res.destroy();
      } else {
        throw error;
      }
      return;
    }

    metrics.spansReceived.inc(undefined, received);
    if (decoded.rejected > 0) metrics.spansRejected.inc({ stage: 'decode' }, decoded.rejected);

    if (options.hook) {
      try {
        await options.hook({ encoding, body, spans: decoded.spans, rejected: decoded.rejected, errors: decoded.errors, org: principal.org });
      } catch (error) {
        log.warn('ingest hook refused a trace request', { error: error instanceof Error ? error.message : String(error) });
        sendStatus(res, 503, 'the collector cannot take this request now', encoding, retryAfter);
        return;
      }
    }

    let result: IngestResult;
    if (ledger.durable && ledger.ingestDurable) {
      // Durable: the spool bounds what waits (by bytes on disk), so the in-memory queue's
      // admission does not apply; 200 only once the rows are fsync'd.
      try {
        const t0 = performance.now();
        result = await ledger.ingestDurable(decoded.spans, principal.org);
        if (DEBUG_SLOW_INGESTS && performance.now() - t0 > 30) {
          // Diagnostics (bench/soak --trace): a durable ingest (map + spool append + fsync) over 30 ms.
          process.stderr.write(`TRACE ingestDurable ${JSON.stringify({ t: Date.now(), ms: Math.round((performance.now() - t0) * 10) / 10, spans: decoded.spans.length })}\n`);
        }
      } catch (error) {
        if (error instanceof SpoolFullError) {
          if (error.requestedBytes > error.maxBytes) {
            metrics.refused.inc({ reason: 'too_large' });
            sendStatus(res, 413, `the request's rows (${error.requestedBytes} bytes) can never fit the spool (${error.maxBytes} bytes); split it`, encoding);
          } else {
            metrics.refused.inc({ reason: 'spool_full' });
            log.debug('spool full, asking the client to retry', { requestedBytes: error.requestedBytes, usedBytes: error.usedBytes });
            sendStatus(res, 503, 'the spool is full (ClickHouse is behind); retry later', encoding, retryAfter);
          }
        } else if (error instanceof SpoolWriteError || error instanceof SpoolClosedError) {
          metrics.refused.inc({ reason: 'spool_error' });
          log.warn('cannot spool a trace request', { error: error.message });
          sendStatus(res, 503, 'the collector cannot store this request now; retry later', encoding, retryAfter);
        } else {
          throw error;
        }
        return;
      }
    } else {
      const calls = countAiCalls(decoded.spans);
      if (admission.hasRoom(calls)) {
        result = ledger.ingest(decoded.spans, principal.org);
      } else if (admission.fitsEver(calls)) {
        metrics.refused.inc({ reason: 'queue_full' });
        log.debug('queue full, asking the client to retry', { aiSpans: calls, queuedRows: ledger.stats.queuedRows });
        sendStatus(res, 429, 'the write queue is full; retry later', encoding, retryAfter);
        return;
      } else {
        const sliced = await ingestInSlices(decoded.spans, principal.org, oversizedWaitMs);
        if (!sliced) {
          metrics.refused.inc({ reason: 'queue_full' });
          sendStatus(res, 503, 'the write queue stayed full; retry later', encoding, retryAfter);
          return;
        }
        result = sliced;
      }
    }

    if (result.malformed > 0) metrics.spansRejected.inc({ stage: 'map' }, result.malformed);
    if (result.dropped > 0) {
      // The queue filled between the estimate and the enqueue (rows larger than estimated): the
      // client retries the whole request; rows that did get in collapse with their retry (ai_usage
      // deduplicates by span, reports read ai_usage_exact).
      log.warn('write queue overflowed while ingesting; asking the client to retry', { dropped: result.dropped, rows: result.rows });
      metrics.refused.inc({ reason: 'queue_full' });
      sendStatus(res, 429, 'the write queue is full; retry later', encoding, retryAfter);
      return;
    }

    if (result.rows > 0) options.onIngested?.(result.rows);
    const rejected = decoded.rejected + result.malformed;
    const partial = rejected > 0
      ? { rejectedSpans: rejected, errorMessage: `${rejected} of ${received} spans rejected: ${[...decoded.errors, ...result.errors].slice(0, 3).join('; ')}` }
      : undefined;
    if (partial) log.debug('partial success', { rejected, received });
    send(res, 200, encodeTraceResponse(encoding, partial), CONTENT_TYPE[encoding]);
  };

  /** A request with more AI spans than the queue ever holds: fed slice by slice as room frees. */
  async function ingestInSlices(spans: SpanRecord[], org: string | undefined, waitMs: number): Promise<IngestResult | undefined> {
    const deadline = Date.now() + waitMs;
    const total: IngestResult = { rows: 0, skipped: 0, malformed: 0, dropped: 0, errors: [] };
    const limit = admission.sliceRows();
    let start = 0;
    while (start < spans.length) {
      let end = start;
      let calls = 0;
      while (end < spans.length && calls + countAiCalls([spans[end]!]) <= limit) {
        calls += countAiCalls([spans[end]!]);
        end++;
      }
      if (end === start) end++;
      while (!admission.hasRoom(calls)) {
        if (Date.now() > deadline) return start === 0 ? undefined : { ...total, dropped: total.dropped + 1 };
        await Promise.all([ledger.flush(), new Promise((resolve) => setTimeout(resolve, 10))]);
      }
      const r = ledger.ingest(spans.slice(start, end), org);
      total.rows += r.rows;
      total.skipped += r.skipped;
      total.malformed += r.malformed;
      total.dropped += r.dropped;
      total.errors.push(...r.errors.slice(0, 10 - total.errors.length));
      start = end;
    }
    return total;
  }
}
