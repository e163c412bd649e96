/**
 * The collector: composes the modules of this folder into one running service.
 *
 *   config.ts          one struct, flags + GENAI_LEDGER_* env, defaults
 *   http.ts            server, router, body limits
 *   traces-handler.ts  POST /v1/traces: decode → hook → admission → ledger.ingest
 *   otlp-request.ts    a request body → spans or rows; decoded and mapped on the mapping thread
 *                      (delivery/mapping-thread.ts) unless it is starting, failed or off
 *   admission.ts       queue headroom (429 + Retry-After before anything is half-accepted)
 *   auth.ts            bearer tokens, org binding, constant-time comparison
 *   query-endpoint.ts  POST /v1/query, read-only (+ sql-guard.ts, reader.ts)
 *   health.ts          /healthz, /readyz, /metrics (metrics.ts)
 *   discovery.ts       <store>/collector.json for CLI readers
 *   lifecycle.ts       signals → drain → close
 *   fault-injection.ts test-only ClickHouse "down" switch (GENAI_LEDGER_FAULT_INJECTION=1 only)
 *
 * With the spool (config.spool, on by default) the ledger appends every request's rows to a
 * write-ahead log in config.spool.dir and answers 200 only after fdatasync; a pump moves them to
 * ClickHouse, retrying while it is down, and a restart replays what was not yet committed. It also
 * starts while the store is unreachable (a ClickHouse URL during an outage): requests are spooled,
 * the ledger applies the migrations and syncs the prices in the background (delivery/store-setup.ts)
 * and /readyz says what it waits for. Without a spool an unreachable store fails the start.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import { createStoreClient, describeStore, parseStore, storeDatabase, StoreLockedError, type Store } from '../clickhouse/store.js';
import { Ledger } from '../delivery/ledger.js';
import { MappingThread } from '../delivery/mapping-thread.js';
import { BillingRefresher } from '../delivery/billing-refresher.js';
import { loadRateCardsFile } from '../billing/rate-cards.js';
import { budgetAlertSettings, startBudgetAlerting } from '../delivery/budgets/alerting.js';
import { FaultSwitch } from './fault-injection.js';
import { IdleFlusher, QueueAdmission } from './admission.js';
import { TokenAuthenticator } from './auth.js';
import { describeConfig, type CollectorConfig } from './config.js';
import { findLiveCollector, removeDiscovery, writeDiscovery } from './discovery.js';
import { createHealthHandlers, createMetricsHandler } from './health.js';
import { createRouter, listen, type HttpServerHandle, type Route } from './http.js';
import { silentLogger, type Logger } from './log.js';
import { CollectorMetrics } from './metrics.js';
import { createQueryHandler, readOnlySettings } from './query-endpoint.js';
import { openReader } from './reader.js';
import { OTLP_REQUEST_JOB } from './request-job.js';
import { createTracesHandler, requestMapping, type IngestHook } from './traces-handler.js';

export interface StartOptions {
  log?: Logger;
  /** Runs between decode and ingest (the later write-ahead spool); requests are then decoded on the collector's thread. */
  hook?: IngestHook;
  /**
   * Decode, map, price and serialize requests on a worker thread (the exporter's mapping thread),
   * leaving the collector's thread to HTTP and writes. Default true. Requests are handled on the
   * collector's thread while the worker starts and after it failed.
   */
  mappingThread?: boolean;
}

export interface StopResult {
  /** Every in-flight request was answered and every accepted row settled in time. */
  clean: boolean;
  writtenRows: number;
  droppedRows: number;
}

export interface Collector {
  readonly url: string;
  readonly port: number;
  readonly config: CollectorConfig;
  readonly ledger: Ledger;
  readonly metrics: CollectorMetrics;
  readonly draining: boolean;
  /** Stop accepting, answer in-flight requests, flush and close the store. Idempotent. */
  stop(): Promise<StopResult>;
}

