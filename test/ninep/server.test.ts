/**
 * 9P server semantics (intro(5), lib9p srv.c): version, walk, open, read/write,
 * directories, wstat, clunk, Tflush, concurrency, bounds and malformed input,
 * driven with exact messages by a raw peer.
 */
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Interrupted } from '../../src/ninep/error.js';
import { readSlice } from '../../src/ninep/node.js';
import type { Node, OpenFile, Signal } from '../../src/ninep/node.js';
import { Server } from '../../src/ninep/server.js';
import { decodeDirEntries, decodeStat } from '../../src/ninep/stat.js';
import type { Dir, RMessage, Rread, Rstat, Rwalk } from '../../src/ninep/types.js';
import { MsgType, NOFID, NOTAG, OREAD, ORDWR, OTRUNC, OWRITE, QTDIR, QTFILE, nochangeDir, qid } from '../../src/ninep/types.js';
import { SynthDir, SynthFile } from '../../src/ninep/synth.js';
import { Raw9p } from '../helpers/raw9p.js';

/** A stream whose reads block until data is pushed. */
class Stream {
  private waiters: { count: number; resolve: (b: Uint8Array) => void; reject: (e: Error) => void }[] = [];
  aborted = 0;
  read(count: number, signal: Signal): Promise<Uint8Array> {
    return new Promise((resolve, reject) => {
      const w = { count, resolve, reject };
      this.waiters.push(w);
      signal.addEventListener('abort', () => {
        const i = this.waiters.indexOf(w);
        if (i >= 0) this.waiters.splice(i, 1);
        this.aborted++;
        reject(new Interrupted());
      }, { once: true });
    });
  }
  push(s: string): void {
    const w = this.waiters.shift();
    w?.resolve(Buffer.from(s).subarray(0, w.count));
  }
  get pending(): number {
    return this.waiters.length;
  }
}

function file(path: bigint, name: string, mode: number, open: () => OpenFile | Promise<OpenFile>): SynthFile {
  return new SynthFile(qid(QTFILE, path), () => ({ name, uid: 'glenda', mode }), () => open());
}

function makeTree() {
  const state = {
    ctlWrites: [] as string[],
    stream: new Stream(),
    stubbornRelease: null as null | (() => void),
    opens: 0,
    clunks: 0,
    slowOpenRelease: [] as (() => void)[],
    sinkGot: null as unknown as { parts: number; data: Buffer[] },
  };
  const hello = file(1n, 'hello.txt', 0o644, () => ({ read: (off, n) => readSlice(Buffer.from('hello, world\n'), off, n) }));
  const ctl = file(2n, 'ctl', 0o666, () => ({
    read: (off, n) => readSlice(Buffer.from('ok'), off, n),
    write: (_o, d) => { state.ctlWrites.push(Buffer.from(d).toString()); return d.length; },
  }));
  const stream = file(3n, 'stream', 0o666, () => {
    state.opens++;
    return { read: (_o, n, signal) => state.stream.read(n, signal), clunk: () => { state.clunks++; } };
  });
  const slowopen = new SynthFile(qid(QTFILE, 4n), () => ({ name: 'slowopen', uid: 'glenda', mode: 0o666 }), (req) =>
    new Promise<OpenFile>((resolve, reject) => {
      state.slowOpenRelease.push(() => { state.opens++; resolve({ clunk: () => { state.clunks++; } }); });
      req.signal.addEventListener('abort', () => reject(new Interrupted()), { once: true });
    }));
  // Its read ignores flushes: it answers only when released.
  const stubborn = file(5n, 'stubborn', 0o666, () => ({
    read: () => new Promise<Uint8Array>((resolve) => { state.stubbornRelease = () => resolve(Buffer.from('late')); }),
  }));
  // Takes large writes in pieces (writev) and remembers what arrived.
  const sinkGot: { parts: number; data: Buffer[] } = { parts: 0, data: [] };
  const sink = file(6n, 'sink', 0o666, () => ({
    writev: (_o, parts) => {
      sinkGot.parts += parts.length;
      for (const p of parts) sinkGot.data.push(Buffer.from(p));
      return parts.reduce((n, p) => n + p.length, 0);
    },
  }));
  const kids: Node[] = [];
  for (let i = 0; i < 200; i++) kids.push(file(1000n + BigInt(i), `file-with-a-rather-long-name-${String(i).padStart(3, '0')}`, 0o444, () => ({ read: () => new Uint8Array(0) })));
  const leaf = file(20n, 'leaf', 0o444, () => ({ read: () => new Uint8Array(0) }));
  const inner = new SynthDir(qid(QTDIR, 21n), () => ({ name: 'inner', uid: 'glenda', mode: 0o555 }), () => [leaf]);
  const sub = new SynthDir(qid(QTDIR, 10n), () => ({ name: 'sub', uid: 'glenda', mode: 0o555 }), () => [inner, ...kids]);
  const empty = new SynthDir(qid(QTDIR, 11n), () => ({ name: 'empty', uid: 'glenda', mode: 0o555 }), () => []);
  const root = new SynthDir(qid(QTDIR, 0n), () => ({ name: '/', uid: 'glenda', mode: 0o555 }), () => [hello, ctl, stream, slowopen, stubborn, sink, sub, empty]);
  state.sinkGot = sinkGot;
  return { root, state };
}

