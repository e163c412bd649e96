import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { stringify as toYaml } from 'yaml';
import { migrate } from '../clickhouse/migrate.js';
import { readBilledProviders, readBillGroups, readLedgerGroups, storeBillImport, type BillImportResult } from '../clickhouse/provider-bills.js';
import {
  impliedOverrides, RECONCILE_DIMENSIONS, reconcile, type ReconcileDimension, type ReconciliationRow,
} from '../pricing/bill-reconciliation.js';
import { parseDecimal } from '../pricing/decimal.js';
import { loadPriceBook } from '../pricing/index.js';
import { ANTHROPIC_KEY_VARIABLE } from '../reconcile/anthropic-reports.js';
import { BILL_PROVIDERS, fetchBill, readBillFiles, type BillProvider } from '../reconcile/import-bill.js';
import { OPENAI_KEY_VARIABLE } from '../reconcile/openai-reports.js';
import { parseCommandArgs } from './args.js';
import { CliError, USAGE_EXIT_CODE } from './cli-error.js';
import type { Command } from './main.js';
import { parsePeriod } from './period.js';
import { openStoreForWriting } from './reprice-command.js';
import { writeLines } from './stdio.js';
import { explainStoreError, openReaderForCli } from './store-client.js';
import { renderTable } from './table.js';

const HELP = `Usage: genai-ledger reconcile import --provider openai|anthropic [--since 30d | --from DATE [--to DATE]] [--file F]... [--api-base URL] [--store S]
       genai-ledger reconcile report [--since 30d | --from DATE [--to DATE]] [--by day,provider,model] [--tolerance 0.05] [--format table|json] [--store S]

Sets the ledger against what the providers billed.

import   reads the provider's cost and usage reports for the period (whole UTC days) from its Admin
         API, with the key in OPENAI_ADMIN_KEY or ANTHROPIC_ADMIN_KEY (never printed), or from saved
         reports (--file, repeatable: the API's JSON pages, or CSV with a date column and the
         report's field names), and stores them. Importing a period again replaces it.
report   one row per group: ledger and billed cost, variance (USD and % of the bill), token counts
         on both sides, a status (ok within the tolerance, ledger_low, ledger_high,
         missing_in_ledger, missing_in_bill) and the likely cause. When a model's tokens agree and
         its cost does not, prints the price override the bill implies, for reprice --prices.
         Exit code 0 when every group is within the tolerance, 1 otherwise.

Options:
  --provider P     import: openai or anthropic. report: which bills (comma-separated; default:
                   every provider with a bill imported for the period)
  --since D        the last D (7d, 2w), whole UTC days up to today included. Default 30d
  --from, --to     ISO dates (UTC); --to is exclusive and defaults to tomorrow
  --file F         import: a saved report instead of the API (repeatable); the days its buckets cover
  --api-base URL   import: the Admin API's base URL (a proxy, a test server)
  --prices F       price overrides, to name the ledger's model for the provider's model names
  --by DIMS        report: comma-separated, of ${RECONCILE_DIMENSIONS.join(', ')}. Default day,provider,model
  --tolerance T    report: the fraction of the bill a variance may reach and count as ok. Default 0.05
  --overrides F    report: also write the implied price overrides to F (YAML)
  --format F       report: table (default) or json (the rows). import: text (default) or json
  --store S        ClickHouse URL or embedded store directory (default: GENAI_LEDGER_STORE,
                   CLICKHOUSE_URL, ./.genai-ledger). import writes: not while a collector holds an
                   embedded store`;

const DAY_MS = 86_400_000;
const dayText = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

/** The period as whole UTC days: from the start's day to the day after the end's (exclusive) when it is not midnight. */
function periodDays(values: { since?: string; from?: string; to?: string }): { fromDay: string; toDay: string } {
  const tomorrow = (Math.floor(Date.now() / DAY_MS) + 1) * DAY_MS;
  const { fromMs, toMs } = parsePeriod(values, tomorrow);
  return { fromDay: dayText(Math.floor(fromMs / DAY_MS) * DAY_MS), toDay: dayText(Math.ceil(toMs / DAY_MS) * DAY_MS) };
}

function providerOf(value: string | undefined): BillProvider {
  if (!(BILL_PROVIDERS as readonly string[]).includes(value ?? '')) {
    throw new CliError(`--provider: ${BILL_PROVIDERS.join(' or ')}${value === undefined ? ' is required' : `, not '${value}'`}`, USAGE_EXIT_CODE);
  }
  return value as BillProvider;
}

async function runImport(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(() => parseArgs({
    args: argv, strict: true,
    options: {
      provider: { type: 'string' }, since: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' },
      file: { type: 'string', multiple: true }, 'api-base': { type: 'string' }, prices: { type: 'string' },
      format: { type: 'string', default: 'text' }, store: { type: 'string' },
    },
  }));
  const provider = providerOf(values.provider);
  if (values.format !== 'text' && values.format !== 'json') throw new CliError(`--format: text or json, not '${values.format}'`, USAGE_EXIT_CODE);
  if (values.file && values['api-base']) throw new CliError('use --file or --api-base, not both', USAGE_EXIT_CODE);
  const prices = await loadPriceBook(values.prices ? { overridesFile: values.prices } : {});
  let bill;
  if (values.file) {
    if (values.since || values.from || values.to) throw new CliError('--file imports the days its reports cover: drop --since/--from/--to', USAGE_EXIT_CODE);
    bill = readBillFiles(provider, values.file, prices);
  } else {
    const variable = provider === 'openai' ? OPENAI_KEY_VARIABLE : ANTHROPIC_KEY_VARIABLE;
    const key = process.env[variable]?.trim();
    if (!key) throw new CliError(`set ${variable} to an admin key of the organization, or import saved reports with --file`);
    bill = await fetchBill(provider, periodDays(values), { key, prices, ...(values['api-base'] ? { apiBase: values['api-base'] } : {}) });
  }
  const { client, database } = await openStoreForWriting(values.store, 'reconcile import');
  try {
    await migrate(client, { database });
    const result = await storeBillImport(client, database, bill);
    const summary = { provider, fromDay: bill.fromDay, toDay: bill.toDay, ...result };
    await writeLines([values.format === 'json' ? JSON.stringify(summary) : importSummary(provider, bill.fromDay, bill.toDay, result)]);
    return 0;
  } finally {
    await client.close();
  }
}

