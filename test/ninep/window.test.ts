/**
 * The 9P client's read and write windows (ReadWindow, WriteWindow) against
 * our server over an in-memory stream pair: requests kept in flight up to
 * the window and never beyond it, data in sending order, the negotiated
 * iounit respected, EOF and errors ending a window, stop() delivering the
 * replies that beat their Tflush, and a failed write failing the window.
 */
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { Client, ReadWindow, WriteWindow } from '../../src/ninep/client.js';
import { Interrupted, NinepError } from '../../src/ninep/error.js';
import type { Signal } from '../../src/ninep/node.js';
import { Server } from '../../src/ninep/server.js';
import { SynthDir, SynthFile } from '../../src/ninep/synth.js';
import { IOHDRSZ, ORDWR, QTDIR, QTFILE, qid } from '../../src/ninep/types.js';

/** A stream file: reads wait for pushed data, writes are recorded; both count what is in flight. */
class StreamFile {
  readers: { count: number; resolve: (b: Uint8Array) => void; reject: (e: Error) => void }[] = [];
  maxReaders = 0;
  readCounts: number[] = [];
  written: Buffer[] = [];
  /** Writes wait here until released. */
  heldWrites: (() => void)[] = [];
  holdWrites = false;
  maxWrites = 0;
  failWritesWith: string | null = null;
  flushedReads = 0;

  read(count: number, signal: Signal): Promise<Uint8Array> {
    this.readCounts.push(count);
    return new Promise((resolve, reject) => {
      const w = { count, resolve, reject };
      this.readers.push(w);
      this.maxReaders = Math.max(this.maxReaders, this.readers.length);
      signal.addEventListener('abort', () => {
        const i = this.readers.indexOf(w);
        if (i < 0) return;
        this.readers.splice(i, 1);
        this.flushedReads++;
        reject(new Interrupted());
      }, { once: true });
    });
  }

  /** Answer the oldest waiting read. */
  answer(data: string | Uint8Array): void {
    this.readers.shift()!.resolve(typeof data === 'string' ? Buffer.from(data) : data);
  }

  write(data: Uint8Array): number | Promise<number> {
    if (this.failWritesWith) throw new NinepError(this.failWritesWith);
    this.written.push(Buffer.from(data));
    if (!this.holdWrites) return data.length;
    return new Promise<number>((resolve) => {
      this.heldWrites.push(() => resolve(data.length));
      this.maxWrites = Math.max(this.maxWrites, this.heldWrites.length);
    });
  }

  releaseWrites(): void {
    for (const r of this.heldWrites.splice(0)) r();
  }
}

const clients: Client[] = [];
afterEach(() => {
  for (const c of clients.splice(0)) c.close();
});

/** A server with one file, `stream`, and a client attached to it with the given msize. */
async function setup(msize = 8192 + IOHDRSZ): Promise<{ s: StreamFile; c: Client }> {
  const s = new StreamFile();
  const node = new SynthFile(qid(QTFILE, 1n), () => ({ name: 'stream', uid: 'glenda', mode: 0o666 }), () => ({
    read: (_off, count, signal) => s.read(count, signal),
    write: (_off, data) => s.write(data),
  }));
  const root = new SynthDir(qid(QTDIR, 0n), () => ({ name: '/', uid: 'glenda', mode: 0o777 }), () => [node]);
  const server = new Server({ root: () => root, log: () => {} });
  const toServer = new PassThrough();
  const toClient = new PassThrough();
  server.serve(toServer, toClient);
  const c = await Client.over(toClient, toServer, { msize, uname: 'glenda' });
  clients.push(c);
  return { s, c };
}

/** Resolve once cond() holds, checking after each turn of the event loop. */
async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setImmediate(r));
}