let tree = makeTree();
let server: Server;
let port: number;
const logs: string[] = [];
const peers: Raw9p[] = [];

async function peer(): Promise<Raw9p> {
  const p = await Raw9p.connect(port);
  peers.push(p);
  return p;
}

beforeAll(async () => {
  server = new Server({ root: (aname) => (aname === '' ? tree.root : null), log: (l) => logs.push(l), limits: { maxFids: 64, maxInflight: 8 } });
  const l = await server.listen({ kind: 'tcp', host: '127.0.0.1', port: 0 });
  port = (l.address() as AddressInfo).port;
});

afterEach(() => {
  for (const p of peers.splice(0)) p.close();
  tree = makeTree();
});

afterAll(async () => {
  await server.close();
});

const T = MsgType;
let tagSeq = 100;
const tag = (): number => tagSeq++ & 0x7fff;

function expectError(r: RMessage, ename?: string): void {
  expect(r.type).toBe(T.Rerror);
  if (ename !== undefined && r.type === T.Rerror) expect(r.ename).toBe(ename);
}

async function walk(p: Raw9p, fid: number, newfid: number, wnames: string[]): Promise<RMessage> {
  return p.rpc({ type: T.Twalk, tag: tag(), fid, newfid, wnames });
}

async function open(p: Raw9p, fid: number, mode: number): Promise<RMessage> {
  return p.rpc({ type: T.Topen, tag: tag(), fid, mode });
}

async function read(p: Raw9p, fid: number, offset: bigint, count: number): Promise<RMessage> {
  return p.rpc({ type: T.Tread, tag: tag(), fid, offset, count });
}

