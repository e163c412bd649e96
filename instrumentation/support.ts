/**
 * Which combinations of Node, OpenTelemetry JS line, instrumentation and provider SDK cannot work,
 * as one line each (pure: the caller reads the versions). Every rule is a published engine range or
 * a module range an instrumentation declares (`getModuleDefinitions()`), checked against the
 * installed packages in test/unit/support.test.ts; a combination not listed is not judged.
 */
import semver from 'semver';

/** What is in play: `process.versions.node`, and the installed version of each package by name. */
export interface Installation {
  node: string;
  /** The OTel packages, the instrumentation register() loads (only that one) and the provider SDKs; absent when not installed. */
  packages: Readonly<Record<string, string | undefined>>;
}

interface NodeRule {
  package: string;
  versions: string;
  node: string;
}

/** Engines the packages declare (npm only warns on them; these lines fail at load or at run). */
const NODE_RULES: readonly NodeRule[] = [
  { package: '@opentelemetry/sdk-node', versions: '>=0.300.0', node: '>=22.15.0' },
  { package: '@opentelemetry/sdk-trace', versions: '>=3.0.0', node: '>=22.15.0' },
  { package: '@opentelemetry/instrumentation-openai', versions: '>=0.22.0', node: '>=22.15.0' },
  { package: 'openai', versions: '>=7.0.0', node: '>=22.0.0' },
];

/** This package's own floor: its OpenTelemetry JS 2.x dependencies declare Node >= 20.6. */
const LEDGER_NODE = '>=20.6.0';

interface PatchRule {
  instrumentation: string;
  versions: string;
  module: string;
  patches: string;
  instead: string;
}

/** Module ranges the instrumentations declare, for the versions tested; a newer release is not judged. */
const PATCH_RULES: readonly PatchRule[] = [
  { instrumentation: '@opentelemetry/instrumentation-openai', versions: '<0.23.0', module: 'openai', patches: '>=4.19.0 <7', instead: 'openai 6, or @arizeai/openinference-instrumentation-openai' },
  { instrumentation: '@traceloop/instrumentation-openai', versions: '<0.28.0', module: 'openai', patches: '>=4 <7', instead: 'openai 6, or @arizeai/openinference-instrumentation-openai' },
];

/** OpenTelemetry JS 3.x packages and the api they peer on. */
const API_RULES: readonly { package: string; versions: string; api: string }[] = [
  { package: '@opentelemetry/sdk-node', versions: '>=0.300.0', api: '>=1.10.0 <1.11.0' },
  { package: '@opentelemetry/sdk-trace', versions: '>=3.0.0', api: '>=1.10.0 <1.11.0' },
];

const within = (version: string | undefined, range: string): version is string =>
  version !== undefined && semver.satisfies(version, range, { includePrerelease: true });

/** The first combination that cannot work, as one line; undefined when none is known. */
export function supportProblem({ node, packages }: Installation): string | undefined {
  if (!within(node, LEDGER_NODE)) return `genai-ledger needs Node ${LEDGER_NODE}, this is Node ${node}`;
  for (const rule of NODE_RULES) {
    const version = packages[rule.package];
    if (within(version, rule.versions) && !within(node, rule.node)) {
      return `${rule.package} ${version} needs Node ${rule.node}, this is Node ${node}`;
    }
  }
  for (const rule of API_RULES) {
    const version = packages[rule.package];
    const api = packages['@opentelemetry/api'];
    if (within(version, rule.versions) && api !== undefined && !within(api, rule.api)) {
      return `${rule.package} ${version} needs @opentelemetry/api ${rule.api}, found ${api}`;
    }
  }
  for (const rule of PATCH_RULES) {
    const version = packages[rule.instrumentation];
    const target = packages[rule.module];
    if (within(version, rule.versions) && target !== undefined && !within(target, rule.patches)) {
      return `${rule.module} ${target} is not instrumented by ${rule.instrumentation} ${version} (it patches ${rule.module} ${rule.patches}): its calls make no spans and no rows: use ${rule.instead}`;
    }
  }
  return undefined;
}
