/** isMissingPackage against the errors Node really throws (CommonJS here; ES modules in test/cli/optional-packages.test.ts). */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isMissingPackage } from '../../clickhouse/missing-package.js';

const require = createRequire(import.meta.url);
function thrownBy(load: () => unknown): unknown {
  try {
    load();
  } catch (err) {
    return err;
  }
  throw new Error('expected the load to throw');
}
const installedChdb = join(require.resolve('chdb/package.json'), '..');

describe('isMissingPackage', () => {
  it.each([
    ['a package that is not installed', thrownBy(() => require('genai-ledger-absent')), 'genai-ledger-absent', true],
    ['a subpath of a package that is not installed', thrownBy(() => require('@genai-ledger/absent/connection')), '@genai-ledger/absent', true],
    ['another package whose name starts the same', thrownBy(() => require('genai-ledger-absent-two')), 'genai-ledger-absent', false],
    ['a subpath the installed package does not export', thrownBy(() => require('chdb/not-exported')), 'chdb', false],
    ['a file missing inside the installed package', thrownBy(() => require(join(installedChdb, 'missing.js'))), 'chdb', false],
    ['an error without a code', new Error("Cannot find package 'chdb'"), 'chdb', false],
    ['not an error', "Cannot find package 'chdb'", 'chdb', false],
  ])('%s', (_case, err, name, missing) => {
    expect(isMissingPackage(err, name)).toBe(missing);
  });
});