describe('version negotiation', () => {
  it.each([
    ['9P2000', 8192, '9P2000', 8192],
    ['9P2000.u', 131072, '9P2000.u', 131072],
    ['9P2000.L', 131072 + 24, '9P2000.u', 131072 + 24],
    ['9P2000.x', 8216, '9P2000', 8216],
    ['9P2000', 1 << 30, '9P2000', 2 * 1024 * 1024],
    ['9P2000', 1024 * 1024, '9P2000', 1024 * 1024],
    ['9P1999', 8192, 'unknown', 8192],
    ['bogus', 8192, 'unknown', 8192],
  ])('%s msize %d → %s msize %d', async (version, msize, want, wantMsize) => {
    const p = await peer();
    const r = await p.rpc({ type: T.Tversion, tag: NOTAG, msize, version });
    expect(r).toEqual({ type: T.Rversion, tag: NOTAG, msize: wantMsize, version: want });
  });

  it('refuses a tiny msize and anything before Tversion', async () => {
    const p = await peer();
    expectError(await p.rpc({ type: T.Tattach, tag: 1, fid: 0, afid: NOFID, uname: 'x', aname: '' }));
    expectError(await p.rpc({ type: T.Tversion, tag: NOTAG, msize: 100, version: '9P2000' }), 'msize too small');
  });

  it('answers Tauth with an error and attaches without authentication', async () => {
    const p = await peer();
    await p.rpc({ type: T.Tversion, tag: NOTAG, msize: 8192, version: '9P2000' });
    expectError(await p.rpc({ type: T.Tauth, tag: 1, afid: 5, uname: 'glenda', aname: '' }), '9net: authentication not required');
    expectError(await p.rpc({ type: T.Tattach, tag: 2, fid: 0, afid: NOFID, uname: 'glenda', aname: 'nosuch' }), 'file does not exist');
    const a = await p.rpc({ type: T.Tattach, tag: 3, fid: 0, afid: NOFID, uname: 'glenda', aname: '' });
    expect(a).toMatchObject({ type: T.Rattach, qid: { type: QTDIR, path: 0n } });
    expectError(await p.rpc({ type: T.Tattach, tag: 4, fid: 0, afid: NOFID, uname: 'glenda', aname: '' }), 'fid already in use');
  });

  it('a second Tversion aborts outstanding requests without replies and clunks every fid', async () => {
    const p = await peer();
    await p.start();
    await walk(p, 0, 1, ['stream']);
    await open(p, 1, OREAD);
    p.send({ type: T.Tread, tag: 7, fid: 1, offset: 0n, count: 10 });
    await waitFor(() => tree.state.stream.pending === 1);
    const v = await p.rpc({ type: T.Tversion, tag: NOTAG, msize: 8192, version: '9P2000' });
    expect(v.type).toBe(T.Rversion);
    expect(tree.state.stream.aborted).toBe(1);
    expect(tree.state.clunks).toBe(1);
    expectError(await p.rpc({ type: T.Tstat, tag: 8, fid: 0 }), 'fid unknown or out of range');
    await new Promise((r) => setTimeout(r, 50));
    expect(p.replies.find((r) => r.tag === 7)).toBeUndefined();
  });
});

describe('walk', () => {
  it('clones, walks, walks partially, and handles .. at the root', async () => {
    const p = await peer();
    await p.start();
    expect(await walk(p, 0, 1, [])).toEqual({ type: T.Rwalk, tag: expect.any(Number), qids: [] });
    const w = (await walk(p, 0, 2, ['hello.txt'])) as Rwalk;
    expect(w.qids).toEqual([{ type: QTFILE, vers: 0, path: 1n }]);
    const partial = (await walk(p, 0, 3, ['sub', 'nope'])) as Rwalk;
    expect(partial.type).toBe(T.Rwalk);
    expect(partial.qids.map((q) => q.path)).toEqual([10n]);
    // newfid 3 was not created: Linux clunks it anyway and gets an error.
    expectError(await p.rpc({ type: T.Tclunk, tag: tag(), fid: 3 }), 'fid unknown or out of range');
    expectError(await walk(p, 0, 4, ['nope']), 'file does not exist');
    expectError(await walk(p, 0, 4, ['.']), 'illegal name');
    expect(((await walk(p, 0, 4, ['hello.txt', 'x'])) as Rwalk).qids).toHaveLength(1);
    const up = (await walk(p, 0, 5, ['..', 'sub', 'inner', '..', '..', '..'])) as Rwalk;
    expect(up.qids.map((q) => q.path)).toEqual([0n, 10n, 21n, 10n, 0n, 0n]);
  });

  it('walks in place (newfid = fid), and from open fids only into a new fid', async () => {
    const p = await peer();
    await p.start();
    await walk(p, 0, 1, []);
    const w = (await walk(p, 1, 1, ['sub', 'inner', 'leaf'])) as Rwalk;
    expect(w.qids.map((q) => q.path)).toEqual([10n, 21n, 20n]);
    const st = (await p.rpc({ type: T.Tstat, tag: tag(), fid: 1 })) as Rstat;
    expect(st.stat.name).toBe('leaf');
    // A failed in-place walk leaves the fid where it was.
    await walk(p, 0, 2, ['sub']);
    expect(((await walk(p, 2, 2, ['inner', 'nope'])) as Rwalk).qids).toHaveLength(1);
    expect(((await p.rpc({ type: T.Tstat, tag: tag(), fid: 2 })) as Rstat).stat.name).toBe('sub');
    // Open fids: Linux walks from them into new fids.
    await open(p, 2, OREAD);
    expect((await walk(p, 2, 3, ['inner'])).type).toBe(T.Rwalk);
    expectError(await walk(p, 2, 2, ['inner']), 'fid already open');
    expectError(await walk(p, 0, 3, []), 'fid already in use');
    expectError(await walk(p, 99, 4, []), 'fid unknown or out of range');
  });
});

