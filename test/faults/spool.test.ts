/**
 * The on-disk spool alone (no ClickHouse): append/fsync/recover, torn and corrupt records,
 * the size bound, group commit, segment life cycle, the directory lock, and append+fsync latency.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { crc32, crc32Portable } from '../../delivery/spool/crc32.js';
import { Spool, SpoolClosedError, SpoolFullError, SpoolLockedError, type SpoolRecord } from '../../delivery/spool/index.js';
import { chunkOfLines, linesOfChunk } from '../../clickhouse/row-chunk.js';
import { encodeRecord, RECORD_HEADER_BYTES, SEGMENT_HEADER_BYTES } from '../../delivery/spool/format.js';
import { serializeRow } from '../../clickhouse/serialize.js';
import { usageRow } from '../support/store.js';

const base = mkdtempSync(join(tmpdir(), 'genai-ledger-spool-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));
let n = 0;
const freshDir = (): string => join(base, `s${++n}`);

const lines = (count: number, from = 0): string[] => Array.from({ length: count }, (_, i) => serializeRow(usageRow(from + i)));

async function readAll(spool: Spool): Promise<SpoolRecord[]> {
  const out: SpoolRecord[] = [];
  for (let r = await spool.next(); r; r = await spool.next()) out.push(r);
  return out;
}

const segmentFiles = (dir: string): string[] => readdirSync(dir).filter((f) => f.endsWith('.wal')).sort();

describe('spool: append, fsync, recover', () => {
  test('crc32: native and portable agree', () => {
    const data = Buffer.from('genai-ledger spool ✓ 🚀'.repeat(100));
    expect(crc32(data)).toBe(crc32Portable(data));
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
  });

  test('appended records survive close/reopen, in order; committed ones are not replayed', async () => {
    const dir = freshDir();
    const spool = await Spool.open({ dir, meter: false });
    const batches = [lines(3, 0), lines(5, 100), lines(1, 200), lines(4, 300)];
    const results = await Promise.all(batches.map((b) => spool.append(b)));
    expect(results.map((r) => r.rows)).toEqual([3, 5, 1, 4]);
    expect(spool.stats).toMatchObject({ appendedRecords: 4, appendedRows: 13, pendingRecords: 4, pendingRows: 13 });

    const read = await readAll(spool);
    expect(read.map((r) => linesOfChunk(r.chunk))).toEqual(batches);
    spool.commit(read[0]!);
    spool.commit(read[2]!);
    spool.commit(read[2]!); // idempotent
    expect(spool.stats).toMatchObject({ committedRecords: 2, committedRows: 4, pendingRecords: 2, pendingRows: 9 });
    await spool.close();
    await expect(spool.append(lines(1))).rejects.toBeInstanceOf(SpoolClosedError);

    const again = await Spool.open({ dir, meter: false });
    expect(again.stats).toMatchObject({ recoveredRecords: 2, recoveredRows: 9, pendingRows: 9, corruptRecords: 0 });
    const replay = await readAll(again);
    expect(replay.map((r) => linesOfChunk(r.chunk))).toEqual([batches[1], batches[3]]);
    for (const r of replay) again.commit(r);
    await again.close();

    // Everything committed: the segment and its ack file are gone at the next open.
    const third = await Spool.open({ dir, meter: false });
    expect(third.stats).toMatchObject({ recoveredRecords: 0, segments: 0, usedBytes: 0 });
    expect(segmentFiles(dir)).toEqual([]);
    expect(readdirSync(dir).filter((f) => f.endsWith('.ack'))).toEqual([]);
    await third.close();
  });

  test('large appends are split into records of maxRecordRows; rewind re-reads the uncommitted', async () => {
    const dir = freshDir();
    const spool = await Spool.open({ dir, meter: false, maxRecordRows: 100 });
    const r = await spool.append(lines(250));
    expect(r).toMatchObject({ records: 3, rows: 250 });
    const first = await readAll(spool);
    expect(first.map((x) => x.rows)).toEqual([100, 100, 50]);
    spool.commit(first[1]!);
    expect(await spool.next()).toBeUndefined();
    spool.rewind();
    const again = await readAll(spool);
    expect(again.map((x) => x.ordinal)).toEqual([0, 2]);
    await spool.close();
  });

  test('a torn tail (truncated mid-record) is cut on recovery: good records kept, the bad one counted', async () => {
    const dir = freshDir();
    const spool = await Spool.open({ dir, meter: false });
    for (let i = 0; i < 3; i++) await spool.append(lines(10, i * 10));
    await spool.close();
    const [segment] = segmentFiles(dir);
    const path = join(dir, segment!);
    const full = statSync(path).size;
    truncateSync(path, full - 100); // the last record loses its end

    const again = await Spool.open({ dir, meter: false });
    expect(again.stats).toMatchObject({ recoveredRecords: 2, recoveredRows: 20, corruptRecords: 1 });
    expect(again.stats.truncatedBytes).toBeGreaterThan(0);
    const read = await readAll(again);
    expect(read.map((r) => linesOfChunk(r.chunk))).toEqual([lines(10, 0), lines(10, 10)]);
    // The file was cut back to the last good record, and appending goes on (in a new segment).
    expect(statSync(path).size).toBe(SEGMENT_HEADER_BYTES + encodeRecord(chunkOfLines(lines(10, 0))).length + encodeRecord(chunkOfLines(lines(10, 10))).length);
    await again.append(lines(2, 99));
    expect((await readAll(again)).map((r) => r.rows)).toEqual([2]);
    await again.close();
    const third = await Spool.open({ dir, meter: false });
    expect(third.stats).toMatchObject({ recoveredRecords: 3, recoveredRows: 22, corruptRecords: 0 });
    await third.close();
  });

  test('a torn record header, a zero-filled tail, and a half-created segment are all survived', async () => {
    const dir = freshDir();
    const spool = await Spool.open({ dir, meter: false });
    await spool.append(lines(4));
    await spool.close();
    const path = join(dir, segmentFiles(dir)[0]!);
    appendFileSync(path, Buffer.from([7, 0, 0])); // 3 bytes of a next record header
    const a = await Spool.open({ dir, meter: false });
    expect(a.stats).toMatchObject({ recoveredRows: 4, corruptRecords: 1, truncatedBytes: 3 });
    await a.close();

    appendFileSync(path, Buffer.alloc(4096)); // zeroes: a length of 0 is invalid, and crc32(0000) ≠ 0
    const b = await Spool.open({ dir, meter: false });
    expect(b.stats).toMatchObject({ recoveredRows: 4, corruptRecords: 1, truncatedBytes: 4096 });
    await b.close();

    // A segment created but never synced: shorter than its header.
    writeFileSync(join(dir, '0000000000000099.wal'), Buffer.from('GLSP'));
    const c = await Spool.open({ dir, meter: false });
    expect(c.stats).toMatchObject({ recoveredRows: 4, corruptRecords: 1 });
    expect(segmentFiles(dir)).toHaveLength(1);
    // New segments are numbered after every file seen, even the removed one.
    await c.append(lines(1));
    expect(segmentFiles(dir).at(-1)).toBe('0000000000000100.wal');
    await c.close();
  });

  test('a corrupt CRC: a middle record is skipped (the records after it kept), a last record is cut', async () => {
    const dir = freshDir();
    const spool = await Spool.open({ dir, meter: false });
    const batches = [lines(5, 0), lines(5, 10), lines(5, 20)];
    for (const b of batches) await spool.append(b);
    await spool.close();
    const path = join(dir, segmentFiles(dir)[0]!);
    const sizes = batches.map((b) => encodeRecord(chunkOfLines(b)).length);
    // Flip a payload byte of the second record.
    const flip = (offset: number): void => {
      const fd = openSync(path, 'r+');
      const byte = readFileSync(path)[offset]!;
      writeSync(fd, Buffer.from([byte ^ 0x20]), 0, 1, offset);
      closeSync(fd);
    };
    flip(SEGMENT_HEADER_BYTES + sizes[0]! + RECORD_HEADER_BYTES + 30);
    const a = await Spool.open({ dir, meter: false });
    expect(a.stats).toMatchObject({ recoveredRecords: 2, corruptRecords: 1 });
    expect((await readAll(a)).map((r) => linesOfChunk(r.chunk))).toEqual([batches[0], batches[2]]);
    await a.close();

    // Now the last record too: two bad records in a row cannot be told from a torn write, so the
    // file is cut at the first (one cut counted, its bytes in truncatedBytes).
    flip(SEGMENT_HEADER_BYTES + sizes[0]! + sizes[1]! + RECORD_HEADER_BYTES + 30);
    const b = await Spool.open({ dir, meter: false });
    expect(b.stats).toMatchObject({ recoveredRecords: 1, corruptRecords: 1, truncatedBytes: sizes[1]! + sizes[2]! });
    expect((await readAll(b)).map((r) => linesOfChunk(r.chunk))).toEqual([batches[0]]);
    await b.close();
  });

  test('a file that is not a segment is set aside, not deleted', async () => {
    const dir = freshDir();
    const spool = await Spool.open({ dir, meter: false });
    await spool.close();
    writeFileSync(join(dir, '0000000000000001.wal'), 'definitely not a spool segment');
    const again = await Spool.open({ dir, meter: false });
    expect(again.stats.corruptRecords).toBe(1);
    expect(readdirSync(dir)).toContain('0000000000000001.wal.corrupt');
    await again.close();
  });
});

describe('spool: bounds and segments', () => {
  test('maxBytes: SpoolFullError at once (sync from submit, rejected from append), room comes back when segments are committed', async () => {
    const dir = freshDir();
    const spool = await Spool.open({ dir, meter: false, maxBytes: 64 * 1024, segmentBytes: 16 * 1024 });
    const batch = lines(10); // ~7 KB
    let accepted = 0;
    for (;;) {
      try {
        await spool.submit(batch);
        accepted++;
      } catch (err) {
        expect(err).toBeInstanceOf(SpoolFullError);
        expect((err as SpoolFullError).maxBytes).toBe(64 * 1024);
        break;
      }
    }
    expect(accepted).toBeGreaterThan(4);
    expect(spool.stats.usedBytes).toBeLessThanOrEqual(64 * 1024);
    await expect(spool.append(batch)).rejects.toBeInstanceOf(SpoolFullError);
    expect(spool.stats).toMatchObject({ fullRejections: 2, fullRejectedRows: 20 });
    expect(segmentFiles(dir).length).toBeGreaterThan(2);

    // Commit everything: sealed segments are deleted as soon as they are fully committed.
    for (const r of await readAll(spool)) spool.commit(r);
    expect(spool.stats.segments).toBe(1); // the active one (it goes when sealed or at close)
    await spool.settled(); // files are deleted in the background
    // The active segment, and the spare made ahead of the next roll-over.
    expect(segmentFiles(dir).length).toBeLessThanOrEqual(2);
    await expect(spool.append(batch)).resolves.toMatchObject({ rows: 10 });
    for (const r of await readAll(spool)) spool.commit(r);
    await spool.close();
    expect(segmentFiles(dir)).toEqual([]);
  });

  test('the next segment is made ahead of the roll-over; a spare left by a crash is removed at open, not counted corrupt', async () => {
    const dir = freshDir();
    const spool = await Spool.open({ dir, meter: false, maxBytes: 1024 * 1024, segmentBytes: 32 * 1024 });
    const batch = lines(10); // over 4 KB: the spare is made after the first append (past 1/8 of a segment)
    await spool.append(batch);
    await spool.settled();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(spool.stats.segments).toBe(1);
    expect(segmentFiles(dir)).toEqual(['0000000000000001.wal', '0000000000000002.wal']);
    // Rolling over takes the spare: the next segment number, already synced.
    while (spool.stats.segments < 2) await spool.append(batch);
    expect(segmentFiles(dir)).toContain('0000000000000002.wal');
    const pending = spool.stats.pendingRows;
    // A crash leaves the spare (a header, no record): copy the files as they are, as SIGKILL would.
    const crashed = freshDir();
    const { cpSync } = await import('node:fs');
    cpSync(dir, crashed, { recursive: true });
    rmSync(join(crashed, 'LOCK'));
    const spareCount = segmentFiles(crashed).length - spool.stats.segments;
    expect(spareCount).toBeLessThanOrEqual(1);
    const held = spool.stats.segments;
    await spool.close();
    // close() removes the spare.
    expect(segmentFiles(dir)).toHaveLength(held);
    const reopened = await Spool.open({ dir: crashed, meter: false });
    expect(reopened.stats).toMatchObject({ recoveredRows: pending, corruptRecords: 0, truncatedBytes: 0 });
    expect(segmentFiles(crashed)).toHaveLength(reopened.stats.segments);
    await reopened.close();
    const again = await Spool.open({ dir, meter: false });
    expect(again.stats).toMatchObject({ recoveredRows: pending, corruptRecords: 0 });
    expect(segmentFiles(dir)).toHaveLength(again.stats.segments);
    await again.close();
  });

  test('group commit: concurrent appends share fsyncs', async () => {
    const dir = freshDir();
    const spool = await Spool.open({ dir, meter: false });
    const batch = lines(20);
    await Promise.all(Array.from({ length: 64 }, () => spool.append(batch)));
    expect(spool.stats.appendedRecords).toBe(64);
    expect(spool.stats.groupCommits).toBeLessThanOrEqual(2);

    // Staggered producers: still far fewer fsyncs than appends.
    const before = spool.stats.groupCommits;
    const producers = Array.from({ length: 8 }, async () => {
      for (let i = 0; i < 20; i++) await spool.append(batch);
    });
    await Promise.all(producers);
    const groups = spool.stats.groupCommits - before;
    expect(groups).toBeLessThan(160 / 2);
    await spool.close();
  });

  test('append+fsync latency of 1k-row batches (p50/p99), sequential and 8 concurrent producers', async () => {
    const dir = freshDir();
    const spool = await Spool.open({ dir, meter: false });
    const batch = lines(1000);
    const bytes = encodeRecord(chunkOfLines(batch)).length;
    const measure = async (producers: number, perProducer: number): Promise<number[]> => {
      const samples: number[] = [];
      await Promise.all(Array.from({ length: producers }, async () => {
        for (let i = 0; i < perProducer; i++) {
          const t = performance.now();
          await spool.append(batch);
          samples.push(performance.now() - t);
        }
      }));
      // Keep the spool small: commit what was read.
      for (const r of await readAll(spool)) spool.commit(r);
      return samples.sort((a, b) => a - b);
    };
    const pct = (s: number[], p: number): number => s[Math.min(s.length - 1, Math.floor(s.length * p))]!;
    await measure(1, 5); // warm-up
    const seq = await measure(1, 60);
    const conc = await measure(8, 10);
    const fmt = (s: number[]): string => `p50 ${pct(s, 0.5).toFixed(2)} ms, p99 ${pct(s, 0.99).toFixed(2)} ms`;
    console.log(`spool append+fsync, 1000 rows (${(bytes / 1024).toFixed(0)} KiB) per append: sequential ${fmt(seq)}; 8 concurrent ${fmt(conc)} (${spool.stats.groupCommits} group commits for ${spool.stats.appendedRecords} appends)`);
    expect(pct(seq, 0.5)).toBeLessThan(1_000);
    await spool.close();
  }, 30_000);
});

describe('spool: one process per directory', () => {
  /** Runs `script` (ES module source, run from the repo root) in a child process; resolves with its stdout once it prints `ready` or exits. */
  function runChild(script: string): { child: ChildProcess; ready: Promise<string> } {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    const ready = new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => (out += d.toString()).includes('ready') && resolve(out));
      child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`child exited ${code}: ${out}`))));
    });
    return { child, ready };
  }

  /** One open attempt from another process: `held` (then closed) or `refused <pid>`. */
  const openFromChild = (dir: string): Promise<string> =>
    runChild(`
      import { Spool, SpoolLockedError } from './delivery/spool/index.ts';
      try {
        await (await Spool.open({ dir: ${JSON.stringify(dir)}, meter: false })).close();
        process.stdout.write('held');
      } catch (err) {
        if (!(err instanceof SpoolLockedError)) throw err;
        process.stdout.write(\`refused \${err.pid}\`);
      }
    `).ready;

  test('a second open in this process is refused; close releases the lock', async () => {
    const dir = freshDir();
    const spool = await Spool.open({ dir, meter: false });
    const err = await Spool.open({ dir, meter: false }).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(SpoolLockedError);
    expect((err as Error).message).toBe(`the spool ${dir} is already open in this process`);
    expect(readFileSync(join(dir, 'LOCK'), 'utf8')).toBe(`PID: ${process.pid}\n`);
    await spool.close();
    expect(readdirSync(dir)).not.toContain('LOCK');
    const again = await Spool.open({ dir, meter: false });
    await again.close();
  });

  test('another process is refused, naming this one, until close lets it in', async () => {
    const dir = freshDir();
    const spool = await Spool.open({ dir, meter: false });
    expect(await openFromChild(dir)).toBe(`refused ${process.pid}`);
    await spool.close();
    expect(await openFromChild(dir)).toBe('held');
  }, 60_000);

  test('held by a live process → SpoolLockedError with its pid; after SIGKILL the next open gets it at once', async () => {
    const dir = freshDir();
    const { child, ready } = runChild(`
      import { Spool } from './delivery/spool/index.ts';
      const spool = await Spool.open({ dir: ${JSON.stringify(dir)}, meter: false });
      await spool.append(['["x"]']);
      process.stdout.write('ready\\n');
      setInterval(() => {}, 1000);
    `);
    try {
      await ready;
      const err = await Spool.open({ dir, meter: false }).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(SpoolLockedError);
      expect((err as SpoolLockedError).pid).toBe(child.pid);
      expect((err as Error).message).toBe(`the spool ${dir} is open in another process (pid ${child.pid})`);
    } finally {
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
    }
    // The dead holder's LOCK file is still there, naming it: only the kernel's lock was released.
    expect(readFileSync(join(dir, 'LOCK'), 'utf8')).toBe(`PID: ${child.pid}\n`);
    const spool = await Spool.open({ dir, meter: false });
    expect(spool.stats.recoveredRows).toBe(1);
    expect(readFileSync(join(dir, 'LOCK'), 'utf8')).toBe(`PID: ${process.pid}\n`);
    await spool.close();
  }, 30_000);
});
