/**
 * Content as each convention names it (prompts, completions, tool arguments and results, system
 * instructions, embeddings, templates) plus credentials and keys no convention has yet: none of
 * them may ever reach a stored row. Sources: OTel GenAI semconv (current and deprecated),
 * OpenLLMetry/Traceloop, OpenInference, the `ai` SDK, Langfuse, OpenLIT; the captured spans in
 * test/fixtures/captured show most of them.
 */
export const SECRET = 'CONTENT-9f3a-MUST-NOT-BE-STORED';

export const CONTENT_KEYS: Readonly<Record<string, readonly string[]>> = {
  'OTel GenAI': [
    'gen_ai.input.messages', 'gen_ai.output.messages', 'gen_ai.system_instructions', 'gen_ai.tool.call.arguments',
    'gen_ai.tool.call.result', 'gen_ai.tool.definitions', 'gen_ai.prompt', 'gen_ai.completion', 'gen_ai.prompt.0.content',
  ],
  'OpenLLMetry/Traceloop': [
    'gen_ai.prompt.1.content', 'gen_ai.prompt.0.role', 'gen_ai.completion.0.content', 'gen_ai.completion.0.tool_calls.0.arguments',
    'traceloop.entity.input', 'traceloop.entity.output', 'llm.prompts', 'llm.completions', 'llm.request.functions.0.parameters',
  ],
  OpenInference: [
    'input.value', 'output.value', 'llm.input_messages.0.message.content', 'llm.output_messages.0.message.content',
    'llm.output_messages.0.message.contents.0.message_content.text', 'llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments',
    'tool.parameters', 'llm.prompt_template.template', 'llm.prompt_template.variables', 'tool_call.function.arguments',
    'llm.invocation_parameters', 'llm.tools.0.tool.json_schema', 'embedding.embeddings.0.embedding.text',
    'embedding.embeddings.0.embedding.vector', 'retrieval.documents.0.document.content', 'reranker.query',
  ],
  'ai SDK': [
    'ai.prompt', 'ai.prompt.messages', 'ai.prompt.tools', 'ai.response.text', 'ai.response.toolCalls', 'ai.response.object',
    'ai.response.reasoning', 'ai.toolCall.args', 'ai.toolCall.result', 'ai.value', 'ai.values', 'ai.embedding', 'ai.embeddings',
  ],
  Langfuse: ['langfuse.observation.input', 'langfuse.observation.output', 'langfuse.trace.input', 'langfuse.trace.output'],
  OpenLIT: ['gen_ai.content.prompt', 'gen_ai.content.completion', 'gen_ai.content.revised_prompt'],
  credentials: ['ai.request.headers.authorization', 'http.request.header.authorization'],
  'no convention yet': ['gen_ai.input.text', 'acme_ai.user_prompt', 'acme_ai.completionText', 'app.llm.output'],
};

/** Every content key with SECRET as its value (one as an array, as instrumentations send lists). */
export function contentAttributes(): Record<string, string | string[]> {
  const attributes: Record<string, string | string[]> = {};
  for (const key of Object.values(CONTENT_KEYS).flat()) attributes[key] = SECRET;
  attributes['llm.prompts'] = [SECRET, SECRET];
  return attributes;
}

/** Keys known not to be content, as real instrumentations send them: `*` stores them. */
export const NON_CONTENT_ATTRIBUTES: Readonly<Record<string, string | number | string[]>> = {
  'gen_ai.operation.name': 'chat',
  'gen_ai.response.id': 'chatcmpl-1',
  'gen_ai.response.finish_reasons': ['stop'],
  'gen_ai.request.temperature': 0.2,
  'gen_ai.usage.input_tokens': 100,
  'gen_ai.usage.cache_read.input_tokens': 40,
  'server.address': 'api.openai.com',
  'error.type': 'RateLimitError',
  'llm.token_count.prompt': 100,
  'input.mime_type': 'application/json',
  'ai.usage.promptTokens': 100,
  'ai.response.finishReason': 'stop',
  'ai.telemetry.metadata.orgId': 'acme',
  'langfuse.session.id': 's-1',
  'genai_ledger.usage.credits': 5,
};
