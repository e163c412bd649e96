/**
 * Fuzz: random and mutated OTLP bodies (test/support/fuzz.ts) through decodeTraceRequest and
 * UsageMapper.mapAll. Invariants:
 * - decoding throws nothing but OtlpDecodeError (the collector's 400);
 * - otherwise every span is accounted for: rows + skipped + malformed (mapper) = decoded spans,
 *   and decoded + rejected (decoder) = the spans in the request, where that is known
 *   independently (generated bodies; mutated ones that still parse as a request);
 * - every row the mapper makes is insertable (token counts non-negative integers, finite
 *   duration, well-formed timestamp and decimal cost) and serializes;
 * - heap used stays bounded over the run.
 * Fixed seed; FUZZ_ITERATIONS (default 1000, ~10 s) and FUZZ_SEED override.
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import { beforeAll, expect, test } from 'vitest';
import { decodeTraceRequest, OtlpDecodeError } from '../../collector/otlp/decode.js';
import { ExportTraceServiceRequest } from '../../collector/otlp/schema.js';
import { UsageMapper } from '../../usage/mapper.js';
import { loadPriceBook } from '../../pricing/index.js';
import type { UsageRow } from '../../usage/usage-row.js';
import { serializeRow } from '../../clickhouse/serialize.js';
import { countJsonSpans, fuzzBodies, type FuzzBody } from '../support/fuzz.js';

const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed);
const ITERATIONS = Number(process.env.FUZZ_ITERATIONS ?? 1_000);
const HEAP_GROWTH_LIMIT = 64 * 1024 * 1024;

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

let mapper: UsageMapper;
beforeAll(async () => {
  mapper = new UsageMapper({ prices: await loadPriceBook(), attributeAllowList: ['attr.*', 'gen_ai.*'] });
});

const TS = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}$/;
const DECIMAL = /^-?\d+(\.\d+)?$/;
const TOKEN_FIELDS = ['input_tokens', 'output_tokens', 'cache_read_tokens', 'cache_write_tokens', 'reasoning_tokens', 'input_audio_tokens', 'output_audio_tokens'] as const;

/** Why a mapped row would not insert cleanly, or undefined. */
function rowProblem(row: UsageRow): string | undefined {
  for (const f of TOKEN_FIELDS) {
    const v = row[f];
    if (!Number.isSafeInteger(v) || v < 0) return `${f} = ${String(v)}`;
  }
  if (!Number.isFinite(row.duration_ms) || row.duration_ms < 0) return `duration_ms = ${row.duration_ms}`;
  if (!TS.test(row.ts)) return `ts = ${row.ts}`;
  if (row.cost_usd !== null && !DECIMAL.test(row.cost_usd)) return `cost_usd = ${row.cost_usd}`;
  for (const [k, v] of Object.entries(row.usage_details)) if (!Number.isFinite(v)) return `usage_details.${k} = ${v}`;
  for (const [k, v] of Object.entries(row.cost_breakdown)) if (!DECIMAL.test(v)) return `cost_breakdown.${k} = ${v}`;
  if (!/^[0-9a-f]{32}$/.test(row.trace_id) || !/^[0-9a-f]{16}$/.test(row.span_id)) return `ids ${row.trace_id}/${row.span_id}`;
  try {
    const back = JSON.parse(serializeRow(row)) as unknown[];
    if (back.length !== 30) return 'serialized width';
  } catch (err) {
    return `serialize: ${(err as Error).message}`;
  }
  return undefined;
}

/** Spans in the body per an independent reading, when it can be had. */
function independentCount(fb: FuzzBody): number | undefined {
  if (fb.spans !== undefined) return fb.spans;
  if (fb.encoding === 'json') {
    try {
      let text = Buffer.from(fb.body).toString('utf8');
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      return countJsonSpans(JSON.parse(text));
    } catch {
      return undefined;
    }
  }
  try {
    const message = ExportTraceServiceRequest.decode(fb.body) as unknown as { resourceSpans: Array<{ scopeSpans: Array<{ spans: unknown[] }> }> };
    let n = 0;
    for (const rs of message.resourceSpans) for (const ss of rs.scopeSpans) n += ss.spans.length;
    return n;
  } catch {
    return undefined;
  }
}

