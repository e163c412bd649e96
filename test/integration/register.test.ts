/** register(): one call sets up the SDK, attribution and the ledger exporter on a fresh store. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { register, type Registration } from '../../instrumentation/register.js';
import { recordUsage } from '../../instrumentation/record-usage.js';
import { withUsageContext } from '../../instrumentation/usage-context.js';
import { createStoreClient } from '../../clickhouse/store.js';
import { queryRows } from '../support/store.js';

const dir = mkdtempSync(join(tmpdir(), 'genai-ledger-register-'));
let registration: Registration | undefined;
afterAll(async () => {
  await registration?.shutdown();
  rmSync(dir, { recursive: true, force: true });
});

it('records calls with attribution from context, resource from options', async () => {
  registration = await register({ store: dir, serviceName: 'voice-agent', environment: 'staging' });
  // 'auto': one per installed SDK (test/integration/register-auto.test.ts has the whole set).
  expect(registration.instrumentations).toContain('@opentelemetry/instrumentation-openai');

  withUsageContext({ orgId: 'acme', feature: 'voice' }, () => {
    // A realtime voice turn with audio tokens, and a transcription billed by the second.
    recordUsage({
      provider: 'openai', model: 'gpt-4o-realtime-preview-2024-12-17', operation: 'realtime', conversationId: 'call-7',
      inputTokens: 1000, inputAudioTokens: 800, outputTokens: 500, outputAudioTokens: 400, durationMs: 2500,
    });
    recordUsage({ provider: 'openai', model: 'whisper-1', operation: 'transcription', units: { audio_seconds: 90 }, userId: 'u5' });
  });
  recordUsage({ provider: 'openai', model: 'gpt-4o', inputTokens: 10, errorType: 'RateLimitError' });
  await registration.flush();

  expect(registration.exporter.stats()).toMatchObject({ rowsMapped: 3, writtenRows: 3 });
  // A second connection to the store the ledger opened (one engine per process, shared).
  const client = await createStoreClient({ kind: 'embedded', path: dir });
  const rows = await queryRows(client, `
    SELECT service_name, environment, org_id, user_id, feature, conversation_id, operation, duration_ms,
           input_audio_tokens, output_audio_tokens, usage_details, toString(cost_usd) AS cost, cost_breakdown, error_type
    FROM genai_ledger.ai_usage_exact ORDER BY operation`);
  await client.close();
  expect(rows).toEqual([
    { service_name: 'voice-agent', environment: 'staging', org_id: '', user_id: '', feature: '', conversation_id: '',
      operation: 'chat', duration_ms: 0, input_audio_tokens: 0, output_audio_tokens: 0, usage_details: {},
      cost: '0.000025', cost_breakdown: { input_tokens: 0.000025 }, error_type: 'RateLimitError' },
    // 200 text × 5 + 800 audio × 40 + 100 text out × 20 + 400 audio out × 80 per Mtok
    { service_name: 'voice-agent', environment: 'staging', org_id: 'acme', user_id: '', feature: 'voice', conversation_id: 'call-7',
      operation: 'realtime', duration_ms: 2500, input_audio_tokens: 800, output_audio_tokens: 400, usage_details: {},
      cost: '0.067', cost_breakdown: { input_tokens: 0.001, input_audio_tokens: 0.032, output_tokens: 0.002, output_audio_tokens: 0.032 }, error_type: '' },
    // 90 s × $0.006 per minute
    { service_name: 'voice-agent', environment: 'staging', org_id: 'acme', user_id: 'u5', feature: 'voice', conversation_id: '',
      operation: 'transcription', duration_ms: 0, input_audio_tokens: 0, output_audio_tokens: 0, usage_details: { audio_seconds: 90 },
      cost: '0.009', cost_breakdown: { audio_seconds: 0.009 }, error_type: '' },
  ]);
});
