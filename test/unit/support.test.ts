/**
 * instrumentation/support.ts: the one-line problem for a combination that cannot work, by table; and
 * its rules checked against what the installed packages declare (engines, the module ranges the
 * instrumentations patch), so a rule cannot drift from the releases CI installs.
 */
import { readFileSync } from 'node:fs';
import semver from 'semver';
import { describe, expect, it } from 'vitest';
import { OpenAIInstrumentation as OtelOpenAI021 } from '@opentelemetry/instrumentation-openai';
import { OpenAIInstrumentation as TraceloopOpenAI } from '@traceloop/instrumentation-openai';
import { OpenAIInstrumentation as OpenInferenceOpenAI } from '@arizeai/openinference-instrumentation-openai';
import { supportProblem } from '../../instrumentation/support.js';
import { appRequire, rootRequire, versionOf } from '../support/otel3-app.js';

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
    ['instrumentation-openai 0.22 with openai 7', '22.23.5', { ...OTEL3, '@opentelemetry/instrumentation-openai': '0.22.0', openai: '7.60.0' },
      'openai 7.60.0 is not instrumented by @opentelemetry/instrumentation-openai 0.22.0 (it patches openai >=4.19.0 <7): its calls make no spans and no rows: use openai 6, or @arizeai/openinference-instrumentation-openai'],
    ['instrumentation-openai 0.21 with openai 7', '22.23.5', { ...OTEL2, '@opentelemetry/instrumentation-openai': '0.21.0', openai: '7.0.0' },
      'openai 7.0.0 is not instrumented by @opentelemetry/instrumentation-openai 0.21.0 (it patches openai >=4.19.0 <7): its calls make no spans and no rows: use openai 6, or @arizeai/openinference-instrumentation-openai'],
    ['OpenLLMetry openai 0.27 with openai 7', '22.23.5', { ...OTEL2, '@traceloop/instrumentation-openai': '0.27.0', openai: '7.60.0' },
      'openai 7.60.0 is not instrumented by @traceloop/instrumentation-openai 0.27.0 (it patches openai >=4 <7): its calls make no spans and no rows: use openai 6, or @arizeai/openinference-instrumentation-openai'],
    ['a newer instrumentation-openai is not judged', '22.23.5', { ...OTEL3, '@opentelemetry/instrumentation-openai': '0.23.0', openai: '7.60.0' }, undefined],
  ] as const)('%s', (_case, node, packages, problem) => {
    expect(supportProblem({ node, packages })).toBe(problem);
  });
});

const engines = (name: string, from: NodeJS.Require): string => {
  const entry = from.resolve(name);
  const dir = entry.slice(0, entry.lastIndexOf(`/node_modules/${name}/`) + `/node_modules/${name}/`.length);
  return (JSON.parse(readFileSync(`${dir}package.json`, 'utf8')) as { engines: { node: string } }).engines.node;
};

describe('the rules match what the installed releases declare', () => {
  const NODES = ['20.20.2', '22.14.0', '22.15.0', '22.23.5', '24.22.3'];
  it.each([
    ['@opentelemetry/sdk-node', appRequire],
    ['@opentelemetry/sdk-trace', appRequire],
    ['@opentelemetry/instrumentation-openai', appRequire],
    ['openai', appRequire],
  ] as const)('%s (the OTel 3.x app): a Node outside its engines is named', (name, from) => {
    const version = versionOf(name, from);
    const range = engines(name, from);
    for (const node of NODES) {
      expect(supportProblem({ node, packages: { [name]: version } }) !== undefined, `${name} ${version} on Node ${node} (engines ${range})`)
        .toBe(!semver.satisfies(node, range));
    }
  });

  // Instrumentations are constructed here, never enabled: only their declared module ranges are read
  // (`_modules`, what every InstrumentationBase line keeps; OpenInference's 0.46 base has no getter).
  const modulesOf = (instrumentation: object) => (instrumentation as { _modules: { name: string; supportedVersions: string[] }[] })._modules;
  it.each([
    ['@opentelemetry/instrumentation-openai', () => new OtelOpenAI021(), rootRequire],
    ['@opentelemetry/instrumentation-openai', () => new (appRequire('@opentelemetry/instrumentation-openai') as { OpenAIInstrumentation: typeof OtelOpenAI021 }).OpenAIInstrumentation(), appRequire],
    ['@traceloop/instrumentation-openai', () => new TraceloopOpenAI(), rootRequire],
    ['@arizeai/openinference-instrumentation-openai', () => new OpenInferenceOpenAI(), rootRequire],
  ] as const)('%s: openai 6 and 7 are named as not instrumented exactly where its module definition excludes them', (name, make, from) => {
    const [definition] = modulesOf(make());
    expect(definition!.name).toBe('openai');
    const version = versionOf(name, from);
    for (const openai of ['6.30.1', versionOf('openai')]) {
      const patched = definition!.supportedVersions.some((range) => semver.satisfies(openai, range));
      expect(supportProblem({ node: '24.22.3', packages: { [name]: version, openai } }) === undefined, `${name} ${version}, openai ${openai}`).toBe(patched);
    }
  });
});
