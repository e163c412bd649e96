/**
 * genai-ledger without its optional packages, as an app that installed only the library has it:
 * test/support/hide-packages.mjs makes Node fail to find them the way it does there. The entry
 * points and every CLI command load; the embedded store and the demo say what to install in one
 * line; register() keeps the app running and says why nothing is recorded.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { errorLines, REPO_ROOT, run, runCli, tempDir } from './support/cli.js';

const HIDE_HOOK = join(REPO_ROOT, 'test', 'support', 'hide-packages.mjs');
const OPENAI_INSTRUMENTATIONS = ['@opentelemetry/instrumentation-openai', '@arizeai/openinference-instrumentation-openai', '@traceloop/instrumentation-openai'];
const ALL_OPTIONAL = ['chdb', 'openai', ...OPENAI_INSTRUMENTATIONS];
const ENGINE_MISSING = 'the embedded store needs the chdb package: npm install chdb (or set a ClickHouse URL)';
const DEMO_MISSING = 'the demo needs the openai and @opentelemetry/instrumentation-openai packages: npm install openai @opentelemetry/instrumentation-openai';

const hiding = (packages: readonly string[]): { env: Record<string, string> } => ({
  env: { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import=${HIDE_HOOK}`.trim(), HIDE_PACKAGES: packages.join(',') },
});
const support = (file: string): string => join(REPO_ROOT, 'test', 'cli', 'support', file);

const dirs: string[] = [];
const storeDir = (): string => {
  const dir = tempDir('optional');
  dirs.push(dir);
  return join(dir, 'store');
};
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('without chdb, openai and the OpenAI instrumentations', () => {
  it('the package entry points load', async () => {
    const result = await run(support('entry-points.ts'), [], hiding(ALL_OPTIONAL));
    expect(result.stderr).toBe('');
    expect(result.stdout.trim()).toBe('function function function');
  });

  it('the CLI loads every command (--help)', async () => {
    const result = await runCli(['--help'], hiding(ALL_OPTIONAL));
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^ {2}demo /m);
  });

  it('the embedded store says to install chdb or use a URL', async () => {
    const result = await runCli(['report', '--store', storeDir()], hiding(['chdb']));
    expect(errorLines(result)).toEqual([`genai-ledger: ${ENGINE_MISSING}`]);
    expect(result.code).toBe(1);
  });

  it.each([['openai'], ['@opentelemetry/instrumentation-openai']])('the demo without %s says what to install', async (name) => {
    const result = await runCli(['demo', '--calls', '1', '--store', storeDir()], hiding([name]));
    expect(errorLines(result)).toEqual([`genai-ledger: ${DEMO_MISSING}`]);
    expect(result.code).toBe(1);
  });

  it('register() on the embedded default keeps the app running and logs why nothing is recorded', async () => {
    const result = await run(support('register-app.ts'), [storeDir()], hiding(ALL_OPTIONAL));
    const lines = result.stdout.trim().split('\n');
    expect(lines).toContain(`genai-ledger: cannot open the store, AI usage is not recorded: ${ENGINE_MISSING}`);
    // No OpenAI instrumentation (the SDKs this repository also installs still get theirs).
    expect(lines.find((l) => l.startsWith('instrumentations: '))).not.toMatch(/instrumentation-openai/);
    expect(lines.at(-1)).toBe('app still running');
    expect(result.code).toBe(0);
  });
});
