// Our copy of the catalog's units table (usage key, price key, per, dimensions): @pydantic/genai-prices does not export it.
/*
 * All units of genai-prices 0.1.8 (the catalog uses 23 price keys; the rest are there so overrides
 * and future catalog data can use them). Hierarchy, as the library derives it: unit A contains
 * unit B when A's dimensions are a subset of B's (input_tokens ⊇ cache_read_tokens ⊇
 * cache_audio_read_tokens; input_audio_tokens ⊇ cache_audio_read_tokens).
 */

export interface UnitDef {
  /** Usage key a span reports the count under (`input_tokens`). */
  readonly usageKey: string;
  /** Catalog price key (`input_mtok`): USD per `per` units. */
  readonly priceKey: string;
  readonly per: number;
  readonly dimensions: Readonly<Record<string, string>>;
  /** Position in {@link UNITS}. */
  readonly index: number;
  /** Less specific units whose count includes this one's (indices into {@link UNITS}). */
  readonly ancestors: readonly number[];
  /** More specific units counted inside this one (indices into {@link UNITS}). */
  readonly descendants: readonly number[];
}

type Raw = [usageKey: string, priceKey: string, per: number, dimensions: Record<string, string>];
const u = (usageKey: string, priceKey: string, per: number, dimensions: Record<string, string>): Raw => [usageKey, priceKey, per, dimensions];

