import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace-base';

/** Tracks spans open, so a capture can wait for those that end after the call and name those that never do. */
export class OpenSpans implements SpanProcessor {
  private readonly open = new Map<Span, string>();
  private waiters: Array<() => void> = [];
  onStart(span: Span): void {
    this.open.set(span, span.name);
  }
  onEnd(span: ReadableSpan): void {
    this.open.delete(span as Span);
    if (this.open.size === 0) for (const wake of this.waiters.splice(0)) wake();
  }
  async forceFlush(): Promise<void> {}
  async shutdown(): Promise<void> {}

  /** Waits until every span ended, or `timeoutMs`; then the names of those still open. */
  async settled(timeoutMs: number): Promise<string[]> {
    if (this.open.size > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timeoutMs);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    // Work queued for the same tick (a sibling's attributes set right before its end) finishes first.
    await new Promise((resolve) => setImmediate(resolve));
    return [...this.open.values()];
  }
}
