/**
 * Which combinations of Node, OpenTelemetry JS line, instrumentation and provider SDK cannot work,
 * as one line each (pure: the caller reads the versions). Every rule is a published engine range or
 * api peer range, checked against the installed releases in test/unit/support.test.ts; a
 * combination not listed is not judged. Whether an instrumentation patches the installed SDK
 * (instrumentation-openai 0.22 and openai 7) is auto-detect.ts's check, from its module definitions.
 */
import semver from 'semver';

/** What is in play: `process.versions.node`, and the installed version of each package by name. */
export interface Installation {
  node: string;
  /** The app's OTel packages, the instrumentations register() loads and the provider SDKs; absent when not installed. */
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
  { package: '@opentelemetry/instrumentation-aws-sdk', versions: '>=0.79.0', node: '>=22.15.0' },
];

/** This package's own floor: its OpenTelemetry JS 2.x dependencies declare Node >= 20.6. */
const LEDGER_NODE = '>=20.6.0';

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
  return undefined;
}
