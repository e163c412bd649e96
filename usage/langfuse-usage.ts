/**
 * Langfuse's observation usage and cost (`langfuse.observation.usage_details` / `cost_details`), each
 * one JSON object of named parts. In Langfuse's model the parts are disjoint and priced one by one
 * (its price list has a price per part: `input`, `input_cached_tokens`, `output_reasoning_tokens`, …),
 * `total` is their sum, and every part whose name contains "input" is input, "output" output
 * (langfuse.com/docs/observability/features/token-and-cost-tracking). So its `input` excludes cache
 * reads and writes: `@langfuse/openai` writes prompt_tokens less `input_cached_tokens` (checked in
 * test/conformance/langfuse.test.ts), `@langfuse/langchain` input_tokens less `input_cache_read`.
 * This module sums the parts back into semantic-convention counts (input includes cache and audio,
 * output includes reasoning).
 */
import { MalformedSpanError, toCount, toQuantity } from './attribute-read.js';
import type { TokenCounts } from './tokens.js';

/** Part names that are one token kind, as Langfuse's SDKs, integrations and server write them. */
const CACHE_READ = new Set(['input_cached_tokens', 'input_cache_read', 'cache_read_input_tokens']);
const CACHE_WRITE = new Set([
  'input_cache_creation', 'input_cache_creation_5m', 'input_cache_creation_1h', 'input_cache_write', 'cache_creation_input_tokens',
]);
/** Of the cache writes, Anthropic's 1-hour ones (priced apart). */
const CACHE_WRITE_1H = 'input_cache_creation_1h';
const REASONING = new Set(['output_reasoning_tokens', 'output_reasoning']);
const INPUT_AUDIO = new Set(['input_audio_tokens', 'input_audio']);
const OUTPUT_AUDIO = new Set(['output_audio_tokens', 'output_audio']);

export interface LangfuseUsage {
  tokens: TokenCounts;
  /** 1-hour cache writes (included in tokens.cacheWrite). */
  cacheWrite1h: number;
}

/** `usage_details` → token counts; throws MalformedSpanError naming the key when it is not an object of counts. */
export function readLangfuseUsage(key: string, json: string): LangfuseUsage {
  const parts = parseParts(key, json);
  const tokens: TokenCounts = { input: 0, output: 0, cacheRead: 0, cacheWrite: 0, reasoning: 0, inputAudio: 0, outputAudio: 0, reported: false };
  let total: number | undefined;
  let cacheWrite1h = 0;
  for (const name in parts) {
    const value = parts[name];
    if (value === null) continue;
    const count = toCount(`${key}.${name}`, value);
    tokens.reported = true;
    if (name === 'total') total = count;
    else if (name.includes('input')) tokens.input += count;
    else if (name.includes('output')) tokens.output += count;
    if (CACHE_READ.has(name)) tokens.cacheRead += count;
    else if (CACHE_WRITE.has(name)) tokens.cacheWrite += count;
    else if (REASONING.has(name)) tokens.reasoning += count;
    else if (INPUT_AUDIO.has(name)) tokens.inputAudio += count;
    else if (OUTPUT_AUDIO.has(name)) tokens.outputAudio += count;
    if (name === CACHE_WRITE_1H) cacheWrite1h = count;
  }
  // Only a total (an embedding, say): all of it is input.
  if (total !== undefined && tokens.input === 0 && tokens.output === 0) tokens.input = total;
  return { tokens, cacheWrite1h };
}

/** `cost_details` → the observation's own cost in USD: its `total`, else the sum of its parts. */
export function readLangfuseCost(key: string, json: string): number {
  const parts = parseParts(key, json);
  if (parts.total !== undefined && parts.total !== null) return toQuantity(`${key}.total`, parts.total);
  let sum = 0;
  for (const name in parts) if (parts[name] !== null) sum += toQuantity(`${key}.${name}`, parts[name]);
  return sum;
}

function parseParts(key: string, json: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    throw new MalformedSpanError(`${key}: not JSON (${json.slice(0, 40)})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new MalformedSpanError(`${key}: not a JSON object (${json.slice(0, 40)})`);
  }
  return parsed as Record<string, unknown>;
}
