/**
 * instrumentation/support.ts: the one-line problem for a combination that cannot work, by table; and
 * its Node rules checked against the engines the installed releases declare, so a rule cannot drift
 * from what CI installs.
 */
import { readFileSync } from 'node:fs';
import semver from 'semver';
import { describe, expect, it } from 'vitest';
import { supportProblem } from '../../instrumentation/support.js';
import { appRequire, versionOf } from '../support/otel3-app.js';

const OTEL3 = { '@opentelemetry/api': '1.10.0', '@opentelemetry/sdk-node': '0.301.2', '@opentelemetry/sdk-trace': '3.1.1' };
const OTEL2 = { '@opentelemetry/api': '1.9.1', '@opentelemetry/sdk-trace-base': '2.12.1', '@opentelemetry/sdk-trace-node': '2.12.0' };

describe('supportProblem', () => {
  it.each([
    ['OTel 2.x, instrumentation-openai 0.21, openai 6 on Node 20', '20.20.2', { ...OTEL2, '@opentelemetry/instrumentation-openai': '0.21.0', openai: '6.30.1' }, undefined],
    ['OTel 3.x, instrumentation-openai 0.22, openai 6 on Node 22.15', '22.15.0', { ...OTEL3, '@opentelemetry/instrumentation-openai': '0.22.0', openai: '6.30.1' }, undefined],
    ['OTel 3.x, OpenInference, openai 7 on Node 24', '24.22.3', { ...OTEL3, '@arizeai/openinference-instrumentation-openai': '4.2.7', openai: '7.60.0' }, undefined],
    ['a Node older than this package', '20.5.1', OTEL2, 'genai-ledger needs Node >=20.6.0, this is Node 20.5.1'],
    ['OTel 3.x on Node 20', '20.20.2', OTEL3, '@opentelemetry/sdk-node 0.301.2 needs Node >=22.15.0, this is Node 20.20.2'],
    ['OTel 3.x on Node 22.14', '22.14.0', OTEL3, '@opentelemetry/sdk-node 0.301.2 needs Node >=22.15.0, this is Node 22.14.0'],
    ['sdk-trace 3.x alone on Node 22.14', '22.14.0', { '@opentelemetry/sdk-trace': '3.1.1' }, '@opentelemetry/sdk-trace 3.1.1 needs Node >=22.15.0, this is Node 22.14.0'],
    ['sdk-trace 2.x (an OTLP exporter dependency) on Node 20', '20.20.2', { '@opentelemetry/sdk-trace': '2.12.1' }, undefined],
    ['instrumentation-openai 0.22 on Node 20', '20.20.2', { ...OTEL2, '@opentelemetry/instrumentation-openai': '0.22.0' }, '@opentelemetry/instrumentation-openai 0.22.0 needs Node >=22.15.0, this is Node 20.20.2'],
    ['openai 7 on Node 20', '20.20.2', { ...OTEL2, openai: '7.60.0' }, 'openai 7.60.0 needs Node >=22.0.0, this is Node 20.20.2'],
    ['OTel 3.x with api 1.9', '22.23.5', { ...OTEL3, '@opentelemetry/api': '1.9.1' }, '@opentelemetry/sdk-node 0.301.2 needs @opentelemetry/api >=1.10.0 <1.11.0, found 1.9.1'],
  ] as const)('%s', (_case, node, packages, problem) => {
    expect(supportProblem({ node, packages })).toBe(problem);
  });
});

/** A field of the package.json of `name` as `from` resolves it. */
function manifest(name: string, from: NodeJS.Require): { engines: { node: string }; peerDependencies?: Record<string, string> } {
  const entry = from.resolve(name);
  const dir = entry.slice(0, entry.lastIndexOf(`/node_modules/${name}/`) + `/node_modules/${name}/`.length);
  return JSON.parse(readFileSync(`${dir}package.json`, 'utf8')) as ReturnType<typeof manifest>;
}

describe('the rules match what the installed releases declare', () => {
  const NODES = ['20.20.2', '22.14.0', '22.15.0', '22.23.5', '24.22.3'];
  it.each(['@opentelemetry/sdk-node', '@opentelemetry/sdk-trace', '@opentelemetry/instrumentation-openai', 'openai'])(
    '%s (the OTel 3.x app): a Node outside its engines is named', (name) => {
      const version = versionOf(name);
      const range = manifest(name, appRequire).engines.node;
      for (const node of NODES) {
        expect(supportProblem({ node, packages: { [name]: version } }) !== undefined, `${name} ${version} on Node ${node} (engines ${range})`)
          .toBe(!semver.satisfies(node, range));
      }
    });

  it.each(['@opentelemetry/sdk-node', '@opentelemetry/sdk-trace'])('%s (the OTel 3.x app): an api outside its peer range is named', (name) => {
    const version = versionOf(name);
    const range = manifest(name, appRequire).peerDependencies!['@opentelemetry/api']!;
    for (const api of ['1.9.1', '1.10.0', '1.11.0']) {
      expect(supportProblem({ node: '24.22.3', packages: { [name]: version, '@opentelemetry/api': api } }) !== undefined, `${name} ${version} with api ${api} (peer ${range})`)
        .toBe(!semver.satisfies(api, range));
    }
  });
});
