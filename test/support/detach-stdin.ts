// Each test process owns its stdin (vitest's fork): point it at /dev/null, as the CLI does, so
// the embedded engine never reads the runner's pipe into an INSERT (clickhouse/store.ts).
import { detachStdin } from '../../cli/stdio.js';

detachStdin();
