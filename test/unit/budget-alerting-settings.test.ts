/**
 * budgetAlertSettings: what an entrance (collector, exporter, register()) starts budget alerts
 * with. Options win over the GENAI_LEDGER_* variables; a budgets document or file with an error,
 * or a webhook that is not an http(s) URL, is refused in one line.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { budgetAlertSettings, isWebhookUrl, type BudgetAlertingOptions } from '../../delivery/budgets/alerting.js';

const dir = mkdtempSync(join(tmpdir(), 'genai-ledger-alert-settings-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const FILE = join(dir, 'budgets.json');
writeFileSync(FILE, JSON.stringify({ budgets: [{ name: 'from-file', period: 'month', limit_usd: '500' }] }));
const DOC = { budgets: [{ name: 'from-doc', match: { org_id: 'acme' }, period: 'day' as const, limit_usd: '5' }] };

describe('budgetAlertSettings', () => {
  const cases: Array<[string, BudgetAlertingOptions, NodeJS.ProcessEnv, { names: string[]; url?: string; secret?: string } | undefined]> = [
    ['no budgets anywhere: no alerts', { alertWebhook: 'http://127.0.0.1:9/a' }, {}, undefined],
    ['a blank variable is no budgets', {}, { GENAI_LEDGER_BUDGETS: '  ' }, undefined],
    ['the file from GENAI_LEDGER_BUDGETS, webhook and secret from theirs', {}, {
      GENAI_LEDGER_BUDGETS: FILE, GENAI_LEDGER_ALERT_WEBHOOK: 'https://hooks.test/x', GENAI_LEDGER_ALERT_WEBHOOK_SECRET: 's',
    }, { names: ['from-file'], url: 'https://hooks.test/x', secret: 's' }],
    ['options win over the variables', { budgets: DOC, alertWebhook: 'http://127.0.0.1:9/a', alertWebhookSecret: 'o' }, {
      GENAI_LEDGER_BUDGETS: FILE, GENAI_LEDGER_ALERT_WEBHOOK: 'https://hooks.test/x', GENAI_LEDGER_ALERT_WEBHOOK_SECRET: 's',
    }, { names: ['from-doc'], url: 'http://127.0.0.1:9/a', secret: 'o' }],
    ['a file path option, no webhook: crossings are logged', { budgets: FILE }, {}, { names: ['from-file'] }],
  ];
  it.each(cases)('%s', (_name, options, env, expected) => {
    const settings = budgetAlertSettings(options, env);
    if (expected === undefined) {
      expect(settings).toBeUndefined();
      return;
    }
    expect(settings?.budgets.map((b) => b.name)).toEqual(expected.names);
    expect(settings?.webhook).toEqual(expected.url === undefined ? undefined : { url: expected.url, secret: expected.secret });
  });

  const refusals: Array<[string, BudgetAlertingOptions, RegExp]> = [
    ['a budget with an error', { budgets: { budgets: [{ ...DOC.budgets[0]!, period: 'year' as 'day' }] } }, /^budgets: budget 'from-doc': period: one of day, week, month, got "year"$/],
    ['a missing file', { budgets: join(dir, 'nope.yaml') }, /nope\.yaml: cannot read the budgets file \(ENOENT\)$/],
    ['a webhook that is not http(s)', { budgets: DOC, alertWebhook: 'ftp://hooks.test/x' }, /^genai-ledger: alertWebhook: an http\(s\) URL, got "ftp:\/\/hooks.test\/x"$/],
  ];
  it.each(refusals)('refuses %s in one line', (_name, options, message) => {
    expect(() => budgetAlertSettings(options, {})).toThrow(message);
  });
});

describe('isWebhookUrl', () => {
  it.each([
    ['http://127.0.0.1:8080/alerts', true],
    ['https://hooks.example.com/x?y=1', true],
    ['ftp://example.com/x', false],
    ['hooks.example.com/x', false],
    ['', false],
  ])('%s → %s', (url, ok) => expect(isWebhookUrl(url)).toBe(ok));
});
