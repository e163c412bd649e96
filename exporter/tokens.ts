import { firstCount } from './attribute-read.js';
import { KEYS } from './conventions.js';
import type { Attributes } from './span-record.js';

/** Token counts in semantic-convention meaning: input includes cache and audio, output includes reasoning. */
export interface TokenCounts {
  input: number;
  output: number;
  cacheRead: number;
  cacheWrite: number;
  reasoning: number;
  inputAudio: number;
  outputAudio: number;
  /** Whether the span reported any token count at all. */
  reported: boolean;
}

/**
 * Reads every token kind and normalises instrumentations that report exclusive counts.
 * `exclusiveInput` is set for sources known to pass a raw API's input count through (Anthropic's
 * `input_tokens` excludes cache reads and writes); other sources are detected from the numbers.
 */
export function readTokens(attrs: Attributes, exclusiveInput: boolean): TokenCounts {
  let input = firstCount(attrs, KEYS.inputTokens);
  let output = firstCount(attrs, KEYS.outputTokens);
  const total = firstCount(attrs, KEYS.totalTokens);
  const cacheRead = firstCount(attrs, KEYS.cacheReadTokens) ?? 0;
  const cacheWrite = firstCount(attrs, KEYS.cacheWriteTokens) ?? 0;
  const reasoning = firstCount(attrs, KEYS.reasoningTokens) ?? 0;
  const inputAudio = firstCount(attrs, KEYS.inputAudioTokens) ?? 0;
  const outputAudio = firstCount(attrs, KEYS.outputAudioTokens) ?? 0;
  const reported = input !== undefined || output !== undefined || total !== undefined;

  // Embeddings often carry only a total; a total with one side known gives the other.
  if (total !== undefined) {
    if (input === undefined && output === undefined) input = total;
    else if (input === undefined) input = Math.max(0, total - (output ?? 0));
    else if (output === undefined) output = Math.max(0, total - input);
  }
  input ??= 0;
  output ??= 0;

  const cached = cacheRead + cacheWrite;
  if (cached > 0) {
    const totalCountsCacheApart = total !== undefined && total === input + output + cached;
    if (exclusiveInput || totalCountsCacheApart || cached > input) input += cached;
  }
  if (reasoning > output) output += reasoning;
  if (inputAudio > input) input += inputAudio;
  if (outputAudio > output) output += outputAudio;

  return { input, output, cacheRead, cacheWrite, reasoning, inputAudio, outputAudio, reported };
}
