/**
 * The PackageProbe register() uses: a package is installed when Node's resolver finds it from here
 * (where `import()` of an instrumentation resolves too), and its version is read from its
 * package.json along Node's search paths, so finding out whether an SDK is installed, and which
 * version, never loads it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Instrumentation } from '@opentelemetry/instrumentation';
import type { LoadedInstrumentation, ModuleDefinition, PackageProbe } from './auto-detect.js';

const fromHere = createRequire(import.meta.url);

/** The directory of `pkg` as `from` (a package directory's require, default this module's) resolves it. */
function packageDir(pkg: string, from?: string): string | undefined {
  const base = from === undefined ? fromHere : packageDir(from);
  if (base === undefined) return undefined;
  const require = typeof base === 'string' ? createRequire(join(base, 'package.json')) : base;
  for (const dir of require.resolve.paths(pkg) ?? []) {
    if (existsSync(join(dir, pkg, 'package.json'))) return join(dir, pkg);
  }
  return undefined;
}

/**
 * Whether `import(pkg)` from here would find it, asked of Node's resolver without loading it (so
 * resolution hooks have their say); a package that exports no `.` is installed all the same.
 */
function resolvable(pkg: string): boolean {
  if (typeof import.meta.resolve !== 'function') return true;
  try {
    import.meta.resolve(pkg);
    return true;
  } catch (error) {
    return (error as { code?: string }).code !== 'ERR_MODULE_NOT_FOUND';
  }
}

/** An instrumentation as built on any @opentelemetry/instrumentation release (older ones keep the definitions in `_modules`). */
interface AnyInstrumentation extends Instrumentation {
  getModuleDefinitions?: () => ModuleDefinition[];
  _modules?: ModuleDefinition[];
}

export const installedPackages: PackageProbe = {
  version(pkg, from) {
    if (from === undefined && !resolvable(pkg)) return undefined;
    const dir = packageDir(pkg, from);
    if (dir === undefined) return undefined;
    try {
      const { version } = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version?: unknown };
      return typeof version === 'string' ? version : undefined;
    } catch {
      return undefined;
    }
  },
  hasFile(pkg, file, from) {
    const dir = packageDir(pkg, from);
    return dir !== undefined && existsSync(join(dir, file));
  },
  async load(pkg, exportName): Promise<LoadedInstrumentation> {
    const module = (await import(pkg)) as Record<string, unknown>;
    const Class = module[exportName] as (new (config: { enabled: boolean }) => AnyInstrumentation) | undefined;
    if (typeof Class !== 'function') throw new Error(`${pkg} exports no ${exportName}`);
    const instrumentation = new Class({ enabled: false });
    const definitions = instrumentation.getModuleDefinitions?.() ?? instrumentation._modules ?? [];
    return { instrumentation, definitions };
  },
  env: (name) => process.env[name],
};
