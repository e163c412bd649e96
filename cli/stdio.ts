import { CliError } from './cli-error.js';

/** Reads all of stdin; refuses an interactive terminal rather than waiting forever. */
export async function readStdin(): Promise<Uint8Array> {
  if (process.stdin.isTTY) {
    throw new CliError('no input: pass --input FILE or pipe a trace export into stdin');
  }
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Writes lines to stdout in large chunks, honouring back-pressure (`| head` must not crash us). */
export async function writeLines(lines: Iterable<string>): Promise<void> {
  const CHUNK_CHARS = 1 << 20;
  let buffer = '';
  for (const line of lines) {
    buffer += `${line}\n`;
    if (buffer.length >= CHUNK_CHARS) {
      await write(buffer);
      buffer = '';
    }
  }
  if (buffer) await write(buffer);
}

function write(text: string): Promise<void> {
  return new Promise((resolve) => {
    if (process.stdout.write(text)) resolve();
    else process.stdout.once('drain', resolve);
  });
}
