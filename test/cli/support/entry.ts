/** The CLI from its TypeScript sources (run with `node --import tsx`): tests never depend on a stale dist/. */
import { main } from '../../../cli/main.js';

process.exitCode = await main(process.argv.slice(2));