describe('ReadWindow', () => {
  it('keeps exactly `window` Treads of iounit bytes in flight and returns data in sending order', async () => {
    const { s, c } = await setup();
    const f = await c.open('/stream', ORDWR);
    const r = new ReadWindow(f, 4);
    const first = r.next();
    await until(() => s.readers.length === 4);
    expect(s.readCounts).toEqual([8192, 8192, 8192, 8192]);
    for (const d of ['a', 'b', 'c', 'd']) s.answer(d);
    const got = [await first, await r.next(), await r.next(), await r.next()].map((b) => b.toString());
    expect(got).toEqual(['a', 'b', 'c', 'd']);
    // Each next() tops the window up before it waits.
    const fifth = r.next();
    await until(() => s.readers.length === 4);
    s.answer('e');
    expect((await fifth).toString()).toBe('e');
    expect(s.maxReaders).toBe(4);
    r.stop();
  });

  it('ends at the first 0-byte read: later reads are flushed and next() keeps returning EOF', async () => {
    const { s, c } = await setup();
    const f = await c.open('/stream', ORDWR);
    const r = new ReadWindow(f, 3);
    const p = r.next();
    await until(() => s.readers.length === 3);
    s.answer('x');
    expect((await p).toString()).toBe('x');
    const q = r.next();
    await until(() => s.readers.length === 3);
    s.answer('');
    expect((await q).length).toBe(0);
    await until(() => s.readers.length === 0);
    expect(s.flushedReads).toBe(2);
    expect((await r.next()).length).toBe(0);
  });

  it('a failed read rejects next() with its error', async () => {
    const { s, c } = await setup();
    const f = await c.open('/stream', ORDWR);
    const r = new ReadWindow(f, 2);
    const p = r.next();
    await until(() => s.readers.length === 2);
    s.readers.shift()!.reject(new NinepError('port unreachable'));
    await expect(p).rejects.toThrow('port unreachable');
    expect((await r.next()).length).toBe(0);
  });

  it('stop() flushes the reads in flight; replies that came first are still returned, in order', async () => {
    const { s, c } = await setup();
    const f = await c.open('/stream', ORDWR);
    const r = new ReadWindow(f, 3);
    const p = r.next();
    await until(() => s.readers.length === 3);
    // Two replies leave the server before the flushes arrive; the third read is flushed.
    s.answer('one');
    s.answer('two');
    r.stop();
    expect((await p).toString()).toBe('one');
    expect((await r.next()).toString()).toBe('two');
    expect((await r.next()).length).toBe(0);
    expect(s.flushedReads).toBe(1);
  });

  it('asks for no more than the negotiated iounit', async () => {
    const { s, c } = await setup(1024 + IOHDRSZ);
    const f = await c.open('/stream', ORDWR);
    const r = new ReadWindow(f, 1, 1 << 20);
    const p = r.next();
    await until(() => s.readers.length === 1);
    expect(s.readCounts).toEqual([1024]);
    r.stop();
    expect((await p).length).toBe(0);
  });
});

describe('WriteWindow', () => {
  it('splits at the iounit, keeps at most `window` Twrites in flight, and sends in order', async () => {
    const { s, c } = await setup(1024 + IOHDRSZ);
    const f = await c.open('/stream', ORDWR);
    const w = new WriteWindow(f, 3);
    s.holdWrites = true;
    const data = Buffer.from(Array.from({ length: 5000 }, (_, i) => i & 0xff));
    let sent = false;
    const p = w.write(data).then(() => { sent = true; });
    await until(() => s.heldWrites.length === 3);
    expect(sent).toBe(false);
    while (!sent) {
      s.releaseWrites();
      await new Promise((r) => setImmediate(r));
    }
    await p;
    s.releaseWrites();
    await until(() => s.written.length === 5);
    s.releaseWrites();
    await w.drain();
    expect(s.maxWrites).toBe(3);
    expect(s.written.map((b) => b.length)).toEqual([1024, 1024, 1024, 1024, 904]);
    expect(Buffer.concat(s.written).equals(data)).toBe(true);
  });

  it('a failed Twrite fails the window: the write after it and drain() reject with its error', async () => {
    const { s, c } = await setup();
    const f = await c.open('/stream', ORDWR);
    const w = new WriteWindow(f, 2);
    s.failWritesWith = 'i/o on hungup channel';
    await w.write(Buffer.from('lost'));
    await expect(w.drain()).rejects.toThrow('i/o on hungup channel');
    await expect(w.write(Buffer.from('more'))).rejects.toThrow('i/o on hungup channel');
    expect(w.failed?.message).toBe('i/o on hungup channel');
  });
});
