/**
 * createStoreClient over HTTP against a fake ClickHouse endpoint: credentials, database handling,
 * and that the password never shows up in errors.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { diag, DiagLogLevel, type DiagLogger } from '@opentelemetry/api';
import { createStoreClient, parseStore, StoreError } from '../../clickhouse/store.js';
import { BatchWriter } from '../../delivery/writer/batch-writer.js';
import { chunkOfLines } from '../../clickhouse/row-chunk.js';
import { insertStatement, serializeRow } from '../../clickhouse/serialize.js';
import { usageRow } from '../support/store.js';

interface Seen {
  query: string;
  database: string | null;
  auth: string | undefined;
  /** The request body when the statement came in the URL (an insert's rows). */
  body: string;
  params: URLSearchParams;
}

let server: Server;
let port: number;
const seen: Seen[] = [];
let refuseCreate = false;

async function body(req: IncomingMessage): Promise<string> {
  let text = '';
  for await (const chunk of req) text += String(chunk);
  return text;
}

beforeAll(async () => {
  server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const text = await body(req);
    const query = url.searchParams.get('query') ?? text;
    seen.push({ query, database: url.searchParams.get('database'), auth: req.headers.authorization, body: url.searchParams.has('query') ? text : '', params: url.searchParams });
    if (refuseCreate && query.startsWith('CREATE DATABASE')) {
      res.writeHead(403, { 'X-ClickHouse-Exception-Code': '497' });
      res.end('Code: 497. DB::Exception: alice: Not enough privileges. (ACCESS_DENIED)\n');
      return;
    }
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.end('');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe('createStoreClient (http)', () => {
  test('creates the database without naming one, then works in it with the URL credentials', async () => {
    seen.length = 0;
    const client = await createStoreClient(parseStore(`http://alice:p%40ss@127.0.0.1:${port}/ledger`));
    await client.command({ query: 'SELECT 1' });
    await client.close();
    expect(seen.map((s) => [s.query.trim(), s.database])).toEqual([
      ['CREATE DATABASE IF NOT EXISTS ledger', null], // no database parameter: the server's default
      ['SELECT 1', 'ledger'],
    ]);
    const basic = `Basic ${Buffer.from('alice:p@ss').toString('base64')}`;
    expect(seen.every((s) => s.auth === basic)).toBe(true);
  });

  test("the writer's insert: the rows' bytes as the body, the dedup token and async_insert=0 as settings", async () => {
    seen.length = 0;
    const client = await createStoreClient(parseStore(`http://alice:secret@127.0.0.1:${port}/ledger`), { ensureDatabase: false });
    const writer = new BatchWriter(client, { table: 'ledger.ai_usage', meter: false });
    const lines = [usageRow(1), usageRow(2), usageRow(3, { feature: 'é 🙂' })].map(serializeRow);
    writer.enqueueChunk(chunkOfLines(lines.slice(0, 2), true));
    writer.enqueueChunk(chunkOfLines(lines.slice(2), true));
    await writer.flush();
    await writer.shutdown();
    await client.close();
    expect(seen).toHaveLength(1);
    expect(seen[0]!.query).toBe(insertStatement('ledger.ai_usage'));
    expect(seen[0]!.body).toBe(`${lines.join('\n')}\n`);
    expect(seen[0]!.params.get('insert_deduplication_token')).toMatch(/^[0-9a-f]{64}$/);
    expect(seen[0]!.params.get('async_insert')).toBe('0');
    expect(writer.stats).toMatchObject({ writtenRows: 3, droppedRows: 0 });
  });

  test('a refused CREATE DATABASE (no grant) is not fatal', async () => {
    seen.length = 0;
    refuseCreate = true;
    try {
      const client = await createStoreClient(parseStore(`http://alice:secret@127.0.0.1:${port}/ledger`));
      await client.close();
    } finally {
      refuseCreate = false;
    }
    expect(seen).toHaveLength(1);
  });

  test('an unreachable server: StoreError with the URL redacted', async () => {
    const unused = await new Promise<number>((resolve) => {
      const s = createServer();
      s.listen(0, '127.0.0.1', () => {
        const p = (s.address() as AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    const logged: string[] = [];
    const capture = (...args: unknown[]) => void logged.push(args.map(String).join(' '));
    const logger: DiagLogger = { error: capture, warn: capture, info: capture, debug: capture, verbose: capture };
    diag.setLogger(logger, { logLevel: DiagLogLevel.ALL, suppressOverrideMessage: true });
    const err = await createStoreClient(parseStore(`http://alice:hunter2@127.0.0.1:${unused}/ledger`), { request_timeout: 2_000 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    diag.disable();
    // The client's own log lines go to diag, not the console, and carry no password.
    expect(logged.some((l) => l.includes('@clickhouse/client'))).toBe(true);
    expect(logged.join('\n')).not.toContain('hunter2');
    expect(err).toBeInstanceOf(StoreError);
    expect((err as StoreError).code).toBe('STORE_UNAVAILABLE');
    expect((err as Error).message).toContain(`http://alice:***@127.0.0.1:${unused}/ledger`);
    expect(String(err)).not.toContain('hunter2');
    expect(JSON.stringify(err)).not.toContain('hunter2');
  });

  test('ensureDatabase: false makes no request', async () => {
    seen.length = 0;
    const client = await createStoreClient(parseStore(`http://127.0.0.1:${port}`), { ensureDatabase: false });
    await client.close();
    expect(seen).toEqual([]);
  });
});
