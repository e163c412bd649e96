/** The progress bar and the query command's SQL helpers, in process. */
import { describe, expect, it } from 'vitest';
import { Progress } from '../../cli/progress.js';
import { findPlaceholders, parseParams, stripCommentHeader } from '../../cli/query-command.js';

function stream(isTTY: boolean) {
  const writes: string[] = [];
  return { writes, isTTY, columns: 100, write: (text: string) => writes.push(text) };
}

describe('Progress', () => {
  it('stays silent when not a terminal, then prints one final line', () => {
    const out = stream(false);
    let now = 0;
    const progress = new Progress('repricing', 1000, { stream: out, unit: 'rows', now: () => now });
    for (let i = 0; i < 1000; i += 10) {
      now += 5;
      progress.tick(10);
    }
    expect(out.writes).toEqual([]);
    progress.done();
    progress.done();
    expect(out.writes).toEqual(['repricing: 1000/1000 rows in 0.5s\n']);
  });

  it('redraws one line on a terminal, at most every 100 ms, and replaces it at the end', () => {
    const out = stream(true);
    let now = 0;
    const progress = new Progress('demo', 200, { stream: out, unit: 'calls', now: () => now });
    for (let i = 0; i < 200; i++) {
      now += 2;
      progress.tick();
    }
    // 400 ms of ticks: a draw at most every 100 ms, plus the last (complete) one.
    expect(out.writes.length).toBeGreaterThanOrEqual(3);
    expect(out.writes.length).toBeLessThanOrEqual(6);
    for (const w of out.writes) expect(w.startsWith('\r\x1b[2K')).toBe(true);
    expect(out.writes.at(-1)).toMatch(/^\r\x1b\[2Kdemo \[#+\] 100% 200\/200 calls 500\/s$/);
    expect(progress.render(now)).toContain('[##########');
    progress.done('demo: done');
    expect(out.writes.at(-1)).toBe('\r\x1b[2Kdemo: done\n');
  });

  it('shows an ETA while running', () => {
    const out = stream(true);
    let now = 0;
    const progress = new Progress('x', 100, { stream: out, now: () => now });
    now = 1000;
    progress.update(25);
    expect(progress.render(now)).toMatch(/ 25% 25\/100 25\.0\/s eta 3\.0s$/);
  });
});

describe('query helpers', () => {
  it('strips a leading comment header and the trailing semicolon', () => {
    expect(stripCommentHeader('-- title\n-- more\n\n/* block\n comment */\nSELECT 1 -- trailing\n;\n')).toBe('SELECT 1 -- trailing');
    expect(stripCommentHeader('\uFEFF#!/usr/bin/env genai-ledger\nSELECT 2;;')).toBe('SELECT 2');
    expect(stripCommentHeader('-- only comments\n')).toBe('');
  });

  it('finds {name:Type} placeholders outside strings and comments', () => {
    const sql = `SELECT '{a:String}', "{b:String}" FROM t -- {c:String}
      WHERE x = {org:String} AND y IN {ids:Array(UInt32)} /* {d:UInt8} */ AND z = { days : UInt32 } AND w = 'it''s {e:String}'`;
    expect([...findPlaceholders(sql)]).toEqual([['org', 'String'], ['ids', 'Array(UInt32)'], ['days', 'UInt32']]);
    expect(findPlaceholders('SELECT map{}, {x:Map(String, UInt8)}').get('x')).toBe('Map(String, UInt8)');
  });

  it('parses NAME=VALUE pairs (the value may contain =)', () => {
    expect(parseParams(['a=1', 'b=x=y', 'c='])).toEqual({ a: '1', b: 'x=y', c: '' });
    expect(() => parseParams(['1a=2'])).toThrow(/expected NAME=VALUE/);
    expect(() => parseParams(['a=1', 'a=2'])).toThrow(/given twice/);
  });
});
