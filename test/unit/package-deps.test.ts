/**
 * The embedded engine (chdb, ~550 MB with its platform package), the OpenAI SDK and its
 * instrumentation are optional: an app writing to a ClickHouse URL installs none of them
 * (bench/install-size.ts measures it). So they are not in `dependencies`, and no module an entry
 * point loads imports them statically: only lazy `import()`s where a feature needs them.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const OPTIONAL = ['chdb', 'openai', '@opentelemetry/instrumentation-openai'];

interface PackageJson {
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  exports: Record<string, { default: string }>;
}
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as PackageJson;

interface Imports {
  staticImports: string[];
  dynamicImports: string[];
}
const scanned = new Map<string, Imports>();

/** Module specifiers of a source file as compiled: imports used only as types are gone. */
function compiledImports(file: string): Imports {
  const cached = scanned.get(file);
  if (cached) return cached;
  const js = ts.transpileModule(readFileSync(file, 'utf8'), {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    fileName: file,
  }).outputText;
  const source = ts.createSourceFile(file, js, ts.ScriptTarget.ES2022, false, ts.ScriptKind.JS);
  const staticImports: string[] = [];
  const dynamicImports: string[] = [];
  for (const statement of source.statements) {
    if ((ts.isImportDeclaration(statement) || ts.isExportDeclaration(statement)) && statement.moduleSpecifier && ts.isStringLiteral(statement.moduleSpecifier)) {
      staticImports.push(statement.moduleSpecifier.text);
    }
  }
  const visit = (node: ts.Node): void => {
    if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0] && ts.isStringLiteral(node.arguments[0])) {
      dynamicImports.push(node.arguments[0].text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  scanned.set(file, { staticImports, dynamicImports });
  return { staticImports, dynamicImports };
}

/** The TypeScript source of a relative `./x.js` specifier. */
function sourceOf(from: string, specifier: string): string {
  return resolve(dirname(from), specifier).replace(/\.js$/, '.ts');
}

/** Every module loaded with `entry`, before any lazy import(): file → its package imports. */
function loadedWith(entries: readonly string[]): Map<string, string[]> {
  const loaded = new Map<string, string[]>();
  const pending = [...entries];
  while (pending.length > 0) {
    const file = pending.pop()!;
    if (loaded.has(file)) continue;
    expect(existsSync(file), `${relative(ROOT, file)} exists`).toBe(true);
    const { staticImports } = compiledImports(file);
    loaded.set(file, staticImports.filter((s) => !s.startsWith('.')));
    pending.push(...staticImports.filter((s) => s.startsWith('.')).map((s) => sourceOf(file, s)));
  }
  return loaded;
}

const isOptional = (specifier: string): boolean => OPTIONAL.some((name) => specifier === name || specifier.startsWith(`${name}/`));

describe('package.json', () => {
  it.each(OPTIONAL)('%s is not a hard dependency, and this repository installs it (npm ci)', (name) => {
    expect(pkg.dependencies ?? {}).not.toHaveProperty(name);
    // optionalDependencies are installed by default: they would not lighten the install.
    expect(pkg.optionalDependencies ?? {}).not.toHaveProperty(name);
    expect(pkg.devDependencies).toHaveProperty(name);
  });

  it('declares the engine as an optional peer that accepts the version this repository tests', () => {
    expect(pkg.peerDependenciesMeta?.chdb?.optional).toBe(true);
    const [major, minor] = pkg.devDependencies!.chdb!.split('.');
    expect(pkg.peerDependencies?.chdb).toBe(`^${major}.${minor}.0`);
  });
});

describe('modules loaded without the optional packages', () => {
  const exported = Object.values(pkg.exports).map((e) => join(ROOT, e.default.replace(/^\.\/dist\//, '').replace(/\.js$/, '.ts')));
  // The CLI (bin/genai-ledger.js → dist/cli/main.js) loads its commands lazily, and all of them for --help.
  const main = join(ROOT, 'cli', 'main.ts');
  const commands = compiledImports(main).dynamicImports.map((s) => sourceOf(main, s));

  it('finds the entry points and the CLI commands', () => {
    expect(exported.map((f) => relative(ROOT, f)).sort()).toEqual(['index.ts', 'instrumentation/index.ts']);
    expect(commands.map((f) => relative(ROOT, f))).toContain('cli/demo-command.ts');
  });

  it.each([
    ['the package entry points', exported],
    ['the CLI and its commands', [main, ...commands]],
  ])('%s import none statically', (_what, entries) => {
    const offending = [...loadedWith(entries)].flatMap(([file, packages]) =>
      packages.filter(isOptional).map((p) => `${relative(ROOT, file)} imports ${p}`));
    expect(offending).toEqual([]);
  });

  it('the scan sees a static import of one (the demo imports openai once the demo command runs)', () => {
    const demo = new Set([...loadedWith([join(ROOT, 'demo', 'run.ts')]).values()].flat());
    expect([...demo].filter(isOptional).sort()).toEqual(['@opentelemetry/instrumentation-openai', 'openai']);
  });
});
