import { loadRateCardsFile, RateCardError, type RateCard } from '../billing/rate-cards.js';
import { storedRateCards } from '../clickhouse/billing.js';
import type { QueryRunner } from '../clickhouse/query-runner.js';
import { CliError } from './cli-error.js';

/** `--rates FILE`, else GENAI_LEDGER_RATES, else the store's rate_cards table (what `reprice --billing --rates` loaded). */
export async function rateCardsFor(flag: string | undefined, runner: QueryRunner, database: string, env: NodeJS.ProcessEnv = process.env): Promise<RateCard[]> {
  const file = flag ?? (env.GENAI_LEDGER_RATES?.trim() || undefined);
  if (file !== undefined) return rateCardsFile(file);
  const cards = await storedRateCards(runner, database);
  if (cards.length === 0) throw new CliError('no rate cards: pass --rates FILE, set GENAI_LEDGER_RATES, or load a file into the store with reprice --billing --rates FILE');
  return cards;
}

/** A rate-card file; a bad one is a one-line error naming the card and the field. */
export function rateCardsFile(path: string): RateCard[] {
  try {
    return loadRateCardsFile(path);
  } catch (error) {
    if (error instanceof RateCardError) throw new CliError(error.message);
    throw error;
  }
}
