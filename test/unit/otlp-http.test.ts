import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { deflateRawSync, deflateSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_MAX_DECOMPRESSED_BYTES,
  decodeTraceRequest,
  encodeTraceResponse,
  encodingForContentType,
  maybeGunzip,
  OtlpBodyTooLargeError,
  OtlpContentEncodingError,
  OtlpDecodeError,
  sniffEncoding,
} from '../../collector/otlp/decode.js';
import { ExportTraceServiceRequest, ExportTraceServiceResponse } from '../../collector/otlp/schema.js';
import { recordChatTrace } from '../fixtures/otlp/sdk-spans.js';

describe('encodingForContentType', () => {
  it.each<[string | undefined, 'protobuf' | 'json' | null]>([
    ['application/x-protobuf', 'protobuf'],
    ['application/protobuf', 'protobuf'],
    ['Application/X-Protobuf', 'protobuf'],
    ['application/json', 'json'],
    ['application/json; charset=utf-8', 'json'],
    [' application/json ;charset=UTF-8', 'json'],
    ['application/x-protobuf; proto=opentelemetry', 'protobuf'],
    ['text/plain', null],
    ['application/jsonl', null],
    ['application/grpc', null],
    ['', null],
    [undefined, null],
  ])('%j → %s', (contentType, want) => {
    expect(encodingForContentType(contentType)).toBe(want);
  });
});

describe('encodeTraceResponse', () => {
  it('protobuf, full success: empty ExportTraceServiceResponse without partial_success', () => {
    const body = encodeTraceResponse('protobuf');
    expect(body.length).toBe(0);
    const decoded = ExportTraceServiceResponse.decode(body) as unknown as { partialSuccess: unknown };
    expect(decoded.partialSuccess).toBeNull();
    // rejected 0 also means "no partial_success"
    expect(encodeTraceResponse('protobuf', { rejectedSpans: 0, errorMessage: 'ignored' }).length).toBe(0);
  });

  it('protobuf, partial success round-trips through protobufjs and the OTel client deserializer', () => {
    const body = encodeTraceResponse('protobuf', { rejectedSpans: 3, errorMessage: 'span 0: invalid trace_id' });
    const decoded = ExportTraceServiceResponse.toObject(ExportTraceServiceResponse.decode(body), { longs: String });
    expect(decoded).toEqual({ partialSuccess: { rejectedSpans: '3', errorMessage: 'span 0: invalid trace_id' } });
    // What the OTLP/HTTP protobuf exporter reads back:
    const client = ProtobufTraceSerializer.deserializeResponse(body);
    expect(Number(client.partialSuccess?.rejectedSpans)).toBe(3);
    expect(client.partialSuccess?.errorMessage).toBe('span 0: invalid trace_id');
  });

  it('protobuf field numbers: partial_success = 1, rejected_spans = 1 (varint), error_message = 2', () => {
    const body = encodeTraceResponse('protobuf', { rejectedSpans: 5, errorMessage: 'x' });
    // 0a 05 | 08 05 | 12 01 78
    expect(Buffer.from(body).toString('hex')).toBe('0a0508051201' + '78');
  });

  it('JSON: {} on success, partialSuccess with int64 rejectedSpans as a string otherwise', () => {
    const ok = JSON.parse(Buffer.from(encodeTraceResponse('json')).toString('utf8'));
    expect(ok).toEqual({});
    const partial = JSON.parse(
      Buffer.from(encodeTraceResponse('json', { rejectedSpans: 2, errorMessage: 'two bad spans' })).toString('utf8'),
    );
    expect(partial).toEqual({ partialSuccess: { rejectedSpans: '2', errorMessage: 'two bad spans' } });
    const client = JsonTraceSerializer.deserializeResponse(
      encodeTraceResponse('json', { rejectedSpans: 2, errorMessage: 'two bad spans' }),
    );
    expect(Number(client.partialSuccess?.rejectedSpans)).toBe(2);
  });
});

