/**
 * bench/insert-format: how usage rows go into ClickHouse and come out exact, on the embedded
 * engine, each figure as a ratio to a baseline measured in the same run.
 *
 *   npm run bench:insert-format [-- --only serialize,insert,exact,rollup --rows 100000
 *                                   --rounds 5 --exact-rows 1000000]
 *
 * serialize  rows → JSON lines only: JSONEachRow (JSON.stringify(row), baseline), the client's
 *            JSONCompactEachRow path (USAGE_COLUMNS.map per row), serializeRow (shipped).
 * insert     `--rows` rows in 10k-row inserts (rollup refreshes stopped), rounds in rotating
 *            order, median rows/s:
 *              JSONEachRow         client.insert(values: row objects)           baseline
 *              JSONCompactEachRow  client.insert(values: USAGE_COLUMNS arrays)
 *              serializer          serializeRow() + client.exec(INSERT ... FORMAT JSONCompactEachRow, body)
 *              noInsertPass        the same with optimize_on_insert = 0 (no ReplacingMergeTree pass
 *                                  over each insert; the writer sets it)
 *              BatchWriter         the writer as shipped (serializer, sha256 dedup token, retry loop)
 * exact      ai_usage_exact (FINAL) against argMax(..., inserted_at) GROUP BY (trace_id, span_id)
 *            (baseline) over `--exact-rows` rows spread over 30 days, generated server-side, plus
 *            10 % of them re-delivered (later inserted_at, a separate insert), merges stopped so
 *            the duplicates stay unmerged. Whole table, and one org / two days / one model.
 * rollup     the rollups' refresh over the same data: a full build (baseline), then incremental
 *            refreshes after 1000 new spans in one hour.
 *
 * chDB binds one data directory per process, and a process can open another one once every
 * client of the first is closed: serialize+insert use one store, exact+rollup a second one,
 * opened after the first is closed.
 */
