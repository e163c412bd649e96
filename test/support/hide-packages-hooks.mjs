/** Module resolution hooks for hide-packages.mjs. */
const hidden = (process.env.HIDE_PACKAGES ?? '').split(',').filter(Boolean);
/** The filesystem root holds no node_modules: resolved from there, a bare package is not found. */
const OUTSIDE = 'file:///';

export async function resolve(specifier, context, nextResolve) {
  const isHidden = hidden.some((name) => specifier === name || specifier.startsWith(`${name}/`));
  return nextResolve(specifier, isHidden ? { ...context, parentURL: OUTSIDE } : context);
}
