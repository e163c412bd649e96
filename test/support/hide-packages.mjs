/**
 * `node --import ./hide-packages.mjs`: the packages named in HIDE_PACKAGES (comma-separated) are
 * resolved as if from outside the repository, so Node fails to find them exactly as it does in an
 * app that did not install them. Tests of optional packages use it; plain .mjs so that it loads
 * before any TypeScript loader.
 */
import { register } from 'node:module';

register('./hide-packages-hooks.mjs', import.meta.url);
