/**
 * Discovery of a running collector by the CLI. A collector that holds an embedded store DIR writes
 * DIR/collector.json (mode 0600: only the store's owner may read the query token) once it serves,
 * and removes it when it stops. A reader that finds the file with a live pid talks to the
 * collector's query endpoint instead of opening the (locked) directory.
 */
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isProcessAlive } from '../clickhouse/process-alive.js';

export const DISCOVERY_FILE = 'collector.json';

export interface DiscoveryInfo {
  /** Format version of this file. */
  version: 1;
  pid: number;
  /** Base URL of the collector (`http://127.0.0.1:4318`). */
  url: string;
  queryToken: string;
  database: string;
  startedAt: string;
}

export function discoveryPath(dir: string): string {
  return join(dir, DISCOVERY_FILE);
}

/** Writes DIR/collector.json atomically with mode 0600. */
export function writeDiscovery(dir: string, info: Omit<DiscoveryInfo, 'version'>): void {
  const path = discoveryPath(dir);
  const temp = `${path}.${process.pid}.tmp`;
  writeFileSync(temp, `${JSON.stringify({ version: 1, ...info }, null, 2)}\n`, { mode: 0o600 });
  renameSync(temp, path);
}

/** Removes DIR/collector.json if it is this process's (a newer collector's file is left alone). */
export function removeDiscovery(dir: string, pid: number = process.pid): void {
  const info = readDiscoveryFile(dir);
  if (info && info.pid !== pid) return;
  rmSync(discoveryPath(dir), { force: true });
}

/** DIR/collector.json as written, or undefined when absent or unreadable. */
export function readDiscoveryFile(dir: string): DiscoveryInfo | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(discoveryPath(dir), 'utf8'));
  } catch {
    return undefined;
  }
  const info = parsed as Partial<DiscoveryInfo> | null;
  if (!info || typeof info !== 'object' || typeof info.pid !== 'number' || typeof info.url !== 'string'
    || typeof info.queryToken !== 'string' || typeof info.database !== 'string') {
    return undefined;
  }
  return { version: 1, pid: info.pid, url: info.url, queryToken: info.queryToken, database: info.database, startedAt: String(info.startedAt ?? '') };
}

/** The discovery file of a collector that is still running (its pid is alive), else undefined. */
export function findLiveCollector(dir: string): DiscoveryInfo | undefined {
  const info = readDiscoveryFile(dir);
  return info && isProcessAlive(info.pid) ? info : undefined;
}

