/** Errors raised while turning an OTLP/HTTP trace body into spans. */

/**
 * The whole body cannot be decoded (not protobuf / not JSON / wrong top-level shape).
 * The message is one line, safe to return to the sender in a 400 response.
 */
export class OtlpDecodeError extends Error {
  override readonly name: string = 'OtlpDecodeError';
}

/** The body, after decompression, would exceed the configured limit (HTTP 413). */
export class OtlpBodyTooLargeError extends Error {
  override readonly name = 'OtlpBodyTooLargeError';
  constructor(readonly limitBytes: number) {
    super(`decompressed OTLP body exceeds the ${limitBytes}-byte limit`);
  }
}

/** Content-Encoding the collector does not understand (HTTP 415). */
export class OtlpContentEncodingError extends Error {
  override readonly name = 'OtlpContentEncodingError';
  constructor(readonly contentEncoding: string) {
    super(`unsupported Content-Encoding '${contentEncoding.slice(0, 40)}' (supported: gzip, deflate, identity)`);
  }
}
