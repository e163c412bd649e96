/**
 * A progress bar on stderr. On a terminal it redraws one line (at most ~10 times a second); when
 * stderr is not a terminal (a pipe, a log file, CI) it stays silent until `done()`, which prints
 * one final line either way, so logs get a summary and never a wall of carriage returns.
 */

export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface ProgressOptions {
  /** Where to draw. Default process.stderr. */
  stream?: ProgressStream;
  /** Draw on a terminal (default: the stream's isTTY). */
  tty?: boolean;
  /** Unit shown after the counts (`calls`, `rows`). */
  unit?: string;
  /** Clock, ms (tests). Default performance.now. */
  now?: () => number;
}

const REDRAW_MS = 100;
const BAR_WIDTH_MAX = 30;

export class Progress {
  readonly #label: string;
  readonly #stream: ProgressStream;
  readonly #tty: boolean;
  readonly #unit: string;
  readonly #now: () => number;
  readonly #started: number;
  #total: number;
  #current = 0;
  #lastDraw = -Infinity;
  #drawn = false;
  #finished = false;

  constructor(label: string, total: number, options: ProgressOptions = {}) {
    this.#label = label;
    this.#total = Math.max(0, total);
    this.#stream = options.stream ?? process.stderr;
    this.#tty = options.tty ?? this.#stream.isTTY === true;
    this.#unit = options.unit ?? '';
    this.#now = options.now ?? (() => performance.now());
    this.#started = this.#now();
  }

  get current(): number {
    return this.#current;
  }

  /** Changes the expected total (when it becomes known or grows). */
  setTotal(total: number): void {
    this.#total = Math.max(0, total);
    this.#draw(false);
  }

  /** Advances by `n` (default 1). */
  tick(n = 1): void {
    this.update(this.#current + n);
  }

  /** Sets the count done so far. */
  update(current: number): void {
    if (this.#finished) return;
    this.#current = current;
    this.#draw(false);
  }

  /** Ends the bar: one final line, on a terminal replacing the bar. Idempotent. */
  done(summary?: string): void {
    if (this.#finished) return;
    this.#finished = true;
    const seconds = (this.#now() - this.#started) / 1000;
    const line = summary ?? `${this.#label}: ${this.#counts()} in ${formatSeconds(seconds)}`;
    this.#stream.write(`${this.#tty && this.#drawn ? '\r\x1b[2K' : ''}${line}\n`);
  }

  #counts(): string {
    const unit = this.#unit ? ` ${this.#unit}` : '';
    return this.#total > 0 ? `${this.#current}/${this.#total}${unit}` : `${this.#current}${unit}`;
  }

  #draw(force: boolean): void {
    if (!this.#tty || this.#finished) return;
    const now = this.#now();
    if (!force && now - this.#lastDraw < REDRAW_MS && this.#current < this.#total) return;
    this.#lastDraw = now;
    this.#drawn = true;
    this.#stream.write(`\r\x1b[2K${this.render(now)}`);
  }

  /** The bar as drawn now (no control characters). */
  render(now: number = this.#now()): string {
    const elapsed = (now - this.#started) / 1000;
    const rate = elapsed > 0 ? this.#current / elapsed : 0;
    const parts = [this.#label];
    if (this.#total > 0) {
      const fraction = Math.min(1, this.#current / this.#total);
      const columns = this.#stream.columns ?? 80;
      const width = Math.max(10, Math.min(BAR_WIDTH_MAX, columns - 60));
      const filled = Math.round(fraction * width);
      parts.push(`[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`, `${String(Math.floor(fraction * 100)).padStart(3)}%`);
    }
    parts.push(this.#counts());
    if (rate > 0) {
      parts.push(`${rate >= 100 ? Math.round(rate) : rate.toFixed(1)}/s`);
      if (this.#total > this.#current) parts.push(`eta ${formatSeconds((this.#total - this.#current) / rate)}`);
    }
    return parts.join(' ');
  }
}

export function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  if (seconds < 10) return `${seconds.toFixed(1)}s`;
  if (seconds < 120) return `${Math.round(seconds)}s`;
  const minutes = Math.floor(seconds / 60);
  return `${minutes}m${String(Math.round(seconds - minutes * 60)).padStart(2, '0')}s`;
}
