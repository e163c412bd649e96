/**
 * The genai-ledger CLI from source, for child processes in tests: `node --import tsx
 * test/collector/support/cli-entry.ts <command> ...` runs exactly what bin/genai-ledger.js runs
 * from dist/, without a build (other work may be rebuilding dist/ at the same time).
 */
import { main } from '../../../cli/main.js';

process.exitCode = await main(process.argv.slice(2));
