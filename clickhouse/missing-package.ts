/**
 * Optional packages (the embedded engine `chdb`; `openai` and its instrumentation for the demo)
 * are not installed with the library; the code that needs one imports it lazily and turns "not
 * installed" into a one-line error naming the install command. Only that case: a package that is
 * there but fails to load (a broken native build) keeps its own error.
 */

/** Whether `err`, thrown by `import()` or `require()`, says that package `name` is not installed. */
export function isMissingPackage(err: unknown, name: string): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as NodeJS.ErrnoException).code;
  if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') return false;
  // Node names the package ("Cannot find package 'chdb' imported from …") or the specifier
  // ("Cannot find module 'chdb/connection'"); a missing file inside an installed package is a path.
  const quoted = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`'${quoted}(/[^']*)?'`).test(err.message);
}
