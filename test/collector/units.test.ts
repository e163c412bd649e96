/** Small collector modules: auth, SQL guard, discovery, logs, admission, metrics text. */
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { IdleFlusher, QueueAdmission } from '../../collector/admission.js';
import { bearerToken, parseTokens, TokenAuthenticator, tokenMatches } from '../../collector/auth.js';
import { discoveryPath, findLiveCollector, readDiscoveryFile, removeDiscovery, writeDiscovery } from '../../collector/discovery.js';
import { createLogger } from '../../collector/log.js';
import { Counter, Histogram, Registry } from '../../collector/metrics.js';
import { assertReadOnlySql, QueryRefusedError } from '../../collector/sql-guard.js';

const dir = mkdtempSync(join(tmpdir(), 'genai-ledger-units-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('bearer tokens', () => {
  const auth = new TokenAuthenticator(parseTokens('[{token: tok-acme-1, org: acme}, {token: tok-free-2}]'));
  const h = (authorization?: string) => (authorization === undefined ? {} : { authorization });

  test('a token bound to an org gives that org; an unbound one none; missing or wrong ones nothing', () => {
    expect(auth.open).toBe(false);
    expect(auth.authenticate(h('Bearer tok-acme-1'))).toEqual({ org: 'acme' });
    expect(auth.authenticate(h('bearer   tok-free-2 '))).toEqual({ org: undefined });
    expect(auth.authenticate(h())).toBeUndefined();
    expect(auth.authenticate(h('Bearer tok-acme-'))).toBeUndefined();
    expect(auth.authenticate(h('Bearer tok-acme-1x'))).toBeUndefined();
    expect(auth.authenticate(h('Basic dG9rLWFjbWUtMQ=='))).toBeUndefined();
    expect(auth.authenticate(h('Bearer'))).toBeUndefined();
  });

  test('no tokens configured: open, no org', () => {
    const open = new TokenAuthenticator([]);
    expect(open.open).toBe(true);
    expect(open.authenticate({})).toEqual({ org: undefined });
  });

  test('the query token', () => {
    expect(tokenMatches({ authorization: 'Bearer q-token-0123456789' }, 'q-token-0123456789')).toBe(true);
    expect(tokenMatches({ authorization: 'Bearer q-token-012345678' }, 'q-token-0123456789')).toBe(false);
    expect(tokenMatches({}, '')).toBe(false);
    expect(bearerToken({ authorization: 'Bearer a b' })).toBeUndefined();
  });
});

describe('read-only SQL guard', () => {
  const ok = [
    'SELECT 1',
    '  select count() from ai_usage_exact where org_id = {org:String};  ',
    'WITH x AS (SELECT 1) SELECT * FROM x',
    '(SELECT 1) UNION ALL (SELECT 2)',
    '-- leading comment\nSELECT 1',
    '/* block */ SHOW TABLES',
    'DESCRIBE TABLE ai_usage',
    'EXPLAIN SELECT 1',
    "SELECT 'a; DROP TABLE x' AS s",
    "SELECT 'it''s' AS s, `weird;name` FROM t",
    'SELECT 1 -- ; DROP TABLE x',
    "SELECT 'INTO OUTFILE' AS s",
  ];
  const refused: Array<[string, string]> = [
    ['INSERT INTO ai_usage VALUES (1)', "not 'INSERT'"],
    ['DROP TABLE ai_usage', "not 'DROP'"],
    ['CREATE TABLE x (a UInt8) ENGINE = Memory', "not 'CREATE'"],
    ['ALTER TABLE ai_usage DELETE WHERE 1', "not 'ALTER'"],
    ['SET readonly = 0', "not 'SET'"],
    ['SELECT 1; DROP TABLE ai_usage', 'one statement per query'],
    ['SELECT 1;; SELECT 2', 'one statement per query'],
    ["SELECT 1 INTO OUTFILE '/tmp/x'", 'INTO OUTFILE'],
    ["SELECT 1 into   outfile '/tmp/x'", 'INTO OUTFILE'],
    ["SELECT 1 /* unterminated", 'unterminated comment'],
    ["SELECT 'unterminated", 'unterminated quoted text'],
    ['', 'empty query'],
    ['/* only a comment */', "not this"],
  ];
  test.each(ok)('allowed: %s', (sql) => expect(() => assertReadOnlySql(sql)).not.toThrow());
  test.each(refused)('refused: %s', (sql, why) => {
    expect(() => assertReadOnlySql(sql)).toThrow(QueryRefusedError);
    expect(() => assertReadOnlySql(sql)).toThrow(why);
  });
});

