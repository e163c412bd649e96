/** `genai-ledger usage`: any trace export in, one priced JSON row per AI call out. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { main } from '../../cli/main.js';
import { generateSpans } from '../../bench/support/traffic.js';

const dir = mkdtempSync(join(tmpdir(), 'genai-ledger-usage-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let out = '';
let err = '';
beforeEach(() => {
  out = '';
  err = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => ((out += String(chunk)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => ((err += String(chunk)), true));
});
afterEach(() => vi.restoreAllMocks());

const rows = () => out.split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>);
const file = (name: string, body: Uint8Array | string) => {
  const path = join(dir, name);
  writeFileSync(path, body);
  return path;
};

const example = readFileSync(new URL('../../examples/trace.otlp.json', import.meta.url));
const exampleSpans = generateSpans({ spans: 16, aiShare: 0.8, seed: 7 });

describe('usage', () => {
  it('prints one priced row per AI call of an OTLP/JSON export, and a summary', async () => {
    expect(await main(['usage', '--input', file('trace.json', example)])).toBe(0);
    const printed = rows();
    expect(printed).toHaveLength(10);
    expect(printed.every((r) => typeof r.cost_usd === 'string' && r.price_source === 'genai-prices@0.1.8')).toBe(true);
    expect(Object.keys(printed[0]!)).toEqual(expect.arrayContaining(['ts', 'org_id', 'cost_breakdown', 'priced_model']));
    expect(err).toBe('spans read: 16, rows: 10, unpriced: 0, skipped: 6, malformed: 0\n');
  });

  it.each([
    ['OTLP/protobuf', () => ProtobufTraceSerializer.serializeRequest(exampleSpans)!],
    ['gzip', () => gzipSync(example)],
    ['JSON Lines (Collector file exporter)', () => {
      const doc = JSON.parse(example.toString()) as { resourceSpans: unknown[] };
      return doc.resourceSpans.map((rs) => JSON.stringify({ resourceSpans: [rs] })).join('\n');
    }],
  ])('reads %s to the same rows', async (_name, body) => {
    await main(['usage', '--input', file('trace.json', example)]);
    // The same traffic (same seed); span ids are random per generation.
    const key = (r: Record<string, unknown>) => `${r.ts} ${r.request_model} ${r.cost_usd}`;
    const expected = rows().map(key).sort();
    out = '';
    expect(await main(['usage', '--input', file('trace.bin', body())])).toBe(0);
    expect(rows().map(key).sort()).toEqual(expected);
  });

  it('counts a malformed span and prints the rest', async () => {
    const doc = JSON.parse(example.toString());
    doc.resourceSpans[0].scopeSpans[0].spans[0].spanId = 'not-hex';
    expect(await main(['usage', '--input', file('bad-span.json', JSON.stringify(doc))])).toBe(0);
    expect(err).toMatch(/^spans read: 16, rows: \d+, unpriced: 0, skipped: \d+, malformed: 1\n  malformed span 0: invalid span_?id/i);
  });

  it('applies a prices file', async () => {
    const prices = file('prices.yaml', 'models:\n  - model: gpt-4o\n    prices: { input_mtok: 1, output_mtok: 1, cache_read_mtok: 1 }\n');
    await main(['usage', '--input', file('trace.json', example), '--prices', prices]);
    const gpt4o = rows().filter((r) => r.request_model === 'gpt-4o');
    expect(gpt4o.length).toBeGreaterThan(0);
    for (const row of gpt4o) {
      expect(row.price_source).toBe('override:prices.yaml');
      expect(row.cost_usd).toBe(String(((row.input_tokens as number) + (row.output_tokens as number)) / 1e6));
    }
  });

  it.each([
    ['not JSON', 'this is not a trace', /^genai-ledger: .+\n$/],
    ['empty', '', /^genai-ledger: the input is empty\n$/],
    ['truncated protobuf', ProtobufTraceSerializer.serializeRequest(exampleSpans)!.slice(0, 200), /^genai-ledger: .+\n$/],
  ])('bad input (%s): one line, exit 1, no rows', async (_name, body, message) => {
    expect(await main(['usage', '--input', file('bad', body)])).toBe(1);
    expect(err).toMatch(message);
    expect(out).toBe('');
  });

  it.each([
    [['usage', '--input', join(dir, 'missing.json')], 1, /^genai-ledger: cannot read .*missing\.json: no such file\n$/],
    [['usage', '--nope'], 2, /^genai-ledger: Unknown option '--nope'/],
    [['nope'], 2, /^genai-ledger: unknown command 'nope'/],
  ])('%j exits %i', async (argv, code, message) => {
    expect(await main(argv)).toBe(code);
    expect(err).toMatch(message);
  });

  it('explains itself', async () => {
    expect(await main(['usage', '--help'])).toBe(0);
    expect(out).toMatch(/^Usage: genai-ledger usage \[--input FILE\] \[--prices FILE\]/);
  });
});
