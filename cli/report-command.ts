import { parseArgs } from 'node:util';
import { REPORT_DIMENSIONS, runReport } from '../clickhouse/report.js';
import { parseCommandArgs } from './args.js';
import { CliError, USAGE_EXIT_CODE } from './cli-error.js';
import type { Command } from './main.js';
import { parsePeriod } from './period.js';
import { writeLines } from './stdio.js';
import { explainStoreError, openReaderForCli } from './store-client.js';
import { renderTable } from './table.js';

const HELP = `Usage: genai-ledger report [--by DIMS] [--since 7d | --from DATE [--to DATE]] [--format table|json] [--store S]

Totals of AI usage over a period, grouped by any dimensions, exact under duplicate delivery.

Options:
  --by DIMS        comma-separated: ${Object.keys(REPORT_DIMENSIONS).join(', ')}
  --since D        the last D (30m, 24h, 7d, 2w). Default 30d
  --from, --to     ISO dates or times (UTC unless an offset is given); --to defaults to now
  --format F       table (default) or json (an array of objects)
  --limit N        rows at most, largest cost first. Default 1000
  --store S        ClickHouse URL or embedded store directory (default: GENAI_LEDGER_STORE,
                   CLICKHOUSE_URL, ./.genai-ledger)`;

export const reportCommand: Command = {
  summary: 'totals by org, model, feature, ... over a period',
  help: HELP,
  async run(argv) {
    const { values } = parseCommandArgs(() => parseArgs({
      args: argv, strict: true,
      options: {
        by: { type: 'string', default: '' }, since: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' },
        format: { type: 'string', default: 'table' }, limit: { type: 'string', default: '1000' }, store: { type: 'string' },
      },
    }));
    if (values.format !== 'table' && values.format !== 'json') throw new CliError(`--format: table or json, not '${values.format}'`, USAGE_EXIT_CODE);
    const limit = Number(values.limit);
    if (!Number.isInteger(limit) || limit < 1) throw new CliError(`--limit: a positive whole number, not '${values.limit}'`, USAGE_EXIT_CODE);
    const by = values.by.split(',').map((d) => d.trim()).filter(Boolean);
    const unknown = by.find((d) => !(d in REPORT_DIMENSIONS));
    if (unknown) throw new CliError(`--by: unknown dimension '${unknown}' (one of: ${Object.keys(REPORT_DIMENSIONS).join(', ')})`, USAGE_EXIT_CODE);
    const period = parsePeriod(values);

    const { runner, database, label } = await openReaderForCli(values.store);
    try {
      const rows = await runReport(runner, { by, ...period, database, limit }).catch((e: unknown) => { throw explainStoreError(e, label); });
      if (values.format === 'json') await writeLines([JSON.stringify(rows)]);
      else await writeLines([renderTable(rows, [...by, 'calls', 'errors', 'unpriced', 'input_tokens', 'output_tokens', 'cache_read_tokens', 'cost_usd'])]);
      return 0;
    } finally {
      await runner.close();
    }
  },
};