const RAW: readonly Raw[] = [
  u('audio_seconds', 'audio_hours', 3600, { family: 'durations', modality: 'audio' }),
  u('cache_audio_read_tokens', 'cache_audio_read_mtok', 1_000_000, { direction: 'input', family: 'tokens', modality: 'audio', token_type: 'cache_read' }),
  u('cache_audio_write_1h_tokens', 'cache_audio_write_1h_mtok', 1_000_000, { cache_ttl: '1h', direction: 'input', family: 'tokens', modality: 'audio', token_type: 'cache_write' }),
  u('cache_audio_write_5m_tokens', 'cache_audio_write_5m_mtok', 1_000_000, { cache_ttl: '5m', direction: 'input', family: 'tokens', modality: 'audio', token_type: 'cache_write' }),
  u('cache_audio_write_tokens', 'cache_audio_write_mtok', 1_000_000, { direction: 'input', family: 'tokens', modality: 'audio', token_type: 'cache_write' }),
  u('cache_image_read_tokens', 'cache_image_read_mtok', 1_000_000, { direction: 'input', family: 'tokens', modality: 'image', token_type: 'cache_read' }),
  u('cache_image_write_1h_tokens', 'cache_image_write_1h_mtok', 1_000_000, { cache_ttl: '1h', direction: 'input', family: 'tokens', modality: 'image', token_type: 'cache_write' }),
  u('cache_image_write_5m_tokens', 'cache_image_write_5m_mtok', 1_000_000, { cache_ttl: '5m', direction: 'input', family: 'tokens', modality: 'image', token_type: 'cache_write' }),
  u('cache_image_write_tokens', 'cache_image_write_mtok', 1_000_000, { direction: 'input', family: 'tokens', modality: 'image', token_type: 'cache_write' }),
  u('cache_read_tokens', 'cache_read_mtok', 1_000_000, { direction: 'input', family: 'tokens', token_type: 'cache_read' }),
  u('cache_text_read_tokens', 'cache_text_read_mtok', 1_000_000, { direction: 'input', family: 'tokens', modality: 'text', token_type: 'cache_read' }),
  u('cache_text_write_1h_tokens', 'cache_text_write_1h_mtok', 1_000_000, { cache_ttl: '1h', direction: 'input', family: 'tokens', modality: 'text', token_type: 'cache_write' }),
  u('cache_text_write_5m_tokens', 'cache_text_write_5m_mtok', 1_000_000, { cache_ttl: '5m', direction: 'input', family: 'tokens', modality: 'text', token_type: 'cache_write' }),
  u('cache_text_write_tokens', 'cache_text_write_mtok', 1_000_000, { direction: 'input', family: 'tokens', modality: 'text', token_type: 'cache_write' }),
  u('cache_video_read_tokens', 'cache_video_read_mtok', 1_000_000, { direction: 'input', family: 'tokens', modality: 'video', token_type: 'cache_read' }),
  u('cache_video_write_1h_tokens', 'cache_video_write_1h_mtok', 1_000_000, { cache_ttl: '1h', direction: 'input', family: 'tokens', modality: 'video', token_type: 'cache_write' }),
  u('cache_video_write_5m_tokens', 'cache_video_write_5m_mtok', 1_000_000, { cache_ttl: '5m', direction: 'input', family: 'tokens', modality: 'video', token_type: 'cache_write' }),
  u('cache_video_write_tokens', 'cache_video_write_mtok', 1_000_000, { direction: 'input', family: 'tokens', modality: 'video', token_type: 'cache_write' }),
  u('cache_write_1h_tokens', 'cache_write_1h_mtok', 1_000_000, { cache_ttl: '1h', direction: 'input', family: 'tokens', token_type: 'cache_write' }),
  u('cache_write_5m_tokens', 'cache_write_5m_mtok', 1_000_000, { cache_ttl: '5m', direction: 'input', family: 'tokens', token_type: 'cache_write' }),
  u('cache_write_tokens', 'cache_write_mtok', 1_000_000, { direction: 'input', family: 'tokens', token_type: 'cache_write' }),
  u('code_executions', 'code_executions_kcount', 1000, { family: 'tool_calls', tool_type: 'code_execution' }),
  u('input_annotated_document_pages', 'input_annotated_document_kpages', 1000, { direction: 'input', family: 'document_pages', page_type: 'annotated' }),
  u('input_audio_seconds', 'input_audio_hours', 3600, { direction: 'input', family: 'durations', modality: 'audio' }),
  u('input_audio_tokens', 'input_audio_mtok', 1_000_000, { direction: 'input', family: 'tokens', modality: 'audio' }),
  u('input_audio_tool_tokens', 'input_audio_tool_mtok', 1_000_000, { direction: 'input', family: 'tokens', modality: 'audio', token_type: 'tool' }),
  u('input_characters', 'input_mchars', 1_000_000, { direction: 'input', family: 'characters' }),
  u('input_document_pages', 'input_document_kpages', 1000, { direction: 'input', family: 'document_pages' }),
  u('input_image_tokens', 'input_image_mtok', 1_000_000, { direction: 'input', family: 'tokens', modality: 'image' }),
  u('input_image_tool_tokens', 'input_image_tool_mtok', 1_000_000, { direction: 'input', family: 'tokens', modality: 'image', token_type: 'tool' }),
  u('input_pixels', 'input_gpixels', 1_000_000_000, { direction: 'input', family: 'pixels' }),
  u('input_text_messages', 'input_text_messages_kcount', 1000, { direction: 'input', family: 'messages', modality: 'text' }),
  u('input_text_tokens', 'input_text_mtok', 1_000_000, { direction: 'input', family: 'tokens', modality: 'text' }),
  u('input_text_tool_tokens', 'input_text_tool_mtok', 1_000_000, { direction: 'input', family: 'tokens', modality: 'text', token_type: 'tool' }),
  u('input_tokens', 'input_mtok', 1_000_000, { direction: 'input', family: 'tokens' }),
  u('input_tool_tokens', 'input_tool_mtok', 1_000_000, { direction: 'input', family: 'tokens', token_type: 'tool' }),
  u('input_video_tokens', 'input_video_mtok', 1_000_000, { direction: 'input', family: 'tokens', modality: 'video' }),
  u('input_video_tool_tokens', 'input_video_tool_mtok', 1_000_000, { direction: 'input', family: 'tokens', modality: 'video', token_type: 'tool' }),
  u('output_audio_citation_tokens', 'output_audio_citation_mtok', 1_000_000, { direction: 'output', family: 'tokens', modality: 'audio', token_type: 'citation' }),
  u('output_audio_reasoning_tokens', 'output_audio_reasoning_mtok', 1_000_000, { direction: 'output', family: 'tokens', modality: 'audio', token_type: 'reasoning' }),
  u('output_audio_seconds', 'output_audio_hours', 3600, { direction: 'output', family: 'durations', modality: 'audio' }),
  u('output_audio_tokens', 'output_audio_mtok', 1_000_000, { direction: 'output', family: 'tokens', modality: 'audio' }),
  u('output_citation_tokens', 'output_citation_mtok', 1_000_000, { direction: 'output', family: 'tokens', token_type: 'citation' }),
  u('output_image_citation_tokens', 'output_image_citation_mtok', 1_000_000, { direction: 'output', family: 'tokens', modality: 'image', token_type: 'citation' }),
  u('output_image_reasoning_tokens', 'output_image_reasoning_mtok', 1_000_000, { direction: 'output', family: 'tokens', modality: 'image', token_type: 'reasoning' }),
  u('output_image_tokens', 'output_image_mtok', 1_000_000, { direction: 'output', family: 'tokens', modality: 'image' }),
  u('output_reasoning_tokens', 'output_reasoning_mtok', 1_000_000, { direction: 'output', family: 'tokens', token_type: 'reasoning' }),
  u('output_text_citation_tokens', 'output_text_citation_mtok', 1_000_000, { direction: 'output', family: 'tokens', modality: 'text', token_type: 'citation' }),
  u('output_text_reasoning_tokens', 'output_text_reasoning_mtok', 1_000_000, { direction: 'output', family: 'tokens', modality: 'text', token_type: 'reasoning' }),
  u('output_text_tokens', 'output_text_mtok', 1_000_000, { direction: 'output', family: 'tokens', modality: 'text' }),
  u('output_tokens', 'output_mtok', 1_000_000, { direction: 'output', family: 'tokens' }),
  u('output_video_citation_tokens', 'output_video_citation_mtok', 1_000_000, { direction: 'output', family: 'tokens', modality: 'video', token_type: 'citation' }),
  u('output_video_reasoning_tokens', 'output_video_reasoning_mtok', 1_000_000, { direction: 'output', family: 'tokens', modality: 'video', token_type: 'reasoning' }),
  u('output_video_tokens', 'output_video_mtok', 1_000_000, { direction: 'output', family: 'tokens', modality: 'video' }),
  u('requests', 'requests_kcount', 1000, { family: 'requests' }),
  u('rerank_searches', 'rerank_searches_kcount', 1000, { family: 'rerank' }),
  u('social_searches', 'social_searches_kcount', 1000, { family: 'tool_calls', tool_type: 'social_search' }),
  u('storage_searches', 'storage_searches_kcount', 1000, { family: 'tool_calls', tool_type: 'storage_search' }),
  u('web_searches', 'web_searches_kcount', 1000, { family: 'tool_calls', tool_type: 'web_search' }),
];

