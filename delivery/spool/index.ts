/** The write-ahead spool: durable, bounded ingestion in front of the BatchWriter. */
export {
  Spool, createSpoolStats, DEFAULT_SPOOL_MAX_BYTES, DEFAULT_MAX_SEGMENT_BYTES, DEFAULT_MAX_RECORD_ROWS, DEFAULT_MAX_RECORD_BYTES,
  type SpoolOptions, type SpoolStats, type SpoolRecord, type AppendResult,
} from './spool.js';
export { SpoolPump, DEFAULT_PUMP_RETRY_INITIAL_MS, DEFAULT_PUMP_RETRY_MAX_MS, type SpoolPumpOptions } from './pump.js';
export { SpoolFullError, SpoolClosedError, SpoolLockedError, SpoolLockUnavailableError, SpoolWriteError } from './errors.js';
export { LOCK_FILE, readLockOwner } from './lock.js';