describe('open, read, write', () => {
  it('reads files by offset and enforces open modes', async () => {
    const p = await peer();
    await p.start();
    await walk(p, 0, 1, ['hello.txt']);
    expect(await open(p, 1, OREAD)).toMatchObject({ type: T.Ropen, qid: { path: 1n }, iounit: 8192 - 24 });
    expectError(await open(p, 1, OREAD), 'fid already open');
    expect(Buffer.from(((await read(p, 1, 0n, 100)) as Rread).data).toString()).toBe('hello, world\n');
    expect(Buffer.from(((await read(p, 1, 7n, 5)) as Rread).data).toString()).toBe('world');
    expect(((await read(p, 1, 13n, 100)) as Rread).data.length).toBe(0);
    expectError(await p.rpc({ type: T.Twrite, tag: tag(), fid: 1, offset: 0n, data: Buffer.from('x') }), 'bad use of fid');
    await walk(p, 0, 2, ['sub']);
    expectError(await open(p, 2, OWRITE), 'Is a directory');
    expectError(await open(p, 2, OREAD | OTRUNC), 'Is a directory');
    await walk(p, 0, 3, ['hello.txt']);
    expectError(await read(p, 3, 0n, 10), 'file not open');
    expectError(await p.rpc({ type: T.Tcreate, tag: tag(), fid: 2, name: 'new', perm: 0o666, mode: OREAD }), 'permission denied');
  });

  it('clamps read counts to msize-24', async () => {
    const p = await peer();
    await p.start({ msize: 4096 });
    await walk(p, 0, 1, ['sub']);
    await open(p, 1, OREAD);
    const r = (await read(p, 1, 0n, 1 << 20)) as Rread;
    expect(r.data.length).toBeLessThanOrEqual(4096 - 24);
    expect(r.data.length).toBeGreaterThan(0);
  });

  it('accepts OTRUNC and the Twstat Linux sends after it on a ctl file; one command per write', async () => {
    const p = await peer();
    await p.start();
    await walk(p, 0, 1, ['ctl']);
    expect((await open(p, 1, OWRITE | OTRUNC)).type).toBe(T.Ropen);
    const trunc: Dir = { ...nochangeDir(), length: 0n, mtime: 1700000000 };
    expect((await p.rpc({ type: T.Twstat, tag: tag(), fid: 1, stat: trunc })).type).toBe(T.Rwstat);
    expect((await p.rpc({ type: T.Twstat, tag: tag(), fid: 1, stat: nochangeDir() })).type).toBe(T.Rwstat);
    expectError(await p.rpc({ type: T.Twstat, tag: tag(), fid: 1, stat: { ...nochangeDir(), name: 'renamed' } }), 'permission denied');
    expect(await p.rpc({ type: T.Twrite, tag: tag(), fid: 1, offset: 0n, data: Buffer.from('connect x\n') })).toMatchObject({ type: T.Rwrite, count: 10 });
    expect(await p.rpc({ type: T.Twrite, tag: tag(), fid: 1, offset: 0n, data: Buffer.alloc(0) })).toMatchObject({ type: T.Rwrite, count: 0 });
    expect(tree.state.ctlWrites).toEqual(['connect x\n', '']);
  });
});

