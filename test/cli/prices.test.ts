/** `prices`: per-unit prices, their source, overrides, history and close matches for unknown models. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPriceBook } from '../../pricing/index.js';
import { cliSession, errorLines } from './support/cli.js';

interface PriceJson {
  model: string;
  priced_model: string;
  source: string;
  entries: Array<{
    source: string; priced_model: string; effective_from: string; time_of_day: string; in_force: boolean;
    prices: Array<{ unit: string; price: string; per: number; usd: string; usd_per: string; tiers: Array<{ above_input_tokens: number; usd: string }> }>;
  }>;
}

let dir: string;
let overrides: string;
let catalog: string;
const session = cliSession();

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'genai-ledger-prices-'));
  overrides = join(dir, 'negotiated.yaml');
  writeFileSync(overrides, [
    'models:',
    '  - provider: openai',
    '    model: gpt-4o',
    '    effective_from: 2026-01-01',
    '    prices: { input_mtok: 2, cache_read_mtok: 1, output_mtok: 8 }',
    '  - provider: firecrawl',
    '    model: scrape',
    '    units: { credits: "0.00083" }',
    '',
  ].join('\n'));
  catalog = (await loadPriceBook()).catalogVersion;
});
afterAll(async () => {
  await session.close();
  rmSync(dir, { recursive: true, force: true });
});

async function pricesJson(...args: string[]): Promise<PriceJson> {
  const result = await session.run(['prices', ...args, '--format', 'json']);
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout) as PriceJson;
}

const inForce = (p: PriceJson) => p.entries.find((e) => e.in_force)!;
const perUnit = (p: PriceJson) => Object.fromEntries(inForce(p).prices.map((x) => [x.unit, `${x.usd} / ${x.usd_per}`]));

describe.concurrent('prices', { timeout: 120_000 }, () => {
  it('gpt-4o from the catalog: 2.5 input, 1.25 cached, 10 output per Mtok', async () => {
    const p = await pricesJson('gpt-4o');
    expect(p).toMatchObject({ model: 'gpt-4o', priced_model: 'openai/gpt-4o', source: catalog });
    expect(perUnit(p)).toMatchObject({
      input_tokens: '2.5 / 1M tokens', cache_read_tokens: '1.25 / 1M tokens', output_tokens: '10 / 1M tokens',
      web_searches: '0.01 / 1 web search',
    });
  });

  it('prints a table with the source', async () => {
    const result = await session.run(['prices', 'gpt-4o', '--provider', 'openai']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`^gpt-4o \\(openai\\) at \\S+: priced as openai/gpt-4o from ${catalog.replace(/\./g, '\\.')}$`, 'm'));
    const row = (unit: string) => result.stdout.split('\n').find((l) => l.startsWith(`${unit} `))?.trim().split(/\s{2,}/);
    expect(row('input_tokens')).toEqual(['input_tokens', '2.5', '1M tokens']);
    expect(row('cache_read_tokens')).toEqual(['cache_read_tokens', '1.25', '1M tokens']);
    expect(row('output_tokens')).toEqual(['output_tokens', '10', '1M tokens']);
  });

  it('an override wins from its effective date, and the catalog price is shown as shadowed', async () => {
    const p = await pricesJson('gpt-4o', '--provider', 'openai', '--prices', overrides, '--at', '2026-02-01');
    expect(p).toMatchObject({ priced_model: 'openai/gpt-4o', source: 'override:negotiated.yaml' });
    expect(perUnit(p)).toEqual({ input_tokens: '2 / 1M tokens', cache_read_tokens: '1 / 1M tokens', output_tokens: '8 / 1M tokens' });
    expect(inForce(p)).toMatchObject({ effective_from: '2026-01-01' });
    expect(p.entries.filter((e) => !e.in_force).map((e) => e.source)).toEqual([catalog]);

    const before = await pricesJson('gpt-4o', '--provider', 'openai', '--prices', overrides, '--at', '2025-12-31');
    expect(before.source).toBe(catalog);
    expect(perUnit(before)).toMatchObject({ input_tokens: '2.5 / 1M tokens' });
  });

  it('a per-unit override (credits)', async () => {
    const p = await pricesJson('scrape', '--provider', 'firecrawl', '--prices', overrides);
    expect(p).toMatchObject({ priced_model: 'firecrawl/scrape', source: 'override:negotiated.yaml' });
    expect(perUnit(p)).toEqual({ credits: '0.00083 / 1 credit' });
  });

  it('per unit for non-token units, tiers and time-of-day variants', async () => {
    expect(perUnit(await pricesJson('whisper-1', '--provider', 'openai'))).toMatchObject({ audio_seconds: '0.0001 / 1 second of audio' });

    const gemini = await pricesJson('gemini-2.5-pro');
    const input = inForce(gemini).prices.find((x) => x.unit === 'input_tokens')!;
    expect(input).toMatchObject({ usd: '1.25', tiers: [{ above_input_tokens: 200000, usd: '2.5' }] });

    const night = await pricesJson('deepseek-chat', '--at', '2026-01-01T20:00:00Z');
    const day = await pricesJson('deepseek-chat', '--at', '2026-01-01T10:00:00Z');
    expect(inForce(day).time_of_day).toBe('00:30:00-16:30:00');
    expect(inForce(night).time_of_day).toBe('');
    expect(night.entries).toHaveLength(2);
    expect(perUnit(day).input_tokens).not.toBe(perUnit(night).input_tokens);
  });

  it('an unknown model: exit 1, one line, close matches', async () => {
    const result = await session.run(['prices', 'gpt-4oo', '--provider', 'openai']);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    const lines = errorLines(result);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^genai-ledger: no price for 'gpt-4oo' \\(provider openai\\) in ${catalog.replace(/\./g, '\\.')}; close matches: `));
    expect(lines[0]!.split('close matches: ')[1]!.split(', ')).toContain('gpt-4o');
  });
});
