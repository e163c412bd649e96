/**
 * bench/otlp-decode: OTLP trace decoding (collector/otlp) against `JSON.parse` of the same
 * request's OTLP/JSON text, in one run. Payload: SDK spans × 15 GenAI attributes, serialized by
 * @opentelemetry/otlp-transformer exactly as the OTLP/HTTP exporters send them
 * (test/fixtures/otlp/sdk-spans.ts recordBulk), decoded repeatedly; the cases run interleaved,
 * in rotating order, so machine load and garbage collection hit them alike. Ratio = JSON.parse
 * time / case time (1 = as fast as parsing the JSON text, the floor any JSON decoder pays).
 * No target ratio is set for the decoders; the script fails (exit 1) if a shipped decoder
 * (decodeTraceRequest) falls under 5000 spans/s, a pathological regression rather than machine
 * noise. The protobuf streaming walker is expected to beat the whole-request decode it replaced
 * (collector/otlp/decode-protobuf.ts: 2-3x).
 *   npm run bench:otlp-decode [-- --spans 5000 --runs 25]
 */
import { availableParallelism, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { decodeTraceRequest } from '../collector/otlp/decode.js';
import { decodeProtobufTracesWhole } from '../collector/otlp/decode-protobuf.js';
import { ExportTraceServiceRequest } from '../collector/otlp/schema.js';
import { recordBulk } from '../test/fixtures/otlp/sdk-spans.js';
import { perSecond, printFigure } from './support/measure.js';

const { values } = parseArgs({ options: { spans: { type: 'string', default: '5000' }, runs: { type: 'string', default: '25' } } });
const SPANS = Number(values.spans);
const RUNS = Number(values.runs);

/** Runs the cases interleaved, in rotating order; returns min and median ms per case. */
function measure(cases: Array<[string, () => unknown]>): Array<{ label: string; min: number; median: number }> {
  for (let i = 0; i < 5; i++) for (const [, fn] of cases) fn(); // warm-up (JIT)
  const times = cases.map((): number[] => []);
  for (let r = 0; r < RUNS; r++) {
    // Rotate the starting case: the garbage one case leaves is collected during the next one.
    for (let k = 0; k < cases.length; k++) {
      const i = (r + k) % cases.length;
      const fn = cases[i]![1];
      const t0 = performance.now();
      fn();
      times[i]!.push(performance.now() - t0);
    }
  }
  return cases.map(([label], i) => {
    const t = times[i]!.sort((a, b) => a - b);
    return { label, min: t[0]!, median: t[Math.floor(t.length / 2)]! };
  });
}

const { protobuf, json } = recordBulk(SPANS);
const pbBuffer = Buffer.from(protobuf);
const jsonBuffer = Buffer.from(json);
const jsonText = jsonBuffer.toString('utf8');
for (const [encoding, body] of [['protobuf', pbBuffer], ['json', jsonBuffer]] as const) {
  const decoded = decodeTraceRequest(body, encoding);
  if (decoded.spans.length !== SPANS) throw new Error(`${encoding}: decoded ${decoded.spans.length} spans, expected ${SPANS}`);
}
if (decodeProtobufTracesWhole(pbBuffer, Infinity).spans.length !== SPANS) throw new Error('whole-request decode: wrong span count');

const rows = measure([
  ['JSON.parse(text) only', () => JSON.parse(jsonText)],
  ['utf8 decode + JSON.parse', () => JSON.parse(jsonBuffer.toString('utf8'))],
  ['decodeTraceRequest json', () => decodeTraceRequest(jsonBuffer, 'json')],
  ['protobufjs Type.decode of the request only', () => ExportTraceServiceRequest.decode(pbBuffer)],
  ['alt: Type.decode + toObject (no walk)', () => ExportTraceServiceRequest.toObject(ExportTraceServiceRequest.decode(pbBuffer), { longs: String, bytes: String })],
  ['alt: Type.decode whole request + walk', () => decodeProtobufTracesWhole(pbBuffer, Infinity)],
  ['decodeTraceRequest protobuf (streaming)', () => decodeTraceRequest(pbBuffer, 'protobuf')],
]);
const byLabel = new Map(rows.map((r) => [r.label, r]));
const base = byLabel.get('JSON.parse(text) only')!;

process.stdout.write(
  `bench/otlp-decode: ${SPANS} spans × 15 attributes, protobuf ${(protobuf.length / 1024).toFixed(0)} KiB, ` +
    `json ${(json.length / 1024).toFixed(0)} KiB; ${RUNS} interleaved runs, medians (and best runs); Node ${process.version}; load average ${loadavg()[0]!.toFixed(1)} on ${availableParallelism()} CPUs\n`,
);
for (const r of rows) {
  const goal = r === base ? '-' : r.label.startsWith('decodeTraceRequest') ? 'info; ≥ 5k spans/s' : 'info';
  printFigure(r === base ? `${r.label} (baseline)` : r.label, `${perSecond(SPANS, r.median)} spans/s`, base.median / r.median, goal);
  process.stdout.write(`    best run ${perSecond(SPANS, r.min)} spans/s, ratio ${(base.min / r.min).toFixed(2)}\n`);
}
const whole = byLabel.get('alt: Type.decode whole request + walk')!;
const streaming = byLabel.get('decodeTraceRequest protobuf (streaming)')!;
printFigure('protobuf streaming walker vs whole-request decode', `${(whole.median / streaming.median).toFixed(2)}x faster`, whole.median / streaming.median, '> 1 (2-3x)');
const slow = rows.filter((r) => r.label.startsWith('decodeTraceRequest') && perSecond(SPANS, r.min) < 5_000);
if (slow.length > 0) {
  process.stderr.write(`bench/otlp-decode: under the 5000 spans/s floor: ${slow.map((r) => r.label).join(', ')}\n`);
  process.exitCode = 1;
}
