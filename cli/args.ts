import { CliError, USAGE_EXIT_CODE } from './cli-error.js';

/** Runs a `parseArgs` call, turning its TypeError into a one-line usage error. */
export function parseCommandArgs<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    throw new CliError(error instanceof Error ? error.message.split('\n')[0]! : String(error), USAGE_EXIT_CODE);
  }
}
