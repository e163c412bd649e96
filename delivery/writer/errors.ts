/**
 * What to do with an insert error.
 *
 * - `retryable`: the server or the way to it is (probably) temporarily unable: network and
 *   transport errors (anything without a ClickHouse error code), timeouts, too many parts,
 *   memory pressure, overload, replication/Keeper trouble. Retry the same batch, same token.
 * - `batch`: the insert itself is wrong whatever rows it carries (unknown table or column,
 *   syntax, permissions). Retrying or splitting cannot help; the whole batch is rejected.
 * - `rows`: any other ClickHouse error, typically a value that does not parse (garbage
 *   timestamp, a negative token count, a malformed decimal). Splitting isolates the bad rows.
 *
 * Errors are classified by shape (`code`, `type`), not by class: chDB builds its ClickHouseError
 * from @clickhouse/client-common, a different class than @clickhouse/client's bundled one.
 */
export type InsertErrorClass = 'retryable' | 'batch' | 'rows';

/** ClickHouse error codes worth retrying (names from `errorCodeToName`, ClickHouse 26.7). */
export const RETRYABLE_CLICKHOUSE_CODES: ReadonlySet<number> = new Set([
  95, // CANNOT_READ_FROM_SOCKET
  96, // CANNOT_WRITE_TO_SOCKET
  159, // TIMEOUT_EXCEEDED
  160, // TOO_SLOW
  173, // CANNOT_ALLOCATE_MEMORY
  202, // TOO_MANY_SIMULTANEOUS_QUERIES
  203, // NO_FREE_CONNECTION
  209, // SOCKET_TIMEOUT
  210, // NETWORK_ERROR
  225, // NO_ZOOKEEPER
  236, // ABORTED
  241, // MEMORY_LIMIT_EXCEEDED
  242, // TABLE_IS_READ_ONLY
  243, // NOT_ENOUGH_SPACE
  244, // UNEXPECTED_ZOOKEEPER_ERROR
  252, // TOO_MANY_PARTS
  279, // ALL_CONNECTION_TRIES_FAILED
  285, // TOO_FEW_LIVE_REPLICAS
  286, // UNSATISFIED_QUORUM_FOR_PREVIOUS_WRITE
  289, // REPLICA_IS_NOT_IN_QUORUM
  297, // SHARD_HAS_NO_CONNECTIONS
  319, // UNKNOWN_STATUS_OF_INSERT
  364, // RECEIVED_ERROR_TOO_MANY_REQUESTS
  373, // SESSION_IS_LOCKED
  394, // QUERY_WAS_CANCELLED
  425, // SYSTEM_ERROR
  439, // CANNOT_SCHEDULE_TASK
  473, // DEADLOCK_AVOIDED
  574, // DISTRIBUTED_TOO_MANY_PENDING_BYTES
  677, // THREAD_WAS_CANCELED
  735, // QUERY_WAS_CANCELLED_BY_CLIENT
  745, // SERVER_OVERLOADED
  749, // TCP_CONNECTION_LIMIT_REACHED
  762, // HTTP_CONNECTION_LIMIT_REACHED
  776, // RESOURCE_LIMIT_EXCEEDED
  777, // MEMORY_RESERVATION_KILLED
  778, // MEMORY_RESERVATION_FAILED
  904, // TOO_MANY_UNAVAILABLE_SHARDS
  999, // KEEPER_EXCEPTION
]);

/** ClickHouse error codes that condemn the whole insert, not particular rows. */
export const BATCH_CLICKHOUSE_CODES: ReadonlySet<number> = new Set([
  1, // UNSUPPORTED_METHOD
  10, // NOT_FOUND_COLUMN_IN_BLOCK
  16, // NO_SUCH_COLUMN_IN_TABLE
  47, // UNKNOWN_IDENTIFIER
  48, // NOT_IMPLEMENTED
  60, // UNKNOWN_TABLE
  62, // SYNTAX_ERROR
  73, // UNKNOWN_FORMAT
  81, // UNKNOWN_DATABASE
  115, // UNKNOWN_SETTING
  164, // READONLY
  192, // UNKNOWN_USER
  193, // WRONG_PASSWORD
  201, // QUOTA_EXCEEDED
  291, // DATABASE_ACCESS_DENIED
  497, // ACCESS_DENIED
  516, // AUTHENTICATION_FAILED
]);

/** The numeric ClickHouse error code of an error, if it carries one. */
export function clickhouseErrorCode(err: unknown): number | undefined {
  if (err === null || typeof err !== 'object') return undefined;
  const { code, clickhouseCode } = err as { code?: unknown; clickhouseCode?: unknown };
  for (const candidate of [code, clickhouseCode]) {
    if (typeof candidate === 'number' && Number.isInteger(candidate)) return candidate;
    if (typeof candidate === 'string' && /^\d+$/.test(candidate)) return Number(candidate);
  }
  const message = err instanceof Error ? err.message : '';
  const match = /^Code: (\d+)\. DB::Exception/m.exec(message);
  return match ? Number(match[1]) : undefined;
}

export function classifyInsertError(err: unknown): InsertErrorClass {
  const code = clickhouseErrorCode(err);
  if (code === undefined) return 'retryable';
  if (RETRYABLE_CLICKHOUSE_CODES.has(code)) return 'retryable';
  if (BATCH_CLICKHOUSE_CODES.has(code)) return 'batch';
  return 'rows';
}