describe('large writes', () => {
  it('passes a large Twrite that arrives in many chunks to writev as views, byte-exact', async () => {
    const p = await peer();
    await p.start({ msize: 2 * 1024 * 1024 });
    await walk(p, 0, 1, ['sink']);
    await open(p, 1, OWRITE);
    const payload = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 7 + (i >> 11)) & 0xff;
    // Send the frame in 5000-byte pieces so it spans many socket reads.
    const frame = Buffer.alloc(23);
    frame.writeUInt32LE(23 + payload.length, 0);
    frame[4] = T.Twrite;
    frame.writeUInt16LE(77, 5);
    frame.writeUInt32LE(1, 7);
    frame.writeUInt32LE(payload.length, 19);
    const all = Buffer.concat([frame, payload]);
    for (let o = 0; o < all.length; o += 5000) {
      p.sendBytes(all.subarray(o, o + 5000));
      if (o % 100000 === 0) await new Promise((r) => setImmediate(r));
    }
    expect(await p.reply(77)).toMatchObject({ type: T.Rwrite, count: payload.length });
    expect(tree.state.sinkGot.parts).toBeGreaterThan(1);
    expect(Buffer.concat(tree.state.sinkGot.data).equals(payload)).toBe(true);
    // A file without writev gets the same bytes joined.
    await walk(p, 0, 2, ['ctl']);
    await open(p, 2, OWRITE);
    frame.writeUInt16LE(78, 5);
    frame.writeUInt32LE(2, 7);
    for (let o = 0; o < all.length; o += 5000) p.sendBytes(Buffer.concat([frame, payload]).subarray(o, o + 5000));
    expect(await p.reply(78)).toMatchObject({ type: T.Rwrite, count: payload.length });
    expect(tree.state.ctlWrites[0]!.length).toBe(payload.length);
  });

  it('hangs up on a scattered Twrite whose count does not match its size', async () => {
    const p = await peer();
    await p.start({ msize: 2 * 1024 * 1024 });
    await walk(p, 0, 1, ['sink']);
    await open(p, 1, OWRITE);
    const body = Buffer.alloc(200000);
    const frame = Buffer.alloc(23);
    frame.writeUInt32LE(23 + body.length, 0);
    frame[4] = T.Twrite;
    frame.writeUInt16LE(79, 5);
    frame.writeUInt32LE(1, 7);
    frame.writeUInt32LE(body.length - 1, 19);
    const all = Buffer.concat([frame, body]);
    for (let o = 0; o < all.length; o += 5000) p.sendBytes(all.subarray(o, o + 5000));
    await p.closedP;
    expect(tree.state.sinkGot.parts).toBe(0);
  });
});

