import { rebillDays, storedRateCards, syncRateCards, type RebillResult, type SyncResult } from '../clickhouse/billing.js';
import { clientRunner } from '../clickhouse/query-runner.js';
import { CliError } from './cli-error.js';
import { rateCardsFile } from './rate-card-source.js';
import type { OpenedStore } from './store-client.js';

/**
 * `reprice --billing`: with a rate-card file (`--rates`, else GENAI_LEDGER_RATES), makes the
 * store's rate_cards hold it; then recomputes billed_daily for the period's days from the calls
 * and the cards in the store. Idempotent: a second run writes nothing.
 */
export async function rebill(store: OpenedStore, period: { fromMs: number; toMs: number }, ratesFlag: string | undefined, format: string, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const file = ratesFlag ?? (env.GENAI_LEDGER_RATES?.trim() || undefined);
  const runner = clientRunner(store.client);
  let cards: SyncResult | undefined;
  if (file !== undefined) cards = await syncRateCards(store.client, store.database, rateCardsFile(file));
  const stored = await storedRateCards(runner, store.database);
  if (stored.length === 0) throw new CliError('no rate cards in the store: pass --rates FILE (or set GENAI_LEDGER_RATES)');
  const result = await rebillDays(store.client, runner, { database: store.database, ...period, cards: stored });
  if (format === 'json') return JSON.stringify({ ...result, ...(cards ? { rateCards: cards } : {}) });
  return summary(result, cards);
}

function summary(r: RebillResult, cards: SyncResult | undefined): string {
  const loaded = cards ? `rate cards: ${cards.upserted} loaded, ${cards.deleted} removed, ${cards.unchanged} unchanged; ` : '';
  return `${loaded}${r.calls} calls billed in ${r.groups} (org, day, feature, model) groups: ${r.written} written, ${r.deleted} removed, ${r.groups - r.written} unchanged`;
}
