/**
 * One OTLP trace request's body (decompressed) → its spans, or → its rows: the part of
 * POST /v1/traces that runs on the mapping thread (mapRequest), or on the collector's own thread
 * while that thread is not available (decodeRequest, then the ledger maps).
 *
 * OTLP/protobuf requests are prefiltered first (prefilter.ts: ordinary spans dropped unread);
 * decode errors are numbered as in the original request either way.
 */
import type { MappedBatch } from '../delivery/ledger.js';
import { mapBatch } from '../delivery/map-batch.js';
import type { UsageMapper } from '../usage/mapper.js';
import { decodeTraceRequest, OtlpDecodeError, type DecodedTraces, type OtlpEncoding } from './otlp/decode.js';
import { prefilterProtobuf, renumberErrors } from './prefilter.js';

export interface DecodedRequest {
  decoded: DecodedTraces;
  /** Spans in the request, the prefiltered ones included. */
  received: number;
  /** Ordinary spans the prefilter dropped unread. */
  prefiltered: number;
}

/** Throws OtlpDecodeError for a body that cannot be decoded. */
export function decodeRequest(body: Uint8Array, encoding: OtlpEncoding, prefilter: boolean): DecodedRequest {
  if (encoding === 'protobuf' && prefilter) {
    const filtered = prefilterProtobuf(body);
    const decoded = filtered.body ? decodeTraceRequest(filtered.body, encoding) : { spans: [], rejected: 0, errors: [] };
    if (filtered.keptIndex) {
      decoded.errors = renumberErrors(decoded.errors, filtered.keptIndex);
      return { decoded, received: filtered.total, prefiltered: filtered.total - filtered.kept };
    }
    return { decoded, received: decoded.spans.length + decoded.rejected, prefiltered: 0 };
  }
  const decoded = decodeTraceRequest(body, encoding);
  return { decoded, received: decoded.spans.length + decoded.rejected, prefiltered: 0 };
}

/** A request for the mapping thread. */
export interface RequestJob {
  body: Uint8Array;
  encoding: OtlpEncoding;
  prefilter: boolean;
  /** The org of the request's token, which wins over what the spans claim. */
  org: string | undefined;
}

/** A request mapped: its counts, decode errors and rows. */
export interface MappedRequest {
  received: number;
  prefiltered: number;
  /** Spans the decoder rejected as malformed, and the first reasons. */
  rejected: number;
  errors: string[];
  mapped: MappedBatch;
}

/** `invalid`: the body cannot be decoded (OtlpDecodeError's message; answer 400). */
export type RequestOutcome = MappedRequest | { invalid: string };

export function mapRequest(mapper: UsageMapper, job: RequestJob): RequestOutcome {
  let request: DecodedRequest;
  try {
    request = decodeRequest(job.body, job.encoding, job.prefilter);
  } catch (error) {
    if (error instanceof OtlpDecodeError) return { invalid: error.message };
    throw error;
  }
  const { decoded, received, prefiltered } = request;
  return { received, prefiltered, rejected: decoded.rejected, errors: decoded.errors, mapped: mapBatch(mapper, decoded.spans, job.org) };
}
