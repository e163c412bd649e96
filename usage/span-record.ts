/**
 * The transport-neutral span the pipeline maps: built from an SDK `ReadableSpan` (in-process)
 * or from a decoded OTLP request (collector, `usage` CLI). Holding references, not copies,
 * keeps the in-process path allocation-light.
 */
export type AttributeValue = string | number | boolean | ReadonlyArray<string | number | boolean | null | undefined>;
export type Attributes = Readonly<Record<string, AttributeValue | undefined>>;

/** OTLP span status codes (also the OTel API's `SpanStatusCode` values). */
export const STATUS_UNSET = 0;
export const STATUS_OK = 1;
export const STATUS_ERROR = 2;

export interface SpanEvent {
  readonly name: string;
  readonly attributes?: Attributes;
}

export interface SpanRecord {
  /** 32 lowercase hex chars. */
  readonly traceId: string;
  /** 16 lowercase hex chars. */
  readonly spanId: string;
  /** 16 lowercase hex chars, or '' for a root span. */
  readonly parentSpanId: string;
  readonly name: string;
  /** Unix time in microseconds (fits a double exactly until year 2255). */
  readonly startUnixMicros: number;
  readonly endUnixMicros: number;
  readonly attributes: Attributes;
  readonly resource: Attributes;
  /** Instrumentation scope name, '' when unknown. */
  readonly scopeName: string;
  readonly statusCode: number;
  readonly statusMessage: string;
  readonly events: ReadonlyArray<SpanEvent>;
}
