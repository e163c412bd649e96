/**
 * The chat-completion calls the conformance files for single OpenAI instrumentations make with the
 * installed `openai` SDK (a client from capture.ts's openaiClient, possibly wrapped): gpt-4o plain and
 * streamed with `include_usage`, o3-mini (reasoning tokens), and a model the fake provider fails.
 */
import type OpenAI from 'openai';
import { PROMPT_MARKER } from './capture.js';

const messages = [
  { role: 'system' as const, content: `You are terse. ${PROMPT_MARKER}` },
  { role: 'user' as const, content: `Say hello. ${PROMPT_MARKER}` },
];

export const CHAT_CALLS = {
  plain: (client: OpenAI) => client.chat.completions.create({ model: 'gpt-4o', messages }),
  reasoning: (client: OpenAI) => client.chat.completions.create({ model: 'o3-mini', messages, max_completion_tokens: 1000 }),
  stream: async (client: OpenAI) => {
    const stream = await client.chat.completions.create({ model: 'gpt-4o', messages, stream: true, stream_options: { include_usage: true } });
    for await (const _chunk of stream);
  },
  error: (client: OpenAI) => client.chat.completions.create({ model: 'fail-model', messages }),
};
export type ChatCall = keyof typeof CHAT_CALLS;
