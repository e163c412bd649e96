/**
 * The new-user check (issue 14): the committed package, packed as npm publishes it, installed into a
 * fresh app next to `openai`, `@anthropic-ai/sdk` and their instrumentations; the app calls
 * register() and withUsageContext() and both providers (the fake providers, demo/fake-provider.ts,
 * run here on 127.0.0.1); then `genai-ledger report` on the app's store must show each provider's
 * calls, attributed, at their exact costs. Slow (a pack, a build and an install with chdb from the
 * npm cache), so not part of `npm test`:
 *
 *   npm run check:new-user [-- --dir /tmp/genai-ledger-new-user] [--keep]
 *
 * HEAD is packed from a `git archive` copy (the working tree's dist/ is left alone). Installs go
 * through /tmp/npm.lock and prefer the local npm cache. Exits 1 with the reason when anything differs.
 *
 * Expected costs (published prices per 1M tokens; fake usage in demo/fake-provider.ts):
 *   gpt-4o: input $2.50, output $10; @opentelemetry/instrumentation-openai reports no cached count:
 *     1200 × 2.50 + 300 × 10 = 6000 µ$ = $0.006 per call.
 *   claude-haiku-4-5: input $1, 5-minute cache write $1.25, cache read $0.10, output $5 (the SDK's own spans):
 *     200 × 1 + 1000 × 1.25 + 5000 × 0.1 + 300 × 5 = 3450 µ$ = $0.00345 per call.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startFakeProvider } from '../../demo/fake-provider.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const { values } = parseArgs({ options: { dir: { type: 'string', default: join(tmpdir(), 'genai-ledger-new-user') }, keep: { type: 'boolean', default: false } } });
const BASE = values.dir;
const SOURCE = join(BASE, 'source');
const APP = join(BASE, 'app');

/** What the app installs besides the package: the versions this repository tests (so the npm cache has them). */
const APP_PACKAGES = ['chdb', 'openai', '@anthropic-ai/sdk', '@opentelemetry/instrumentation-openai', '@arizeai/openinference-instrumentation-anthropic'];
const installed = (name: string): string =>
  (JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;

function sh(command: string, args: readonly string[], cwd: string, env: NodeJS.ProcessEnv = process.env): string {
  return execFileSync(command, args, { cwd, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024 });
}

/** Runs app.cjs without blocking this event loop (the fake providers answer from it); stdout and stderr together. */
function runApp(env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['app.cjs'], { cwd: APP, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(output) : reject(new Error(`the app exited with ${code}:\n${output}`))));
  });
}

function step(what: string): void {
  process.stdout.write(`${new Date().toISOString().slice(11, 19)} ${what}\n`);
}

const APP_SOURCE = `// A new user's service (CommonJS: the SDKs are required after register(), so its hooks patch them).
const { diag, DiagConsoleLogger, DiagLogLevel } = require('@opentelemetry/api');
diag.setLogger(new DiagConsoleLogger(), DiagLogLevel.INFO);

async function main() {
  const { register, withUsageContext } = await import('genai-ledger/instrumentation');
  const ledger = await register({ serviceName: 'new-user-app' });
  console.log('instrumentations: ' + JSON.stringify(ledger.instrumentations));
  const OpenAI = require('openai');
  const Anthropic = require('@anthropic-ai/sdk');
  const openai = new OpenAI({ apiKey: 'sk-test', baseURL: process.env.FAKE_URL + '/v1', maxRetries: 0 });
  const anthropic = new Anthropic({ apiKey: 'sk-ant-test', baseURL: process.env.FAKE_URL, maxRetries: 0 });
  const ask = { role: 'user', content: 'Say hello.' };
  await withUsageContext({ orgId: 'acme', userId: 'u-42', feature: 'support-bot' }, async () => {
    await openai.chat.completions.create({ model: 'gpt-4o', messages: [ask] });
    await anthropic.messages.create({ model: 'claude-haiku-4-5', max_tokens: 256, messages: [ask] });
    await anthropic.messages.create({ model: 'claude-haiku-4-5', max_tokens: 256, messages: [ask] });
  });
  await withUsageContext({ orgId: 'globex', feature: 'search' }, () => openai.chat.completions.create({ model: 'gpt-4o', messages: [ask] }));
  await ledger.shutdown();
  console.log('app done');
}
main().catch((error) => { console.error(error); process.exit(1); });
`;

