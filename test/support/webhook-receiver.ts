/** A webhook for alert tests on 127.0.0.1: records each POST it accepts, and can answer 503 first. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedPost<T> {
  /** The body as sent (what a signature covers) and as parsed. */
  raw: string;
  body: T;
  /** The X-GenAI-Ledger-Signature header. */
  signature: string | undefined;
  /** Date.now() when it arrived. */
  at: number;
}

export class WebhookReceiver<T = unknown> {
  readonly received: Array<ReceivedPost<T>> = [];
  /** POSTs answered, failed ones included. */
  attempts = 0;
  /** The next POSTs answered 503 (each one consumes one) before the 204s. */
  failuresLeft = 0;

  private constructor(private readonly server: Server, readonly url: string) {}

  static async start<T>(): Promise<WebhookReceiver<T>> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const receiver = new WebhookReceiver<T>(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}/alerts`);
    server.on('request', (req, res) => {
      let raw = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (raw += chunk));
      req.on('end', () => {
        receiver.attempts++;
        if (receiver.failuresLeft > 0) {
          receiver.failuresLeft--;
          res.writeHead(503).end();
          return;
        }
        receiver.received.push({ raw, body: JSON.parse(raw) as T, signature: req.headers['x-genai-ledger-signature'] as string | undefined, at: Date.now() });
        res.writeHead(204).end();
      });
    });
    return receiver;
  }

  /** Forgets what was received and answers 204 again. */
  reset(): void {
    this.received.length = 0;
    this.attempts = 0;
    this.failuresLeft = 0;
  }

  /** Resolves once `n` POSTs were accepted; rejects after `timeoutMs`. */
  async waitFor(n: number, timeoutMs = 60_000): Promise<void> {
    for (const start = Date.now(); this.received.length < n;) {
      if (Date.now() - start > timeoutMs) throw new Error(`waited ${timeoutMs} ms for ${n} webhook POST(s), got ${this.received.length}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
