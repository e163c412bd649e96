/**
 * CRC-32 (IEEE 802.3, the zlib/PNG/gzip polynomial). zlib.crc32 (native, Node ≥ 20.15 / 22.2)
 * when present, else a table-driven fallback that gives the same values.
 */
import * as zlib from 'node:zlib';

type Crc32 = (data: Uint8Array, value?: number) => number;

let table: Uint32Array | undefined;

function crc32Fallback(data: Uint8Array, value = 0): number {
  if (!table) {
    table = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c >>> 0;
    }
  }
  let crc = ~value >>> 0;
  for (let i = 0; i < data.length; i++) crc = table[(crc ^ data[i]!) & 0xff]! ^ (crc >>> 8);
  return ~crc >>> 0;
}

const native = (zlib as unknown as { crc32?: Crc32 }).crc32;

/** CRC-32 of `data`, continuing from `value` (0 to start). Unsigned 32-bit result. */
export const crc32: Crc32 = typeof native === 'function' ? (data, value = 0) => native(data, value) >>> 0 : crc32Fallback;

/** The fallback, exported so a test can check it agrees with the native one. */
export const crc32Portable: Crc32 = crc32Fallback;
