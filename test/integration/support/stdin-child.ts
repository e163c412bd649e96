// A library user's process whose stdin is a pipe: it opens an embedded store through the ledger,
// says what fd 0 was before and after, then echoes what its stdin brings (the parent writes it
// only after the store is open).
import { fstatSync } from 'node:fs';
import { diag, DiagLogLevel } from '@opentelemetry/api';
import { Ledger } from '../../../delivery/ledger.js';

const warnings: string[] = [];
diag.setLogger({ error: () => {}, warn: (m: string) => warnings.push(m), info: () => {}, debug: () => {}, verbose: () => {} }, DiagLogLevel.WARN);
const identity = (): string => { const s = fstatSync(0); return `${s.dev}:${s.ino}:${s.mode}`; };
const before = identity();
const ledger = await Ledger.open({ store: process.argv[2]!, deadLetter: false });
const after = identity();
process.stdout.write(`${JSON.stringify({ before, after, warnings })}\n`);
let input = '';
process.stdin.setEncoding('utf8');
for await (const chunk of process.stdin) input += chunk;
await ledger.close();
process.stdout.write(`${JSON.stringify({ input })}\n`);
