import { ConfigError, parseCollectorConfig, settingsHelp } from '../collector/config.js';
import { createLogger, routeDiagTo } from '../collector/log.js';
import { CliError, USAGE_EXIT_CODE } from './cli-error.js';
import type { Command } from './main.js';
import { detachStdin } from './stdio.js';

const HELP = `Usage: genai-ledger collect [--port N] [--host H] [--store S] [--prices FILE] [options]

Runs the OTLP/HTTP collector: apps export their traces to it (POST /v1/traces, protobuf or JSON,
gzip or not, as the official OTLP exporters send them: OTEL_EXPORTER_OTLP_ENDPOINT=http://host:4318)
and every AI call becomes one priced usage row in the store. Ordinary spans are skipped.

Endpoints:
  POST /v1/traces   OTLP traces. 200 (partial_success when spans were malformed), 400 undecodable,
                    401 bad token, 413 too large, 415 unknown content type, 503 + Retry-After when
                    the spool is full or failing (429 + Retry-After when the in-memory queue is
                    full, with --no-spool), 503 while shutting down
  POST /v1/query    read-only SQL for 'genai-ledger report/query' while the collector holds the
                    store ({"sql", "params"} → {"rows"}; bearer: the query token)
  GET  /healthz     process up          GET /readyz   store reachable and migrated (with the
                    spool: still ready while the store is down and the spool has room)
  GET  /metrics     Prometheus text

Tokens: with --tokens-file (or GENAI_LEDGER_TOKENS), requests need 'Authorization: Bearer <token>'
(OTEL_EXPORTER_OTLP_HEADERS="Authorization=Bearer <token>"); a token with an org attributes all its
rows to that org. An embedded store gets <store>/collector.json (mode 0600) while the collector runs,
so 'genai-ledger report --store <dir>' reads through it. SIGTERM/SIGINT drain and flush, then exit 0.
Logs: JSON lines on stderr.

Durability (on by default): a 200 is sent only once the request's rows are fsync'd in a write-ahead
spool (--spool-dir, default <store>/spool for an embedded store, required with a ClickHouse URL);
they reach ClickHouse from there, through ClickHouse outages (up to --spool-max-bytes waiting) and
SIGKILL (replayed at the next start). --no-spool keeps rows in memory only.

Options (flag, else environment variable, else default):
${settingsHelp()}`;

export const collectCommand: Command = {
  summary: 'run the OTLP/HTTP collector (what npm start runs)',
  help: HELP,
  async run(argv) {
    let config;
    try {
      config = parseCollectorConfig(argv);
    } catch (error) {
      if (error instanceof ConfigError) throw new CliError(`collect: ${error.message}`, USAGE_EXIT_CODE);
      throw error;
    }
    const log = createLogger({ level: config.logLevel, base: { service: 'genai-ledger-collector' } });
    routeDiagTo(log, config.logLevel === 'debug' ? 'debug' : 'warn');
    // Loaded after the configuration is known good: the store and pricing modules are heavy.
    const { startCollector } = await import('../collector/collector.js');
    const { runUntilSignal } = await import('../collector/lifecycle.js');
    let collector;
    detachStdin();
    try {
      collector = await startCollector(config, { log });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      log.error('cannot start', { error: message });
      throw new CliError(`collect: ${message.split('\n', 1)[0]}`);
    }
    const code = await runUntilSignal(collector, log);
    // Whatever a library left behind must not keep a stopped collector alive.
    setTimeout(() => process.exit(code), 3000).unref();
    return code;
  },
};
