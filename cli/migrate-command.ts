import { parseArgs } from 'node:util';
import { migrate } from '../clickhouse/migrate.js';
import { syncModelPrices } from '../clickhouse/prices.js';
import { loadPriceBook } from '../pricing/index.js';
import { parseCommandArgs } from './args.js';
import { CliError, USAGE_EXIT_CODE } from './cli-error.js';
import type { Command } from './main.js';
import { openStoreForCli } from './store-client.js';

const HELP = `Usage: genai-ledger migrate [--store S] [--prices FILE] [--ttl-days N]

Creates or upgrades the ledger's tables (ai_usage, rollups, model_prices) and loads the price
catalog (and overrides) into model_prices. Safe to re-run, and to run from several places at once.

Options:
  --store S       ClickHouse URL or embedded store directory
  --prices FILE   price overrides (JSON or YAML) to load with the catalog
  --ttl-days N    keep raw rows N days (applied when ai_usage is created). Default: forever`;

export const migrateCommand: Command = {
  summary: 'create or upgrade the tables, load prices',
  help: HELP,
  async run(argv) {
    const { values } = parseCommandArgs(() => parseArgs({
      args: argv, strict: true,
      options: { store: { type: 'string' }, prices: { type: 'string' }, 'ttl-days': { type: 'string' } },
    }));
    const ttlDays = values['ttl-days'] === undefined ? undefined : Number(values['ttl-days']);
    if (ttlDays !== undefined && !(Number.isInteger(ttlDays) && ttlDays > 0)) {
      throw new CliError(`--ttl-days: a positive whole number, not '${values['ttl-days']}'`, USAGE_EXIT_CODE);
    }
    const prices = await loadPriceBook(values.prices ? { overridesFile: values.prices } : {});
    const { client, database, label } = await openStoreForCli(values.store);
    try {
      const result = await migrate(client, { database, ...(ttlDays ? { ttlDays } : {}) });
      const synced = await syncModelPrices(client, prices.listPrices(), { table: `${database}.model_prices` });
      process.stderr.write(
        `${label}: ${result.applied.length} migration(s) applied, ${result.skipped.length} already applied; ` +
          `model_prices holds ${prices.listPrices().length} prices (${JSON.stringify(synced)})\n`,
      );
      return 0;
    } finally {
      await client.close();
    }
  },
};
