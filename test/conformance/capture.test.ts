/**
 * Captured fixtures (test/fixtures/captured) are real output of real instrumentations.
 *
 *   UPDATE_FIXTURES=1 npx vitest run test/conformance/capture.test.ts   # regenerate
 *   npx vitest run test/conformance/capture.test.ts                     # drift check
 *
 * The drift check re-runs every scenario live and compares it with the committed fixture, ignoring ids,
 * timestamps and the values listed in VOLATILE_ATTRIBUTES. A failure after a dependency upgrade means the
 * instrumentation now emits something else: look at the diff, regenerate, and revisit the attribute mapping.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { captureAll, indexEntry, shapeOf, sanitizeForFixture, writeFixtures } from '../support/capture-fixtures.js';
import { SCENARIOS, scenarioId, type CaptureResult } from '../support/capture.js';
import { CAPTURED_FIXTURES_DIR, fixturePath, loadCapturedSpans, readCapturedFixture, toCapturedSpan } from '../support/span-json.js';

const UPDATE = process.env.UPDATE_FIXTURES === '1';

describe.runIf(UPDATE)('captured fixtures: regenerate (UPDATE_FIXTURES=1)', () => {
  it('writes test/fixtures/captured/<instrumentation>-<scenario>.json and index.json', async () => {
    const results = await captureAll();
    const files = writeFixtures(results);
    expect(files).toHaveLength(SCENARIOS.length);
  });
});

describe.skipIf(UPDATE)('captured fixtures: drift check', () => {
  let results: Map<string, CaptureResult>;

  beforeAll(async () => {
    results = new Map((await captureAll()).map((r) => [scenarioId(r.scenario), r]));
  });

  it('has one fixture per scenario', () => {
    for (const s of SCENARIOS) expect(existsSync(fixturePath(scenarioId(s))), `${scenarioId(s)}.json missing: run with UPDATE_FIXTURES=1`).toBe(true);
  });

  it('fixtures load back as ReadableSpans (loadCapturedSpans)', () => {
    const spans = loadCapturedSpans('ai-sdk-generateText-openai');
    const [outer, call] = spans;
    expect(spans.map((s) => s.name)).toEqual(['ai.generateText', 'ai.generateText.doGenerate']);
    expect(call!.parentSpanContext?.spanId).toBe(outer!.spanContext().spanId);
    expect(call!.spanContext().traceId).toBe(outer!.spanContext().traceId);
    expect(call!.instrumentationScope.name).toBe('ai');
    expect(call!.resource.attributes['service.name']).toBe('genai-ledger-conformance');
    expect(call!.attributes['gen_ai.usage.input_tokens']).toBe(1200);
    expect(call!.ended).toBe(true);
  });

  it('index.json matches the live runs', () => {
    const index = JSON.parse(readFileSync(path.join(CAPTURED_FIXTURES_DIR, 'index.json'), 'utf8')) as unknown[];
    expect([...results.values()].map(indexEntry)).toEqual(index);
  });

  it.each(SCENARIOS.map((s) => scenarioId(s)))('%s emits what the fixture says', (id) => {
    const live = results.get(id);
    expect(live).toBeDefined();
    const liveShape = shapeOf(live!.spans.map(toCapturedSpan).map(sanitizeForFixture));
    expect(liveShape, `${id} drifted from its fixture: rerun with UPDATE_FIXTURES=1 and review the diff`).toEqual(shapeOf(readCapturedFixture(id)));
  });
});
