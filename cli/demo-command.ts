import { parseArgs } from 'node:util';
import { migrate, refreshRollups } from '../clickhouse/migrate.js';
import { syncModelPrices } from '../clickhouse/prices.js';
import { clientRunner, type QueryRunner } from '../clickhouse/query-runner.js';
import { runReport, type ReportRow } from '../clickhouse/report.js';
import { isMissingPackage } from '../clickhouse/missing-package.js';
import { parseStore, resolveStoreOption } from '../clickhouse/store.js';
import { findLiveCollector } from '../collector/discovery.js';
import { loadPriceBook } from '../pricing/index.js';
import { GenAiLedgerExporter } from '../exporter/span-exporter.js';
import { planTraffic, SCRAPE_MODEL, SCRAPE_PROVIDER, SCRAPE_USD_PER_CREDIT, SELF_HOSTED_MODEL } from '../demo/traffic.js';
import { parseCommandArgs } from './args.js';
import { CliError, USAGE_EXIT_CODE } from './cli-error.js';
import type { Command } from './main.js';
import { formatSeconds, Progress } from './progress.js';
import { writeLines } from './stdio.js';
import { openStoreForWriting } from './reprice-command.js';
import { openReaderForCli } from './store-client.js';
import { renderTable } from './table.js';

const HELP = `Usage: genai-ledger demo [--days 3] [--orgs 6] [--calls 2000] [--seed 1] [--store S]

Fills the store with realistic multi-tenant AI traffic, then prints what it cost by org and model.
When a collector holds the store (npm start), the spans go to it over OTLP, as an app's would.
The calls are real: the official openai SDK, instrumented by @opentelemetry/instrumentation-openai,
talks to a built-in fake OpenAI server on 127.0.0.1 (no network, no API key), and recordUsage()
records a credit-billed scraping API and audio transcriptions; the OpenTelemetry SDK hands every
span to the ledger exporter, exactly as in an app. Calls spread over the last --days (busier in UTC
business hours), across --orgs tenants of very different sizes, seven features and nine models,
with token counts drawn per model and feature; a few fail, and one tenant's self-hosted model has
no public price (see 'genai-ledger reprice'). The same --seed gives the same calls and costs.

Options:
  --days N       days the calls spread over, ending now. Default 3
  --orgs N       tenants (1-500). Default 6
  --calls N      AI calls to make. Default 2000
  --seed N       traffic seed. Default 1
  --prices FILE  price overrides (JSON or YAML) on top of the catalog and the demo's scraping price
  --format F     table (default) or json (the report rows and the total)
  --store S      ClickHouse URL or embedded store directory (default: GENAI_LEDGER_STORE,
                 CLICKHOUSE_URL, ./.genai-ledger). Demo rows have environment 'demo'`;

export const demoCommand: Command = {
  summary: 'fill the store with realistic multi-tenant AI traffic and report its cost',
  help: HELP,
  async run(argv) {
    const { values } = parseCommandArgs(() => parseArgs({
      args: argv, strict: true,
      options: {
        days: { type: 'string', default: '3' }, orgs: { type: 'string', default: '6' }, calls: { type: 'string', default: '2000' },
        seed: { type: 'string', default: '1' }, prices: { type: 'string' }, format: { type: 'string', default: 'table' },
        store: { type: 'string' },
      },
    }));
    const days = wholeNumber('--days', values.days, 1, 366);
    const orgs = wholeNumber('--orgs', values.orgs, 1, 500);
    const calls = wholeNumber('--calls', values.calls, 1, 10_000_000);
    const seed = wholeNumber('--seed', values.seed, 0, 2 ** 32 - 1);
    if (values.format !== 'table' && values.format !== 'json') throw new CliError(`--format: table or json, not '${values.format}'`, USAGE_EXIT_CODE);

    const prices = await loadPriceBook({
      ...(values.prices ? { overridesFile: values.prices } : {}),
      overrides: { models: [{ provider: SCRAPE_PROVIDER, model: SCRAPE_MODEL, units: { credits: SCRAPE_USD_PER_CREDIT } }] },
    });
    const nowMs = Date.now();
    const plan = planTraffic({ days, orgs, calls, seed, nowMs });

    // A collector holding the store takes the demo's spans over OTLP, as it would an app's.
    const store = parseStore(resolveStoreOption(values.store));
    const collector = store.kind === 'embedded' ? findLiveCollector(store.path) : undefined;
    const { runDemo } = await loadDemo();
    const progress = new Progress('demo', calls, { unit: 'calls' });
    const started = performance.now();
    const period = { fromMs: nowMs - days * 86_400_000, toMs: nowMs };

    if (collector) {
      const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-proto');
      const result = await runDemo({ calls: plan, exporter: new OTLPTraceExporter({ url: `${collector.url}/v1/traces` }), onProgress: (n) => progress.update(n) });
      progress.done(`demo: ${result.calls} calls (${result.failed} failed) in ${formatSeconds((performance.now() - started) / 1000)}, sent to the collector at ${collector.url}`);
      const { runner, database, label } = await openReaderForCli(values.store);
      try {
        await waitForRows(runner, { ...period, database }, result.calls);
        return await printReport(runner, { ...period, database }, result, days, label, values.format);
      } finally {
        await runner.close();
      }
    }

    const { client, database, label } = await openStoreForWriting(values.store, 'demo');
    try {
      await migrate(client, { database });
      await syncModelPrices(client, prices.listPrices(), { table: `${database}.model_prices` });
      const exporter = new GenAiLedgerExporter({ client, database, prices, migrate: false });
      const result = await runDemo({ calls: plan, exporter, onProgress: (n) => progress.update(n) });
      const stats = exporter.stats();
      progress.done(
        `demo: ${result.calls} calls (${result.failed} failed) in ${formatSeconds((performance.now() - started) / 1000)}, ` +
          `${stats?.writtenRows ?? 0} rows written to ${label}` +
          (stats && stats.droppedRows + stats.rejectedRows > 0 ? `, ${stats.droppedRows} dropped, ${stats.rejectedRows} rejected` : ''),
      );
      await refreshRollups(client, { database }).catch((e: unknown) => {
        process.stderr.write(`genai-ledger: the rollups were not refreshed now (${(e instanceof Error ? e.message : String(e)).split('\n')[0]}); they catch up within a minute\n`);
      });
      return await printReport(clientRunner(client), { ...period, database }, result, days, label, values.format);
    } finally {
      await client.close();
    }
  },
};

