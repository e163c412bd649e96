import { parseArgs } from 'node:util';
import { refreshRollups } from '../clickhouse/migrate.js';
import { embeddedStoreHolder, parseStore, resolveStoreOption } from '../clickhouse/store.js';
import { countRepriceRows, reprice, type RepriceResult } from '../clickhouse/reprice.js';
import { loadPriceBook } from '../pricing/index.js';
import { parseCommandArgs } from './args.js';
import { CliError, USAGE_EXIT_CODE } from './cli-error.js';
import type { Command } from './main.js';
import { parsePeriod } from './period.js';
import { rebill } from './rebill.js';
import { Progress } from './progress.js';
import { writeLines } from './stdio.js';
import { explainStoreError, openStoreForCli, type OpenedStore } from './store-client.js';

const HELP = `Usage: genai-ledger reprice [--since 30d | --from DATE [--to DATE]] [--unpriced-only] [--prices FILE] [--store S]
       genai-ledger reprice --billing [--rates FILE] [--since 30d | --from DATE [--to DATE]] [--store S]

Prices stored calls again with the current prices: after a new overrides file or a newer catalog,
or for calls that arrived unpriced (a model nobody had priced yet). Each changed row is written
back with the same trace and span id, so it replaces the old one everywhere (exact views at once,
rollups at their next refresh, which this command triggers). Running it twice changes nothing the
second time. A priced row the current prices cannot price keeps its cost; an unpriced row that
reported no usage stays unpriced.

Options:
  --since D          calls of the last D (30m, 24h, 7d, 2w). Default 30d
  --from, --to       ISO dates or times (UTC unless an offset is given); --to defaults to now
  --unpriced-only    only calls without a cost
  --prices FILE      price overrides (JSON or YAML) that win over the bundled catalog
  --billing          recompute the billed amounts (billed_daily) of the period's days instead, from
                     the calls and the rate cards; only changed days are written
  --rates FILE       with --billing: rate cards to load into the store first (default GENAI_LEDGER_RATES)
  --dry-run          count what would change, write nothing
  --no-refresh       do not refresh the rollups afterwards
  --format F         text (default) or json (the counts as one object)
  --store S          ClickHouse URL or embedded store directory. reprice writes: an embedded store
                     must not be open in another process (stop the collector first), or use the URL`;

export const repriceCommand: Command = {
  summary: 'price stored calls again after prices change',
  help: HELP,
  async run(argv) {
    const { values } = parseCommandArgs(() => parseArgs({
      args: argv, strict: true,
      options: {
        since: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' },
        'unpriced-only': { type: 'boolean', default: false }, prices: { type: 'string' },
        'dry-run': { type: 'boolean', default: false }, 'no-refresh': { type: 'boolean', default: false },
        format: { type: 'string', default: 'text' }, store: { type: 'string' },
        billing: { type: 'boolean', default: false }, rates: { type: 'string' },
      },
    }));
    if (values.format !== 'text' && values.format !== 'json') throw new CliError(`--format: text or json, not '${values.format}'`, USAGE_EXIT_CODE);
    const period = parsePeriod(values);
    if (values.billing) {
      const store = await openStoreForWriting(values.store, 'reprice');
      try {
        await writeLines([await rebill(store, period, values.rates, values.format).catch((e: unknown) => { throw explainStoreError(e, store.label); })]);
        return 0;
      } finally {
        await store.client.close();
      }
    }
    const prices = await loadPriceBook(values.prices ? { overridesFile: values.prices } : {});
    const { client, database, label } = await openStoreForWriting(values.store, 'reprice');
    try {
      const options = { database, ...period, unpricedOnly: values['unpriced-only'], dryRun: values['dry-run'] };
      const total = await countRepriceRows(client, options).catch((e: unknown) => { throw explainStoreError(e, label); });
      const progress = new Progress(values['dry-run'] ? 'checking' : 'repricing', total, { unit: 'rows' });
      let result: RepriceResult;
      try {
        result = await reprice(client, prices, { ...options, onProgress: (n) => progress.update(n) });
      } finally {
        progress.done();
      }
      if (result.changed > 0 && !values['dry-run'] && !values['no-refresh']) {
        await refreshRollups(client, { database }).catch((e: unknown) => {
          process.stderr.write(`genai-ledger: rows re-priced, but the rollups were not refreshed now (${firstLine(e)}); they catch up at their next scheduled refresh\n`);
        });
      }
      await writeLines([values.format === 'json' ? JSON.stringify({ ...result, dryRun: values['dry-run'] }) : summary(result, values['dry-run'])]);
      return 0;
    } finally {
      await client.close();
    }
  },
};

/**
 * Opens the store for a command that writes (reprice, demo). Writes cannot go through a
 * collector's read-only query endpoint, so an embedded store another process holds is an error
 * that says so. The owner (`PID: n` in `<dir>/status`, written by the engine that holds it) is
 * checked before the engine is touched: a failed lock makes the native library print its own
 * lines on stderr, and a refusal must be one line.
 */
export async function openStoreForWriting(flag: string | undefined, command: string): Promise<OpenedStore> {
  const held = (path: string, pid: number | undefined): CliError => new CliError(
    `the embedded store ${path} is held by ${pid === undefined ? 'another process' : `pid ${pid}`} (a running collector?): ` +
      `${command} writes, so stop it first, or run ${command} against the ClickHouse server URL`,
  );
  const store = parseStore(resolveStoreOption(flag));
  if (store.kind === 'embedded') {
    const owner = embeddedStoreHolder(store.path);
    if (owner !== undefined) throw held(store.path, owner);
  }
  try {
    return await openStoreForCli(flag);
  } catch (error) {
    const e = error as { code?: unknown; path?: unknown; pid?: unknown };
    if (e?.code === 'STORE_LOCKED') throw held(String(e.path), typeof e.pid === 'number' ? e.pid : undefined);
    throw error;
  }
}


function summary(r: RepriceResult, dryRun: boolean): string {
  const verb = dryRun ? 'would re-price' : 're-priced';
  const parts = [
    `${r.examined} calls examined: ${r.changed} ${verb} (${r.newlyPriced} newly priced)`,
    `${r.unchanged} unchanged`,
    `${r.stillUnpriced} still unpriced`,
  ];
  if (r.keptWithoutPrice > 0) parts.push(`${r.keptWithoutPrice} kept their cost (no price for them now)`);
  if (r.noUsage > 0) parts.push(`${r.noUsage} without reported usage`);
  const sign = r.costDeltaUsd.startsWith('-') ? '' : '+';
  return `${parts.join(', ')}; cost change ${sign}${r.costDeltaUsd} USD`;
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0]!;
}
