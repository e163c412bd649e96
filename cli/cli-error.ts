/** An error meant for the terminal: printed as one line, no stack, non-zero exit. */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(message: string, readonly exitCode = 1) {
    super(message);
  }
}

/** Exit code for a command line the CLI cannot understand. */
export const USAGE_EXIT_CODE = 2;
