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
 * Prefilter, decode and mapping run on the mapping thread when `mapping` is usable and no hook is
 * set; the ledger then takes the request's rows (ingestMapped / ingestMappedDurable).
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
  encodeTraceResponse, encodingForContentType, maybeGunzip,
  OtlpBodyTooLargeError, OtlpContentEncodingError, OtlpDecodeError, type OtlpEncoding,
} from './otlp/decode.js';
import type { IngestResult, LedgerStats, MappedBatch } from '../delivery/ledger.js';
import type { MappingThread } from '../delivery/mapping-thread.js';
import type { SpanRecord } from '../usage/span-record.js';
import { splitChunk } from '../clickhouse/row-chunk.js';
import { countAiCalls, type QueueAdmission } from './admission.js';
import type { TokenAuthenticator } from './auth.js';
import { BodyTooLargeError, ClientAbortedError, closeAfterResponse, readBody, send } from './http.js';
import type { Logger } from './log.js';
import type { CollectorMetrics } from './metrics.js';
import { decodeRequest, type RequestJob, type RequestOutcome } from './otlp-request.js';
import { submitRequest } from './request-job.js';
import { SpoolClosedError, SpoolFullError, SpoolWriteError } from '../delivery/spool/errors.js';

/** What the handler needs of a Ledger (a test double can stand in). */
export interface LedgerSink {
  ingest(spans: readonly SpanRecord[], orgId?: string): IngestResult;
  flush(): Promise<void>;
  readonly stats: LedgerStats;
  /** True when the ledger has a write-ahead spool: requests are then answered after `ingestDurable`. */
  readonly durable?: boolean;
  /** Resolves once the rows are fsync'd in the spool; rejects with SpoolFullError / SpoolWriteError / SpoolClosedError. */
  ingestDurable?(spans: readonly SpanRecord[], orgId?: string): Promise<IngestResult>;
  /** `ingest` / `ingestDurable` for rows mapped on the mapping thread (required with `mapping`). */
  ingestMapped?(batch: MappedBatch): IngestResult;
  ingestMappedDurable?(batch: MappedBatch): Promise<IngestResult>;
}

/** The mapping thread, as the handler uses it: decodes and maps whole requests off this thread. */
export interface RequestMapping {
  /** False while it starts and after it failed: requests are then decoded and mapped here. */
  readonly usable: boolean;
  /** Rejects when the thread failed with the request (the body went to it: answer 503, retried). */
  map(job: RequestJob): Promise<RequestOutcome>;
}

