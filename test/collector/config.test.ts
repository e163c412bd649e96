import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { ConfigError, describeConfig, parseBytes, parseCollectorConfig, settingsHelp, SETTINGS } from '../../collector/config.js';

const dir = mkdtempSync(join(tmpdir(), 'genai-ledger-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const parse = (argv: string[], env: Record<string, string> = {}) => parseCollectorConfig(argv, env);

function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('collector configuration', () => {
  test('documented defaults', () => {
    const c = parse([]);
    expect(c).toMatchObject({
      host: '127.0.0.1', port: 4318, store: './.genai-ledger', prices: undefined, tokens: [], tokensSource: 'none',
      queryTokenGenerated: true, queryEndpoint: true, maxBodyBytes: 16 * 1024 * 1024, maxDecompressedBytes: 64 * 1024 * 1024,
      maxQueueRows: 100_000, maxQueueBytes: 64 * 1024 * 1024, maxBatchRows: 10_000, flushIntervalMs: 1000, idleFlushMs: 100,
      retryAfterSeconds: 1, shutdownTimeoutMs: 30_000, ttlDays: undefined, logLevel: 'info', discovery: true,
      query: { timeoutSeconds: 30, maxResultRows: 100_000, maxResultBytes: 64 * 1024 * 1024, maxMemoryBytes: 2 * 1024 ** 3 },
    });
    expect(c.queryToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(parse([]).queryToken).not.toBe(c.queryToken);
  });

  test('flags win over GENAI_LEDGER_* variables, which win over defaults', () => {
    const env = { GENAI_LEDGER_PORT: '9000', GENAI_LEDGER_HOST: '0.0.0.0', GENAI_LEDGER_STORE: '/tmp/s', GENAI_LEDGER_MAX_QUEUE_ROWS: '5', GENAI_LEDGER_LOG_LEVEL: 'debug' };
    expect(parse([], env)).toMatchObject({ port: 9000, host: '0.0.0.0', store: '/tmp/s', maxQueueRows: 5, logLevel: 'debug' });
    expect(parse(['--port', '0', '--store', 'http://ch:8123/ledger', '--max-queue-rows', '7', '--no-spool'], env))
      .toMatchObject({ port: 0, host: '0.0.0.0', store: 'http://ch:8123/ledger', maxQueueRows: 7 });
    expect(parse([], { CLICKHOUSE_URL: 'http://x:8123', GENAI_LEDGER_SPOOL: 'off' }).store).toBe('http://x:8123');
  });

  test('the spool: on by default, <store>/spool for an embedded store, required for a server store unless off', () => {
    expect(parse([]).spool).toEqual({ dir: join(process.cwd(), '.genai-ledger', 'spool'), maxBytes: 1024 ** 3, fsync: true });
    expect(parse(['--store', '/tmp/s']).spool?.dir).toBe('/tmp/s/spool');
    expect(parse(['--store', '/tmp/s', '--spool-dir', '/var/spool/gl', '--spool-max-bytes', '64MiB', '--spool-fsync', 'off']).spool)
      .toEqual({ dir: '/var/spool/gl', maxBytes: 64 * 1024 ** 2, fsync: false });
    expect(parse([], { GENAI_LEDGER_STORE: '/tmp/s', GENAI_LEDGER_SPOOL_DIR: '/tmp/q', GENAI_LEDGER_SPOOL_MAX_BYTES: '2GiB' }).spool)
      .toMatchObject({ dir: '/tmp/q', maxBytes: 2 * 1024 ** 3 });
    expect(parse(['--no-spool']).spool).toBeUndefined();
    expect(parse(['--spool', 'off']).spool).toBeUndefined();
    expect(parse([], { GENAI_LEDGER_SPOOL: 'off' }).spool).toBeUndefined();
    expect(errorOf(() => parse(['--store', 'http://ch:8123/db'])).message).toContain('--spool-dir (GENAI_LEDGER_SPOOL_DIR): required with a ClickHouse server store');
    expect(parse(['--store', 'http://ch:8123/db', '--spool-dir', '/tmp/q']).spool?.dir).toBe('/tmp/q');
    expect(parse(['--store', 'http://ch:8123/db', '--no-spool']).spool).toBeUndefined();
    expect(errorOf(() => parse(['--spool-max-bytes', '1KiB'])).message).toContain('--spool-max-bytes (GENAI_LEDGER_SPOOL_MAX_BYTES)');
    expect(parse([]).faultInjection).toBe(false);
    expect(parse([], { GENAI_LEDGER_FAULT_INJECTION: '1' }).faultInjection).toBe(true);
  });

  test('sizes and durations', () => {
    expect(parseBytes('16MiB')).toBe(16 * 1024 * 1024);
    expect(parseBytes('16M')).toBe(16 * 1024 * 1024);
    expect(parseBytes('16MB')).toBe(16_000_000);
    expect(parseBytes('512 KiB')).toBe(512 * 1024);
    expect(parseBytes('1048576')).toBe(1048576);
    expect(parseBytes('lots')).toBeNaN();
    expect(parse(['--max-body-bytes', '2KiB', '--flush-interval', '0.25', '--shutdown-timeout', '5', '--idle-flush', '0'])).toMatchObject({
      maxBodyBytes: 2048, flushIntervalMs: 250, shutdownTimeoutMs: 5000, idleFlushMs: 0,
    });
  });

  test('invalid settings fail at start with a message naming the flag and the variable', () => {
    expect(errorOf(() => parse(['--port', '70000'])).message).toBe('--port (GENAI_LEDGER_PORT): expected a whole number from 0 to 65535, got "70000"');
    expect(errorOf(() => parse([], { GENAI_LEDGER_PORT: 'http' })).message).toContain('--port (GENAI_LEDGER_PORT)');
    expect(errorOf(() => parse(['--max-body-bytes', 'huge'])).message).toContain('--max-body-bytes (GENAI_LEDGER_MAX_BODY_BYTES): expected a size in bytes');
    expect(errorOf(() => parse(['--max-queue-rows', '0'])).message).toContain('--max-queue-rows (GENAI_LEDGER_MAX_QUEUE_ROWS)');
    expect(errorOf(() => parse(['--query-endpoint', 'maybe'])).message).toBe('--query-endpoint (GENAI_LEDGER_QUERY_ENDPOINT): expected on or off, got "maybe"');
    expect(errorOf(() => parse(['--log-level', 'loud'])).message).toContain('--log-level (GENAI_LEDGER_LOG_LEVEL)');
    expect(errorOf(() => parse(['--flush-interval=-1'])).message).toContain('--flush-interval (GENAI_LEDGER_FLUSH_INTERVAL)');
    expect(errorOf(() => parse(['--query-token', 'short'])).message).toContain('--query-token (GENAI_LEDGER_QUERY_TOKEN): expected at least 16 characters');
    expect(errorOf(() => parse(['--bogus', '1'])).message).toContain("Unknown option '--bogus'");
  });

  test('ingest tokens: JSON or YAML, from a file or GENAI_LEDGER_TOKENS; never in the start log', () => {
    const json = join(dir, 'tokens.json');
    writeFileSync(json, JSON.stringify([{ token: 'tok-acme-0123456789', org: 'acme' }, { token: 'tok-any-0123456789' }]));
    const yaml = join(dir, 'tokens.yaml');
    writeFileSync(yaml, 'tokens:\n  - token: tok-globex-0123456789\n    org: globex\n');
    const fromJson = parse(['--tokens-file', json]);
    expect(fromJson.tokens).toEqual([{ token: 'tok-acme-0123456789', org: 'acme' }, { token: 'tok-any-0123456789' }]);
    expect(fromJson.tokensSource).toBe(`file ${json}`);
    expect(parse([], { GENAI_LEDGER_TOKENS_FILE: yaml }).tokens).toEqual([{ token: 'tok-globex-0123456789', org: 'globex' }]);
    expect(parse([], { GENAI_LEDGER_TOKENS: '- {token: inline-token-1, org: initech}' }).tokens).toEqual([{ token: 'inline-token-1', org: 'initech' }]);
    expect(parse([], { GENAI_LEDGER_TOKENS: 'a-token,b-token' }).tokens).toEqual([{ token: 'a-token' }, { token: 'b-token' }]);

    const logged = JSON.stringify(describeConfig(parse(['--tokens-file', json, '--query-token', 'query-token-0123456789', '--store', 'http://u:pw@ch:8123/db', '--spool-dir', join(dir, 'spool')])));
    expect(logged).not.toContain('tok-acme');
    expect(logged).not.toContain('query-token-0123456789');
    expect(logged).not.toContain(':pw@');
    expect(logged).toContain('"tokens":2');
    expect(logged).toContain('"orgBoundTokens":1');
  });

  test('bad token lists name the setting and never quote a token', () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, '- token: secret-value-1\n- token: secret-value-1\n');
    const dup = errorOf(() => parse(['--tokens-file', bad])).message;
    expect(dup).toBe(`--tokens-file (GENAI_LEDGER_TOKENS_FILE): entry 2: duplicate token`);
    expect(errorOf(() => parse([], { GENAI_LEDGER_TOKENS: '[{org: acme}]' })).message).toBe("GENAI_LEDGER_TOKENS: entry 1: 'token' must be a non-empty string");
    expect(errorOf(() => parse([], { GENAI_LEDGER_TOKENS: '[{token: x, tenant: acme}]' })).message).toContain("unknown field 'tenant'");
    expect(errorOf(() => parse(['--tokens-file', join(dir, 'missing.json')])).message).toContain('no such file');
    expect(errorOf(() => parse(['--tokens-file', bad], { GENAI_LEDGER_TOKENS: 'x' })).message).toContain('both set');
    writeFileSync(bad, '- token: same-as-query-token-123\n');
    expect(errorOf(() => parse(['--tokens-file', bad, '--query-token', 'same-as-query-token-123'])).message).toContain('must differ');
  });

  test('--help documents every setting with its variable and default', () => {
    const help = settingsHelp();
    for (const s of Object.values(SETTINGS)) {
      expect(help).toContain(`--${s.flag}`);
      expect(help).toContain(`[${s.env}]`);
    }
    expect(help).toContain('Default 4318');
  });
});