/** `a` contains `b` (every dimension of `a` is in `b` with the same value). */
function contains(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  for (const key in a) if (b[key] !== a[key]) return false;
  return true;
}

/** `a` and `b` can describe the same unit of usage (no dimension set to two different values). */
export function compatible(a: UnitDef, b: UnitDef): boolean {
  for (const key in a.dimensions) {
    const other = b.dimensions[key];
    if (other !== undefined && other !== a.dimensions[key]) return false;
  }
  return true;
}

export const UNITS: readonly UnitDef[] = (() => {
  const dims = RAW.map((r) => r[3]);
  return RAW.map(([usageKey, priceKey, per, dimensions], index) => {
    const ancestors: number[] = [];
    const descendants: number[] = [];
    dims.forEach((other, j) => {
      if (j === index) return;
      if (contains(other, dimensions)) ancestors.push(j);
      if (contains(dimensions, other)) descendants.push(j);
    });
    return Object.freeze({
      usageKey, priceKey, per, dimensions: Object.freeze({ ...dimensions }), index,
      ancestors: Object.freeze(ancestors), descendants: Object.freeze(descendants),
    });
  });
})();

export const UNIT_BY_USAGE_KEY: ReadonlyMap<string, UnitDef> = new Map(UNITS.map((x) => [x.usageKey, x]));
export const UNIT_BY_PRICE_KEY: ReadonlyMap<string, UnitDef> = new Map(UNITS.map((x) => [x.priceKey, x]));

/** The unit whose dimensions are exactly the union of `a`'s and `b`'s (their overlap), if any. */
export function joinUnit(a: UnitDef, b: UnitDef): UnitDef | undefined {
  if (!compatible(a, b)) return undefined;
  const merged: Record<string, string> = { ...a.dimensions, ...b.dimensions };
  const size = Object.keys(merged).length;
  return UNITS.find((x) => Object.keys(x.dimensions).length === size && contains(merged, x.dimensions));
}

/** More dimensions = more specific; ties by usage key, as the catalog library orders them. */
export function bySpecificity(a: UnitDef, b: UnitDef): number {
  return Object.keys(b.dimensions).length - Object.keys(a.dimensions).length || a.usageKey.localeCompare(b.usageKey);
}

/** `requests` is not a reported count: a priced request is one per call (see price-set.ts). */
export const REQUESTS_KEY = 'requests';