export async function startCollector(config: CollectorConfig, options: StartOptions = {}): Promise<Collector> {
  const log = options.log ?? silentLogger;
  const store: Store = parseStore(config.store);
  const database = storeDatabase(store);

  if (store.kind === 'embedded') {
    const other = findLiveCollector(store.path);
    if (other && other.pid !== process.pid) {
      throw new StoreLockedError(store.path, other.pid);
    }
  }

  log.info('starting', { config: describeConfig(config) });
  // Read before the store is touched: a card with an error stops the start with its one line.
  const rateCards = config.rates !== undefined ? loadRateCardsFile(config.rates) : undefined;
  // Test-only: the ledger's client behind a switch that can make ClickHouse look down.
  const faults = config.faultInjection ? FaultSwitch.fromEnv() : undefined;
  let faultClient: ClickHouseClient | undefined;
  if (faults) {
    faultClient = faults.wrap(await createStoreClient(store));
    log.warn('fault injection is ON (GENAI_LEDGER_FAULT_INJECTION=1): POST /debug/faults can make ClickHouse look down; never in production', faults.state());
  }
  const openLedger = (): Promise<Ledger> => Ledger.open({
    ...(faultClient ? { client: faultClient, database } : { store: config.store }),
    ...(config.spool ? { spool: { dir: config.spool.dir, maxBytes: config.spool.maxBytes, fsync: config.spool.fsync } } : {}),
    ...(config.prices ? { prices: config.prices } : {}),
    ...(config.ttlDays ? { ttlDays: config.ttlDays } : {}),
    frameworkSpans: config.frameworkSpans,
    writer: {
      maxQueueRows: config.maxQueueRows,
      maxQueueBytes: config.maxQueueBytes,
      maxBatchRows: config.maxBatchRows,
      flushIntervalMs: config.flushIntervalMs,
    },
  });
  let ledger: Ledger;
  try {
    ledger = await openLedger();
  } catch (error) {
    await faultClient?.close().catch(() => undefined);
    throw error;
  }
  // The collector has no app to yield to: its mapping thread runs at its own priority. With a hook
  // requests are decoded here (the hook sees the spans), so no thread is started.
  const thread = options.mappingThread === false || options.hook
    ? undefined
    : MappingThread.start({ ...(config.prices ? { prices: config.prices } : {}), frameworkSpans: config.frameworkSpans, mappingThreadNice: 0 }, [OTLP_REQUEST_JOB]);
  let budgetAlerting;
  try {
    // The config read the GENAI_LEDGER_* variables already: no second reading of the environment.
    const alertSettings = budgetAlertSettings({ budgets: config.budgets, alertWebhook: config.alertWebhook, alertWebhookSecret: config.alertWebhookSecret }, {});
    budgetAlerting = alertSettings && startBudgetAlerting(alertSettings, ledger, log);
  } catch (error) {
    await thread?.close();
    await ledger.close();
    await faultClient?.close().catch(() => undefined);
    throw error;
  }
  const billing = rateCards && BillingRefresher.forLedger(ledger, {
    cards: rateCards, intervalMs: config.billingRefreshMs, ...(config.ttlDays ? { ttlDays: config.ttlDays } : {}),
    onRefresh: (r) => { if (r.days > 0) log.debug('billed_daily refreshed', { ...r }); },
  });
  const closeLedger = async (): Promise<void> => {
    await billing?.close();
    await budgetAlerting?.close();
    await thread?.close();
    await ledger.close();
    await faultClient?.close().catch(() => undefined);
  };
  if (config.spool) {
    const sp = ledger.stats.spool;
    log.info('spool open', {
      dir: config.spool.dir, maxBytes: config.spool.maxBytes, fsync: config.spool.fsync,
      usedBytes: sp?.usedBytes, recoveredRows: sp?.recoveredRows, corruptRecords: sp?.corruptRecords,
    });
  }
  const waiting = ledger.waitingFor;
  if (waiting) {
    // Only with a spool (without one the open failed): requests are acknowledged from disk meanwhile.
    log.warn('the store is not ready: accepting into the spool, setting it up in the background', { waiting });
    ledger.onStoreReady(() => log.info('the store is ready: delivering the spool', { pendingRows: ledger.stats.spool?.pendingRows }));
  }

  // Read-only statements (query endpoint, /readyz) run on a connection of their own: see reader.ts.
  // Checked at start unless the store is known to be unreachable (it answers later, or /readyz says).
  const reader = openReader(store, readOnlySettings(config.query));
  try {
    if (!waiting) await reader.query('SELECT 1');
  } catch (error) {
    await reader.close().catch(() => undefined);
    await closeLedger();
    throw error;
  }

  let draining = false;
  const isDraining = (): boolean => draining;
  const capacity = { rows: config.maxQueueRows, bytes: config.maxQueueBytes };
  const metrics = new CollectorMetrics(() => ledger.stats, capacity, {
    spool: ledger.durable, storeWaiting: () => ledger.waitingFor !== undefined,
    ...(budgetAlerting ? { budgetAlerts: () => budgetAlerting.stats() } : {}),
    ...(billing ? { billing: billing.stats } : {}),
  });
  const auth = new TokenAuthenticator(config.tokens);
  // Probes get a session of their own, so a long user query never makes the collector look unready.
  const probe = openReader(store, readOnlySettings(config.query));
  const health = createHealthHandlers({
    runner: faults ? faults.wrapRunner(probe) : probe,
    database,
    draining: isDraining,
    waiting: () => ledger.waitingFor,
    ...(ledger.stats.spool ? { spool: ledger.stats.spool } : {}),
  });
  const idleFlusher = new IdleFlusher(() => ledger.flush(), config.idleFlushMs);

  const routes: Route[] = [
    {
      methods: ['POST'],
      path: '/v1/traces',
      handler: createTracesHandler({
        ledger, auth, metrics, log,
        admission: new QueueAdmission(ledger.stats, capacity),
        maxBodyBytes: config.maxBodyBytes,
        maxDecompressedBytes: config.maxDecompressedBytes,
        retryAfterSeconds: config.retryAfterSeconds,
        onIngested: () => idleFlusher.touch(),
        ...(options.hook ? { hook: options.hook } : {}),
        ...(thread ? { mapping: requestMapping(thread, log) } : {}),
      }),
    },
    { methods: ['GET', 'HEAD'], path: '/healthz', handler: health.healthz, duringDrain: true },
    { methods: ['GET', 'HEAD'], path: '/readyz', handler: health.readyz, duringDrain: true },
    { methods: ['GET'], path: '/metrics', handler: createMetricsHandler(metrics), duringDrain: true },
  ];
  if (faults) routes.push({ methods: ['GET', 'POST'], path: '/debug/faults', handler: faults.handler(log), duringDrain: true });
  if (config.queryEndpoint) {
    routes.push({
      methods: ['POST', 'GET'],
      path: '/v1/query',
      handler: createQueryHandler({
        runner: reader, token: config.queryToken, database, storeKind: store.kind, metrics, log,
      }),
    });
  }

  let http: HttpServerHandle;
  try {
    http = await listen(createRouter(routes, { metrics, log, draining: isDraining, retryAfterSeconds: config.retryAfterSeconds }), {
      host: config.host,
      port: config.port,
    });
  } catch (error) {
    await Promise.all([reader.close(), probe.close()]).catch(() => undefined);
    await closeLedger();
    throw error;
  }

  const discoveryDir = store.kind === 'embedded' && config.discovery && config.queryEndpoint ? store.path : undefined;
  if (discoveryDir) {
    try {
      writeDiscovery(discoveryDir, { pid: process.pid, url: http.url, queryToken: config.queryToken, database, startedAt: new Date().toISOString() });
    } catch (error) {
      log.warn('cannot write the discovery file; CLI readers will not find this collector', { dir: discoveryDir, error: (error as Error).message });
    }
  }
  log.info('listening', {
    url: http.url,
    store: describeStore(store),
    queryEndpoint: config.queryEndpoint,
    ...(discoveryDir ? { discoveryFile: `${discoveryDir}/collector.json` } : {}),
    ...(config.queryTokenGenerated && config.queryEndpoint ? { queryTokenSource: discoveryDir ? 'generated (in the discovery file)' : 'generated (pass --query-token to use the endpoint remotely)' } : {}),
  });

  let stopping: Promise<StopResult> | undefined;
  const stop = (): Promise<StopResult> => {
    stopping ??= (async () => {
      draining = true;
      const started = Date.now();
      log.info('draining', { inFlight: http.inFlight(), queuedRows: ledger.stats.queuedRows });
      if (discoveryDir) {
        try {
          removeDiscovery(discoveryDir);
        } catch {
          // best effort
        }
      }
      const answered = await http.stop(config.shutdownTimeoutMs);
      idleFlusher.stop();
      const remaining = Math.max(100, config.shutdownTimeoutMs - (Date.now() - started));
      let timer: NodeJS.Timeout | undefined;
      const flushed = await Promise.race([
        closeLedger().then(() => true),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(false), remaining);
        }),
      ]);
      clearTimeout(timer);
      await Promise.all([reader.close(), probe.close()]).catch(() => undefined);
      metrics.close();
      const s = ledger.stats;
      const result: StopResult = { clean: answered && flushed && s.queuedRows === 0, writtenRows: s.writtenRows, droppedRows: s.droppedRows };
      log.info('stopped', {
        ...result, ms: Date.now() - started, spansReceived: metrics.spansReceived.get(), rowsMapped: s.rowsMapped,
        // Rows still in the spool are not lost: the next start on the same spool delivers them.
        ...(s.spool ? { spoolPendingRows: s.spool.pendingRows } : {}),
      });
      return result;
    })();
    return stopping;
  };

  return {
    url: http.url,
    port: http.port,
    config,
    ledger,
    metrics,
    get draining() {
      return draining;
    },
    stop,
  };
}
