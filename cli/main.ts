import { CliError, USAGE_EXIT_CODE } from './cli-error.js';

export interface Command {
  summary: string;
  help: string;
  run(argv: string[]): Promise<number>;
}

/** Subcommands load lazily: `usage` must not pay for the ClickHouse client, nor `query` for protobuf. */
const COMMANDS: Record<string, () => Promise<Command>> = {
  collect: async () => (await import('./collect-command.js')).collectCommand,
  usage: async () => (await import('./usage-command.js')).usageCommand,
  report: async () => (await import('./report-command.js')).reportCommand,
  budgets: async () => (await import('./budgets-command.js')).budgetsCommand,
  query: async () => (await import('./query-command.js')).queryCommand,
  prices: async () => (await import('./prices-command.js')).pricesCommand,
  reprice: async () => (await import('./reprice-command.js')).repriceCommand,
  reconcile: async () => (await import('./reconcile-command.js')).reconcileCommand,
  invoice: async () => (await import('./invoice-command.js')).invoiceCommand,
  credits: async () => (await import('./credits-command.js')).creditsCommand,
  migrate: async () => (await import('./migrate-command.js')).migrateCommand,
  demo: async () => (await import('./demo-command.js')).demoCommand,
};

async function overview(): Promise<string> {
  const commands = await Promise.all(Object.entries(COMMANDS).map(async ([name, load]) => `  ${name.padEnd(11)}${(await load()).summary}`));
  return [
    'genai-ledger: what your AI calls cost, on what, for whom.',
    '',
    'Usage: genai-ledger <command> [options]   (genai-ledger <command> --help for details)',
    '',
    'Commands:',
    ...commands,
    '',
    'Every command that touches the store takes --store (a ClickHouse URL or an embedded-store directory).',
  ].join('\n');
}

/** Runs the CLI; returns the exit code. Errors become one line on stderr, never a stack trace. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${await overview()}\n`);
    return name === undefined ? USAGE_EXIT_CODE : 0;
  }
  try {
    const load = COMMANDS[name];
    if (!load) throw new CliError(`unknown command '${name}' (see genai-ledger --help)`, USAGE_EXIT_CODE);
    const command = await load();
    if (rest.includes('--help') || rest.includes('-h')) {
      process.stdout.write(`${command.help}\n`);
      return 0;
    }
    return await command.run(rest);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`genai-ledger: ${message.split('\n')[0]}\n`);
    return error instanceof CliError ? error.exitCode : 1;
  }
}
