import { parseArgs } from 'node:util';
import { readFile } from 'node:fs/promises';
import { decodeTraceRequest, maybeGunzip, sniffEncoding, type DecodedTraces } from '../collector/otlp/decode.js';
import { UsageMapper } from '../usage/mapper.js';
import { loadPriceBook } from '../pricing/index.js';
import { parseCommandArgs } from './args.js';
import { CliError } from './cli-error.js';
import type { Command } from './main.js';
import { readStdin, writeLines } from './stdio.js';

const HELP = `Usage: genai-ledger usage [--input FILE] [--prices FILE]

Reads a trace export (OTLP/JSON as the OTLP exporters send it, JSON Lines of such requests as the
OpenTelemetry Collector's file exporter writes them, or OTLP/protobuf; gzip allowed) from FILE or
stdin and prints one JSON object per AI call (the usage row fields) on stdout. A summary line goes
to stderr: spans read, rows, unpriced, skipped (not AI calls), malformed.

Options:
  --input FILE    trace export to read (default: stdin)
  --prices FILE   price overrides (JSON or YAML) that win over the bundled catalog`;

export const usageCommand: Command = {
  summary: 'price the AI calls in a trace export file (JSON Lines out)',
  help: HELP,
  async run(argv) {
    const { values } = parseCommandArgs(() =>
      parseArgs({ args: argv, options: { input: { type: 'string' }, prices: { type: 'string' } }, strict: true }));
    const raw = values.input ? await readInput(values.input) : await readStdin();
    const prices = await loadPriceBook(values.prices ? { overridesFile: values.prices } : {});
    const mapper = new UsageMapper({ prices });

    const decoded = decodeExport(isGzip(raw) ? maybeGunzip(raw, 'gzip') : raw);
    const result = mapper.mapAll(decoded.spans);
    await writeLines(result.rows.map((row) => JSON.stringify(row)));

    const malformed = decoded.rejected + result.malformed;
    process.stderr.write(
      `spans read: ${decoded.spans.length + decoded.rejected}, rows: ${result.rows.length}, unpriced: ${result.unpriced}, ` +
        `skipped: ${result.skipped}, malformed: ${malformed}\n`,
    );
    for (const reason of [...decoded.errors, ...result.errors]) process.stderr.write(`  malformed ${reason}\n`);
    return 0;
  },
};

async function readInput(path: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new CliError(`cannot read ${path}: ${code === 'ENOENT' ? 'no such file' : (error as Error).message}`);
  }
}

/** One OTLP request, or JSON Lines of them (the Collector's file exporter). */
function decodeExport(body: Uint8Array): DecodedTraces {
  if (body.length === 0) throw new CliError('the input is empty');
  const encoding = sniffEncoding(body);
  if (encoding === 'protobuf') return decodeTraceRequest(body, 'protobuf');
  const text = Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
  const lines = text.split('\n').filter((line) => line.trim() !== '');
  // Pretty-printed JSON's first line is not a document by itself; a JSON Lines file's is.
  const parts = lines.length > 1 && isJson(lines[0]!) ? lines.map((line) => Buffer.from(line)) : [body];
  const merged: DecodedTraces = { spans: [], rejected: 0, errors: [] };
  parts.forEach((part, index) => {
    let decoded: DecodedTraces;
    try {
      decoded = decodeTraceRequest(part, 'json');
    } catch (error) {
      throw new CliError(parts.length > 1 ? `line ${index + 1}: ${(error as Error).message}` : (error as Error).message);
    }
    for (const span of decoded.spans) merged.spans.push(span);
    merged.rejected += decoded.rejected;
    merged.errors.push(...decoded.errors);
  });
  return merged;
}

function isGzip(body: Uint8Array): boolean {
  return body.length > 2 && body[0] === 0x1f && body[1] === 0x8b;
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}
