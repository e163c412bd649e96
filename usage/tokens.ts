import type { FoundFields } from './alias-index.js';
import { FIELD } from './span-fields.js';

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
export function readTokens(found: FoundFields, exclusiveInput: boolean): TokenCounts {
  let input = found.count(FIELD.inputTokens);
  let output = found.count(FIELD.outputTokens);
  const total = found.count(FIELD.totalTokens);
  const cacheRead = found.count(FIELD.cacheReadTokens) ?? 0;
  const cacheWrite = found.count(FIELD.cacheWriteTokens) ?? 0;
  const reasoning = found.count(FIELD.reasoningTokens) ?? 0;
  const inputAudio = found.count(FIELD.inputAudioTokens) ?? 0;
  const outputAudio = found.count(FIELD.outputAudioTokens) ?? 0;
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
  // Gemini's candidatesTokenCount excludes thoughts: a total that counts reasoning apart says so.
  const totalCountsReasoningApart = reasoning > 0 && total !== undefined && total === input + output + reasoning;
  if (reasoning > output || totalCountsReasoningApart) output += reasoning;
  if (inputAudio > input) input += inputAudio;
  if (outputAudio > output) output += outputAudio;

  return { input, output, cacheRead, cacheWrite, reasoning, inputAudio, outputAudio, reported };
}
