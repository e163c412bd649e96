/** Errors of the on-disk spool. */

/**
 * The spool holds `maxBytes` already: nothing more is accepted until ClickHouse catches up. The
 * collector answers 503 + Retry-After; the in-process exporter counts the drop and reports the
 * export as failed. Never thrown for a batch that was acknowledged.
 */
export class SpoolFullError extends Error {
  override readonly name = 'SpoolFullError';
  constructor(
    readonly usedBytes: number,
    readonly maxBytes: number,
    readonly requestedBytes: number,
  ) {
    super(`the spool is full (${usedBytes} of ${maxBytes} bytes used, ${requestedBytes} more requested); retry later`);
  }
}

/** append() after close(). */
export class SpoolClosedError extends Error {
  override readonly name = 'SpoolClosedError';
  constructor() {
    super('the spool is closed');
  }
}

/** The spool directory is held by another live process (or already open in this one). */
export class SpoolLockedError extends Error {
  override readonly name = 'SpoolLockedError';
  constructor(
    readonly dir: string,
    readonly pid: number | undefined,
  ) {
    super(
      pid === process.pid
        ? `the spool ${dir} is already open in this process`
        : `the spool ${dir} is open in another process (${pid === undefined ? 'pid unknown' : `pid ${pid}`})`,
    );
  }
}

/** The OS file lock that guards a spool directory cannot be taken on this platform (its native module did not load). */
export class SpoolLockUnavailableError extends Error {
  override readonly name = 'SpoolLockUnavailableError';
  constructor(cause: Error) {
    super(
      `the spool needs an OS file lock, but fs-native-extensions did not load on ${process.platform}-${process.arch} (${cause.message.split('\n')[0]}); turn the spool off (collector: --no-spool) or run on a platform it has a prebuild for`,
      { cause },
    );
  }
}

/**
 * Spool I/O failed: writing or fsyncing a group of appends (none of them is acknowledged; the
 * caller may retry), or reading a record back (the record stays and is read again later).
 */
export class SpoolWriteError extends Error {
  override readonly name = 'SpoolWriteError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}