describe('directories', () => {
  it('returns whole entries, continues at the previous offset, restarts at 0, and rejects other offsets', async () => {
    const p = await peer();
    await p.start();
    await walk(p, 0, 1, ['sub']);
    await open(p, 1, OREAD);
    const names: string[] = [];
    let offset = 0n;
    let reads = 0;
    for (;;) {
      const r = (await read(p, 1, offset, 1000)) as Rread;
      expect(r.type).toBe(T.Rread);
      if (r.data.length === 0) break;
      const d = decodeDirEntries(r.data, '9P2000');
      expect(d.ok).toBe(true);
      if (d.ok) names.push(...d.dirs.map((x) => x.name));
      offset += BigInt(r.data.length);
      reads++;
    }
    expect(names).toHaveLength(201);
    expect(names[0]).toBe('inner');
    expect(reads).toBeGreaterThan(10);
    // Restart at 0, then an offset in the middle of an entry.
    const again = (await read(p, 1, 0n, 1000)) as Rread;
    const first = decodeDirEntries(again.data, '9P2000');
    expect(first.ok && first.dirs[0]!.name).toBe('inner');
    expectError(await read(p, 1, 3n, 1000), 'bad offset in directory read');
    // A count too small for the next entry is an error, not a false end.
    expectError(await read(p, 1, 0n, 10));
    // Entries equal what Tstat says.
    await walk(p, 0, 2, ['sub', 'inner']);
    const st = (await p.rpc({ type: T.Tstat, tag: tag(), fid: 2 })) as Rstat;
    expect(first.ok && first.dirs[0]).toEqual(st.stat);
  });

  it('reads an empty directory as empty', async () => {
    const p = await peer();
    await p.start();
    await walk(p, 0, 1, ['empty']);
    await open(p, 1, OREAD);
    expect(((await read(p, 1, 0n, 1000)) as Rread).data.length).toBe(0);
  });

  it('sends 9P2000.u stats and errnos on .u connections', async () => {
    const p = await peer();
    await p.start({ version: '9P2000.u' });
    expect(p.dialect).toBe('9P2000.u');
    const e = await walk(p, 0, 1, ['nope']);
    expect(e).toMatchObject({ type: T.Rerror, ename: 'file does not exist', errno: 2 });
    await walk(p, 0, 1, ['hello.txt']);
    const st = (await p.rpc({ type: T.Tstat, tag: tag(), fid: 1 })) as Rstat;
    expect(st.stat).toMatchObject({ name: 'hello.txt', extension: '', nUid: 0xffffffff });
    const raw = decodeStat(Buffer.alloc(0), '9P2000.u');
    expect(raw.ok).toBe(false);
  });
});

describe('clunk', () => {
  it('releases a fid once; a second clunk is an error', async () => {
    const p = await peer();
    await p.start();
    await walk(p, 0, 1, ['stream']);
    await open(p, 1, OREAD);
    expect((await p.rpc({ type: T.Tclunk, tag: tag(), fid: 1 })).type).toBe(T.Rclunk);
    expect(tree.state.clunks).toBe(1);
    expectError(await p.rpc({ type: T.Tclunk, tag: tag(), fid: 1 }), 'fid unknown or out of range');
    expectError(await p.rpc({ type: T.Tremove, tag: tag(), fid: 0 }), 'permission denied');
    expectError(await p.rpc({ type: T.Tstat, tag: tag(), fid: 0 }), 'fid unknown or out of range');
  });
});

