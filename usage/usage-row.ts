/**
 * One AI call as stored in `ai_usage`. Field names are the public schema: the ClickHouse
 * columns, the `usage` CLI's JSON Lines and the SQL cookbook all use them as they are.
 */
export interface UsageRow {
  /** Span start, UTC, microsecond precision: `YYYY-MM-DD hh:mm:ss.ffffff`. */
  ts: string;
  trace_id: string;
  span_id: string;
  parent_span_id: string;
  duration_ms: number;
  service_name: string;
  environment: string;
  /** OTel well-known `gen_ai.provider.name` value (`openai`, `anthropic`, `aws.bedrock`, ...). */
  provider: string;
  /** `gen_ai.operation.name` value: `chat`, `embeddings`, `text_completion`, ... */
  operation: string;
  request_model: string;
  response_model: string;
  /** `provider/model` id of the price entry used, '' when the call is unpriced. */
  priced_model: string;
  org_id: string;
  user_id: string;
  feature: string;
  conversation_id: string;
  /** All input tokens, cache reads and writes included (semantic-convention meaning). */
  input_tokens: number;
  /** All output tokens, reasoning included. */
  output_tokens: number;
  cache_read_tokens: number;
  cache_write_tokens: number;
  reasoning_tokens: number;
  input_audio_tokens: number;
  output_audio_tokens: number;
  /** Any other billed unit: credits, audio_seconds, characters, images, requests, web_searches, ... */
  usage_details: Record<string, number>;
  /** Exact decimal USD as a string; null when no price is known. */
  cost_usd: string | null;
  /** Cost per priced component (`input`, `cache_read`, `output`, ...), exact decimal strings. */
  cost_breakdown: Record<string, string>;
  /** Where the price came from: `genai-prices@<version>`, `override:<file>`, `span`, or ''. */
  price_source: string;
  /** '' for a successful call. */
  error_type: string;
  /** Instrumentation scope name. */
  instrumentation: string;
  /** Allow-listed span/resource attributes, values truncated. */
  attributes: Record<string, string>;
}

/** Column order of `ai_usage` inserts and CLI output. */
export const USAGE_COLUMNS = [
  'ts', 'trace_id', 'span_id', 'parent_span_id', 'duration_ms', 'service_name', 'environment',
  'provider', 'operation', 'request_model', 'response_model', 'priced_model',
  'org_id', 'user_id', 'feature', 'conversation_id',
  'input_tokens', 'output_tokens', 'cache_read_tokens', 'cache_write_tokens', 'reasoning_tokens',
  'input_audio_tokens', 'output_audio_tokens', 'usage_details',
  'cost_usd', 'cost_breakdown', 'price_source', 'error_type', 'instrumentation', 'attributes',
] as const satisfies ReadonlyArray<keyof UsageRow>;
