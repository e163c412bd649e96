/**
 * Imports run one way: entrances → delivery → store → core. A module may import its own layer
 * or a lower one, never a higher one, and the two entrances never import each other. Read from
 * the source (static imports, dynamic `import()` and `new URL(...)` module references alike).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '../..');

/** Each source folder's rank; a folder imports only ranks at or below its own. */
const LAYERS: Record<string, number> = {
  pricing: 0,
  usage: 1,
  // Rate cards and invoices: pure, over pricing's decimals and usage's token kinds.
  billing: 1.5,
  clickhouse: 2,
  delivery: 3,
  // Providers' bills: Admin API and file importers over the store's bill tables.
  reconcile: 3,
  exporter: 4,
  collector: 4,
  instrumentation: 5,
  demo: 6,
  cli: 7,
};

function sourceFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return /\.(ts|mjs)$/.test(entry.name) && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

const SPECIFIER = /(?:\bfrom\s+|\bimport\s*\(\s*|\bnew URL\(\s*|\bmoduleBeside\(import\.meta\.url,\s*)(['"])(\.{1,2}\/[^'"]+|[\w-]+)\1/g;

/** The layer folders a file's relative imports reach. */
function importedFolders(file: string, text = readFileSync(join(ROOT, file), 'utf8')): string[] {
  const folders: string[] = [];
  for (const [, , spec] of text.matchAll(SPECIFIER)) {
    const target = spec!.startsWith('.') ? normalize(join(dirname(file), spec!)) : join(dirname(file), spec!);
    const top = relative(ROOT, join(ROOT, target)).split('/')[0]!;
    if (top in LAYERS) folders.push(top);
  }
  return folders;
}

/** What a file (in `folder`) imports against the layers. */
function fileViolations(file: string, text?: string): string[] {
  const folder = file.split('/')[0]!;
  const rank = LAYERS[folder]!;
  return importedFolders(file, text)
    .filter((target) => LAYERS[target]! > rank || (target !== folder && rank === 4 && LAYERS[target] === 4))
    .map((target) => `${file} → ${target}/`);
}

describe('layers', () => {
  it('no module imports a higher layer, and neither entrance imports the other', () => {
    const files = Object.keys(LAYERS).flatMap(sourceFiles);
    expect(files.length).toBeGreaterThan(100);
    expect(files.flatMap((file) => fileViolations(file))).toEqual([]);
  });

  it.each([
    ['usage/x.ts', "import type { Ledger } from '../delivery/ledger.js';", ['usage/x.ts → delivery/']],
    ['clickhouse/x.ts', "const m = await import('../collector/otlp-request.js');", ['clickhouse/x.ts → collector/']],
    ['delivery/x.ts', "new Worker(new URL('../exporter/span-wire.js', import.meta.url));", ['delivery/x.ts → exporter/']],
    ['exporter/x.ts', "import { submitRequest } from '../collector/request-job.js';", ['exporter/x.ts → collector/']],
    ['collector/x.ts', "import { Ledger } from '../delivery/ledger.js';\nimport { mapBatch } from './otlp/decode.js';", []],
    ['cli/x.ts', "import { startCollector } from '../collector/collector.js';", []],
  ])('%s: %s', (file, text, expected) => {
    expect(fileViolations(file, text)).toEqual(expected);
  });
});
