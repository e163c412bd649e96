/**
 * Budget alerts to a webhook: a JSON POST, signed with HMAC-SHA256 over the body when a secret is
 * set (`X-GenAI-Ledger-Signature: sha256=<hex>`), retried with exponential backoff until it
 * answers 2xx (or the sender is closed).
 */
import { createHmac } from 'node:crypto';

export const SIGNATURE_HEADER = 'x-genai-ledger-signature';
/** First wait after a failed POST. */
export const WEBHOOK_INITIAL_BACKOFF_MS = 500;
/** Longest wait between attempts. */
export const WEBHOOK_MAX_BACKOFF_MS = 30_000;
/** Longest one attempt may take. */
export const WEBHOOK_ATTEMPT_TIMEOUT_MS = 10_000;

export interface WebhookOptions {
  url: string;
  /** GENAI_LEDGER_ALERT_WEBHOOK_SECRET: signs the body when set. */
  secret?: string | undefined;
  /** Waits, for tests. Default WEBHOOK_INITIAL_BACKOFF_MS / WEBHOOK_MAX_BACKOFF_MS. */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
}

/** `sha256=<hex HMAC-SHA256 of body>`. */
export function signBody(body: string, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/**
 * POSTs `body` until a 2xx. Resolves true once delivered, false when `signal` aborted first.
 * `onFailure` hears each failed attempt (status, or the network error).
 */
export async function deliverWebhook(
  options: WebhookOptions,
  body: string,
  signal: AbortSignal,
  onFailure: (reason: string) => void = () => undefined,
): Promise<boolean> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (options.secret) headers[SIGNATURE_HEADER] = signBody(body, options.secret);
  let backoff = options.initialBackoffMs ?? WEBHOOK_INITIAL_BACKOFF_MS;
  while (!signal.aborted) {
    try {
      const response = await fetch(options.url, {
        method: 'POST', headers, body,
        signal: AbortSignal.any([signal, AbortSignal.timeout(WEBHOOK_ATTEMPT_TIMEOUT_MS)]),
      });
      await response.arrayBuffer().catch(() => undefined);
      if (response.ok) return true;
      onFailure(`HTTP ${response.status}`);
    } catch (error) {
      if (signal.aborted) break;
      onFailure((error as Error).message);
    }
    await sleep(backoff, signal);
    backoff = Math.min(backoff * 2, options.maxBackoffMs ?? WEBHOOK_MAX_BACKOFF_MS);
  }
  return false;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}
