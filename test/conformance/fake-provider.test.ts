/** The fake provider answers with the documented, fixed usage numbers (raw HTTP, no SDK, no instrumentation). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMPLETION_MARKER, FAKE_USAGE, startFakeProvider, type FakeProvider } from '../support/fake-provider.js';

let fake: FakeProvider;

beforeAll(async () => {
  fake = await startFakeProvider();
});

afterAll(async () => {
  await fake.close();
});

type JsonResponse = Omit<Response, 'json'> & { json(): Promise<any> };

async function post(path: string, body: unknown): Promise<JsonResponse> {
  return fetch(`${fake.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

/** Parses an SSE body into `{ event?, data }` records. */
async function sse(res: { text(): Promise<string> }): Promise<Array<{ event?: string; data: string }>> {
  const text = await res.text();
  return text
    .split('\n\n')
    .filter((block) => block.trim() !== '')
    .map((block) => {
      const lines = block.split('\n');
      const event = lines.find((l) => l.startsWith('event: '))?.slice(7);
      const data = lines.filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
      return event === undefined ? { data } : { event, data };
    });
}

describe('fake provider', () => {
  it('listens on 127.0.0.1 with an ephemeral port', () => {
    expect(fake.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(fake.url).toBe(`http://127.0.0.1:${fake.port}`);
  });

  it('chat completions: response model snapshot and fixed usage', async () => {
    const res = await post('/v1/chat/completions', { model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.model).toBe('gpt-4o-2024-08-06');
    expect(body.choices[0].message.content).toContain(COMPLETION_MARKER);
    expect(body.usage).toEqual({
      prompt_tokens: 1200,
      completion_tokens: 300,
      total_tokens: 1500,
      prompt_tokens_details: { cached_tokens: 1024, audio_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
    });
    expect(fake.requests.at(-1)).toMatchObject({ method: 'POST', path: '/v1/chat/completions', body: { model: 'gpt-4o' } });
  });

  it('chat completions: o-series / gpt-5 report 200 reasoning tokens of the 300', async () => {
    for (const model of ['o3-mini', 'gpt-5']) {
      const body = await (await post('/v1/chat/completions', { model, messages: [] })).json();
      expect(body.usage.completion_tokens).toBe(300);
      expect(body.usage.completion_tokens_details.reasoning_tokens).toBe(FAKE_USAGE.openaiChat.reasoning_tokens_reasoning_model);
    }
  });

  it('chat completions stream: usage chunk only with include_usage, then [DONE]', async () => {
    const withUsage = await sse(await post('/v1/chat/completions', { model: 'gpt-4o', messages: [], stream: true, stream_options: { include_usage: true } }));
    expect(withUsage.at(-1)!.data).toBe('[DONE]');
    const last = JSON.parse(withUsage.at(-2)!.data);
    expect(last.choices).toEqual([]);
    expect(last.usage.prompt_tokens).toBe(1200);
    expect(JSON.parse(withUsage[0]!.data).usage).toBeNull();

    const without = await sse(await post('/v1/chat/completions', { model: 'gpt-4o', messages: [], stream: true }));
    expect(without.at(-1)!.data).toBe('[DONE]');
    expect(without.slice(0, -1).every((c) => !('usage' in JSON.parse(c.data)))).toBe(true);
  });

  it('chat completions: offers a tool call when tools are given and no tool result exists yet', async () => {
    const tools = [{ type: 'function', function: { name: 'getWeather', parameters: { type: 'object' } } }];
    const first = await (await post('/v1/chat/completions', { model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }], tools })).json();
    expect(first.choices[0].finish_reason).toBe('tool_calls');
    expect(first.choices[0].message.tool_calls[0].function.name).toBe('getWeather');
    const second = await (await post('/v1/chat/completions', { model: 'gpt-4o', messages: [{ role: 'tool', content: '{}', tool_call_id: 'call_fake0001' }], tools })).json();
    expect(second.choices[0].finish_reason).toBe('stop');
  });

  it('embeddings: one vector per input (float or base64), usage 50', async () => {
    const body = await (await post('/v1/embeddings', { model: 'text-embedding-3-small', input: ['a', 'b'] })).json();
    expect(body.data).toHaveLength(2);
    expect(body.data[0].embedding).toHaveLength(FAKE_USAGE.openaiEmbeddings.dimensions);
    expect(body.usage).toEqual({ prompt_tokens: 50, total_tokens: 50 });
    const b64 = await (await post('/v1/embeddings', { model: 'text-embedding-3-small', input: 'a', encoding_format: 'base64' })).json();
    const bytes = Buffer.from(b64.data[0].embedding, 'base64');
    const vec = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
    expect(vec).toHaveLength(FAKE_USAGE.openaiEmbeddings.dimensions);
  });

  it('responses: usage with cached and reasoning details', async () => {
    const body = await (await post('/v1/responses', { model: 'gpt-4o', input: 'hi' })).json();
    expect(body.object).toBe('response');
    expect(body.model).toBe('gpt-4o-2024-08-06');
    expect(body.usage).toEqual({
      input_tokens: 1200,
      input_tokens_details: { cached_tokens: 1024 },
      output_tokens: 300,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: 1500,
    });
  });

  it('responses stream: typed events ending with response.completed carrying usage', async () => {
    const events = await sse(await post('/v1/responses', { model: 'gpt-4o', input: 'hi', stream: true }));
    expect(events[0]!.event).toBe('response.created');
    const done = events.at(-1)!;
    expect(done.event).toBe('response.completed');
    expect(JSON.parse(done.data).response.usage.input_tokens).toBe(1200);
  });

  it('anthropic messages: raw input_tokens exclude cache tokens', async () => {
    const body = await (await post('/v1/messages', { model: 'claude-haiku-4-5', max_tokens: 10, messages: [] })).json();
    expect(body.model).toBe('claude-haiku-4-5-20251001');
    expect(body.usage).toMatchObject({ input_tokens: 200, cache_creation_input_tokens: 1000, cache_read_input_tokens: 5000, output_tokens: 300 });
  });

  it('anthropic messages stream: usage in message_start, output_tokens in message_delta', async () => {
    const events = await sse(await post('/v1/messages', { model: 'claude-haiku-4-5', max_tokens: 10, messages: [], stream: true }));
    expect(events.map((e) => e.event)).toEqual([
      'message_start',
      'content_block_start',
      'ping',
      'content_block_delta',
      'content_block_delta',
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
    expect(JSON.parse(events[0]!.data).message.usage).toMatchObject({ input_tokens: 200, cache_read_input_tokens: 5000, cache_creation_input_tokens: 1000 });
    expect(JSON.parse(events[6]!.data).usage).toEqual({ output_tokens: 300 });
  });

  it('error mode: fail-model -> 500 (x-should-retry false), fail-model-429 -> 429 (retry-after-ms 5), provider-shaped JSON', async () => {
    const r500 = await post('/v1/chat/completions', { model: 'fail-model', messages: [] });
    expect(r500.status).toBe(500);
    expect(r500.headers.get('x-should-retry')).toBe('false');
    expect((await r500.json()).error.type).toBe('server_error');
    const r429 = await post('/v1/messages', { model: 'fail-model-429', messages: [] });
    expect(r429.status).toBe(429);
    expect(r429.headers.get('retry-after-ms')).toBe('5');
    expect(await r429.json()).toEqual({ type: 'error', error: { type: 'rate_limit_error', message: expect.any(String) } });
  });
});
