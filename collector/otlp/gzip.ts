/** Content-Encoding handling for OTLP/HTTP bodies, with a decompressed-size cap (zip-bomb guard). */
import { gunzipSync, inflateRawSync, inflateSync, type ZlibOptions } from 'node:zlib';
import { OtlpBodyTooLargeError, OtlpContentEncodingError, OtlpDecodeError } from './errors.js';

/** Default cap on a (decompressed) OTLP body. */
export const DEFAULT_MAX_DECOMPRESSED_BYTES = 64 * 1024 * 1024;

export interface GunzipOptions {
  /** Largest body returned, after decompression (default 64 MiB). */
  readonly maxDecompressedBytes?: number;
}

/**
 * Returns the body decoded per `Content-Encoding`: `gzip`/`x-gzip` and `deflate` are inflated,
 * `identity` or none is returned as is. Decompression stops as soon as the output passes
 * `maxDecompressedBytes` (OtlpBodyTooLargeError, HTTP 413); a corrupt stream is an
 * OtlpDecodeError (400); any other encoding is an OtlpContentEncodingError (415).
 */
export function maybeGunzip(
  body: Uint8Array,
  contentEncoding: string | undefined | null,
  options: GunzipOptions = {},
): Uint8Array {
  const max = options.maxDecompressedBytes ?? DEFAULT_MAX_DECOMPRESSED_BYTES;
  const encoding = (contentEncoding ?? '').trim().toLowerCase();
  if (encoding === '' || encoding === 'identity') {
    if (body.byteLength > max) throw new OtlpBodyTooLargeError(max);
    return body;
  }
  const zlibOptions: ZlibOptions = { maxOutputLength: Math.max(1, max) };
  if (encoding === 'gzip' || encoding === 'x-gzip') {
    return inflate(() => gunzipSync(body, zlibOptions), max, 'gzip');
  }
  if (encoding === 'deflate') {
    // RFC 9110 deflate is zlib-wrapped; some clients send raw deflate, so fall back to it.
    try {
      return inflate(() => inflateSync(body, zlibOptions), max, 'deflate');
    } catch (err) {
      if (!(err instanceof OtlpDecodeError)) throw err;
      return inflate(() => inflateRawSync(body, zlibOptions), max, 'deflate');
    }
  }
  throw new OtlpContentEncodingError(encoding);
}

function inflate(run: () => Buffer, max: number, name: string): Uint8Array {
  let out: Buffer;
  try {
    out = run();
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ERR_BUFFER_TOO_LARGE') throw new OtlpBodyTooLargeError(max);
    throw new OtlpDecodeError(`invalid ${name} body: ${e.message ?? String(err)}`);
  }
  if (out.byteLength > max) throw new OtlpBodyTooLargeError(max);
  return out;
}
