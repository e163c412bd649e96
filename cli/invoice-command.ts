import { parseArgs } from 'node:util';
import type { InvoiceLine, InvoiceTotals } from '../billing/invoice.js';
import { cardName, type RateCard } from '../billing/rate-cards.js';
import { INVOICE_DIMENSIONS, invoiceFor, type InvoiceDimension } from '../clickhouse/billing.js';
import { parseCommandArgs } from './args.js';
import { CliError, USAGE_EXIT_CODE } from './cli-error.js';
import { INVOICE_FORMATS, renderInvoice, type InvoiceFormat } from './invoice-output.js';
import type { Command } from './main.js';
import { rateCardsFor } from './rate-card-source.js';
import { writeLines } from './stdio.js';
import { explainStoreError, openReaderForCli } from './store-client.js';

const HELP = `Usage: genai-ledger invoice --org ORG --month YYYY-MM [--by model|feature|user_id] [--format table|json|csv] [--rates FILE] [--store S]

An org's invoice for a calendar month (UTC): each call, counted once, billed by the rate card in
force at its time (the org's own card, else the "*" default card), folded into lines, then totals:
cost, billed amount, margin, credits, unpriced calls. Amounts are exact decimals, so the lines add
up to the totals digit for digit; credits are whole: cards that round per call (call_floor,
call_ceil) add integers, invoice_half_even cards round the month's credits once and share them out
to the lines by largest remainder, so the lines still add up. Unpriced calls are billed nothing
and counted. Run again on the same data, it prints the same bytes.

Options:
  --org ORG        the org (required)
  --month M        YYYY-MM (required)
  --by D           one line per ${INVOICE_DIMENSIONS.join(', ')}. Default model
  --format F       table (default), json (one object) or csv (lines then a TOTAL row)
  --rates FILE     rate cards (YAML or JSON); default GENAI_LEDGER_RATES, else the store's
                   rate_cards table (loaded by reprice --billing --rates FILE)
  --store S        ClickHouse URL or embedded store directory (default: GENAI_LEDGER_STORE,
                   CLICKHOUSE_URL, ./.genai-ledger)`;

const TOKEN_COLUMNS = ['input_tokens', 'output_tokens', 'cache_read_tokens', 'cache_write_tokens', 'reasoning_tokens'] as const;

/** Whether any card that billed a call counts credits: credits columns only then. */
export function creditsShown(cards: readonly RateCard[], used: readonly string[]): boolean {
  return cards.some((card) => card.credits !== undefined && used.includes(cardName(card)));
}

export function invoiceColumns(withCredits: boolean): { lineColumns: Array<keyof InvoiceLine>; totalColumns: Array<keyof InvoiceTotals> } {
  const credits = withCredits ? ['credits'] as const : [];
  const totalCredits = withCredits ? ['total_credits'] as const : [];
  return {
    lineColumns: ['calls', ...TOKEN_COLUMNS, 'cost_usd', 'billed_usd', 'margin_usd', ...credits, 'unpriced_calls', 'calls_without_card'],
    totalColumns: ['calls', ...TOKEN_COLUMNS, 'total_cost_usd', 'total_billed_usd', 'margin_usd', ...totalCredits, 'unpriced_calls', 'calls_without_card'],
  };
}

export function parseFormat(value: string): InvoiceFormat {
  if (!(INVOICE_FORMATS as readonly string[]).includes(value)) throw new CliError(`--format: ${INVOICE_FORMATS.join(', ')}, not '${value}'`, USAGE_EXIT_CODE);
  return value as InvoiceFormat;
}

/** `2026-11` → [Nov 1, Dec 1) UTC in ms. */
export function parseMonth(text: string): { fromMs: number; toMs: number } {
  const match = /^(\d{4})-(0[1-9]|1[0-2])$/.exec(text);
  if (!match) throw new CliError(`--month: YYYY-MM, not '${text}'`, USAGE_EXIT_CODE);
  const year = Number(match[1]);
  const month = Number(match[2]) - 1;
  return { fromMs: Date.UTC(year, month, 1), toMs: Date.UTC(year, month + 1, 1) };
}

export const invoiceCommand: Command = {
  summary: 'an org\'s monthly invoice: cost, billed, margin, credits',
  help: HELP,
  async run(argv) {
    const { values } = parseCommandArgs(() => parseArgs({
      args: argv, strict: true,
      options: {
        org: { type: 'string' }, month: { type: 'string' }, by: { type: 'string', default: 'model' },
        format: { type: 'string', default: 'table' }, rates: { type: 'string' }, store: { type: 'string' },
      },
    }));
    if (values.org === undefined || values.org === '') throw new CliError('--org: required', USAGE_EXIT_CODE);
    if (values.month === undefined) throw new CliError('--month: required (YYYY-MM)', USAGE_EXIT_CODE);
    if (!(INVOICE_DIMENSIONS as readonly string[]).includes(values.by)) throw new CliError(`--by: one of ${INVOICE_DIMENSIONS.join(', ')}, not '${values.by}'`, USAGE_EXIT_CODE);
    const format = parseFormat(values.format);
    const period = parseMonth(values.month);
    const by = values.by as InvoiceDimension;

    const { runner, database, label } = await openReaderForCli(values.store);
    try {
      const cards = await rateCardsFor(values.rates, runner, database).catch((e: unknown) => { throw explainStoreError(e, label); });
      const invoice = await invoiceFor(runner, { database, orgId: values.org, ...period }, by, cards).catch((e: unknown) => { throw explainStoreError(e, label); });
      const header = { org_id: values.org, month: values.month, by };
      await writeLines([renderInvoice({ header, by, invoice, ...invoiceColumns(creditsShown(cards, invoice.cards_used)) }, format)]);
      return 0;
    } finally {
      await runner.close();
    }
  },
};
