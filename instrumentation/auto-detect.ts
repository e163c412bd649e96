/**
 * register()'s 'auto' mode: for each installed AI SDK, at most one source of its spans (the SDK's
 * own tracing, or the first instrumentation of SDK_INSTRUMENTATIONS that loads and supports the
 * installed version), and whether LangChain's model-call spans are the calls or wrappers of the
 * provider spans. Everything it looks at comes through a PackageProbe, so it never imports an SDK
 * and tests simulate any set of installed packages.
 */
import type { Instrumentation } from '@opentelemetry/instrumentation';
import { satisfies } from 'semver';
import { LANGCHAIN_PROVIDERS, SDK_INSTRUMENTATIONS, type Candidate, type SdkEntry } from './instrumentation-preferences.js';

/** A module an instrumentation patches (a package, or a file in one) and the versions it supports. */
export interface ModuleDefinition {
  name: string;
  supportedVersions: readonly string[];
}

export interface LoadedInstrumentation {
  instrumentation: Instrumentation;
  /** Its InstrumentationNodeModuleDefinitions (none when it patches by other means). */
  definitions: readonly ModuleDefinition[];
}

/** What detection may know of the app's packages. */
export interface PackageProbe {
  /** Version of `pkg` as `from` (a package; default: the app) resolves it, undefined when it is not installed. */
  version(pkg: string, from?: string): string | undefined;
  /** Whether that installed package holds `file`. */
  hasFile(pkg: string, file: string, from?: string): boolean;
  /** Imports the instrumentation and constructs it disabled (registerInstrumentations enables it); throws when it cannot. */
  load(pkg: string, exportName: string): Promise<LoadedInstrumentation>;
  env(name: string): string | undefined;
}

export interface LogLine {
  level: 'info' | 'warn';
  message: string;
}

export interface Detection {
  instrumentations: Instrumentation[];
  /** The packages enabled, in SDK order. */
  enabled: string[];
  frameworkSpans: 'calls' | 'wrappers';
  /** One line per installed SDK (and per candidate set aside), then the frameworkSpans decision. */
  log: LogLine[];
}

/** Where an SDK's spans come from once detection is done. */
type Source = { kind: 'self' } | { kind: 'instrumentation'; definitions: readonly ModuleDefinition[] };

export async function detectInstrumentations(
  probe: PackageProbe,
  given: { frameworkSpans?: 'calls' | 'wrappers' } = {},
  table: readonly SdkEntry[] = SDK_INSTRUMENTATIONS,
): Promise<Detection> {
  const detection: Detection = { instrumentations: [], enabled: [], frameworkSpans: 'calls', log: [] };
  const sources = new Map<string, Source>();
  let frameworkOn = false;
  for (const entry of table) {
    const source = await detectOne(entry, probe, detection);
    if (!source) continue;
    sources.set(entry.sdk, source);
    if (entry.framework) frameworkOn = true;
  }
  const decided = frameworkSpans(probe, table, sources, frameworkOn, given.frameworkSpans);
  if (decided) {
    detection.frameworkSpans = decided.value;
    detection.log.push(decided.line);
  }
  return detection;
}

async function detectOne(entry: SdkEntry, probe: PackageProbe, detection: Detection): Promise<Source | undefined> {
  const sdkVersion = probe.version(entry.sdk);
  if (sdkVersion === undefined) return undefined;
  const label = `${entry.label} (${entry.sdk} ${sdkVersion})`;
  const info = (message: string) => detection.log.push({ level: 'info', message: `genai-ledger: ${label}: ${message}` });
  const warn = (message: string) => detection.log.push({ level: 'warn', message: `genai-ledger: ${label}: ${message}` });

  const self = entry.selfTracing;
  if (self && probe.hasFile(entry.sdk, self.file) && probe.env(self.offEnv)?.trim().toLowerCase() !== 'false') {
    info(`no instrumentation: the SDK traces its own calls (${self.reports}); an instrumentation would record each call twice`);
    return { kind: 'self' };
  }
  const installed = entry.candidates
    .map((candidate) => ({ candidate, version: probe.version(candidate.pkg) }))
    .filter((c): c is { candidate: Candidate; version: string } => c.version !== undefined);
  if (installed.length === 0) {
    warn(`no instrumentation installed, its calls are not recorded (npm install ${entry.candidates[0]!.pkg})`);
    return undefined;
  }
  // Candidates set aside, with why: each its own line before the one enabled, or one line when none can be.
  const setAside: string[] = [];
  for (const [i, { candidate, version }] of installed.entries()) {
    const name = `${candidate.pkg} ${version}`;
    if (candidate.brokenWith && satisfies(sdkVersion, candidate.brokenWith.range)) {
      setAside.push(`${name} cannot work with it: ${candidate.brokenWith.reason}`);
      continue;
    }
    let loaded: LoadedInstrumentation;
    try {
      loaded = await probe.load(candidate.pkg, candidate.exportName);
    } catch (error) {
      setAside.push(`${name} failed to load: ${firstLine(error)}`);
      continue;
    }
    const unsupported = unsupportedBy(loaded.definitions, probe);
    if (unsupported) {
      setAside.push(`${name} cannot work with it: it patches ${unsupported}`);
      continue;
    }
    for (const reason of setAside) warn(`${reason}; the next one is tried`);
    detection.instrumentations.push(loaded.instrumentation);
    detection.enabled.push(candidate.pkg);
    const rank = installed.length === 1 ? 'the only one installed' : i === 0 ? `preferred of ${installed.length} installed` : `the next of ${installed.length} installed`;
    info(`enabled ${name}, ${rank} (it reports ${candidate.reports})`);
    return { kind: 'instrumentation', definitions: loaded.definitions };
  }
  warn(`its calls are not recorded: ${setAside.join('; ')}`);
  return undefined;
}

