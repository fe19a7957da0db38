/**
 * Copying between a conversation's data file and a local stream (dial,
 * listen1, con), through the 9P client's read and write windows.
 */
import type { Readable, Writable } from 'node:stream';
import type { ReadWindow, WriteWindow } from '../ninep/client.js';

/** Resolves when `out` can take more; rejects if it fails or closes first. */
export function drained(out: Writable): Promise<void> {
  if (out.destroyed || out.writableEnded) return Promise.reject(new Error('output closed'));
  return new Promise<void>((resolve, reject) => {
    const done = (e?: Error): void => {
      out.off('drain', onDrain);
      out.off('error', onError);
      out.off('close', onClose);
      if (e) reject(e);
      else resolve();
    };
    const onDrain = (): void => done();
    const onError = (e: Error): void => done(e);
    const onClose = (): void => done(new Error('output closed'));
    out.on('drain', onDrain);
    out.on('error', onError);
    out.on('close', onClose);
  });
}

/**
 * Copy the conversation to `out` until EOF (a 0-byte read): resolves then.
 * Rejects with a read's error (e.g. `port unreachable`) or when `out`
 * fails; `out` is not ended. `map` rewrites each reply (con's filters).
 */
export async function copyOut(r: ReadWindow, out: Writable, map?: (b: Buffer) => Buffer): Promise<void> {
  for (;;) {
    const b = await r.next();
    if (b.length === 0) return;
    if (!out.write(map ? map(b) : b)) await drained(out);
  }
}

/**
 * Copy `input` into the conversation until its end, then wait until every
 * write is answered. Rejects with the first write's error.
 */
export async function copyIn(input: Readable, w: WriteWindow): Promise<void> {
  for await (const chunk of input) await w.write(chunk as Buffer);
  await w.drain();
}