/** The packages the demo's calls go through: optional for the library, so maybe not installed. */
const DEMO_PACKAGES = ['openai', '@opentelemetry/instrumentation-openai'];

async function loadDemo(): Promise<typeof import('../demo/run.js')> {
  try {
    return await import('../demo/run.js');
  } catch (err) {
    if (!DEMO_PACKAGES.some((name) => isMissingPackage(err, name))) throw err;
    throw new CliError(`the demo needs the ${DEMO_PACKAGES.join(' and ')} packages: npm install ${DEMO_PACKAGES.join(' ')}`);
  }
}

type Period = { fromMs: number; toMs: number; database: string };

/** The report covers the demo's window in the store (other rows of that window included). */
async function printReport(runner: QueryRunner, period: Period, result: { calls: number; failed: number }, days: number, label: string, format: string): Promise<number> {
  const rows = await runReport(runner, { ...period, by: ['org_id', 'request_model'], limit: 10_000 });
  const total = (await runReport(runner, { ...period, by: [] }))[0];
  if (format === 'json') await writeLines([JSON.stringify({ calls: result.calls, failed: result.failed, store: label, rows, total })]);
  else await writeLines(renderReport(rows, total, days, label));
  return 0;
}

/** The collector acknowledged the spans; its writes land within about a second. */
async function waitForRows(runner: QueryRunner, period: Period, calls: number): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const total = (await runReport(runner, { ...period, by: [] }))[0];
    if ((total?.calls ?? 0) >= calls) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

function wholeNumber(flag: string, text: string, min: number, max: number): number {
  const n = /^\d+$/.test(text.trim()) ? Number(text.trim()) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new CliError(`${flag}: a whole number from ${min} to ${max}, not '${text}'`, USAGE_EXIT_CODE);
  return n;
}

function renderReport(rows: ReportRow[], total: ReportRow | undefined, days: number, label: string): string[] {
  const lines = [
    '',
    `AI spend over the last ${days} day${days === 1 ? '' : 's'} in ${label}, by org and model:`,
    '',
    renderTable(rows, ['org_id', 'request_model', 'calls', 'errors', 'unpriced', 'input_tokens', 'output_tokens', 'cost_usd']),
    '',
    `total: ${total?.calls ?? 0} calls, ${total?.cost_usd ?? '0'} USD` +
      (total && total.unpriced > 0 ? ` (+ ${total.unpriced} unpriced calls)` : ''),
  ];
  if (total && total.unpriced > 0) {
    lines.push(
      `unpriced calls (e.g. the self-hosted ${SELF_HOSTED_MODEL}): give them a price in an overrides file, then`,
      `  genai-ledger reprice --unpriced-only --since ${days}d --prices prices.yaml`,
    );
  }
  lines.push('more: genai-ledger report --by feature --since ' + `${days}d` + ', genai-ledger query "SELECT ... FROM ai_usage_exact"');
  return lines;
}
