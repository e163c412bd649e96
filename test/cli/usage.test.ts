/** Every new subcommand documents itself and refuses a bad command line with one line and exit 2. */
import { afterAll, describe, expect, it } from 'vitest';
import { cliSession, errorLines } from './support/cli.js';

const COMMANDS = ['query', 'reprice', 'prices', 'demo'] as const;
const session = cliSession();
afterAll(() => session.close());

describe('--help', { timeout: 60_000 }, () => {
  it.each(COMMANDS)('%s --help exits 0 with its usage', async (command) => {
    const result = await session.run([command, '--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`^Usage: genai-ledger ${command} `));
    expect(result.stdout).toContain('Options:');
    expect(result.stderr).toBe('');
  });

  it('the overview lists them', async () => {
    const result = await session.run(['--help']);
    expect(result.code).toBe(0);
    for (const command of COMMANDS) expect(result.stdout).toMatch(new RegExp(`^  ${command} +\\S`, 'm'));
  });
});

describe.concurrent('bad command lines: one line on stderr, exit 2, nothing on stdout', { timeout: 120_000 }, () => {
  const cases: Array<[string, string[], RegExp]> = [
    ['query: unknown flag', ['query', 'SELECT 1', '--nope'], /Unknown option '--nope'/],
    ['query: no SQL', ['query'], /no query/],
    ['query: bad --param', ['query', 'SELECT {a:UInt8}', '--param', 'a'], /--param: expected NAME=VALUE/],
    ['query: missing parameter', ['query', 'SELECT {org:String} AS o, {days:UInt32} AS d', '--param', 'org=acme'], /missing parameter 'days' \(UInt32\): pass --param days=VALUE/],
    ['query: unused parameter', ['query', 'SELECT 1', '--param', 'x=1'], /--param x: the query has no \{x:Type\} placeholder/],
    ['query: bad format', ['query', 'SELECT 1', '--format', 'csv'], /--format: jsonl, json or table/],
    ['reprice: unknown flag', ['reprice', '--everything'], /Unknown option '--everything'/],
    ['reprice: bad --since', ['reprice', '--since', '3 days'], /--since: expected a duration/],
    ['reprice: --since and --from', ['reprice', '--since', '7d', '--from', '2026-01-01'], /use --since or --from, not both/],
    ['prices: no model', ['prices'], /which model\?/],
    ['prices: bad --at', ['prices', 'gpt-4o', '--at', 'yesterday'], /--at: not a date or time/],
    ['prices: bad format', ['prices', 'gpt-4o', '--format', 'xml'], /--format: table or json/],
    ['demo: bad --calls', ['demo', '--calls', 'many'], /--calls: a whole number from 1 to/],
    ['demo: zero --days', ['demo', '--days', '0'], /--days: a whole number from 1 to 366/],
    ['demo: unknown flag', ['demo', '--tenants', '3'], /Unknown option '--tenants'/],
  ];
  it.each(cases)('%s', async (_name, args, message) => {
    const result = await session.run(args);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    const lines = errorLines(result);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^genai-ledger: /);
    expect(lines[0]).toMatch(message);
  });
});
