/**
 * The OpenAI Responses API (`responses.create`) with cached and reasoning tokens → rows, under the three
 * OpenAI SDK instrumentations capture.ts installs (all three instrument `responses.create`).
 *
 * Fake usage (demo/fake-provider.ts): input_tokens 1200 of which input_tokens_details.cached_tokens 1024,
 * output_tokens 300 of which output_tokens_details.reasoning_tokens 200 (gpt-5 is a reasoning model).
 * GPT-5, OpenAI's published prices per 1M tokens: input $1.25, cached input $0.125, output $10 (reasoning
 * tokens are billed as output).
 *   cached tokens seen:   (1200 − 1024)×1.25 + 1024×0.125 + 300×10 = 220 + 128 + 3000 = 3348 µ$
 *   cached tokens unseen: 1200×1.25 + 300×10 = 1500 + 3000 = 4500 µ$ ($0.001152 too much)
 * (The catalog agrees: openai/gpt-5 input 1.25, cache_read 0.125, output 10.)
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageMapper } from '../../usage/mapper.js';
import { loadPriceBook } from '../../pricing/index.js';
import { fromReadableSpan } from '../../exporter/readable-span.js';
import {
  captureScenario, INSTRUMENTATION_PACKAGES, openaiClient, PROMPT_MARKER, type InstrumentationId, type Scenario,
} from '../support/capture.js';
import { COMPLETION_MARKER, startFakeProvider, type FakeProvider } from '../support/fake-provider.js';

const version = (name: string): string =>
  (JSON.parse(readFileSync(new URL(`../../node_modules/${name}/package.json`, import.meta.url), 'utf8')) as { version: string }).version;
const OPENAI = version('openai');

let fake: FakeProvider;
let mapper: UsageMapper;
beforeAll(async () => {
  fake = await startFakeProvider();
  mapper = new UsageMapper({ prices: await loadPriceBook(), attributeAllowList: ['*'] });
});
afterAll(() => fake.close());

const request = { model: 'gpt-5', instructions: `Be terse. ${PROMPT_MARKER}`, input: `Say hello. ${PROMPT_MARKER}`, max_output_tokens: 1000 };

const SCENARIOS = {
  plain: (env: { url: string }) => openaiClient(env).responses.create(request),
  stream: async (env: { url: string }) => {
    const stream = await openaiClient(env).responses.create({ ...request, stream: true });
    for await (const _event of stream);
  },
  error: (env: { url: string }) => openaiClient(env).responses.create({ ...request, model: 'fail-model' }),
};
type ScenarioName = keyof typeof SCENARIOS;

async function rowsOf(instrumentation: InstrumentationId, name: ScenarioName) {
  const scenario: Scenario = { instrumentation, name: `responses-${name}`, description: `responses.create gpt-5 ${name}`, expectError: name === 'error', run: SCENARIOS[name] };
  const captured = await captureScenario(scenario, fake.url);
  if (name === 'error') expect(captured.error).toBeInstanceOf(Error);
  else expect(captured.error).toBeUndefined();
  const result = mapper.mapAll(captured.spans.map(fromReadableSpan));
  expect(result.malformed).toBe(0);
  const text = JSON.stringify(result.rows);
  expect(text).not.toContain(PROMPT_MARKER);
  expect(text).not.toContain(COMPLETION_MARKER);
  return { rows: result.rows, unended: captured.unendedSpans };
}

const GPT5 = { provider: 'openai', operation: 'chat', request_model: 'gpt-5', response_model: 'gpt-5-2025-08-07', priced_model: 'openai/gpt-5', input_tokens: 1200, output_tokens: 300, error_type: '' };
/** OpenInference's one model attribute, llm.model_name, holds the response model once known: the request model is lost. */
const EXACT = { ...GPT5, request_model: 'gpt-5-2025-08-07', cache_read_tokens: 1024, reasoning_tokens: 200, cost_usd: '0.003348' };
/** Only input and output reach the span: the 1024 cached tokens are priced as fresh input. */
const NO_DETAILS = { ...GPT5, cache_read_tokens: 0, reasoning_tokens: 0, cost_usd: '0.0045' };
/** A call span without any usage: the call is stored, unpriced (never claimed as $0). */
const NO_USAGE = { provider: 'openai', request_model: 'gpt-5', input_tokens: 0, output_tokens: 0, cost_usd: null };

const CASES: Array<[InstrumentationId, ScenarioName, Array<Record<string, unknown>>, string[]]> = [
  ['otel-openai', 'plain', [NO_DETAILS], []],
  ['otel-openai', 'stream', [NO_DETAILS], []],
  ['otel-openai', 'error', [{ provider: 'openai', request_model: 'fail-model', cost_usd: null, error_type: 'InternalServerError' }], []],
  ['openinference-openai', 'plain', [EXACT], []],
  ['openinference-openai', 'stream', [EXACT], []],
  // The span of a failed call is never ended: nothing reaches an exporter.
  ['openinference-openai', 'error', [], ['OpenAI Responses']],
  ['traceloop-openai', 'plain', [NO_DETAILS], []],
  // The streamed span ends with the request's attributes only.
  ['traceloop-openai', 'stream', [{ ...NO_USAGE, response_model: '' }], []],
  ['traceloop-openai', 'error', [], ['chat fail-model']],
];

describe(`openai ${OPENAI} responses.create (gpt-5, cached + reasoning tokens)`, () => {
  it.each(CASES.map(([id, ...rest]) => [`${INSTRUMENTATION_PACKAGES[id]} ${version(INSTRUMENTATION_PACKAGES[id])}`, id, ...rest] as const))(
    '%s (%s): %s',
    async (_package, instrumentation, name, expected, unended) => {
      const { rows, unended: open } = await rowsOf(instrumentation, name);
      expect(rows).toHaveLength(expected.length);
      rows.forEach((row, i) => expect(row).toMatchObject(expected[i]!));
      expect(open).toEqual(unended);
      // The instrumentation that recorded the row is named on it (its scope).
      rows.forEach((row) => expect(row.instrumentation).toBe(INSTRUMENTATION_PACKAGES[instrumentation]));
    },
  );
});