describe('sniffEncoding', () => {
  const fixture = recordChatTrace();

  it.each<[string, Uint8Array, 'protobuf' | 'json']>([
    ['SDK JSON payload', fixture.json, 'json'],
    ['SDK protobuf payload', fixture.protobuf, 'protobuf'],
    ['JSON with leading whitespace', Buffer.from('\n  \t\r\n{"resourceSpans":[]}'), 'json'],
    ['JSON with BOM', Buffer.from('\ufeff{"resourceSpans":[]}'), 'json'],
    ['empty body', new Uint8Array(0), 'protobuf'],
    ['JSON array (not a request)', Buffer.from('[]'), 'protobuf'],
  ])('%s → %s', (_label, body, want) => {
    expect(sniffEncoding(body)).toBe(want);
  });

  it('a protobuf whose first resource_spans is 123 bytes long (0x0a 0x7b = "\\n{") is still protobuf', () => {
    // Find a ResourceSpans whose encoding is exactly 123 bytes by padding the service name.
    let body: Uint8Array | undefined;
    for (let pad = 0; pad < 200 && !body; pad++) {
      const candidate = ExportTraceServiceRequest.encode(
        ExportTraceServiceRequest.fromObject({
          resourceSpans: [
            {
              resource: { attributes: [{ key: 'service.name', value: { stringValue: 'x'.repeat(pad) } }] },
              scopeSpans: [{ scope: { name: 's' } }],
            },
          ],
        }),
      ).finish();
      if (candidate[1] === 0x7b) body = candidate;
    }
    expect(body).toBeDefined();
    expect(body![0]).toBe(0x0a);
    expect(sniffEncoding(body!)).toBe('protobuf');
    expect(decodeTraceRequest(body!, 'protobuf').rejected).toBe(0);
  });
});

describe('maybeGunzip', () => {
  const payload = Buffer.from(recordChatTrace().protobuf);

  it.each<[string | undefined, (b: Buffer) => Buffer]>([
    ['gzip', gzipSync],
    ['GZIP', gzipSync],
    [' x-gzip ', gzipSync],
    ['deflate', deflateSync],
    ['deflate', deflateRawSync], // raw deflate sent as "deflate"
    ['identity', (b) => b],
    ['', (b) => b],
    [undefined, (b) => b],
  ])('Content-Encoding %j', (encoding, compress) => {
    const out = maybeGunzip(compress(payload), encoding);
    expect(Buffer.from(out).equals(payload)).toBe(true);
    expect(decodeTraceRequest(out, 'protobuf').spans).toHaveLength(3);
  });

  it('a zip bomb stops at the limit with OtlpBodyTooLargeError', () => {
    const bomb = gzipSync(Buffer.alloc(16 * 1024 * 1024)); // ~16 KiB that inflates to 16 MiB
    expect(bomb.length).toBeLessThan(40_000);
    const started = performance.now();
    let error: unknown;
    try {
      maybeGunzip(bomb, 'gzip', { maxDecompressedBytes: 1024 * 1024 });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(OtlpBodyTooLargeError);
    expect((error as OtlpBodyTooLargeError).limitBytes).toBe(1024 * 1024);
    expect((error as Error).message).toContain('1048576-byte limit');
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it('output exactly at the limit passes; one byte over fails', () => {
    const body = gzipSync(Buffer.alloc(1000, 7));
    expect(maybeGunzip(body, 'gzip', { maxDecompressedBytes: 1000 }).byteLength).toBe(1000);
    expect(() => maybeGunzip(body, 'gzip', { maxDecompressedBytes: 999 })).toThrow(OtlpBodyTooLargeError);
  });

  it('identity bodies are held to the same limit', () => {
    expect(() => maybeGunzip(Buffer.alloc(11), undefined, { maxDecompressedBytes: 10 })).toThrow(OtlpBodyTooLargeError);
    expect(DEFAULT_MAX_DECOMPRESSED_BYTES).toBe(64 * 1024 * 1024);
  });

  it('corrupt gzip → OtlpDecodeError; unknown encoding → OtlpContentEncodingError', () => {
    expect(() => maybeGunzip(Buffer.from('definitely not gzip'), 'gzip')).toThrow(OtlpDecodeError);
    expect(() => maybeGunzip(gzipSync(payload).subarray(0, 30), 'gzip')).toThrow(OtlpDecodeError);
    expect(() => maybeGunzip(payload, 'br')).toThrow(OtlpContentEncodingError);
    expect(() => maybeGunzip(payload, 'br')).toThrow(/unsupported Content-Encoding 'br'/);
  });
});
