/**
 * Row chunks: the bytes the writer queues and inserts, the spool stores and the mapping thread
 * transfers. Cutting, counting and joining must keep every row whole, and the dedup token must
 * depend on the rows only.
 */
import { describe, expect, test } from 'vitest';
import { batchToken, chunkOfLines, countLines, insertBody, linesOfChunk, splitChunk } from '../../clickhouse/row-chunk.js';

const LINES = ['[1,"a"]', '[2,"é"]', '[3,"🙂 \\n escaped"]', '[4,""]'];

describe('row chunks', () => {
  test.each([
    { lines: ['[1]'], name: 'one row' },
    { lines: LINES, name: 'non-ASCII and escaped newlines' },
    { lines: Array.from({ length: 1000 }, (_, i) => `[${i},"${'x'.repeat(i % 7)}"]`), name: 'a thousand rows' },
  ])('$name: lines round trip, counted by their newlines', ({ lines }) => {
    const chunk = chunkOfLines(lines);
    expect(chunk.rows).toBe(lines.length);
    expect(countLines(chunk.bytes)).toBe(lines.length);
    expect(linesOfChunk(chunk)).toEqual(lines);
    // Its own buffer, whole: transferable to another thread without taking anything else along.
    expect(chunk.bytes.byteOffset).toBe(0);
    expect(chunk.bytes.buffer.byteLength).toBe(chunk.bytes.byteLength);
  });

  test.each([1, 2, 3])('split after %i rows: two views holding the rows in order', (rows) => {
    const [head, tail] = splitChunk(chunkOfLines(LINES), rows);
    expect(linesOfChunk(head)).toEqual(LINES.slice(0, rows));
    expect(linesOfChunk(tail)).toEqual(LINES.slice(rows));
    expect(head.rows + tail.rows).toBe(LINES.length);
  });

  test('an insert body ends every row with a newline', () => {
    const body = insertBody([chunkOfLines(LINES.slice(0, 2)), chunkOfLines(LINES.slice(2))]);
    expect(body.toString('utf8')).toBe(`${LINES.join('\n')}\n`);
  });

  test('the dedup token is the same for the same chunks, with or without a digest made elsewhere, and differs otherwise', () => {
    const a = chunkOfLines(LINES.slice(0, 2));
    const b = chunkOfLines(LINES.slice(2));
    const hashed = [chunkOfLines(LINES.slice(0, 2), true), chunkOfLines(LINES.slice(2), true)];
    expect(hashed[0]!.digest).toMatch(/^[0-9a-f]{64}$/);
    expect(batchToken(hashed)).toBe(batchToken([a, b]));
    expect(batchToken([a])).toBe(batchToken([hashed[0]!]));
    expect(batchToken([a, b])).not.toBe(batchToken([b, a]));
    expect(batchToken([a, b])).not.toBe(batchToken([chunkOfLines(LINES)]));
  });

  test('a split beyond the rows is an error, not a silent short chunk', () => {
    expect(() => splitChunk({ bytes: chunkOfLines(LINES).bytes, rows: 9 }, 5)).toThrow(/fewer lines/);
  });
});
