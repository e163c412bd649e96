/**
 * Normalises whatever an instrumentation calls the provider to the OTel well-known
 * `gen_ai.provider.name` value, so one provider is one value in every query.
 */
const ALIASES: Readonly<Record<string, string>> = {
  openai: 'openai',
  anthropic: 'anthropic',
  'aws.bedrock': 'aws.bedrock', aws: 'aws.bedrock', bedrock: 'aws.bedrock', aws_bedrock: 'aws.bedrock', 'amazon-bedrock': 'aws.bedrock', 'amazon.bedrock': 'aws.bedrock',
  'azure.ai.openai': 'azure.ai.openai', 'az.ai.openai': 'azure.ai.openai', azure: 'azure.ai.openai', azure_openai: 'azure.ai.openai', 'azure-openai': 'azure.ai.openai',
  'azure.ai.inference': 'azure.ai.inference', 'az.ai.inference': 'azure.ai.inference',
  'gcp.gemini': 'gcp.gemini', gemini: 'gcp.gemini', google: 'gcp.gemini', 'google.generative-ai': 'gcp.gemini', google_genai: 'gcp.gemini', 'google-genai': 'gcp.gemini',
  'gcp.vertex_ai': 'gcp.vertex_ai', vertex_ai: 'gcp.vertex_ai', vertexai: 'gcp.vertex_ai', 'google.vertex': 'gcp.vertex_ai', vertex: 'gcp.vertex_ai', google_vertexai: 'gcp.vertex_ai',
  'gcp.gen_ai': 'gcp.gen_ai',
  mistral_ai: 'mistral_ai', mistral: 'mistral_ai', mistralai: 'mistral_ai',
  x_ai: 'x_ai', xai: 'x_ai', 'x-ai': 'x_ai', grok: 'x_ai',
  deepseek: 'deepseek', groq: 'groq', cohere: 'cohere', perplexity: 'perplexity',
  moonshot_ai: 'moonshot_ai', moonshot: 'moonshot_ai', moonshotai: 'moonshot_ai',
  'ibm.watsonx.ai': 'ibm.watsonx.ai', watsonx: 'ibm.watsonx.ai',
  openrouter: 'openrouter', together: 'together', togetherai: 'together', fireworks: 'fireworks', cerebras: 'cerebras',
};

const cache = new Map<string, string>();
const CACHE_LIMIT = 1024;

/** `OpenAI` → `openai`, `az.ai.openai` → `azure.ai.openai`, `anthropic.messages` (ai SDK) → `anthropic`. */
export function normalizeProvider(raw: string): string {
  const hit = cache.get(raw);
  if (hit !== undefined) return hit;
  const value = resolve(raw.trim().toLowerCase());
  if (cache.size >= CACHE_LIMIT) cache.clear();
  cache.set(raw, value);
  return value;
}

function resolve(value: string): string {
  const direct = ALIASES[value];
  if (direct) return direct;
  // The ai SDK qualifies providers with the API it used: `openai.chat`, `google.vertex.chat`.
  const parts = value.split('.');
  for (let n = parts.length - 1; n >= 1; n--) {
    const alias = ALIASES[parts.slice(0, n).join('.')];
    if (alias) return alias;
  }
  return value;
}
