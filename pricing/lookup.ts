/**
 * Provider names and model ids as spans carry them → what the catalog is keyed by.
 * Real ids are often not the catalog's (Langfuse #10958, #4072 priced such calls at $0):
 * Bedrock `us.anthropic.claude-sonnet-4-20250514-v1:0`, LiteLLM/OpenRouter `anthropic/claude-3.5-sonnet`,
 * Vertex `claude-3-5-sonnet-v2@20241022`, Gemini `models/gemini-1.5-pro`, ARNs, resource paths.
 */

/** OTel `gen_ai.provider.name` values (current and deprecated `gen_ai.system`) and common spellings → catalog provider id. */
const PROVIDER_ALIASES: Readonly<Record<string, string>> = {
  openai: 'openai', azure_openai_compat: 'openai',
  anthropic: 'anthropic', claude: 'anthropic',
  'aws.bedrock': 'aws', aws: 'aws', bedrock: 'aws', aws_bedrock: 'aws', 'amazon-bedrock': 'aws', 'amazon.bedrock': 'aws', amazon: 'aws', bedrock_converse: 'aws',
  'azure.ai.openai': 'azure', 'azure.ai.inference': 'azure', 'az.ai.openai': 'azure', 'az.ai.inference': 'azure',
  azure: 'azure', azure_openai: 'azure', 'azure-openai': 'azure', azure_ai: 'azure',
  'gcp.gemini': 'google', 'gcp.vertex_ai': 'google', 'gcp.gen_ai': 'google', gemini: 'google', google: 'google',
  vertex_ai: 'google', vertexai: 'google', vertex: 'google', 'google.vertex': 'google', google_genai: 'google',
  'google-genai': 'google', 'google.generative-ai': 'google', google_vertexai: 'google', 'vertex_ai-language-models': 'google',
  mistral_ai: 'mistral', mistralai: 'mistral', mistral: 'mistral',
  x_ai: 'x-ai', xai: 'x-ai', 'x-ai': 'x-ai', grok: 'x-ai',
  moonshot_ai: 'moonshotai', moonshot: 'moonshotai', moonshotai: 'moonshotai', kimi: 'moonshotai',
  deepseek: 'deepseek', groq: 'groq', cohere: 'cohere', perplexity: 'perplexity', perplexity_ai: 'perplexity',
  openrouter: 'openrouter',
  together: 'together', together_ai: 'together', 'together-ai': 'together', togetherai: 'together',
  fireworks: 'fireworks', fireworks_ai: 'fireworks', 'fireworks-ai': 'fireworks', fireworksai: 'fireworks',
  cerebras: 'cerebras', cloudflare: 'cloudflare', workers_ai: 'cloudflare', 'workers-ai': 'cloudflare', cloudflare_workers_ai: 'cloudflare',
  voyage: 'voyageai', voyageai: 'voyageai', voyage_ai: 'voyageai',
  zhipu: 'zhipuai', zhipuai: 'zhipuai', zhipu_ai: 'zhipuai', zai: 'zai', z_ai: 'zai', 'z-ai': 'zai',
  minimax: 'minimax', novita: 'novita', novita_ai: 'novita', baseten: 'baseten', ovhcloud: 'ovhcloud',
  github_copilot: 'github-copilot', 'github-copilot': 'github-copilot', copilot: 'github-copilot',
  arcee: 'arcee', arcee_ai: 'arcee', avian: 'avian', modal: 'modal',
};

/** Names that say nothing about the price list (a proxy or framework): resolve by model id instead. */
const PROXY_NAMES: ReadonlySet<string> = new Set(['', 'litellm', 'unknown', 'openai_compatible', 'openai-compatible', 'custom', 'proxy']);

/** '' or a proxy/framework name: the model id alone has to say which price applies. */
export function isProxyName(name: string): boolean {
  return PROXY_NAMES.has(name.trim().toLowerCase());
}

export interface ProviderIndex {
  /** Catalog ids present. */
  readonly ids: ReadonlySet<string>;
  /** The catalog's own provider_match rules, in catalog order. */
  readonly providerMatchers: ReadonlyArray<{ id: string; test: (lowerName: string) => boolean }>;
}

/**
 * Catalog provider id for a provider name (`aws.bedrock` → `aws`), or undefined when the name does
 * not identify a catalog provider. Tries our alias table, the catalog ids, the qualified forms the
 * `ai` SDK uses (`openai.chat`, `google.vertex.chat`), then the catalog's own provider_match.
 */
