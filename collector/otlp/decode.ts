/**
 * OTLP/HTTP trace decoding: an ExportTraceServiceRequest body (protobuf or JSON) → SpanRecord[],
 * plus the ExportTraceServiceResponse encoder and the content-type / file sniffing helpers used by
 * the collector and the `usage` CLI.
 *
 * Malformed spans (bad ids, missing or inverted times, malformed attributes in JSON) are counted in
 * `rejected` with a reason and skipped; the rest of the request is kept. A body that cannot be
 * decoded at all throws OtlpDecodeError (answer 400, never retried by OTLP clients).
 */
import protobuf from 'protobufjs';
import type { DecodedTraces, DecodeOptions, OtlpEncoding } from './common.js';
import { decodeJsonTraces } from './decode-json.js';
import { decodeProtobufTraces } from './decode-protobuf.js';
import { ExportTraceServiceResponse } from './schema.js';

export type { DecodedTraces, DecodeOptions, OtlpEncoding } from './common.js';
export { MAX_REPORTED_ERRORS } from './common.js';
export { OtlpBodyTooLargeError, OtlpContentEncodingError, OtlpDecodeError } from './errors.js';
export { DEFAULT_MAX_DECOMPRESSED_BYTES, maybeGunzip, type GunzipOptions } from './gzip.js';

/** Decodes an uncompressed ExportTraceServiceRequest body. Throws OtlpDecodeError if undecodable. */
export function decodeTraceRequest(body: Uint8Array, encoding: OtlpEncoding, options: DecodeOptions = {}): DecodedTraces {
  const max = options.maxAttributeValueLength;
  const maxLength = max !== undefined && max >= 0 ? max : Infinity;
  return encoding === 'json' ? decodeJsonTraces(body, maxLength) : decodeProtobufTraces(body, maxLength);
}

/** `application/x-protobuf` (or `application/protobuf`) → protobuf, `application/json` → json, else null. */
export function encodingForContentType(contentType: string | undefined | null): OtlpEncoding | null {
  if (!contentType) return null;
  const semi = contentType.indexOf(';');
  const mime = (semi === -1 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
  if (mime === 'application/x-protobuf' || mime === 'application/protobuf') return 'protobuf';
  if (mime === 'application/json') return 'json';
  return null;
}

/**
 * The ExportTraceServiceResponse body. `partial_success` is set only when spans were rejected;
 * JSON follows the protobuf JSON mapping (lowerCamelCase, int64 `rejectedSpans` as a decimal string).
 */
export function encodeTraceResponse(
  encoding: OtlpEncoding,
  partial?: { rejectedSpans: number; errorMessage: string },
): Uint8Array {
  const rejected = partial !== undefined && partial.rejectedSpans > 0 ? Math.floor(partial.rejectedSpans) : 0;
  if (encoding === 'json') {
    const body =
      rejected > 0 && partial
        ? { partialSuccess: { rejectedSpans: String(rejected), errorMessage: partial.errorMessage } }
        : {};
    return Buffer.from(JSON.stringify(body), 'utf8');
  }
  const message =
    rejected > 0 && partial ? { partialSuccess: { rejectedSpans: rejected, errorMessage: partial.errorMessage } } : {};
  return ExportTraceServiceResponse.encode(message).finish();
}

/**
 * Guesses a file's encoding: JSON when the first non-whitespace byte is `{`, else protobuf.
 * A protobuf request starts with 0x0A (field 1, length-delimited), which is also '\n'; when the
 * body starts with whitespace and then '{', it is called protobuf only if it frames exactly as a
 * sequence of `resource_spans` fields.
 */
export function sniffEncoding(body: Uint8Array): OtlpEncoding {
  let i = 0;
  if (body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf) i = 3; // UTF-8 BOM
  const start = i;
  while (i < body.length) {
    const b = body[i]!;
    if (b !== 0x20 && b !== 0x0a && b !== 0x0d && b !== 0x09) break;
    i++;
  }
  if (body[i] !== 0x7b) return 'protobuf';
  if (i === start || body[0] !== 0x0a) return 'json';
  return framesAsTraceRequest(body) ? 'protobuf' : 'json';
}

function framesAsTraceRequest(body: Uint8Array): boolean {
  try {
    const reader = protobuf.Reader.create(body);
    while (reader.pos < reader.len) {
      if (reader.uint32() !== 0x0a) return false;
      reader.skipType(2);
    }
    return reader.pos === reader.len;
  } catch {
    return false;
  }
}