describe('Tflush', () => {
  it('flushes a blocked read: Rflush, and never a reply for the old tag', async () => {
    const p = await peer();
    await p.start();
    await walk(p, 0, 1, ['stream']);
    await open(p, 1, OREAD);
    p.send({ type: T.Tread, tag: 6, fid: 1, offset: 0n, count: 100 });
    await waitFor(() => tree.state.stream.pending === 1);
    expect(await p.rpc({ type: T.Tflush, tag: 10, oldtag: 6 })).toEqual({ type: T.Rflush, tag: 10 });
    expect(tree.state.stream.aborted).toBe(1);
    tree.state.stream.push('too late');
    // The connection still works and tag 6 never gets an answer.
    expect((await p.rpc({ type: T.Tstat, tag: 11, fid: 1 })).type).toBe(T.Rstat);
    expect(p.replies.find((r) => r.tag === 6)).toBeUndefined();
    // The old tag can be reused.
    p.send({ type: T.Tread, tag: 6, fid: 1, offset: 0n, count: 100 });
    await waitFor(() => tree.state.stream.pending === 1);
    tree.state.stream.push('fresh');
    expect(Buffer.from(((await p.reply(6)) as Rread).data).toString()).toBe('fresh');
  });

  it('answers a flush of an unknown tag at once, and two flushes of one request in order', async () => {
    const p = await peer();
    await p.start();
    expect(await p.rpc({ type: T.Tflush, tag: 10, oldtag: 4242 })).toEqual({ type: T.Rflush, tag: 10 });
    await walk(p, 0, 1, ['stream']);
    await open(p, 1, OREAD);
    p.send({ type: T.Tread, tag: 6, fid: 1, offset: 0n, count: 100 });
    await waitFor(() => tree.state.stream.pending === 1);
    p.send({ type: T.Tflush, tag: 20, oldtag: 6 });
    p.send({ type: T.Tflush, tag: 21, oldtag: 6 });
    await waitFor(() => p.replies.length >= 2);
    expect(p.replies.map((r) => [r.type, r.tag])).toEqual([[T.Rflush, 20], [T.Rflush, 21]]);
    expect(tree.state.stream.aborted).toBe(1);
  });

  it('sends the original reply before the Rflush when the request completes anyway', async () => {
    const p = await peer();
    await p.start();
    await walk(p, 0, 1, ['stubborn']);
    await open(p, 1, OREAD);
    p.send({ type: T.Tread, tag: 6, fid: 1, offset: 0n, count: 100 });
    await waitFor(() => tree.state.stubbornRelease !== null);
    p.send({ type: T.Tflush, tag: 10, oldtag: 6 });
    await new Promise((r) => setTimeout(r, 30));
    expect(p.replies).toHaveLength(0);
    tree.state.stubbornRelease!();
    await waitFor(() => p.replies.length >= 2);
    // The read's reply comes first, then the Rflush.
    expect(p.replies.map((r) => [r.type, r.tag])).toEqual([[T.Rread, 6], [T.Rflush, 10]]);
  });

  it('flushes a blocked open without leaving it open', async () => {
    const p = await peer();
    await p.start();
    await walk(p, 0, 1, ['slowopen']);
    p.send({ type: T.Topen, tag: 6, fid: 1, mode: ORDWR });
    await waitFor(() => tree.state.slowOpenRelease.length === 1);
    expect(await p.rpc({ type: T.Tflush, tag: 10, oldtag: 6 })).toEqual({ type: T.Rflush, tag: 10 });
    // The fid is still unopened: opening again works.
    p.send({ type: T.Topen, tag: 7, fid: 1, mode: ORDWR });
    await waitFor(() => tree.state.slowOpenRelease.length === 2);
    tree.state.slowOpenRelease[1]!();
    expect((await p.reply(7)).type).toBe(T.Ropen);
  });
});