test(`fuzz: ${ITERATIONS} OTLP bodies (seed ${SEED}) through decode + map`, () => {
  const failures: string[] = [];
  const fail = (fb: FuzzBody & { index: number }, what: string): void => {
    if (failures.length < 20) failures.push(`#${fb.index} ${fb.encoding}/${fb.kind} (${fb.body.length} B): ${what}`);
  };
  const tally = { bodies: 0, bytes: 0, decodeErrors: 0, spans: 0, rejected: 0, rows: 0, skipped: 0, malformed: 0, crossChecked: 0 };
  const byKind: Record<string, number> = {};
  const warmup = Math.min(100, Math.floor(ITERATIONS / 10));
  let heapAfterWarmup = 0;
  let heapPeak = 0;
  const started = performance.now();

  for (const fb of fuzzBodies(SEED, ITERATIONS)) {
    if (fb.index === warmup) {
      gc();
      heapAfterWarmup = process.memoryUsage().heapUsed;
    }
    tally.bodies++;
    tally.bytes += fb.body.length;
    byKind[fb.kind] = (byKind[fb.kind] ?? 0) + 1;
    let decoded;
    try {
      decoded = decodeTraceRequest(fb.body, fb.encoding, { maxAttributeValueLength: 4096 });
    } catch (err) {
      if (!(err instanceof OtlpDecodeError)) fail(fb, `threw ${(err as Error)?.constructor?.name}: ${String((err as Error)?.message ?? err).slice(0, 200)}`);
      else if (fb.kind === 'valid') fail(fb, `a well-formed body was refused: ${err.message.slice(0, 200)}`);
      else if (!/^invalid OTLP\//.test(err.message) || err.message.includes('\n')) fail(fb, `unexpected 400 message: ${err.message.slice(0, 200)}`);
      tally.decodeErrors++;
      continue;
    }
    const inRequest = decoded.spans.length + decoded.rejected;
    const expected = independentCount(fb);
    if (expected !== undefined) {
      tally.crossChecked++;
      if (expected !== inRequest) fail(fb, `decoder accounted for ${inRequest} spans (${decoded.spans.length} + ${decoded.rejected} rejected), the request holds ${expected}`);
    }
    let mapped;
    try {
      mapped = mapper.mapAll(decoded.spans);
    } catch (err) {
      fail(fb, `mapAll threw ${String(err).slice(0, 200)}`);
      continue;
    }
    if (mapped.rows.length + mapped.skipped + mapped.malformed !== decoded.spans.length) {
      fail(fb, `mapper accounted for ${mapped.rows.length} + ${mapped.skipped} + ${mapped.malformed} of ${decoded.spans.length} spans`);
    }
    for (const row of mapped.rows) {
      const problem = rowProblem(row);
      if (problem) {
        fail(fb, `row ${row.span_id} would not insert: ${problem}`);
        break;
      }
    }
    tally.spans += inRequest;
    tally.rejected += decoded.rejected;
    tally.rows += mapped.rows.length;
    tally.skipped += mapped.skipped;
    tally.malformed += mapped.malformed;
    if (fb.index % 50 === 0) heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed);
  }
  gc();
  const heapEnd = process.memoryUsage().heapUsed;
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `fuzz seed ${SEED}: ${tally.bodies} bodies (${(tally.bytes / 1e6).toFixed(1)} MB; ${JSON.stringify(byKind)}) in ${seconds.toFixed(1)} s; ` +
      `${tally.decodeErrors} → 400; ${tally.spans} spans = ${tally.rows} rows + ${tally.skipped} skipped + ${tally.malformed} malformed + ${tally.rejected} rejected; ` +
      `${tally.crossChecked} span counts cross-checked; heap ${(heapAfterWarmup / 1e6).toFixed(1)} MB after warm-up, ${(heapEnd / 1e6).toFixed(1)} MB at the end (peak sample ${(heapPeak / 1e6).toFixed(1)} MB)`,
  );
  expect(failures).toEqual([]);
  expect(tally.spans).toBe(tally.rows + tally.skipped + tally.malformed + tally.rejected);
  expect(tally.rows).toBeGreaterThan(0);
  expect(tally.decodeErrors).toBeGreaterThan(0);
  expect(heapEnd - heapAfterWarmup).toBeLessThan(HEAP_GROWTH_LIMIT);
}, 600_000);

test('a fractional token count makes the span malformed (a UInt64 column would refuse the row)', async () => {
  const { chatSpan } = await import('./support/spans.js');
  const span = chatSpan(1);
  const result = new UsageMapper({}).mapAll([{ ...span, attributes: { ...span.attributes, 'gen_ai.usage.output_tokens': 0.5 } }]);
  expect([result.rows.length, result.malformed]).toEqual([0, 1]);
  expect(result.errors[0]).toMatch(/gen_ai\.usage\.output_tokens: not a whole count \(0\.5\)/);
});