/** The mapping thread as the handler uses it; its failure is logged once (requests then stay on the collector's thread). */
export function requestMapping(thread: Pick<MappingThread, 'ready' | 'failed' | 'submit'>, log: Logger): RequestMapping {
  let reported = false;
  return {
    get usable() {
      const failure = thread.failed;
      if (failure && !reported) {
        reported = true;
        log.error('the mapping thread failed; requests are decoded and mapped on the collector\'s thread from now on', { error: failure.message });
      }
      return thread.ready && failure === undefined;
    },
    map: (job) => new Promise((resolve, reject) => {
      submitRequest(thread, job, (outcome) => (outcome instanceof Error ? reject(outcome) : resolve(outcome)));
    }),
  };
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
  /** Decode and map on the mapping thread when it is usable and no hook is set (the hook sees decoded spans). */
  mapping?: RequestMapping;
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
  const mapping = options.mapping;

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

    let request: Prepared;
    let body: Uint8Array;
    try {
      const raw = await readBody(req, options.maxBodyBytes);
      body = maybeGunzip(raw, req.headers['content-encoding'], { maxDecompressedBytes: options.maxDecompressedBytes });
      if (mapping?.usable && !options.hook) {
        let outcome: RequestOutcome;
        try {
          outcome = await mapping.map({ body, encoding, prefilter, org: principal.org });
        } catch (error) {
          log.warn('the mapping thread lost a trace request', { error: error instanceof Error ? error.message : String(error) });
          sendStatus(res, 503, 'the collector cannot take this request now', encoding, retryAfter);
          return;
        }
        if ('invalid' in outcome) throw new OtlpDecodeError(outcome.invalid);
        request = outcome;
      } else {
        // Ordinary spans of protobuf requests are dropped before decoding (prefilter.ts).
        const { decoded, received, prefiltered } = decodeRequest(body, encoding, prefilter);
        request = { received, prefiltered, rejected: decoded.rejected, errors: decoded.errors, spans: decoded.spans };
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

    const { received } = request;
    metrics.spansReceived.inc(undefined, received);
    if (request.prefiltered > 0) metrics.spansPrefiltered.inc(undefined, request.prefiltered);
    if (request.rejected > 0) metrics.spansRejected.inc({ stage: 'decode' }, request.rejected);

    if (options.hook && 'spans' in request) {
      try {
        await options.hook({ encoding, body, spans: request.spans, rejected: request.rejected, errors: request.errors, org: principal.org });
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
        result = 'spans' in request ? await ledger.ingestDurable(request.spans, principal.org) : await ledger.ingestMappedDurable!(request.mapped);
        if (DEBUG_SLOW_INGESTS && performance.now() - t0 > 30) {
          // Diagnostics (bench/soak --trace): a durable ingest (map + spool append + fsync) over 30 ms.
          process.stderr.write(`TRACE ingestDurable ${JSON.stringify({ t: Date.now(), ms: Math.round((performance.now() - t0) * 10) / 10, spans: received })}\n`);
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
      const calls = 'spans' in request ? countAiCalls(request.spans) : rowsOf(request.mapped);
      if (admission.hasRoom(calls)) {
        result = 'spans' in request ? ledger.ingest(request.spans, principal.org) : ledger.ingestMapped!(request.mapped);
      } else if (admission.fitsEver(calls)) {
        metrics.refused.inc({ reason: 'queue_full' });
        log.debug('queue full, asking the client to retry', { aiSpans: calls, queuedRows: ledger.stats.queuedRows });
        sendStatus(res, 429, 'the write queue is full; retry later', encoding, retryAfter);
        return;
      } else {
        const limit = admission.sliceRows();
        const parts = 'spans' in request ? spanParts(request.spans, principal.org, limit) : mappedParts(request.mapped, limit);
        const sliced = await ingestInSlices(parts, oversizedWaitMs);
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
    const rejected = request.rejected + result.malformed;
    const partial = rejected > 0
      ? { rejectedSpans: rejected, errorMessage: `${rejected} of ${received} spans rejected: ${[...request.errors, ...result.errors].slice(0, 3).join('; ')}` }
      : undefined;
    if (partial) log.debug('partial success', { rejected, received });
    send(res, 200, encodeTraceResponse(encoding, partial), CONTENT_TYPE[encoding]);
  };

  /** A request with more AI spans than the queue ever holds: fed part by part as room frees. */
  async function ingestInSlices(parts: readonly Part[], waitMs: number): Promise<IngestResult | undefined> {
    const deadline = Date.now() + waitMs;
    const total: IngestResult = { rows: 0, skipped: 0, malformed: 0, dropped: 0, errors: [] };
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i]!;
      while (!admission.hasRoom(part.calls)) {
        if (Date.now() > deadline) return i === 0 ? undefined : { ...total, dropped: total.dropped + 1 };
        await Promise.all([ledger.flush(), new Promise((resolve) => setTimeout(resolve, 10))]);
      }
      const r = part.ingest();
      total.rows += r.rows;
      total.skipped += r.skipped;
      total.malformed += r.malformed;
      total.dropped += r.dropped;
      total.errors.push(...r.errors.slice(0, 10 - total.errors.length));
    }
    return total;
  }

  /** Consecutive spans making at most `limit` rows each (a part holds one span at least). */
  function spanParts(spans: readonly SpanRecord[], org: string | undefined, limit: number): Part[] {
    const parts: Part[] = [];
    for (let start = 0; start < spans.length;) {
      let end = start;
      let calls = 0;
      for (; end < spans.length; end++) {
        const call = countAiCalls([spans[end]!]);
        if (end > start && calls + call > limit) break;
        calls += call;
      }
      const slice = spans.slice(start, end);
      parts.push({ calls, ingest: () => ledger.ingest(slice, org) });
      start = end;
    }
    return parts;
  }

  /** The mapped rows `limit` at a time; the batch's counts go with the first part. */
  function mappedParts(batch: MappedBatch, limit: number): Part[] {
    const parts: Part[] = [];
    let first: MappedBatch | undefined = { ...batch };
    let rest = batch.chunk;
    while (rest.rows > limit) {
      const [head, tail] = splitChunk(rest, limit);
      const part: MappedBatch = first ? { ...first, chunk: head } : { ...NO_COUNTS, chunk: head };
      parts.push({ calls: rowsOf(part), ingest: () => ledger.ingestMapped!(part) });
      first = undefined;
      rest = tail;
    }
    const last: MappedBatch = first ? { ...first, chunk: rest } : { ...NO_COUNTS, chunk: rest };
    parts.push({ calls: rowsOf(last), ingest: () => ledger.ingestMapped!(last) });
    return parts;
  }
}

/** A request after decoding: its spans (decoded here), or its rows (mapped on the mapping thread). */
type Prepared = { received: number; prefiltered: number; rejected: number; errors: string[] } & (
  | { spans: SpanRecord[] }
  | { mapped: MappedBatch }
);

/** Part of an oversized request: the rows it may make, and how to ingest it. */
interface Part {
  calls: number;
  ingest: () => IngestResult;
}

const NO_COUNTS: Omit<MappedBatch, 'chunk'> = { spans: 0, skipped: 0, aggregates: 0, malformed: 0, unpriced: 0, errors: [], unserializable: [] };

/** Rows a mapped batch makes (the unserializable ones are rejected, so never queued, but still made). */
function rowsOf(batch: MappedBatch): number {
  return batch.chunk.rows + batch.unserializable.length;
}
