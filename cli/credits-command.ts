import { parseArgs } from 'node:util';
import { invoiceFor } from '../clickhouse/billing.js';
import { parseCommandArgs } from './args.js';
import { CliError, USAGE_EXIT_CODE } from './cli-error.js';
import { parseFormat } from './invoice-command.js';
import { renderInvoice } from './invoice-output.js';
import type { Command } from './main.js';
import { parsePeriod } from './period.js';
import { rateCardsFor } from './rate-card-source.js';
import { writeLines } from './stdio.js';
import { explainStoreError, openReaderForCli } from './store-client.js';

const HELP = `Usage: genai-ledger credits --org ORG [--user USER] [--since 30d | --from DATE [--to DATE]] [--format table|json|csv] [--rates FILE] [--store S]

Credits charged per user of an org over a period: each call, counted once, billed by the rate
card in force at its time and converted at the card's credits_per_usd with its rounding (per call
for call_floor and call_ceil; once over the period for invoice_half_even, shared out to the users
by largest remainder, so the users add up to the total).

Options:
  --org ORG        the org (required)
  --user USER      one user only
  --since D        the last D (30m, 24h, 7d, 2w). Default 30d
  --from, --to     ISO dates or times (UTC unless an offset is given); --to defaults to now
  --format F       table (default), json or csv
  --rates FILE     rate cards; default GENAI_LEDGER_RATES, else the store's rate_cards table
  --store S        ClickHouse URL or embedded store directory`;

export const creditsCommand: Command = {
  summary: 'credits charged per user over a period',
  help: HELP,
  async run(argv) {
    const { values } = parseCommandArgs(() => parseArgs({
      args: argv, strict: true,
      options: {
        org: { type: 'string' }, user: { type: 'string' }, since: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' },
        format: { type: 'string', default: 'table' }, rates: { type: 'string' }, store: { type: 'string' },
      },
    }));
    if (values.org === undefined || values.org === '') throw new CliError('--org: required', USAGE_EXIT_CODE);
    const format = parseFormat(values.format);
    const period = parsePeriod(values);

    const { runner, database, label } = await openReaderForCli(values.store);
    try {
      const cards = await rateCardsFor(values.rates, runner, database).catch((e: unknown) => { throw explainStoreError(e, label); });
      const selection = { database, orgId: values.org, ...period, ...(values.user !== undefined ? { userId: values.user } : {}) };
      const invoice = await invoiceFor(runner, selection, 'user_id', cards).catch((e: unknown) => { throw explainStoreError(e, label); });
      const header = { org_id: values.org, from: new Date(period.fromMs).toISOString(), to: new Date(period.toMs).toISOString() };
      await writeLines([renderInvoice({
        header, by: 'user_id', invoice,
        lineColumns: ['calls', 'billed_usd', 'credits', 'unpriced_calls'],
        totalColumns: ['calls', 'total_billed_usd', 'total_credits', 'unpriced_calls'],
      }, format)]);
      return 0;
    } finally {
      await runner.close();
    }
  },
};
