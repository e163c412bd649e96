/**
 * Process lifecycle: run until SIGTERM or SIGINT, then drain (stop accepting, answer in-flight
 * requests, 503 to new ones on open connections, flush the writer, close the store) and report
 * the exit code: 0 when everything accepted was settled, 1 otherwise. A second signal during the
 * drain exits at once (1).
 */
import type { Collector } from './collector.js';
import type { Logger } from './log.js';

export interface RunOptions {
  signals?: readonly NodeJS.Signals[];
  /** Called on a second signal; default process.exit(1). */
  forceExit?: (code: number) => void;
}

/** Resolves with the exit code once the collector has stopped after a signal. */
export function runUntilSignal(collector: Collector, log: Logger, options: RunOptions = {}): Promise<number> {
  const signals = options.signals ?? ['SIGTERM', 'SIGINT'];
  const forceExit = options.forceExit ?? ((code: number) => process.exit(code));
  return new Promise((resolve) => {
    let received: NodeJS.Signals | undefined;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (received) {
        log.warn('second signal during the drain: exiting now, rows still queued are lost', { signal, queuedRows: collector.ledger.stats.queuedRows });
        forceExit(1);
        return;
      }
      received = signal;
      log.info('signal received, shutting down', { signal });
      collector.stop().then(
        (result) => {
          for (const s of signals) process.off(s, onSignal);
          if (!result.clean) log.error('shutdown did not drain everything in time', { ...result });
          resolve(result.clean ? 0 : 1);
        },
        (error: unknown) => {
          log.error('shutdown failed', { error: error instanceof Error ? error.message : String(error) });
          resolve(1);
        },
      );
    };
    for (const s of signals) process.on(s, onSignal);
  });
}