/** `@scope/name/dist/x.cjs` → `@scope/name`; `openai` → `openai`. */
function packageOf(moduleName: string): string {
  const parts = moduleName.split('/');
  return parts.slice(0, moduleName.startsWith('@') ? 2 : 1).join('/');
}

const supports = (ranges: readonly string[], version: string): boolean => ranges.some((r) => satisfies(version, r));

/**
 * Why none of the definitions can patch what is installed (`openai >=4.19.0 <7, installed 7.1.0`), or
 * undefined when one can, or none names an installed package (nothing to check against).
 */
function unsupportedBy(definitions: readonly ModuleDefinition[], probe: PackageProbe, from?: string): string | undefined {
  const checked = definitions
    .map((d) => ({ d, pkg: packageOf(d.name), version: probe.version(packageOf(d.name), from) }))
    .filter((c): c is { d: ModuleDefinition; pkg: string; version: string } => c.version !== undefined);
  if (checked.length === 0 || checked.some((c) => supports(c.d.supportedVersions, c.version))) return undefined;
  return checked.map((c) => `${c.pkg} ${c.d.supportedVersions.join(' || ')} only, installed ${c.version}`).join('; ');
}

/** Langfuse's wrapper of the app's own OpenAI client, whose generations record the same calls as an OpenAI source. */
const LANGFUSE_OPENAI = '@langfuse/openai';

type Decision = { value: 'calls' | 'wrappers'; line: LogLine };
const info = (message: string): LogLine => ({ level: 'info', message: `genai-ledger: ${message}` });

/**
 * The framework spans (LangChain's model-call spans, Langfuse's generations) are wrappers when a
 * provider source records every call they wrap, else the calls. Langfuse's `observeOpenAI` wraps
 * the app's own client, so an OpenAI source covers it; its spans and the provider's sit in two
 * traces, so only this setting, not the span tree, keeps the call to one row.
 */
function frameworkSpans(
  probe: PackageProbe, table: readonly SdkEntry[], sources: ReadonlyMap<string, Source>, frameworkOn: boolean,
  given: 'calls' | 'wrappers' | undefined,
): Decision | undefined {
  if (given) return { value: given, line: { level: 'info', message: `genai-ledger: frameworkSpans '${given}', as given` } };
  const langChain = langChainSpans(probe, table, sources, frameworkOn);
  if (probe.version(LANGFUSE_OPENAI) === undefined || !sources.has('openai')) return langChain;
  if (langChain?.value === 'calls') {
    return {
      value: 'calls',
      line: { level: 'warn', message: `genai-ledger: cannot give one row per call: ${LANGFUSE_OPENAI}'s generations are recorded by the OpenAI source too (two rows each) while some LangChain calls are recorded only by LangChain; set frameworkSpans or pass instrumentations explicitly` },
    };
  }
  return { value: 'wrappers', line: info(`${LANGFUSE_OPENAI} and an OpenAI source record the same calls: its generations${langChain ? " and LangChain's model-call spans" : ''} are wrappers (frameworkSpans 'wrappers'), the provider's span is the row`) };
}

function langChainSpans(
  probe: PackageProbe, table: readonly SdkEntry[], sources: ReadonlyMap<string, Source>, frameworkOn: boolean,
): Decision | undefined {
  const providers = [...sources.keys()].filter((sdk) => !table.find((e) => e.sdk === sdk)?.framework);
  if (!frameworkOn || providers.length === 0) return undefined;
  const covered: string[] = [];
  const uncovered: string[] = [];
  for (const [integration, sdk] of Object.entries(LANGCHAIN_PROVIDERS)) {
    if (probe.version(integration) === undefined) continue;
    (records(probe, table, sources, sdk, integration) ? covered : uncovered).push(integration);
  }
  if (uncovered.length === 0) {
    return { value: 'wrappers', line: info(`LangChain and a provider source record the same calls: LangChain's model-call spans are wrappers (frameworkSpans 'wrappers'), the provider's span is the row`) };
  }
  if (covered.length === 0) {
    return { value: 'calls', line: info(`LangChain's model-call spans are the rows (frameworkSpans 'calls'): the SDK calls of ${uncovered.join(', ')} are not recorded by a provider source`) };
  }
  return {
    value: 'calls',
    line: {
      level: 'warn',
      message: `genai-ledger: cannot give one row per LangChain call: ${covered.join(', ')} calls are recorded by their provider source too (two rows each) while ${uncovered.join(', ')} calls are not; set frameworkSpans or pass instrumentations explicitly`,
    },
  };
}

/** Whether the source chosen for `sdk` records the copy of it that `integration` calls. */
function records(probe: PackageProbe, table: readonly SdkEntry[], sources: ReadonlyMap<string, Source>, sdk: string, integration: string): boolean {
  const source = sources.get(sdk);
  if (!source || probe.version(sdk, integration) === undefined) return false;
  if (source.kind === 'self') {
    const self = table.find((e) => e.sdk === sdk)?.selfTracing;
    return self !== undefined && probe.hasFile(sdk, self.file, integration);
  }
  // Definitions that do not name the SDK (the AWS one patches the SDK's core) are trusted.
  const named = source.definitions.filter((d) => packageOf(d.name) === sdk);
  return named.length === 0 || unsupportedBy(named, probe, integration) === undefined;
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n', 1)[0]!;
}
