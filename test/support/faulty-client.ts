/**
 * A fault-injecting ClickHouse client for tests: wraps a real client (the embedded store, or any
 * `@clickhouse/client` client) and misbehaves on `exec`, the call the BatchWriter inserts with.
 * Every other method (query, command, insert, close, ...) goes straight to the real client, so
 * the result can be handed to `Ledger.open({ client })` (migrations and reads work normally).
 *
 * Faults, checked in this order on each insert, each armed for N inserts and/or a duration:
 * - `refuse`: throws a connection error (ECONNREFUSED, no ClickHouse code: retryable) without
 *   touching the server, like a ClickHouse that is down.
 * - `hang`: never answers; rejects only when the insert's abort signal fires (the writer's
 *   insertTimeoutMs), like a stuck server or a black-holed connection.
 * - `rejectRows`: when the body holds a line matching (by default, a trace id), throws a
 *   ClickHouse-shaped parse error (Code 27 CANNOT_PARSE_INPUT_ASSERTION_FAILED) without inserting
 *   anything, as ClickHouse refuses a whole insert block with a bad value.
 * - `commitThenError`: inserts for real, then throws a network error (ECONNRESET), like a response
 *   lost after the server committed: the ambiguous case.
 */
import { Readable } from 'node:stream';
import type { ClickHouseClient } from '@clickhouse/client';

type Exec = ClickHouseClient['exec'];
type ExecParams = Parameters<Exec>[0] & { values?: unknown };

export interface FaultWindow {
  /** Inserts affected (default: unlimited while `forMs` lasts, or 1 when neither is given). */
  times?: number;
  /** Affects inserts for this long from now. */
  forMs?: number;
  /** Lets this many inserts through first. */
  skip?: number;
}

interface Armed {
  skip: number;
  remaining: number;
  until: number;
}

export interface FaultStats {
  /** exec calls seen. */
  calls: number;
  refused: number;
  hung: number;
  /** Inserts committed and then answered with an error. */
  committedThenErrored: number;
  /** Inserts refused with a parse error because of a matching row. */
  rowRejections: number;
  /** Inserts passed to the real client and acknowledged (commitThenError ones included). */
  inserted: number;
  /** Rows in those inserts. */
  insertedRows: number;
}

export interface FaultControls {
  refuse(window?: FaultWindow): FaultControls;
  hang(window?: FaultWindow): FaultControls;
  commitThenError(window?: FaultWindow): FaultControls;
  /** Refuses every insert holding a line that contains `traceId` (or matches the predicate). */
  rejectRows(match: string | ((line: string) => boolean), error?: { code?: number; type?: string; message?: string }): FaultControls;
  /** Clears every fault. */
  heal(): FaultControls;
  readonly faults: FaultStats;
}

export type FaultyClient = ClickHouseClient & FaultControls;

function arm(window: FaultWindow = {}): Armed {
  const remaining = window.times ?? (window.forMs !== undefined ? Infinity : 1);
  const until = window.forMs !== undefined ? Date.now() + window.forMs : Infinity;
  return { skip: window.skip ?? 0, remaining, until };
}

function take(armed: Armed | undefined): boolean {
  if (!armed) return false;
  if (armed.remaining <= 0 || Date.now() >= armed.until) return false;
  if (armed.skip > 0) {
    armed.skip--;
    return false;
  }
  armed.remaining--;
  return true;
}

export function connectionRefused(): Error {
  return Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8123'), { code: 'ECONNREFUSED', errno: -111, syscall: 'connect' });
}

export function connectionReset(): Error {
  return Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
}

/** The shape chDB / @clickhouse/client give a server-side error (code as a numeric string). */
export function clickhouseError(code: number, type: string, message: string): Error {
  return Object.assign(new Error(`Code: ${code}. DB::Exception: ${message}. (${type}) (version 26.7.1.1)`), { code: String(code), type });
}

