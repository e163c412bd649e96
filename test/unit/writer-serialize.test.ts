import { describe, expect, test } from 'vitest';
import { USAGE_COLUMNS, type UsageRow } from '../../usage/usage-row.js';
import { insertStatement, parseRow, serializeRow } from '../../clickhouse/serialize.js';
import { classifyInsertError, clickhouseErrorCode } from '../../delivery/writer/errors.js';
import { usageRow } from '../support/store.js';

const reference = (r: UsageRow): string => JSON.stringify(USAGE_COLUMNS.map((c) => r[c]));

describe('serializeRow', () => {
  test('matches JSON.stringify of the USAGE_COLUMNS values', () => {
    const rows: UsageRow[] = [
      usageRow(1),
      usageRow(2, { cost_usd: null, cost_breakdown: {}, usage_details: { web_searches: 2, audio_seconds: 1.5 } }),
      usageRow(3, {
        feature: 'quote " backslash \\ newline \n tab \t nul \u0000 del \u007f',
        user_id: 'ünïcødé 日本語 😀',
        attributes: { 'key "q"': 'v\\al', 'línea\n': '\u2028\u2029' },
        duration_ms: 12.345,
        input_tokens: 2 ** 53 - 1,
      }),
      usageRow(4, { error_type: 'lone \ud800 surrogate', duration_ms: Number.NaN, output_tokens: Number.POSITIVE_INFINITY }),
    ];
    for (const row of rows) expect(serializeRow(row)).toBe(reference(row));
  });

  test('parseRow inverts it', () => {
    const row = usageRow(7, { attributes: { a: 'b' }, cost_usd: null });
    expect(parseRow(serializeRow(row))).toEqual(row);
  });

  test('insert statement lists the columns in order', () => {
    expect(insertStatement('db.ai_usage')).toBe(`INSERT INTO db.ai_usage (${USAGE_COLUMNS.join(', ')}) FORMAT JSONCompactEachRow`);
  });
});

describe('insert error classification', () => {
  const ch = (code: string, type: string) => Object.assign(new Error(`${type} happened`), { code, type });
  test('retryable: transport errors and transient ClickHouse codes', () => {
    expect(classifyInsertError(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }))).toBe('retryable');
    expect(classifyInsertError(new Error('Timeout error.'))).toBe('retryable');
    expect(classifyInsertError(ch('252', 'TOO_MANY_PARTS'))).toBe('retryable');
    expect(classifyInsertError(ch('241', 'MEMORY_LIMIT_EXCEEDED'))).toBe('retryable');
    expect(classifyInsertError(ch('159', 'TIMEOUT_EXCEEDED'))).toBe('retryable');
    expect(classifyInsertError(ch('999', 'KEEPER_EXCEPTION'))).toBe('retryable');
  });
  test('batch: the insert itself is wrong', () => {
    expect(classifyInsertError(ch('60', 'UNKNOWN_TABLE'))).toBe('batch');
    expect(classifyInsertError(ch('62', 'SYNTAX_ERROR'))).toBe('batch');
    expect(classifyInsertError(ch('516', 'AUTHENTICATION_FAILED'))).toBe('batch');
  });
  test('rows: data errors', () => {
    expect(classifyInsertError(ch('41', 'CANNOT_PARSE_DATETIME'))).toBe('rows');
    expect(classifyInsertError(ch('72', 'CANNOT_PARSE_NUMBER'))).toBe('rows');
    expect(classifyInsertError(ch('53', 'TYPE_MISMATCH'))).toBe('rows');
  });
  test('codes are read from code, clickhouseCode (chDB) or the message', () => {
    expect(clickhouseErrorCode({ code: 'CHDB_QUERY', clickhouseCode: 41 })).toBe(41);
    expect(clickhouseErrorCode(new Error('Code: 252. DB::Exception: Too many parts'))).toBe(252);
    expect(clickhouseErrorCode(new Error('ECONNREFUSED'))).toBeUndefined();
  });
});
