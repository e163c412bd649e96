/**
 * Which Node runs the suite. CI's matrix (.ci/run) runs it once per Node with GENAI_LEDGER_TEST_NODE
 * set to the version it meant: workers on another Node, or another `node` first in PATH (which
 * children spawned by name would run on), fail that run. Any run checks package.json's engines.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import semver from 'semver';
import { expect, test } from 'vitest';

const meant = process.env.GENAI_LEDGER_TEST_NODE;
console.log(`test workers on node ${process.version} (${process.execPath})`);

test(`node ${process.version} satisfies package.json's engines`, () => {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { engines: { node: string } };
  expect(semver.validRange(pkg.engines.node), `engines.node "${pkg.engines.node}" is not a range`).not.toBeNull();
  expect(semver.satisfies(process.versions.node, pkg.engines.node)).toBe(true);
});

test.runIf(meant)(`the workers run on ${meant}, as CI meant`, () => {
  expect(process.version).toBe(meant);
});

test.runIf(meant)(`the \`node\` in PATH is ${meant} too`, () => {
  expect(execFileSync('node', ['--version'], { encoding: 'utf8' }).trim()).toBe(meant);
});
