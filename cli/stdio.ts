import { closeSync, fstatSync, openSync } from 'node:fs';
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

/**
 * Points fd 0 at /dev/null when it is a pipe, socket or file: the embedded engine would read it
 * into every INSERT (clickhouse/store.ts). Only for processes the CLI owns, after any command
 * that reads stdin has read it; the library never changes its host's stdin.
 */
export function detachStdin(): void {
  try {
    const stat = fstatSync(0);
    if (!(stat.isFIFO() || stat.isSocket() || stat.isFile())) return;
    closeSync(0);
    const fd = openSync('/dev/null', 'r'); // the lowest free descriptor: 0
    if (fd !== 0) closeSync(fd);
  } catch {
    // No fd 0 at all: nothing for the engine to read.
  }
}
