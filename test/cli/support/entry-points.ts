/** Loads the package's entry points from source and prints the type of a few exports. */
const main = await import('../../../index.js');
const app = await import('../../../instrumentation/index.js');
process.stdout.write(`${typeof main.GenAiLedgerExporter} ${typeof main.Ledger} ${typeof app.register}\n`);