interface ReportRow {
  org_id: string;
  feature: string;
  provider: string;
  calls: number | string;
  cost_usd: number | string;
}

const EXPECTED = [
  { org_id: 'acme', feature: 'support-bot', provider: 'anthropic', calls: '2', cost_usd: '0.0069' },
  { org_id: 'acme', feature: 'support-bot', provider: 'openai', calls: '1', cost_usd: '0.006' },
  { org_id: 'globex', feature: 'search', provider: 'openai', calls: '1', cost_usd: '0.006' },
];

async function main(): Promise<number> {
  rmSync(BASE, { recursive: true, force: true });
  mkdirSync(SOURCE, { recursive: true });
  mkdirSync(APP, { recursive: true });

  step(`packing HEAD (${sh('git', ['rev-parse', '--short', 'HEAD'], ROOT).trim()}) from a git archive copy`);
  execFileSync('sh', ['-c', `git archive HEAD | tar -x -C '${SOURCE}'`], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  // The build (prepare) needs the dev dependencies: the repository's, not installed again.
  execFileSync('ln', ['-s', join(ROOT, 'node_modules'), join(SOURCE, 'node_modules')]);
  const packed = JSON.parse(sh('npm', ['pack', '--json', '--pack-destination', BASE, '--loglevel=error'], SOURCE).replace(/^[^[]*/, '')) as Array<{ filename: string; size: number }>;
  const tarball = join(BASE, packed[0]!.filename);

  const extra = APP_PACKAGES.map((name) => `${name}@${installed(name)}`);
  step(`installing ${packed[0]!.filename} with ${extra.join(' ')} (offline from the npm cache where possible)`);
  writeFileSync(join(APP, 'package.json'), JSON.stringify({ name: 'new-user-app', private: true }));
  const started = Date.now();
  sh('flock', ['/tmp/npm.lock', 'npm', 'install', tarball, ...extra, '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], APP);
  step(`installed in ${((Date.now() - started) / 1000).toFixed(0)} s`);

  const fake = await startFakeProvider();
  let appOutput: string;
  try {
    writeFileSync(join(APP, 'app.cjs'), APP_SOURCE);
    step('running the app: register(), withUsageContext(), OpenAI and Anthropic against the fake providers');
    appOutput = await runApp({ ...process.env, FAKE_URL: fake.url, GENAI_LEDGER_STORE: join(APP, '.genai-ledger') });
  } finally {
    await fake.close();
  }
  process.stdout.write(`${appOutput.trimEnd().replace(/^/gm, '  app | ')}\n`);

  const cli = (format: string) => sh(process.execPath, [join(APP, 'node_modules', 'genai-ledger', 'bin', 'genai-ledger.js'), 'report', '--by', 'org_id,feature,provider', '--since', '1d', '--format', format, '--store', join(APP, '.genai-ledger')], APP);
  step('npx genai-ledger report --by org_id,feature,provider --since 1d');
  process.stdout.write(cli('table'));
  const rows = (JSON.parse(cli('json')) as ReportRow[])
    .map(({ org_id, feature, provider, calls, cost_usd }) => ({ org_id, feature, provider, calls: String(calls), cost_usd: String(cost_usd) }))
    .sort((a, b) => `${a.org_id} ${a.provider}`.localeCompare(`${b.org_id} ${b.provider}`));
  const ok = JSON.stringify(rows) === JSON.stringify(EXPECTED);
  step(ok ? 'new-user check passed: both providers\' calls, attributed, exact' : `new-user check FAILED: report rows ${JSON.stringify(rows)}, expected ${JSON.stringify(EXPECTED)}`);
  if (!values.keep && ok) rmSync(BASE, { recursive: true, force: true });
  return ok ? 0 : 1;
}

process.exitCode = await main().catch((error: unknown) => {
  const e = error as { message?: string; stderr?: string };
  process.stderr.write(`new-user check FAILED: ${e.message ?? String(error)}\n${e.stderr ?? ''}`);
  return 1;
});