async function readAll(values: unknown): Promise<string> {
  if (values === undefined || values === null) return '';
  if (typeof values === 'string') return values;
  let body = '';
  for await (const chunk of values as AsyncIterable<Buffer | string>) body += String(chunk);
  return body;
}

function abortError(signal: AbortSignal): Error {
  const reason = signal.reason as unknown;
  const message = reason instanceof Error ? reason.message : 'The user aborted a request.';
  return Object.assign(new Error(message), { name: 'AbortError' });
}

/** Wraps `inner`; faults apply to `exec` (the writer's inserts) only. */
export function createFaultyClient(inner: ClickHouseClient): FaultyClient {
  let refusing: Armed | undefined;
  let hanging: Armed | undefined;
  let lying: Armed | undefined;
  let badRow: { match: (line: string) => boolean; error: () => Error } | undefined;
  const faults: FaultStats = { calls: 0, refused: 0, hung: 0, committedThenErrored: 0, rowRejections: 0, inserted: 0, insertedRows: 0 };

  const exec = (async (params: ExecParams) => {
    faults.calls++;
    if (take(refusing)) {
      faults.refused++;
      throw connectionRefused();
    }
    if (take(hanging)) {
      faults.hung++;
      const signal = params.abort_signal;
      await new Promise<never>((_, reject) => {
        if (!signal) return; // hangs forever
        if (signal.aborted) reject(abortError(signal));
        signal.addEventListener('abort', () => reject(abortError(signal)), { once: true });
      });
    }
    const body = await readAll(params.values);
    const lines = body.split('\n').filter((l) => l !== '');
    if (badRow) {
      const at = lines.findIndex((l) => badRow!.match(l));
      if (at >= 0) {
        faults.rowRejections++;
        const error = badRow.error();
        error.message = error.message.replace('{row}', String(at + 1));
        throw error;
      }
    }
    const lie = take(lying);
    const result = await inner.exec({ ...params, values: Readable.from([body]) });
    faults.inserted++;
    faults.insertedRows += lines.length;
    if (lie) {
      faults.committedThenErrored++;
      result.stream.resume();
      result.stream.destroy();
      throw connectionReset();
    }
    return result;
  }) as Exec;

  const controls: FaultControls = {
    refuse(window) {
      refusing = arm(window);
      return controls;
    },
    hang(window) {
      hanging = arm(window);
      return controls;
    },
    commitThenError(window) {
      lying = arm(window);
      return controls;
    },
    rejectRows(match, error = {}) {
      const test = typeof match === 'string' ? (line: string) => line.includes(`"${match}"`) : match;
      const code = error.code ?? 27;
      const type = error.type ?? 'CANNOT_PARSE_INPUT_ASSERTION_FAILED';
      const message = error.message ?? "Cannot parse input: expected ',' before: 'garbage]': (at row {row})";
      badRow = { match: test, error: () => clickhouseError(code, type, message) };
      return controls;
    },
    heal() {
      refusing = hanging = lying = undefined;
      badRow = undefined;
      return controls;
    },
    get faults() {
      return faults;
    },
  };

  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'exec') return exec;
      if (prop in controls) return (controls as unknown as Record<PropertyKey, unknown>)[prop];
      const value = Reflect.get(target, prop, receiver) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  }) as FaultyClient;
}

/** An in-memory stand-in for ClickHouse (no engine): stores inserted lines; for pump/unit tests. */
export function createMemoryClient(): ClickHouseClient & { lines: string[]; inserts: number } {
  const state = { lines: [] as string[], inserts: 0 };
  const exec = (async (params: ExecParams) => {
    const body = await readAll(params.values);
    state.inserts++;
    for (const line of body.split('\n')) if (line !== '') state.lines.push(line);
    return { stream: Readable.from([]), query_id: 'memory', response_headers: {}, summary: undefined };
  }) as unknown as Exec;
  const client = {
    exec,
    close: async () => undefined,
    get lines() {
      return state.lines;
    },
    get inserts() {
      return state.inserts;
    },
  };
  return client as unknown as ClickHouseClient & { lines: string[]; inserts: number };
}
