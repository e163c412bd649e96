/**
 * A local stand-in for the OpenAI and Anthropic Admin API usage and cost reports, on 127.0.0.1,
 * following their documented requests and answers:
 * - OpenAI: `GET /v1/organization/costs` and `/v1/organization/usage/{report}`, `Authorization:
 *   Bearer`, `start_time`/`end_time` Unix seconds, `bucket_width=1d`, `limit` (costs ≤ 180, usage
 *   ≤ 31 daily buckets), `page`; answers `{object: "page", data: [{object: "bucket", start_time,
 *   end_time, results}], has_more, next_page}`.
 * - Anthropic: `GET /v1/organizations/cost_report` and `/v1/organizations/usage_report/messages`,
 *   `x-api-key` + `anthropic-version`, RFC 3339 `starting_at`/`ending_at`, `group_by[]`, `limit` ≤ 31,
 *   `page`; answers `{data: [{starting_at, ending_at, results}], has_more, next_page}`.
 * Errors are `{error: {type, message}}`. `pageSize` makes it answer fewer buckets a page than asked
 * (so a test crosses pages); `rateLimit` answers 429 + `Retry-After` to the first N requests.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeAdminApiOptions {
  key: string;
  /** Buckets per path (`/v1/organization/costs`, ...): their `results`, keyed by day `YYYY-MM-DD`. */
  reports: Record<string, Record<string, unknown[]>>;
  /** Buckets per page at most (below the asked limit). Default: the limit. */
  pageSize?: number;
  /** The first N requests answer 429 with this Retry-After (seconds). */
  rateLimit?: { requests: number; retryAfter: string };
}

export interface RecordedRequest {
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  status: number;
}

export interface FakeAdminApi {
  url: string;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

const DAY_MS = 86_400_000;
const LIMITS: Record<string, { max: number; fallback: number }> = {
  '/v1/organization/costs': { max: 180, fallback: 7 },
  '/v1/organizations/cost_report': { max: 31, fallback: 7 },
  '/v1/organizations/usage_report/messages': { max: 31, fallback: 7 },
};
const OPENAI_USAGE_LIMIT = { max: 31, fallback: 7 };

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

const error = (type: string, message: string) => ({ error: { type, message } });

export async function startFakeAdminApi(options: FakeAdminApiOptions): Promise<FakeAdminApi> {
  const requests: RecordedRequest[] = [];
  let served = 0;
  const server: Server = createServer((req, res) => {
    const target = new URL(req.url ?? '/', 'http://127.0.0.1');
    const record: RecordedRequest = { path: target.pathname, query: target.searchParams, headers: req.headers, status: 0 };
    requests.push(record);
    const answer = (status: number, body: unknown, headers?: Record<string, string>): void => {
      record.status = status;
      send(res, status, body, headers);
    };
    const openai = target.pathname.startsWith('/v1/organization/');
    const anthropic = target.pathname.startsWith('/v1/organizations/');
    const buckets = options.reports[target.pathname];
    if ((!openai && !anthropic) || !buckets) return answer(404, error('not_found_error', `no route ${target.pathname}`));
    const given = openai ? req.headers.authorization?.replace(/^Bearer /, '') : req.headers['x-api-key'];
    if (given !== options.key) {
      // As the real APIs do, the refusal names the key it was given (masked by them; not here, to
      // prove the client never repeats it).
      return answer(401, error('authentication_error', `Incorrect API key provided: ${String(given)}`));
    }
    if (anthropic && req.headers['anthropic-version'] === undefined) return answer(400, error('invalid_request_error', 'anthropic-version header is required'));
    if (options.rateLimit && served++ < options.rateLimit.requests) {
      return answer(429, error('rate_limit_error', 'Rate limit exceeded'), { 'retry-after': options.rateLimit.retryAfter });
    }
    const q = target.searchParams;
    const fromMs = openai ? Number(q.get('start_time')) * 1000 : Date.parse(q.get('starting_at') ?? '');
    const toMs = openai ? (q.has('end_time') ? Number(q.get('end_time')) * 1000 : Infinity) : (q.has('ending_at') ? Date.parse(q.get('ending_at')!) : Infinity);
    if (Number.isNaN(fromMs) || Number.isNaN(toMs)) return answer(400, error('invalid_request_error', 'bad start or end time'));
    if ((q.get('bucket_width') ?? '1d') !== '1d') return answer(400, error('invalid_request_error', 'only 1d buckets here'));
    const limits = LIMITS[target.pathname] ?? OPENAI_USAGE_LIMIT;
    const limit = q.has('limit') ? Number(q.get('limit')) : limits.fallback;
    if (!Number.isInteger(limit) || limit < 1 || limit > limits.max) return answer(400, error('invalid_request_error', `limit must be 1..${limits.max}`));
    const days: number[] = [];
    for (let t = Math.floor(fromMs / DAY_MS) * DAY_MS; t < toMs && days.length < 400; t += DAY_MS) days.push(t);
    const start = q.has('page') ? Number(Buffer.from(q.get('page')!, 'base64url').toString()) : 0;
    const size = Math.min(limit, options.pageSize ?? limit);
    const page = days.slice(start, start + size).map((t) => {
      const results = buckets[new Date(t).toISOString().slice(0, 10)] ?? [];
      return openai
        ? { object: 'bucket', start_time: t / 1000, end_time: t / 1000 + 86_400, results }
        : { starting_at: new Date(t).toISOString().replace('.000Z', 'Z'), ending_at: new Date(t + DAY_MS).toISOString().replace('.000Z', 'Z'), results };
    });
    const more = start + size < days.length;
    const next = more ? Buffer.from(String(start + size)).toString('base64url') : null;
    return answer(200, openai ? { object: 'page', data: page, has_more: more, next_page: next } : { data: page, has_more: more, next_page: next });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