export function catalogProviderId(name: string, index: ProviderIndex): string | undefined {
  const lower = name.trim().toLowerCase();
  if (PROXY_NAMES.has(lower)) return undefined;
  const direct = PROVIDER_ALIASES[lower] ?? (index.ids.has(lower) ? lower : undefined);
  if (direct !== undefined) return index.ids.has(direct) ? direct : undefined;
  const parts = lower.split('.');
  for (let n = parts.length - 1; n >= 1; n--) {
    const prefix = parts.slice(0, n).join('.');
    const alias = PROVIDER_ALIASES[prefix] ?? (index.ids.has(prefix) ? prefix : undefined);
    if (alias !== undefined && index.ids.has(alias)) return alias;
  }
  for (const m of index.providerMatchers) if (m.test(lower)) return m.id;
  return undefined;
}

/** A model id to try, with the provider its spelling implies (`anthropic/…` → anthropic). */
export interface Candidate {
  readonly id: string;
  readonly hint: string | undefined;
}

/** Bedrock model-vendor prefixes (`anthropic.claude-…`) → catalog provider of the vendor's own price list. */
const BEDROCK_VENDORS: Readonly<Record<string, string | undefined>> = {
  anthropic: 'anthropic', amazon: 'aws', meta: undefined, mistral: 'mistral', cohere: 'cohere', ai21: undefined,
  deepseek: 'deepseek', openai: 'openai', qwen: undefined, google: 'google', writer: undefined, nvidia: undefined,
  moonshot: 'moonshotai', moonshotai: 'moonshotai', minimax: 'minimax', zai: 'zai', stability: undefined, twelvelabs: undefined,
};
const BEDROCK_ID = /^(?:(?:us|eu|apac|global|au|jp|ca|us-gov|in|regional)\.)?([a-z0-9-]+)\.([a-z0-9].*)$/;
const BEDROCK_VERSION = /(?:-v\d+(?::\d+)?|:\d+)$/;
const VERTEX_RESOURCE = /(?:^|\/)publishers\/([^/]+)\/models\/([^/]+)$/;
/** Amazon's own Bedrock models without their vendor prefix, as OpenLLMetry and OpenInference report them. */
const AMAZON_WITHOUT_VENDOR = /^nova-/;

/**
 * Spellings of one model id to look up, most literal first, each with the provider its prefix
 * names. `index` decides which `x/` prefixes are providers (others, like `meta-llama/`, are part of
 * catalog ids and are kept).
 */
export function modelCandidates(model: string, index: ProviderIndex): Candidate[] {
  const out: Candidate[] = [];
  const seen = new Set<string>();
  const add = (id: string, hint: string | undefined, depth: number): void => {
    if (id === '' || depth > 4) return;
    const key = `${hint ?? ''}\u0000${id}`;
    if (seen.has(key)) return;
    seen.add(key);
    out.push({ id, hint });
    expand(id, hint, depth + 1);
  };
  const expand = (id: string, hint: string | undefined, depth: number): void => {
    // arn:aws:bedrock:us-east-1:123:inference-profile/us.anthropic.claude-…
    if (id.startsWith('arn:')) {
      add(id.slice(id.lastIndexOf('/') + 1), hint ?? 'aws', depth);
      return;
    }
    // projects/p/locations/l/publishers/anthropic/models/claude-3-5-sonnet-v2@20241022
    const vertex = VERTEX_RESOURCE.exec(id);
    if (vertex) {
      add(vertex[2]!, catalogProviderId(vertex[1]!, index) ?? hint, depth);
      return;
    }
    if (id.startsWith('models/')) add(id.slice('models/'.length), hint, depth);
    const slash = id.indexOf('/');
    if (slash > 0) {
      const prefix = catalogProviderId(id.slice(0, slash), index);
      if (prefix !== undefined) add(id.slice(slash + 1), prefix, depth);
    }
    const at = id.indexOf('@');
    if (at > 0) {
      add(`${id.slice(0, at)}-${id.slice(at + 1)}`, hint, depth);
      add(id.slice(0, at), hint, depth);
    }
    // `amazon.nova-lite-v1:0` is reported as `nova-lite-v1:0`: the catalog keys it with the prefix.
    if (AMAZON_WITHOUT_VENDOR.test(id)) add(`amazon.${id}`, hint ?? 'aws', depth);
    const bedrock = BEDROCK_ID.exec(id);
    if (bedrock && bedrock[1]! in BEDROCK_VENDORS) {
      // A Bedrock-shaped id is Bedrock's price first (regional endpoints can cost more), then the vendor's.
      add(id, hint ?? 'aws', depth);
      add(`${bedrock[1]}.${bedrock[2]}`, hint ?? 'aws', depth);
      add(bedrock[2]!.replace(BEDROCK_VERSION, ''), BEDROCK_VENDORS[bedrock[1]!] ?? hint, depth);
    }
  };
  add(model.trim().toLowerCase(), undefined, 0);
  return out;
}