describe('concurrency and isolation', () => {
  it('two clients blocked in reads do not delay a third', async () => {
    const a = await peer();
    const b = await peer();
    const c = await peer();
    for (const x of [a, b, c]) await x.start();
    for (const x of [a, b]) {
      await walk(x, 0, 1, ['stream']);
      await open(x, 1, OREAD);
      x.send({ type: T.Tread, tag: 50, fid: 1, offset: 0n, count: 10 });
    }
    await waitFor(() => tree.state.stream.pending === 2);
    await walk(c, 0, 1, ['hello.txt']);
    await open(c, 1, OREAD);
    expect(Buffer.from(((await read(c, 1, 0n, 100)) as Rread).data).toString()).toBe('hello, world\n');
    expect((await c.rpc({ type: T.Tstat, tag: 9, fid: 0 })).type).toBe(T.Rstat);
    tree.state.stream.push('one');
    tree.state.stream.push('two');
    const got = [Buffer.from(((await a.reply(50)) as Rread).data).toString(), Buffer.from(((await b.reply(50)) as Rread).data).toString()];
    expect(got.sort()).toEqual(['one', 'two']);
  });

  it('many requests in flight on one connection, beyond the in-flight bound, are all answered', async () => {
    const p = await peer();
    await p.start();
    await walk(p, 0, 1, ['stream']);
    await open(p, 1, OREAD);
    for (let t = 0; t < 20; t++) p.send({ type: T.Tread, tag: 200 + t, fid: 1, offset: 0n, count: 10 });
    // The server stops reading at 8 in flight.
    await waitFor(() => tree.state.stream.pending === 8);
    for (let t = 0; t < 20; t++) {
      await waitFor(() => tree.state.stream.pending > 0);
      tree.state.stream.push(`m${t}`);
    }
    for (let t = 0; t < 20; t++) expect((await p.reply(200 + t)).type).toBe(T.Rread);
  });

  it('reads Tflush past the in-flight bound, also for a request still held back', async () => {
    const p = await peer();
    await p.start();
    await walk(p, 0, 1, ['stream']);
    await open(p, 1, OREAD);
    for (let t = 0; t < 9; t++) p.send({ type: T.Tread, tag: 300 + t, fid: 1, offset: 0n, count: 10 });
    await waitFor(() => tree.state.stream.pending === 8);
    // Tag 308 is held back (over the bound); flushing it must never produce its reply.
    expect(await p.rpc({ type: T.Tflush, tag: 400, oldtag: 308 })).toEqual({ type: T.Rflush, tag: 400 });
    expect(await p.rpc({ type: T.Tflush, tag: 401, oldtag: 300 })).toEqual({ type: T.Rflush, tag: 401 });
    for (let t = 0; t < 7; t++) tree.state.stream.push(`x${t}`);
    for (let t = 1; t < 8; t++) expect((await p.reply(300 + t)).type).toBe(T.Rread);
    expect((await p.rpc({ type: T.Tstat, tag: 402, fid: 1 })).type).toBe(T.Rstat);
    expect(p.replies.find((r) => r.tag === 308 || r.tag === 300)).toBeUndefined();
  });

  it('bounds fids per connection', async () => {
    const p = await peer();
    await p.start();
    for (let f = 1; f < 64; f++) expect((await walk(p, 0, f, [])).type).toBe(T.Rwalk);
    expectError(await walk(p, 0, 64, []), 'Too many open files');
  });

  it('disconnects a client that breaks the framing, and only it', async () => {
    const good = await peer();
    await good.start();
    const bad = await peer();
    await bad.start();
    bad.sendBytes(Buffer.from('06000000780000', 'hex'));
    await bad.closedP;
    const big = await peer();
    await big.start({ msize: 8192 });
    const hdr = Buffer.alloc(7);
    hdr.writeUInt32LE(100000, 0);
    hdr[4] = T.Twrite;
    big.sendBytes(hdr);
    await big.closedP;
    expect(logs.some((l) => l.includes('disconnected'))).toBe(true);
    expect((await good.rpc({ type: T.Tstat, tag: 5, fid: 0 })).type).toBe(T.Rstat);
  });

  it('answers an unknown message type and carries on; hangs up on a malformed known one or a duplicate tag', async () => {
    const p = await peer();
    await p.start();
    p.sendBytes(Buffer.from('0c000000620d000100000000', 'hex'));
    expect(await p.reply(13)).toMatchObject({ type: T.Rerror, ename: 'unknown message' });
    expect((await p.rpc({ type: T.Tstat, tag: 14, fid: 0 })).type).toBe(T.Rstat);
    // Twalk with 17 names.
    const n3 = '440000006e01000100000002000000110001006101006201006301006401006501006601006701006801006901006a01006b01006c01006d01006e01006f010070010071';
    p.sendBytes(Buffer.from(n3, 'hex'));
    expectError(await p.reply(1));
    await p.closedP;
    const q = await peer();
    await q.start();
    await walk(q, 0, 1, ['stream']);
    await open(q, 1, OREAD);
    q.send({ type: T.Tread, tag: 30, fid: 1, offset: 0n, count: 10 });
    q.send({ type: T.Tread, tag: 30, fid: 1, offset: 0n, count: 10 });
    await q.closedP;
  });

  it('releases everything a dropped connection held', async () => {
    const p = await peer();
    await p.start();
    await walk(p, 0, 1, ['stream']);
    await open(p, 1, OREAD);
    await walk(p, 0, 2, ['stream']);
    await open(p, 2, OREAD);
    p.send({ type: T.Tread, tag: 40, fid: 1, offset: 0n, count: 10 });
    await waitFor(() => tree.state.stream.pending === 1);
    const before = server.connections.size;
    p.close();
    await waitFor(() => tree.state.clunks === 2);
    expect(tree.state.stream.aborted).toBe(1);
    await waitFor(() => server.connections.size === before - 1);
  });
});

async function waitFor(cond: () => boolean, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 5));
  }
}