function importSummary(provider: string, fromDay: string, toDay: string, result: BillImportResult): string {
  const part = (name: string, w: BillImportResult['costs']): string | undefined =>
    w && `${name}: ${w.written} lines written, ${w.tombstoned} withdrawn, ${w.unchanged} unchanged`;
  const last = dayText(Date.parse(`${toDay}T00:00:00Z`) - DAY_MS);
  return `${provider} bill ${fromDay} to ${last}: ${[part('costs', result.costs), part('usage', result.usage)].filter(Boolean).join('; ')}`;
}

const TABLE_COLUMNS = [
  'ledger_cost_usd', 'billed_cost_usd', 'variance_usd', 'variance_pct', 'status', 'cause',
  'ledger_input_tokens', 'billed_input_tokens', 'ledger_output_tokens', 'billed_output_tokens',
  'ledger_cache_read_tokens', 'billed_cache_read_tokens',
];

async function runReport(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(() => parseArgs({
    args: argv, strict: true,
    options: {
      provider: { type: 'string' }, since: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' },
      by: { type: 'string', default: 'day,provider,model' }, tolerance: { type: 'string', default: '0.05' },
      overrides: { type: 'string' }, format: { type: 'string', default: 'table' }, store: { type: 'string' },
    },
  }));
  if (values.format !== 'table' && values.format !== 'json') throw new CliError(`--format: table or json, not '${values.format}'`, USAGE_EXIT_CODE);
  const by = values.by.split(',').map((d) => d.trim()).filter(Boolean);
  const unknown = by.find((d) => !(RECONCILE_DIMENSIONS as readonly string[]).includes(d));
  if (unknown) throw new CliError(`--by: unknown dimension '${unknown}' (of: ${RECONCILE_DIMENSIONS.join(', ')})`, USAGE_EXIT_CODE);
  let tolerance;
  try {
    tolerance = parseDecimal(values.tolerance);
  } catch {
    tolerance = undefined;
  }
  if (!tolerance || tolerance.n < 0n) throw new CliError(`--tolerance: a fraction such as 0.05, not '${values.tolerance}'`, USAGE_EXIT_CODE);
  const period = periodDays(values);

  const { runner, database, label } = await openReaderForCli(values.store);
  try {
    const read = async () => {
      const providers = values.provider
        ? values.provider.split(',').map((p) => providerOf(p.trim()))
        : await readBilledProviders(runner, { database, ...period });
      if (providers.length === 0) throw new CliError(`no bill imported for ${period.fromDay} to ${period.toDay} (exclusive): run 'genai-ledger reconcile import' first`);
      const q = { database, ...period, providers };
      return { ledger: await readLedgerGroups(runner, q), bill: await readBillGroups(runner, q) };
    };
    const { ledger, bill } = await read().catch((e: unknown) => { throw e instanceof CliError ? e : explainStoreError(e, label); });
    const rows = reconcile(ledger, bill, { by: by as ReconcileDimension[], tolerance: values.tolerance });
    const overrides = impliedOverrides(ledger, bill, values.tolerance);
    const overridesYaml = overrides.length > 0 ? toYaml({ models: overrides }) : '';
    if (values.overrides) writeFileSync(values.overrides, overridesYaml || 'models: []\n');
    if (values.format === 'json') await writeLines([JSON.stringify(rows)]);
    else await writeLines(reportLines(rows, by, overridesYaml));
    return rows.every((r) => r.status === 'ok') ? 0 : 1;
  } finally {
    await runner.close();
  }
}

function reportLines(rows: ReconciliationRow[], by: string[], overridesYaml: string): string[] {
  const lines = [renderTable(rows as unknown as Array<Record<string, unknown>>, [...by, ...TABLE_COLUMNS])];
  const off = rows.filter((r) => r.status !== 'ok');
  lines.push('', off.length === 0 ? `all ${rows.length} groups within tolerance` : `${off.length} of ${rows.length} groups out of tolerance`);
  if (overridesYaml) lines.push('', 'Prices the bill implies where tokens agree and cost does not (save as a file for reprice --prices):', '', overridesYaml.trimEnd());
  return lines;
}

export const reconcileCommand: Command = {
  summary: 'set the ledger against the providers\' bills (import, report)',
  help: HELP,
  async run(argv) {
    const [sub, ...rest] = argv;
    if (sub === 'import') return runImport(rest);
    if (sub === 'report') return runReport(rest);
    throw new CliError(`reconcile: import or report${sub === undefined ? '' : `, not '${sub}'`} (see genai-ledger reconcile --help)`, USAGE_EXIT_CODE);
  },
};