describe('discovery file', () => {
  test('written with mode 0600, found while its pid lives, removed by its owner only', () => {
    const store = join(dir, 'store');
    writeDiscovery(dir, { pid: process.pid, url: 'http://127.0.0.1:1', queryToken: 'q', database: 'genai_ledger', startedAt: 'now' });
    expect(statSync(discoveryPath(dir)).mode & 0o777).toBe(0o600);
    expect(findLiveCollector(dir)).toMatchObject({ pid: process.pid, url: 'http://127.0.0.1:1', queryToken: 'q', database: 'genai_ledger' });
    removeDiscovery(dir, 12345); // not its owner: left alone
    expect(readDiscoveryFile(dir)).toBeDefined();
    removeDiscovery(dir);
    expect(readDiscoveryFile(dir)).toBeUndefined();
    expect(findLiveCollector(store)).toBeUndefined();
  });

  test('a stale file (dead pid) or a garbled one is ignored', () => {
    writeFileSync(discoveryPath(dir), JSON.stringify({ version: 1, pid: 2 ** 22 + 12345, url: 'http://x', queryToken: 'q', database: 'd' }));
    expect(readDiscoveryFile(dir)).toBeDefined();
    expect(findLiveCollector(dir)).toBeUndefined();
    writeFileSync(discoveryPath(dir), '{not json');
    expect(findLiveCollector(dir)).toBeUndefined();
    rmSync(discoveryPath(dir));
  });
});

describe('structured logs', () => {
  test('one JSON object per line, level filtering, secret-looking fields masked', () => {
    const lines: string[] = [];
    const log = createLogger({ level: 'info', write: (l) => lines.push(l), base: { service: 's' } });
    log.debug('hidden');
    log.info('hello', { n: 1, token: 'abc', authorization: 'Bearer abc', tokensSource: 'file x', error: new Error('boom\nstack') });
    expect(lines).toHaveLength(1);
    expect(lines[0]!.endsWith('\n')).toBe(true);
    const record = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(record).toMatchObject({ level: 'info', msg: 'hello', service: 's', n: 1, token: '[redacted]', authorization: '[redacted]', tokensSource: 'file x', error: 'boom' });
    expect(typeof record.time).toBe('string');
  });
});

describe('queue admission', () => {
  test('room by rows and by estimated bytes; requests larger than the queue are sliced', () => {
    const levels = { queuedRows: 0, queuedBytes: 0 };
    const admission = new QueueAdmission(levels, { rows: 10, bytes: 1_000_000 });
    expect(admission.hasRoom(10)).toBe(true);
    expect(admission.hasRoom(11)).toBe(false);
    expect(admission.fitsEver(11)).toBe(false);
    levels.queuedRows = 8;
    levels.queuedBytes = 8 * 500;
    expect(admission.hasRoom(2)).toBe(true);
    expect(admission.hasRoom(3)).toBe(false);
    expect(admission.hasRoom(0)).toBe(true);
    const byBytes = new QueueAdmission({ queuedRows: 10, queuedBytes: 10 * 1000 }, { rows: 1000, bytes: 20_000 });
    expect(byBytes.hasRoom(10)).toBe(true);
    expect(byBytes.hasRoom(11)).toBe(false);
    expect(byBytes.sliceRows()).toBe(20);
  });

  test('the idle flusher flushes once traffic pauses', async () => {
    let flushes = 0;
    const flusher = new IdleFlusher(async () => void flushes++, 30);
    flusher.touch();
    await new Promise((r) => setTimeout(r, 15));
    flusher.touch();
    await new Promise((r) => setTimeout(r, 15));
    expect(flushes).toBe(0);
    await new Promise((r) => setTimeout(r, 40));
    expect(flushes).toBe(1);
    new IdleFlusher(async () => void flushes++, 0).touch();
    flusher.stop();
  });
});

describe('Prometheus text', () => {
  test('counters, histograms, label escaping', () => {
    const r = new Registry();
    const c = r.add(new Counter('x_total', 'X.'));
    const h = r.add(new Histogram('d_seconds', 'D.', [0.1, 1]));
    c.inc({ route: 'a"b' }, 2);
    h.observe(0.5, { route: '/v1/traces' });
    expect(r.render()).toBe([
      '# HELP x_total X.', '# TYPE x_total counter', 'x_total{route="a\\"b"} 2',
      '# HELP d_seconds D.', '# TYPE d_seconds histogram',
      'd_seconds_bucket{route="/v1/traces",le="0.1"} 0', 'd_seconds_bucket{route="/v1/traces",le="1"} 1',
      'd_seconds_bucket{route="/v1/traces",le="+Inf"} 1', 'd_seconds_sum{route="/v1/traces"} 0.5', 'd_seconds_count{route="/v1/traces"} 1',
      '',
    ].join('\n'));
  });
});
