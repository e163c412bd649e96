/** The dead-letter file: JSON Lines {rejected_at, reason, row}, bounded by rotation, every row counted. */
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { DeadLetterFile, readDeadLetters, rotatedPath } from '../../delivery/dead-letter.js';
import { usageRow } from '../support/store.js';

const base = mkdtempSync(join(tmpdir(), 'genai-ledger-dead-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

test('entries are {rejected_at, reason, row}, one per row, readable back', () => {
  const path = join(base, 'a', 'dead-letter.jsonl');
  const file = new DeadLetterFile({ path });
  const error = Object.assign(new Error('Code: 41. DB::Exception: Cannot parse datetime'), { code: '41' });
  file.write([usageRow(1, { ts: 'garbage' }), usageRow(2)], error);
  file.write([usageRow(3)], 'plain reason');
  file.close();
  const entries = readDeadLetters(path);
  expect(entries.map((e) => [e.reason, e.row.trace_id])).toEqual([
    [error.message, usageRow(1).trace_id],
    [error.message, usageRow(2).trace_id],
    ['plain reason', usageRow(3).trace_id],
  ]);
  expect(entries[0]!.row).toEqual(usageRow(1, { ts: 'garbage' }));
  expect(new Date(entries[0]!.rejected_at).toISOString()).toBe(entries[0]!.rejected_at);
  expect(file.stats).toMatchObject({ rows: 3, lostRows: 0, writeErrors: 0 });
  file.write([usageRow(4)], 'after close');
  expect(file.stats.lostRows).toBe(1);
});

test('bounded: rotates into <name>.1.jsonl, deletes the oldest, counts what it discards', () => {
  const dir = join(base, 'b');
  const path = join(dir, 'dead-letter.jsonl');
  const maxBytes = 40 * 1024;
  const file = new DeadLetterFile({ path, maxBytes, maxFiles: 1, sync: false });
  for (let i = 0; i < 300; i++) file.write([usageRow(i)], 'Code: 27. DB::Exception: Cannot parse input');
  file.close();
  const files = readdirSync(dir).sort();
  expect(files).toEqual(['dead-letter.1.jsonl', 'dead-letter.jsonl']);
  const total = files.reduce((sum, f) => sum + statSync(join(dir, f)).size, 0);
  expect(total).toBeLessThanOrEqual(maxBytes);
  const kept = readDeadLetters(path).length + readDeadLetters(rotatedPath(path, 1)).length;
  expect(file.stats.rotations).toBeGreaterThan(1);
  expect(kept + file.stats.discardedRows).toBe(300); // every row either kept or counted as discarded
  expect(readDeadLetters(path).at(-1)!.row.trace_id).toBe(usageRow(299).trace_id); // the newest are kept

  // Reopened: the rows already in the current file are counted when it is rotated out.
  const again = new DeadLetterFile({ path, maxBytes, maxFiles: 1, sync: false });
  for (let i = 300; i < 600; i++) again.write([usageRow(i)], 'x');
  again.close();
  const keptNow = readDeadLetters(path).length + readDeadLetters(rotatedPath(path, 1)).length;
  expect(keptNow + file.stats.discardedRows + again.stats.discardedRows).toBe(600);
});

test('maxFiles 0 truncates; an entry larger than a file is counted as lost; a torn last line is skipped', () => {
  const path = join(base, 'c', 'dl.jsonl');
  const file = new DeadLetterFile({ path, maxBytes: 8 * 1024, maxFiles: 0, sync: false });
  for (let i = 0; i < 50; i++) file.write([usageRow(i)], 'r');
  file.write([usageRow(99, { attributes: { big: 'x'.repeat(20_000) } })], 'too big');
  file.close();
  expect(statSync(path).size).toBeLessThanOrEqual(8 * 1024);
  expect(file.stats.lostRows).toBe(1);
  expect(readDeadLetters(path).length + file.stats.discardedRows).toBe(50);
  writeFileSync(path, '{"rejected_at":"2026-01-01T00:00:00.000Z","reason":"r","row":{}}\n{"torn', { flag: 'a' });
  expect(readDeadLetters(path).at(-1)!.reason).toBe('r');
});
