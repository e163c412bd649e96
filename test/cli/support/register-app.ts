/**
 * An app that calls register() on the store given as argv[2], records one AI span and shuts
 * down; the SDK's diagnostics and its own progress go to stdout.
 */
import { diag, DiagLogLevel, trace } from '@opentelemetry/api';
import { register } from '../../../instrumentation/index.js';

const print = (message: string): void => void process.stdout.write(`${message}\n`);
diag.setLogger({ error: print, warn: print, info: print, debug() {}, verbose() {} }, DiagLogLevel.INFO);
const registration = await register({ store: process.argv[2]! });
print(`instrumentations: ${JSON.stringify(registration.instrumentations)}`);
trace.getTracer('app').startActiveSpan('chat gpt-4o', { attributes: { 'gen_ai.provider.name': 'openai', 'gen_ai.request.model': 'gpt-4o' } }, (span) => span.end());
await registration.flush();
await registration.shutdown();
print('app still running');
