/**
 * Reading a provider's Admin API report: every page (`has_more` / `next_page`, sent back as
 * `page`), with retries on rate limits (429 + `Retry-After`), overload and server errors, and the
 * admin key kept out of every message: it travels in a header only, and is cut out of any error
 * text that might echo it.
 */

/** Attempts per page, the first included. */
export const MAX_ATTEMPTS = 5;
/** First backoff without a `Retry-After`, doubled per attempt up to {@link MAX_BACKOFF_MS}. */
export const BASE_BACKOFF_MS = 1_000;
export const MAX_BACKOFF_MS = 30_000;
/** Longest `Retry-After` honoured; a longer one is cut to this. */
export const MAX_RETRY_AFTER_MS = 60_000;
/** Pages read at most per report: a server that always says `has_more` cannot loop forever. */
export const MAX_PAGES = 1_000;
/** Per-request time limit. */
export const REQUEST_TIMEOUT_MS = 60_000;

/** 429 rate limited, 529 Anthropic overloaded, 5xx server trouble: worth another try. */
const RETRIED_STATUSES: ReadonlySet<number> = new Set([429, 500, 502, 503, 504, 529]);

export interface ReportRequest {
  /** `openai` or `anthropic`: names the API in errors. */
  provider: string;
  /** Base URL (`https://api.openai.com`, a proxy, a test's fake). */
  apiBase: string;
  /** Path under the base (`/v1/organization/costs`). */
  path: string;
  /** Query parameters; an array repeats the parameter. */
  params: Record<string, string | number | readonly string[]>;
  headers: Record<string, string>;
  /** The key in `headers`: removed from any error message. */
  secret: string;
  /** What to do about a 401/403 (which variable holds the key). */
  authHint: string;
}

export interface FetchOptions {
  fetch?: typeof globalThis.fetch;
  /** Waits between attempts (tests record the delays instead of waiting). */
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

/** A report request that failed for good: one line, never the key. */
export class AdminApiError extends Error {
  override readonly name = 'AdminApiError';
  constructor(message: string, readonly status: number) {
    super(message);
  }
}

export interface ReportPage {
  data: unknown[];
  has_more: boolean;
  next_page: string | null;
}

const defaultSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** `Retry-After` as seconds or an HTTP date → ms to wait (undefined when absent or unreadable). */
export function retryAfterMs(header: string | null, nowMs = Date.now()): number | undefined {
  if (header === null || header.trim() === '') return undefined;
  const text = header.trim();
  const ms = /^\d+(\.\d+)?$/.test(text) ? Number(text) * 1000 : Date.parse(text) - nowMs;
  if (Number.isNaN(ms)) return undefined;
  return Math.min(Math.max(0, Math.ceil(ms)), MAX_RETRY_AFTER_MS);
}

function url(request: ReportRequest, page: string | undefined): string {
  const target = new URL(request.apiBase.replace(/\/+$/, '') + request.path);
  for (const [name, value] of Object.entries(request.params)) {
    for (const v of Array.isArray(value) ? value : [value]) target.searchParams.append(name, String(v));
  }
  if (page !== undefined) target.searchParams.set('page', page);
  return target.toString();
}

function redact(text: string, secret: string): string {
  return secret === '' ? text : text.split(secret).join('[redacted]');
}

/** The provider's own error message from an error body (`{error: {message}}` or `{error: "…"}`), one line. */
function errorDetail(body: string): string {
  try {
    const parsed = JSON.parse(body) as { error?: { message?: unknown; type?: unknown } | string; message?: unknown };
    const e = parsed.error;
    const message = typeof e === 'string' ? e : typeof e?.message === 'string' ? e.message : typeof parsed.message === 'string' ? parsed.message : undefined;
    if (message) return message.split('\n')[0]!.slice(0, 300);
  } catch {
    // not JSON: the text itself
  }
  return body.split('\n')[0]!.slice(0, 300);
}

/** One page, with retries. */
async function fetchPage(request: ReportRequest, page: string | undefined, options: FetchOptions): Promise<ReportPage> {
  const doFetch = options.fetch ?? globalThis.fetch;
  const sleep = options.sleep ?? defaultSleep;
  const random = options.random ?? Math.random;
  const label = `${request.provider} admin API: GET ${request.path}`;
  for (let attempt = 1; ; attempt++) {
    let response: Response;
    try {
      response = await doFetch(url(request, page), { headers: request.headers, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    } catch (error) {
      const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
      if (attempt >= MAX_ATTEMPTS) throw new AdminApiError(redact(`${label}: no answer after ${attempt} attempts (${cause})`, request.secret), 0);
      await sleep(backoff(attempt, random));
      continue;
    }
    if (response.ok) {
      const body = (await response.json()) as Partial<ReportPage>;
      if (!Array.isArray(body.data)) throw new AdminApiError(`${label}: the answer has no data list`, response.status);
      return { data: body.data, has_more: body.has_more === true, next_page: typeof body.next_page === 'string' ? body.next_page : null };
    }
    const detail = errorDetail(await response.text().catch(() => ''));
    if (RETRIED_STATUSES.has(response.status) && attempt < MAX_ATTEMPTS) {
      await sleep(retryAfterMs(response.headers.get('retry-after')) ?? backoff(attempt, random));
      continue;
    }
    const hint = response.status === 401 || response.status === 403 ? ` (${request.authHint})` : '';
    const tries = RETRIED_STATUSES.has(response.status) ? ` after ${attempt} attempts` : '';
    throw new AdminApiError(redact(`${label} answered ${response.status}${tries}: ${detail}${hint}`, request.secret), response.status);
  }
}

/** Exponential backoff with jitter (half to all of the doubled delay). */
function backoff(attempt: number, random: () => number): number {
  const ceiling = Math.min(MAX_BACKOFF_MS, BASE_BACKOFF_MS * 2 ** (attempt - 1));
  return Math.round(ceiling * (0.5 + random() / 2));
}

/** Every result bucket of a report, page after page. */
export async function fetchReport(request: ReportRequest, options: FetchOptions = {}): Promise<unknown[]> {
  const buckets: unknown[] = [];
  let page: string | undefined;
  for (let n = 0; n < MAX_PAGES; n++) {
    const answer = await fetchPage(request, page, options);
    buckets.push(...answer.data);
    if (!answer.has_more) return buckets;
    if (answer.next_page === null || answer.next_page === page) {
      throw new AdminApiError(`${request.provider} admin API: GET ${request.path}: has_more without a new next_page`, 200);
    }
    page = answer.next_page;
  }
  throw new AdminApiError(`${request.provider} admin API: GET ${request.path}: more than ${MAX_PAGES} pages`, 200);
}
