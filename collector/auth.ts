/**
 * Bearer-token authentication of the collector's endpoints.
 *
 * - Ingest tokens: a list of {token, org?} (JSON or YAML, from --tokens-file or GENAI_LEDGER_TOKENS).
 *   A token bound to an org makes every row of its requests belong to that org, whatever the
 *   spans claim. No tokens configured = ingestion is open.
 * - The query token guards the read-only query endpoint (it reads every org's rows).
 *
 * Comparison is constant-time: the presented token and every configured token are hashed
 * (sha256, so lengths are equal) and compared with crypto.timingSafeEqual, all of them every time.
 * Token values are never logged nor echoed.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import { parse as parseYaml } from 'yaml';

export interface TokenEntry {
  token: string;
  /** Tenant every row of this token's requests is attributed to. */
  org?: string;
}

export interface Principal {
  /** Org the token is bound to; undefined = take it from the spans. */
  org: string | undefined;
}

const MAX_TOKEN_LENGTH = 4096;

/**
 * Token list from JSON/YAML text: `[{token, org?}, ...]`, `{tokens: [...]}`, or a plain
 * comma-separated list of tokens (no org binding). Throws with a message that never quotes a token.
 */
export function parseTokens(text: string): TokenEntry[] {
  let doc: unknown;
  try {
    doc = parseYaml(text); // YAML 1.2 is a superset of JSON
  } catch (error) {
    throw new Error(`not valid JSON or YAML (${(error as Error).message.split('\n', 1)[0]})`);
  }
  if (typeof doc === 'string') doc = doc.split(',').map((t) => t.trim()).filter(Boolean).map((token) => ({ token }));
  if (doc !== null && typeof doc === 'object' && !Array.isArray(doc) && Array.isArray((doc as { tokens?: unknown }).tokens)) {
    doc = (doc as { tokens: unknown[] }).tokens;
  }
  if (!Array.isArray(doc)) throw new Error('expected a list of {token, org?} entries');
  const seen = new Set<string>();
  return doc.map((item: unknown, index) => {
    const entry = typeof item === 'string' ? { token: item } : item;
    if (entry === null || typeof entry !== 'object') throw new Error(`entry ${index + 1}: expected {token, org?}`);
    const { token, org, ...rest } = entry as Record<string, unknown>;
    const unknownKeys = Object.keys(rest);
    if (unknownKeys.length > 0) throw new Error(`entry ${index + 1}: unknown field '${unknownKeys[0]}' (allowed: token, org)`);
    if (typeof token !== 'string' || token.trim() === '') throw new Error(`entry ${index + 1}: 'token' must be a non-empty string`);
    if (token.length > MAX_TOKEN_LENGTH || /\s/.test(token)) {
      throw new Error(`entry ${index + 1}: a token is at most ${MAX_TOKEN_LENGTH} characters without spaces`);
    }
    if (seen.has(token)) throw new Error(`entry ${index + 1}: duplicate token`);
    seen.add(token);
    if (org !== undefined && org !== null && (typeof org !== 'string' || org.trim() === '')) {
      throw new Error(`entry ${index + 1}: 'org' must be a non-empty string`);
    }
    return typeof org === 'string' ? { token, org } : { token };
  });
}

export function loadTokensFile(path: string): TokenEntry[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new Error(`cannot read ${path}: ${code === 'ENOENT' ? 'no such file' : (error as Error).message}`);
  }
  return parseTokens(text);
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/** The token of an `Authorization: Bearer <token>` header, else undefined. */
export function bearerToken(headers: IncomingHttpHeaders): string | undefined {
  const header = headers.authorization;
  if (typeof header !== 'string') return undefined;
  const match = /^\s*Bearer\s+(\S+)\s*$/i.exec(header);
  return match ? match[1] : undefined;
}

/** Checks presented bearer tokens against a fixed list, in constant time per list. */
export class TokenAuthenticator {
  readonly #entries: Array<{ hash: Buffer; org: string | undefined }>;
  readonly #dummy = digest('');

  constructor(tokens: readonly TokenEntry[]) {
    this.#entries = tokens.map((t) => ({ hash: digest(t.token), org: t.org }));
  }

  /** No tokens configured: every request is allowed (with no org binding). */
  get open(): boolean {
    return this.#entries.length === 0;
  }

  /** The principal of a request, or undefined when the token is missing or wrong. */
  authenticate(headers: IncomingHttpHeaders): Principal | undefined {
    if (this.open) return { org: undefined };
    const presented = bearerToken(headers);
    const hash = presented === undefined ? this.#dummy : digest(presented);
    let match: Principal | undefined;
    // Every entry is compared, whatever matched, so timing does not tell which or whether.
    for (const entry of this.#entries) {
      if (timingSafeEqual(hash, entry.hash) && presented !== undefined && match === undefined) match = { org: entry.org };
    }
    return match;
  }
}

/** A single secret (the query token), compared in constant time. */
export function tokenMatches(headers: IncomingHttpHeaders, expected: string): boolean {
  const presented = bearerToken(headers);
  const ok = timingSafeEqual(digest(presented ?? ''), digest(expected));
  return ok && presented !== undefined;
}
