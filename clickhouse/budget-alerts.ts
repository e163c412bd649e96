/**
 * The record of budget alerts (table `budget_alerts`, migration 0007): who sends each alert, and
 * whether it was delivered. A claim is an insert whose deduplication token is the alert id and
 * attempt: ClickHouse stores the first such block only, so after its own insert returns every
 * claimant reads the same owner back, and exactly one of them sends (across restarts and
 * collectors sharing the store).
 */
import type { ClickHouseClient } from '@clickhouse/client';

export interface AlertClaim {
  /** Unique per budget × per value × period × threshold. */
  id: string;
  /** 0 for the first claim; a takeover of an undelivered claim uses the next one. */
  attempt: number;
  owner: string;
  budget: string;
  perValue: string;
  periodStartMs: number;
  /** The alert fraction as decimal text. */
  threshold: string;
  /** The webhook body, stored so a takeover sends the same one. */
  payload: string;
}

/** An alert claimed and not yet delivered (its latest attempt). */
export interface UndeliveredAlert {
  id: string;
  attempt: number;
  owner: string;
  payload: string;
  claimedAtMs: number;
}

/** Claims `claim.id` at `claim.attempt`; true when this owner won it and must send the alert. */
export async function claimAlert(client: ClickHouseClient, database: string, claim: AlertClaim): Promise<boolean> {
  await client.insert({
    table: `${database}.budget_alerts`,
    values: [{
      id: claim.id, event: 'claimed', attempt: claim.attempt, owner: claim.owner, budget: claim.budget, per_value: claim.perValue,
      period_start: Math.floor(claim.periodStartMs / 1000), threshold: claim.threshold, payload: claim.payload,
    }],
    format: 'JSONEachRow',
    clickhouse_settings: { insert_deduplicate: 1, insert_deduplication_token: `claim:${claim.id}:${claim.attempt}` },
  });
  const rs = await client.query({
    query: `SELECT owner FROM ${database}.budget_alerts WHERE id = {id:String} AND event = 'claimed' AND attempt = {attempt:UInt32}`,
    query_params: { id: claim.id, attempt: claim.attempt },
    format: 'JSONEachRow',
  });
  const rows = await rs.json<{ owner: string }>();
  return rows.length === 1 && rows[0]!.owner === claim.owner;
}

export async function markDelivered(client: ClickHouseClient, database: string, id: string, owner: string): Promise<void> {
  await client.insert({ table: `${database}.budget_alerts`, values: [{ id, event: 'delivered', owner }], format: 'JSONEachRow' });
}

/** Of `ids`, those with a claim (delivered or not). */
export async function claimedAlertIds(client: ClickHouseClient, database: string, ids: readonly string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rs = await client.query({
    query: `SELECT DISTINCT id FROM ${database}.budget_alerts WHERE id IN {ids:Array(String)} AND event = 'claimed'`,
    query_params: { ids },
    format: 'JSONEachRow',
  });
  return new Set((await rs.json<{ id: string }>()).map((r) => r.id));
}

/** Alerts claimed but never delivered, with their latest attempt. */
export async function undeliveredAlerts(client: ClickHouseClient, database: string): Promise<UndeliveredAlert[]> {
  const rs = await client.query({
    query: `SELECT id, max(attempt) AS last_attempt, argMax(owner, attempt) AS owner, argMax(payload, attempt) AS payload,
                   toUnixTimestamp64Milli(argMax(at, attempt)) AS claimed_at_ms
            FROM ${database}.budget_alerts
            GROUP BY id
            HAVING countIf(event = 'delivered') = 0
            ORDER BY id`,
    format: 'JSONEachRow',
    clickhouse_settings: { output_format_json_quote_64bit_integers: 0 },
  });
  return (await rs.json<{ id: string; last_attempt: number; owner: string; payload: string; claimed_at_ms: number }>())
    .map((r) => ({ id: r.id, attempt: Number(r.last_attempt), owner: r.owner, payload: r.payload, claimedAtMs: Number(r.claimed_at_ms) }));
}