import { Readable } from 'node:stream';
import { availableParallelism, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import type { ClickHouseSettings } from '@clickhouse/client';
import { refreshRollups } from '../clickhouse/migrate.js';
import { USAGE_COLUMNS, type UsageRow } from '../usage/usage-row.js';
import { BatchWriter } from '../delivery/writer/batch-writer.js';
import { insertStatement, serializeRow } from '../clickhouse/serialize.js';
import { openTestStore, queryOne, usageRow } from '../test/support/store.js';
import { perSecond, printFigure } from './support/measure.js';

const { values: args } = parseArgs({
  options: {
    only: { type: 'string', default: 'serialize,insert,exact,rollup' },
    rows: { type: 'string', default: '100000' },
    rounds: { type: 'string', default: '5' },
    'exact-rows': { type: 'string', default: '1000000' },
  },
});
const sections = new Set(args.only.split(',').map((s) => s.trim()));
const ROWS = Number(args.rows);
const ROUNDS = Number(args.rounds);
const N = Number(args['exact-rows']);
const BATCH = 10_000;

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const out = (line: string): void => void process.stdout.write(`${line}\n`);
const time = (fn: () => void): number => {
  const start = performance.now();
  fn();
  return performance.now() - start;
};

out(`bench/insert-format: embedded ClickHouse (chDB), Node ${process.version}; load average ${loadavg()[0]!.toFixed(1)} on ${availableParallelism()} CPUs at start`);

// ---------------------------------------------------------------------------------------------
// serialize + insert

if (sections.has('serialize') || sections.has('insert')) {
  const rows: UsageRow[] = Array.from({ length: ROWS }, (_, i) => usageRow(i, {
    attributes: { 'gen_ai.response.id': `resp-${i}`, 'http.route': '/v1/chat' },
    usage_details: i % 5 === 0 ? { web_searches: 1 } : {},
  }));
  if (JSON.stringify(USAGE_COLUMNS.map((c) => rows[0]![c])) !== serializeRow(rows[0]!)) throw new Error('serializeRow differs from the client path');

  if (sections.has('serialize')) {
    const ms = { object: [] as number[], columns: [] as number[], serializer: [] as number[] };
    let sink = 0;
    for (let round = 0; round < ROUNDS + 1; round++) {
      const a = time(() => { for (const r of rows) sink += (JSON.stringify(r) + '\n').length; });
      const b = time(() => { for (const r of rows) sink += (JSON.stringify(USAGE_COLUMNS.map((c) => r[c])) + '\n').length; });
      const c = time(() => { for (const r of rows) sink += serializeRow(r).length + 1; });
      if (round === 0) continue; // warm-up
      ms.object.push(a);
      ms.columns.push(b);
      ms.serializer.push(c);
    }
    if (sink === 0) throw new Error('nothing serialized');
    out(`\n[serialize] ${ROWS} rows → JSON lines, ${ROUNDS} rounds (+1 warm-up), median`);
    printFigure('JSON.stringify(row), JSONEachRow (baseline)', `${perSecond(ROWS, median(ms.object))} rows/s`, 1, '-');
    printFigure('USAGE_COLUMNS.map + JSON.stringify (client path)', `${perSecond(ROWS, median(ms.columns))} rows/s`, median(ms.object) / median(ms.columns), 'info');
    printFigure('serializeRow (shipped)', `${perSecond(ROWS, median(ms.serializer))} rows/s`, median(ms.object) / median(ms.serializer), '≥ 1');
  }

  if (sections.has('insert')) {
    const store = await openTestStore({ migrate: true });
    const client = store.client;
    const writer = new BatchWriter(client, { meter: false, maxBatchRows: BATCH });
    try {
      // Keep the rollup refreshes out of the measurement.
      await client.command({ query: 'SYSTEM STOP VIEWS' });
      const execRows = async (batch: UsageRow[], clickhouse_settings: ClickHouseSettings) => {
        const body = batch.map(serializeRow).join('\n') + '\n';
        const result = await client.exec({ query: insertStatement('ai_usage'), values: Readable.from([body]), clickhouse_settings });
        result.stream.destroy();
      };
      const ways: Record<string, (batch: UsageRow[]) => Promise<void>> = {
        JSONEachRow: async (batch) => {
          await client.insert({ table: 'ai_usage', values: batch, format: 'JSONEachRow', clickhouse_settings: { async_insert: 0 } });
        },
        JSONCompactEachRow: async (batch) => {
          await client.insert({
            table: 'ai_usage', columns: [...USAGE_COLUMNS], values: batch.map((r) => USAGE_COLUMNS.map((c) => r[c])),
            format: 'JSONCompactEachRow', clickhouse_settings: { async_insert: 0 },
          });
        },
        serializer: (batch) => execRows(batch, { async_insert: 0 }),
        noInsertPass: (batch) => execRows(batch, { async_insert: 0, optimize_on_insert: 0 }),
        BatchWriter: async (batch) => {
          writer.enqueue(batch);
          await writer.flush();
        },
      };
      const results: Record<string, number[]> = {};
      const entries = Object.entries(ways);
      for (let round = 0; round < ROUNDS; round++) {
        // Rotate the order each round so background merges and load do not favour one way.
        for (const [name, insert] of [...entries.slice(round % entries.length), ...entries.slice(0, round % entries.length)]) {
          // TRUNCATE also clears the deduplication log, so the same blocks are written again.
          await client.command({ query: 'TRUNCATE TABLE ai_usage' });
          const start = performance.now();
          for (let i = 0; i < ROWS; i += BATCH) await insert(rows.slice(i, i + BATCH));
          (results[name] ??= []).push(performance.now() - start);
          const { n } = await queryOne<{ n: string }>(client, 'SELECT toString(count()) AS n FROM ai_usage');
          if (n !== String(ROWS)) throw new Error(`${name}: ${n} rows in ai_usage, expected ${ROWS}`);
        }
      }
      out(`\n[insert] ${ROWS} rows in ${BATCH}-row inserts, ${ROUNDS} rounds in rotating order, median rows/s`);
      out(`    rounds (rows/s) ${Object.entries(results).map(([name, ms]) => `${name} ${ms.map((m) => perSecond(ROWS, m)).join('/')}`).join('; ')}`);
      const base = median(results.JSONEachRow!);
      printFigure('client.insert JSONEachRow (baseline)', `${perSecond(ROWS, base)} rows/s`, 1, '-');
      printFigure('client.insert JSONCompactEachRow', `${perSecond(ROWS, median(results.JSONCompactEachRow!))} rows/s`, base / median(results.JSONCompactEachRow!), 'info');
      printFigure('serializeRow + client.exec (the writer\'s path)', `${perSecond(ROWS, median(results.serializer!))} rows/s`, base / median(results.serializer!), '≥ 1');
      printFigure('  the same without the insert-time dedup pass', `${perSecond(ROWS, median(results.noInsertPass!))} rows/s`, median(results.serializer!) / median(results.noInsertPass!), 'info: vs the line above');
      printFigure('BatchWriter as shipped', `${perSecond(ROWS, median(results.BatchWriter!))} rows/s`, base / median(results.BatchWriter!), '≥ 1');
    } finally {
      await writer.shutdown();
      await store.close();
    }
  }
}

// ---------------------------------------------------------------------------------------------
// exact view + rollup refresh

if (sections.has('exact') || sections.has('rollup')) {
  // inserted_at = ts + delay: historical data, as if it had been written as it happened.
  const generate = (from: number, count: number, delay = 'toIntervalSecond(1)') => `
    INSERT INTO ai_usage (${USAGE_COLUMNS.join(', ')}, inserted_at)
    SELECT
      toDateTime64('2026-02-01 00:00:00', 6, 'UTC') + toIntervalMicrosecond(intDiv(number * 2592000000000, ${N})) AS ts,
      lower(hex(cityHash64(number, 1))) || lower(hex(cityHash64(number, 2))) AS trace_id,
      lower(hex(cityHash64(number, 3))) AS span_id, '' AS parent_span_id, 100 + number % 900 AS duration_ms,
      'svc-' || toString(number % 5) AS service_name, 'prod' AS environment, ['openai', 'anthropic'][1 + number % 2] AS provider,
      'chat' AS operation, ['gpt-4o', 'gpt-4o-mini', 'claude-sonnet-4'][1 + number % 3] AS request_model, request_model AS response_model,
      provider || '/' || request_model AS priced_model, 'org-' || toString(number % 20) AS org_id, 'user-' || toString(number % 1000) AS user_id,
      ['chat', 'search', 'summarize'][1 + number % 3] AS feature, '' AS conversation_id,
      1000 AS input_tokens, 200 AS output_tokens, 0, 0, 0, 0, 0, map() AS usage_details,
      toDecimal128('0.00472', 18) AS cost_usd, map('input', toDecimal128('0.0025', 18)) AS cost_breakdown, 'genai-prices' AS price_source,
      '' AS error_type, 'bench' AS instrumentation, map('k', 'v') AS attributes,
      ${delay === 'now' ? 'now64(6)' : `ts + ${delay}`} AS inserted_at
    FROM numbers(${from}, ${count})`;
  const totalCost = (rows: number) => String(Math.round(rows * 0.00472 * 1e6) / 1e6);

  let started = performance.now();
  const store = await openTestStore({ migrate: true });
  const client = store.client;
  try {
    await client.command({ query: 'SYSTEM STOP VIEWS' });
    await client.command({ query: generate(0, N) });
    await client.command({ query: 'OPTIMIZE TABLE ai_usage FINAL' });
    await client.command({ query: 'SYSTEM STOP MERGES ai_usage' });
    await client.command({ query: generate(0, N / 10, 'toIntervalDay(1)'), clickhouse_settings: { insert_deduplicate: 0 } });
    out(`\n[exact/rollup] ${N} rows over 30 days + ${N / 10} re-delivered (unmerged); loaded in ${((performance.now() - started) / 1000).toFixed(1)} s`);

    /** Median ms of `runs` runs of a one-row query, and that row. */
    const timeQuery = async (query: string, runs = 5): Promise<{ ms: number; row: unknown }> => {
      const ms: number[] = [];
      let row: unknown;
      for (let i = 0; i < runs; i++) {
        const start = performance.now();
        row = await queryOne(client, query);
        ms.push(performance.now() - start);
      }
      return { ms: median(ms), row };
    };

    if (sections.has('exact')) {
      const raw = await timeQuery('SELECT toString(count()) AS n FROM ai_usage');
      if ((raw.row as { n: string }).n !== String(N + N / 10)) throw new Error(`raw count ${JSON.stringify(raw.row)}`);
      const expected = JSON.stringify({ n: String(N), cost: totalCost(N) });
      const all = {
        argMax: `SELECT toString(count()) AS n, toString(sum(c)) AS cost FROM (SELECT argMax(cost_usd, inserted_at) AS c FROM ai_usage GROUP BY trace_id, span_id)`,
        FINAL: `SELECT toString(count()) AS n, toString(sum(cost_usd)) AS cost FROM ai_usage FINAL`,
        'FINAL, do_not_merge_across_partitions': `SELECT toString(count()) AS n, toString(sum(cost_usd)) AS cost FROM ai_usage FINAL SETTINGS do_not_merge_across_partitions_select_final = 1`,
        'view ai_usage_exact': `SELECT toString(count()) AS n, toString(sum(cost_usd)) AS cost FROM ai_usage_exact`,
      };
      const filter = `org_id = 'org-7' AND ts >= '2026-02-10' AND ts < '2026-02-12' AND request_model = 'gpt-4o'`;
      const filtered = {
        argMax: `SELECT toString(count()) AS n FROM (SELECT argMax(org_id, inserted_at) AS o, argMax(ts, inserted_at) AS t, argMax(request_model, inserted_at) AS m FROM ai_usage GROUP BY trace_id, span_id) WHERE o = 'org-7' AND t >= '2026-02-10' AND t < '2026-02-12' AND m = 'gpt-4o'`,
        'argMax, prefiltered': `SELECT toString(count()) AS n FROM (SELECT trace_id FROM ai_usage WHERE ${filter} GROUP BY trace_id, span_id)`,
        FINAL: `SELECT toString(count()) AS n FROM ai_usage FINAL WHERE ${filter}`,
        'view ai_usage_exact': `SELECT toString(count()) AS n FROM ai_usage_exact WHERE ${filter}`,
      };
      out(`    raw count (no deduplication): ${raw.ms.toFixed(0)} ms`);
      for (const [title, queries] of [['all rows', all], ['one org, two days, one model', filtered]] as const) {
        const results = new Map<string, { ms: number; row: unknown }>();
        for (const [label, query] of Object.entries(queries)) results.set(label, await timeQuery(query));
        const rows = new Set([...results.values()].map((r) => JSON.stringify(r.row)));
        if (rows.size !== 1 || (title === 'all rows' && !rows.has(expected))) throw new Error(`${title}: results differ: ${[...rows].join(' ')}`);
        const base = results.get('argMax')!.ms;
        for (const [label, r] of results) {
          printFigure(`${title}: ${label}${label === 'argMax' ? ' (baseline)' : ''}`, `${r.ms.toFixed(1)} ms`, base / r.ms, label === 'argMax' ? '-' : label === 'view ai_usage_exact' ? '> 1' : 'info');
        }
      }
    }

    if (sections.has('rollup')) {
      await client.command({ query: 'SYSTEM START VIEWS' });
      started = performance.now();
      await refreshRollups(client, { database: store.database });
      const fullMs = performance.now() - started;
      const daily = await queryOne(client, 'SELECT toString(sum(calls)) AS n, toString(sum(cost_usd)) AS cost FROM ai_usage_daily_exact');
      if (JSON.stringify(daily) !== JSON.stringify({ n: String(N), cost: totalCost(N) })) throw new Error(`daily rollup ${JSON.stringify(daily)}`);
      // New rows in one hour (inserted now): only that hour is recomputed.
      await client.command({
        query: generate(N, 1000, 'now').replace(
          `toDateTime64('2026-02-01 00:00:00', 6, 'UTC') + toIntervalMicrosecond(intDiv(number * 2592000000000, ${N}))`,
          `toDateTime64('2026-03-05 10:00:00', 6, 'UTC') + toIntervalMicrosecond(number)`,
        ),
      });
      const incremental: number[] = [];
      for (let i = 0; i < 3; i++) {
        started = performance.now();
        await refreshRollups(client, { database: store.database });
        incremental.push(performance.now() - started);
      }
      const hourly = await queryOne<{ n: string }>(client, 'SELECT toString(sum(calls)) AS n FROM ai_usage_hourly_exact');
      if (hourly.n !== String(N + 1000)) throw new Error(`hourly rollup ${JSON.stringify(hourly)}`);
      out(`\n[rollup] hourly + daily refresh (refreshRollups), incremental runs ${incremental.map((m) => m.toFixed(0)).join(', ')} ms`);
      printFigure(`full build over ${N} rows + 10 % duplicates (baseline)`, `${fullMs.toFixed(0)} ms`, 1, '-');
      printFigure('refresh after 1000 new spans in one hour (median)', `${median(incremental).toFixed(0)} ms`, fullMs / median(incremental), 'info');
    }
  } finally {
    await store.close();
  }
}
