/**
 * Gets a store ready for a ledger's inserts (database, migrations, `model_prices`), retrying in
 * the background until it succeeds.
 *
 * Used by a ledger with a spool: it opens while ClickHouse is unreachable (requests are acknowledged
 * once on disk, nothing needs the store for that), and its pump starts delivering once the setup
 * is done. Attempts back off from retryInitialMs, doubling up to retryMaxMs (±20 % jitter), and
 * each failure is a diag warning. `waiting` says what the ledger waits for, as probes show it.
 */
import { diag } from '@opentelemetry/api';

export const STORE_SETUP_RETRY_INITIAL_MS = 1_000;
export const STORE_SETUP_RETRY_MAX_MS = 30_000;
/** Longest the first attempt holds up an open (a black-holed server answers nothing until the client's timeout). */
export const STORE_SETUP_FIRST_WAIT_MS = 10_000;

/** One part of the setup, named by what is missing while it fails ("migrations not applied"). */
export interface SetupStep {
  missing: string;
  run: () => Promise<unknown>;
}

export interface StoreSetupOptions {
  retryInitialMs?: number;
  retryMaxMs?: number;
  /** Random source for the jitter (tests). Default Math.random. */
  random?: () => number;
}

/** The first line of an error's message (ClickHouse's run to stack traces). */
export function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n', 1)[0]!;
}

export class StoreSetup {
  readonly #steps: readonly SetupStep[];
  readonly #retryMaxMs: number;
  readonly #random: () => number;
  #delay: number;
  #waiting: string | undefined = 'clickhouse: connecting';
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  #onReady: Array<() => void> = [];

  constructor(steps: readonly SetupStep[], options: StoreSetupOptions = {}) {
    this.#steps = steps;
    this.#delay = options.retryInitialMs ?? STORE_SETUP_RETRY_INITIAL_MS;
    this.#retryMaxMs = Math.max(this.#delay, options.retryMaxMs ?? STORE_SETUP_RETRY_MAX_MS);
    this.#random = options.random ?? Math.random;
  }

  /** What the ledger waits for (`clickhouse: migrations not applied: <reason>`); undefined once ready. */
  get waiting(): string | undefined {
    return this.#waiting;
  }

  get ready(): boolean {
    return this.#waiting === undefined;
  }

  /** Calls `listener` once the setup is done (at once if it is); never after close(). */
  onReady(listener: () => void): void {
    if (this.ready) listener();
    else if (!this.#closed) this.#onReady.push(listener);
  }

  /**
   * Runs the first attempt and resolves with its error (undefined: the store is ready), or with a
   * timeout error after `waitMs` (the attempt goes on). Until one succeeds or close() is called,
   * later attempts follow in the background.
   */
  async start(waitMs = STORE_SETUP_FIRST_WAIT_MS): Promise<unknown> {
    const first = this.#attempt().then((error) => {
      if (error !== undefined) this.#schedule();
      return error;
    });
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<Error>((resolve) => {
      timer = setTimeout(() => resolve(new Error(`the store did not answer within ${waitMs} ms`)), waitMs);
    });
    try {
      return await Promise.race([first, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Stops retrying; an attempt under way is left to fail or succeed unheard. */
  close(): void {
    this.#closed = true;
    this.#onReady = [];
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  async #attempt(): Promise<unknown> {
    for (const step of this.#steps) {
      try {
        await step.run();
      } catch (error) {
        this.#waiting = `clickhouse: ${step.missing}: ${firstLine(error)}`;
        return error;
      }
    }
    this.#waiting = undefined;
    if (!this.#closed) for (const listener of this.#onReady.splice(0)) listener();
    return undefined;
  }

  #schedule(): void {
    if (this.#closed) return;
    const delay = this.#delay * (1 + 0.2 * (2 * this.#random() - 1));
    this.#delay = Math.min(this.#retryMaxMs, this.#delay * 2);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#attempt().then((error) => {
        if (this.#closed) return;
        if (error === undefined) {
          diag.info('genai-ledger: the store is ready (migrations applied, model_prices synced); delivering the spool');
          return;
        }
        diag.warn(`genai-ledger: ${this.#waiting}; retrying in about ${Math.round(this.#delay / 1000)} s (the spool keeps what arrives)`);
        this.#schedule();
      });
    }, delay);
    this.#timer.unref();
  }
}
