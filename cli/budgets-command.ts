import { parseArgs } from 'node:util';
import { budgetSpend, budgetStatusRows, readBudgets } from '../clickhouse/budgets.js';
import { loadBudgetsFile } from '../pricing/budgets/index.js';
import { parseCommandArgs } from './args.js';
import { CliError, USAGE_EXIT_CODE } from './cli-error.js';
import type { Command } from './main.js';
import { parsePeriod } from './period.js';
import { writeLines } from './stdio.js';
import { explainStoreError, openReaderForCli } from './store-client.js';
import { renderTable } from './table.js';

const HELP = `Usage: genai-ledger budgets [--budgets FILE] [--at TIME] [--format table|json] [--store S]

Where each budget stands in its current period (a 'per' budget: each value with spend), exact
under duplicate delivery (read from ai_usage_exact).

Options:
  --budgets FILE   budgets file (JSON or YAML). Default: GENAI_LEDGER_BUDGETS, else the budgets
                   the collector put in force (the store's budgets table)
  --at TIME        the instant whose periods are shown (ISO date or time, UTC unless an offset
                   is given). Default now
  --format F       table (default) or json (an array of objects)
  --store S        ClickHouse URL or embedded store directory (default: GENAI_LEDGER_STORE,
                   CLICKHOUSE_URL, ./.genai-ledger)

Each entry: name, match (with the per value), period_start, period_end, spent_usd, limit_usd,
used (spent / limit), forecast_usd (spend at period end at the period's rate so far) and state
(ok, warning from the first alert_at fraction, exceeded at or over the limit).`;

export const budgetsCommand: Command = {
  summary: 'budgets: spent, limit, forecast and state per budget',
  help: HELP,
  async run(argv) {
    const { values } = parseCommandArgs(() => parseArgs({
      args: argv, strict: true,
      options: { budgets: { type: 'string' }, at: { type: 'string' }, format: { type: 'string', default: 'table' }, store: { type: 'string' } },
    }));
    if (values.format !== 'table' && values.format !== 'json') throw new CliError(`--format: table or json, not '${values.format}'`, USAGE_EXIT_CODE);
    const atMs = values.at === undefined ? Date.now() : parseAt(values.at);
    const file = values.budgets ?? (process.env.GENAI_LEDGER_BUDGETS?.trim() || undefined);
    const fromFile = file === undefined ? undefined : loadBudgetsFile(file);

    const { runner, database, label } = await openReaderForCli(values.store);
    try {
      const rows = await (async () => {
        const budgets = fromFile ?? await readBudgets(runner, database);
        return budgetStatusRows(await budgetSpend(runner, database, budgets, atMs), atMs);
      })().catch((e: unknown) => { throw explainStoreError(e, label); });
      if (values.format === 'json') await writeLines([JSON.stringify(rows)]);
      else await writeLines([renderTable(rows, ['name', 'match', 'period_start', 'period_end', 'spent_usd', 'limit_usd', 'used', 'forecast_usd', 'state'])]);
      return 0;
    } finally {
      await runner.close();
    }
  },
};

/** --at read as report's --to reads an instant (parsePeriod), its errors naming --at. */
function parseAt(text: string): number {
  try {
    return parsePeriod({ to: text, since: '1m' }).toMs;
  } catch (error) {
    throw new CliError((error as Error).message.replace('--to', '--at'), USAGE_EXIT_CODE);
  }
}
