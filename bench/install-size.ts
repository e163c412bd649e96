/**
 * bench/install-size: what an app downloads when it installs genai-ledger. The package is packed
 * (`npm pack`, which builds dist/) and installed from the tarball into fresh apps in a temp
 * folder, as a user would from the registry:
 *   url-only   the package alone: an app that writes to a ClickHouse URL
 *   embedded   the package + chdb (the embedded store, `npm install genai-ledger chdb`)
 *   hard deps  the package + chdb + openai + @opentelemetry/instrumentation-openai: what every
 *              app installed while those three were `dependencies`
 * Size = `du -sb node_modules`. In the url-only app the script also loads both entry points
 * (`genai-ledger`, `genai-ledger/instrumentation`) and opens the embedded default store, which
 * must fail with the one-line "needs the chdb package" error; it exits 1 if any of that fails or
 * if the url-only app holds chdb or openai. Versions: this repository's devDependencies.
 * Needs the npm registry (or a warm npm cache).
 *   npm run bench:install-size [-- --dir /tmp/lightapp]
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({ options: { dir: { type: 'string', default: join(tmpdir(), 'genai-ledger-install-size') } } });
const BASE = resolve(values.dir);
const devDependencies = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> }).devDependencies;
const pinned = (name: string): string => `${name}@${devDependencies[name]}`;

function sh(command: string, args: readonly string[], cwd: string): string {
  return execFileSync(command, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** A fresh app in BASE/name with the tarball and `extra` installed; its node_modules size in bytes. */
function install(name: string, tarball: string, extra: readonly string[]): number {
  const app = join(BASE, name);
  rmSync(app, { recursive: true, force: true });
  mkdirSync(app, { recursive: true });
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: `install-size-${name}`, private: true, type: 'module' }));
  sh('npm', ['install', tarball, ...extra, '--no-audit', '--no-fund', '--loglevel=error'], app);
  return Number(sh('du', ['-sb', 'node_modules'], app).split('\t')[0]);
}

/** Loads the entry points in the url-only app and opens the embedded store: what it prints. */
function checkUrlOnlyApp(app: string): string[] {
  const problems = ['chdb', 'openai', '@opentelemetry/instrumentation-openai']
    .filter((name) => existsSync(join(app, 'node_modules', name)))
    .map((name) => `${name} is installed`);
  const script = `
    const { GenAiLedgerExporter } = await import('genai-ledger');
    const { register } = await import('genai-ledger/instrumentation');
    if (typeof GenAiLedgerExporter !== 'function' || typeof register !== 'function') throw new Error('exports missing');
    const { Ledger } = await import('genai-ledger');
    try { await (await Ledger.open({ store: ${JSON.stringify(join(app, 'store'))} })).close(); console.log('embedded store opened'); } catch (err) { console.log(err.message); }`;
  const out = sh(process.execPath, ['--input-type=module', '--eval', script], app).trim();
  if (out !== 'the embedded store needs the chdb package: npm install chdb (or set a ClickHouse URL)') problems.push(`embedded store: ${out}`);
  return problems;
}

const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`;

mkdirSync(BASE, { recursive: true });
for (const old of readdirSync(BASE).filter((f) => f.endsWith('.tgz'))) rmSync(join(BASE, old));
const packed = JSON.parse(sh('npm', ['pack', '--json', '--pack-destination', BASE, '--loglevel=error'], ROOT).replace(/^[^[]*/, '')) as Array<{ filename: string; size: number }>;
const tarball = join(BASE, packed[0]!.filename);

const urlOnly = install('url-only', tarball, []);
const embedded = install('embedded', tarball, [pinned('chdb')]);
const hardDeps = install('hard-deps', tarball, [pinned('chdb'), pinned('openai'), pinned('@opentelemetry/instrumentation-openai')]);
const problems = checkUrlOnlyApp(join(BASE, 'url-only'));

process.stdout.write(
  [
    `genai-ledger install size, ${new Date().toISOString().slice(0, 10)}, node ${process.version}, npm ${sh('npm', ['--version'], ROOT).trim()}, ${process.platform}-${process.arch}`,
    `  tarball                        ${mb(packed[0]!.size).padStart(10)}`,
    `  url-only   (genai-ledger)      ${mb(urlOnly).padStart(10)}`,
    `  embedded   (+ chdb)            ${mb(embedded).padStart(10)}`,
    `  hard deps  (+ chdb, openai, …) ${mb(hardDeps).padStart(10)}   (before: all three were dependencies)`,
    `  url-only / hard deps: ${(urlOnly / hardDeps).toFixed(3)}   embedded / hard deps: ${(embedded / hardDeps).toFixed(3)}`,
    `  url-only app: ${problems.length === 0 ? 'both entry points load; the embedded store says to install chdb' : problems.join('; ')}`,
    `  apps in ${BASE}`,
    '',
  ].join('\n'),
);
if (problems.length > 0) process.exitCode = 1;
