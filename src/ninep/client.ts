/**
 * A 9P2000/9P2000.u client: tags and fids, many requests in flight,
 * cancellation by AbortSignal (Tflush), and path-level helpers.
 *
 * Every reply is validated (size ≤ msize, tag outstanding, type = T+1 or
 * Rerror, read/write counts ≤ requested, walk qids ≤ names); a server that
 * breaks the protocol has its connection closed and every pending call
 * fails with "i/o on hungup channel".
 *
 * Cancellation (flush(5)): on abort we send Tflush and keep both tags
 * reserved until Rflush. If the original reply arrives first the call
 * resolves with it (its effects happened); otherwise it rejects with
 * Interrupted.
 *
 * Streams (ReadWindow, WriteWindow): a bounded window of Treads or Twrites
 * kept in flight on one open file, answered in the order sent, so a copy
 * through a conversation's data file is not one round trip per iounit.
 * The server takes requests on a fid in the order they arrive (a Plan 9
 * stream queue serves readers and writers in order), so the data comes
 * back, and goes out, in order.
 */
import type { Readable, Writable } from 'node:stream';
import { decode, encode } from './codec.js';
import { decodeDirEntries } from './stat.js';
import { FrameReader } from './framer.js';
import { Interrupted, NinepError } from './error.js';
import { dial, parseAddress, sysText } from './transport.js';
import type { Address } from './transport.js';
import {
  IOHDRSZ, MAXWELEM, MsgType, NOFID, NOTAG, OREAD, OTRUNC, OWRITE, VERSION_9P2000, VERSION_9P2000U, nochangeDir,
} from './types.js';
import type { Dialect, Dir, Qid, RMessage, Rread, Rstat, Rwalk, Rwrite, Ropen, Rattach, Rversion, TMessage } from './types.js';

export interface ClientOptions {
  /** Proposed msize (default DEFAULT_MSIZE); the server may lower it. */
  msize?: number;
  version?: Dialect;
  uname?: string;
  aname?: string;
}

export const Ehungup = 'i/o on hungup channel';

/** The msize a client proposes unless told otherwise: 64 KiB of data per message. */
export const DEFAULT_MSIZE = 65536 + IOHDRSZ;
/** Requests a ReadWindow or WriteWindow keeps in flight unless told otherwise. */
export const DEFAULT_WINDOW = 8;
/** Most requests one window may keep in flight (the server runs 1 024 per connection). */
export const MAX_WINDOW = 64;

/** size[4] type[1] tag[2] fid[4] offset[8] count[4] */
const TWRITE_HEADER = 23;
/** Payloads at least this large are written without copying them into the frame. */
const ZERO_COPY_MIN = 16 * 1024;

type Pending = {
  expect: number;
  resolve: (r: RMessage) => void;
  reject: (e: Error) => void;
  /** Tag of the Tflush sent for this request, if any. */
  flushTag?: number;
};

// Distribute Omit over the union so each message keeps its own fields.
type Untagged<T> = T extends unknown ? Omit<T, 'tag'> : never;

export class Client {
  msize: number;
  dialect: Dialect;
  /** The fid of the attach root. */
  readonly rootFid = 0;
  private readonly reader: FrameReader;
  private readonly pending = new Map<number, Pending>();
  private readonly freeTags: number[] = [];
  private nextTag = 0;
  private readonly freeFids: number[] = [];
  private nextFid = 1;
  private closedReason: string | null = null;
  private corked = false;
  private readonly closeFns: ((reason: string) => void)[] = [];

  private constructor(private readonly input: Readable, private readonly output: Writable, msize: number, dialect: Dialect) {
    this.msize = msize;
    this.dialect = dialect;
    this.reader = new FrameReader(msize);
    input.on('data', (chunk: Buffer) => {
      const err = this.reader.push(chunk, (f) => this.onFrame(f));
      if (err) this.hangup(`protocol error: ${err}`);
    });
    input.on('close', () => this.hangup('connection closed'));
    input.on('end', () => this.hangup('connection closed'));
    input.on('error', (e) => this.hangup(sysText(e)));
    output.on('error', (e) => this.hangup(sysText(e)));
  }

  /** Dial a server address (`tcp!host!port`, `unix!/path`), negotiate and attach. */
  static async dial(addr: string | Address, opts: ClientOptions = {}): Promise<Client> {
    const a = typeof addr === 'string' ? parseAddress(addr) : addr;
    if (a.kind === 'stdio') throw new Error('cannot dial stdin/stdout');
    const s = await dial(a);
    try {
      return await Client.over(s, s, opts);
    } catch (e) {
      s.destroy();
      throw e;
    }
  }

  /** Negotiate and attach over an already connected stream pair. */
  static async over(input: Readable, output: Writable = input as unknown as Writable, opts: ClientOptions = {}): Promise<Client> {
    const want = opts.msize ?? DEFAULT_MSIZE;
    const c = new Client(input, output, want, opts.version ?? VERSION_9P2000);
    const rv = (await c.rpcTagged({ type: MsgType.Tversion, tag: NOTAG, msize: want, version: c.dialect })) as Rversion;
    if (rv.msize > want || rv.msize < 256) throw c.fatal(`bad Rversion msize ${rv.msize}`);
    if (rv.version !== VERSION_9P2000 && rv.version !== VERSION_9P2000U) throw c.fatal(`server speaks ${rv.version}`);
    c.msize = rv.msize;
    c.reader.maxSize = rv.msize;
    c.dialect = rv.version as Dialect;
    await c.rpc<Rattach>({ type: MsgType.Tattach, fid: c.rootFid, afid: NOFID, uname: opts.uname ?? process.env.USER ?? 'none', aname: opts.aname ?? '' });
    return c;
  }

  get closed(): boolean {
    return this.closedReason !== null;
  }

  /** Called once when the connection is lost. */
  onClose(fn: (reason: string) => void): void {
    if (this.closedReason !== null) fn(this.closedReason);
    else this.closeFns.push(fn);
  }

  /** Close the connection; pending calls fail. */
  close(): void {
    this.hangup('closed by client');
    this.input.destroy?.();
    if (this.output !== (this.input as unknown)) this.output.end?.();
  }

  /** Largest payload of one Tread/Twrite. */
  get iounit(): number {
    return this.msize - IOHDRSZ;
  }

  // ---- raw RPC ----

  /** Send a T-message and wait for its reply. Rerror becomes a thrown NinepError. */
  rpc<R extends RMessage>(t: Untagged<TMessage>, signal?: AbortSignal): Promise<R> {
    const tag = this.allocTag();
    return this.rpcTagged({ ...t, tag } as TMessage, signal) as Promise<R>;
  }

  private rpcTagged(t: TMessage, signal?: AbortSignal): Promise<RMessage> {
    if (this.closedReason !== null) return Promise.reject(new NinepError(Ehungup));
    if (signal?.aborted) {
      this.freeTag(t.tag);
      return Promise.reject(new Interrupted());
    }
    return new Promise<RMessage>((resolve, reject) => {
      const p: Pending = { expect: t.type + 1, resolve, reject };
      const onAbort = (): void => this.sendFlush(t.tag, p);
      signal?.addEventListener('abort', onAbort, { once: true });
      const cleanup = (): void => signal?.removeEventListener('abort', onAbort);
      p.resolve = (r) => { cleanup(); resolve(r); };
      p.reject = (e) => { cleanup(); reject(e); };
      this.pending.set(t.tag, p);
      this.send(t);
    });
  }

  /**
   * Cork the socket for the rest of this tick at the first write, so a burst
   * of requests (a stack sending frames through an ether's data file) leaves
   * as one writev; a lone request still goes out within the tick.
   */
  private corkTick(): void {
    if (this.corked || typeof this.output.cork !== 'function') return;
    this.corked = true;
    this.output.cork();
    process.nextTick(() => {
      this.corked = false;
      this.output.uncork();
    });
  }

  /** Write a message; a large Twrite goes out as header + payload without copying the payload. */
  private send(t: TMessage): void {
    this.corkTick();
    if (t.type === MsgType.Twrite && t.data.length >= ZERO_COPY_MIN) {
      const h = Buffer.allocUnsafe(TWRITE_HEADER);
      h.writeUInt32LE(TWRITE_HEADER + t.data.length, 0);
      h[4] = MsgType.Twrite;
      h.writeUInt16LE(t.tag, 5);
      h.writeUInt32LE(t.fid, 7);
      h.writeBigUInt64LE(t.offset, 11);
      h.writeUInt32LE(t.data.length, 19);
      this.output.cork();
      this.output.write(h);
      this.output.write(t.data);
      this.output.uncork();
      return;
    }
    this.output.write(encode(t, this.dialect));
  }

  private sendFlush(oldtag: number, p: Pending): void {
    if (this.closedReason !== null || p.flushTag !== undefined || this.pending.get(oldtag) !== p) return;
    const flushTag = this.allocTag();
    p.flushTag = flushTag;
    this.pending.set(flushTag, {
      expect: MsgType.Rflush,
      resolve: () => {
        // Rflush: the original will never be answered (if it was, it has been delivered).
        if (this.pending.get(oldtag) === p) {
          this.pending.delete(oldtag);
          p.reject(new Interrupted());
        }
        this.freeTag(oldtag);
        this.freeTag(flushTag);
      },
      reject: () => {},
    });
    this.corkTick();
    this.output.write(encode({ type: MsgType.Tflush, tag: flushTag, oldtag }, this.dialect));
  }

  private onFrame(frame: Buffer): void {
    const r = decode(frame, this.dialect);
    if (!r.ok) return this.hangup(`protocol error: ${r.error}`);
    const m = r.msg as RMessage;
    const p = this.pending.get(m.tag);
    if (!p) return this.hangup(`protocol error: reply for unknown tag ${m.tag}`);
    if (m.type !== p.expect && m.type !== MsgType.Rerror) return this.hangup(`protocol error: ${MsgType[m.type]} for tag ${m.tag}`);
    this.pending.delete(m.tag);
    // A flushed request's tag stays reserved until its Rflush arrives.
    if (p.flushTag === undefined && m.type !== MsgType.Rflush && m.tag !== NOTAG) this.freeTag(m.tag);
    if (m.type === MsgType.Rerror) p.reject(new NinepError(m.ename));
    else p.resolve(m);
  }

  private hangup(reason: string): void {
    if (this.closedReason !== null) return;
    this.closedReason = reason;
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const p of all) p.reject(new NinepError(Ehungup));
    for (const fn of this.closeFns.splice(0)) fn(reason);
    this.input.destroy?.();
  }

  private fatal(msg: string): Error {
    this.hangup(msg);
    return new Error(msg);
  }

  private allocTag(): number {
    const t = this.freeTags.pop();
    if (t !== undefined) return t;
    if (this.nextTag >= NOTAG) throw new Error('9P client: out of tags');
    return this.nextTag++;
  }

  private freeTag(t: number): void {
    if (t !== NOTAG) this.freeTags.push(t);
  }

  allocFid(): number {
    const f = this.freeFids.pop();
    if (f !== undefined) return f;
    if (this.nextFid >= NOFID) throw new Error('9P client: out of fids');
    return this.nextFid++;
  }

  private freeFid(f: number): void {
    if (f !== this.rootFid) this.freeFids.push(f);
  }

  // ---- fid-level operations ----

  /**
   * Walk from `from` (default: the root) along a slash-separated path into a
   * fresh fid. Walks in chunks of ≤ 16 names, each into a fresh fid.
   */
  async walk(path: string, from = this.rootFid, signal?: AbortSignal): Promise<number> {
    const names = path.split('/').filter((n) => n !== '' && n !== '.');
    let cur = from;
    let i = 0;
    do {
      const chunk = names.slice(i, i + MAXWELEM);
      const newfid = this.allocFid();
      let r: Rwalk;
      try {
        r = await this.rpc<Rwalk>({ type: MsgType.Twalk, fid: cur, newfid, wnames: chunk }, signal);
      } catch (e) {
        this.freeFid(newfid);
        if (cur !== from) await this.clunk(cur);
        throw e;
      }
      if (r.qids.length > chunk.length) throw this.fatal('protocol error: Rwalk with more qids than names');
      if (r.qids.length < chunk.length) {
        this.freeFid(newfid);
        if (cur !== from) await this.clunk(cur);
        throw new NinepError('file does not exist');
      }
      if (cur !== from) await this.clunk(cur);
      cur = newfid;
      i += MAXWELEM;
    } while (i < names.length);
    return cur;
  }

  async clunk(fid: number): Promise<void> {
    try {
      await this.rpc({ type: MsgType.Tclunk, fid });
    } catch {
      // The fid is gone whatever the reply (clunk(5)).
    } finally {
      this.freeFid(fid);
    }
  }

  /** Open a path; the returned File owns its fid. */
  async open(path: string, mode = OREAD, signal?: AbortSignal): Promise<File> {
    const fid = await this.walk(path, this.rootFid, signal);
    try {
      const r = await this.rpc<Ropen>({ type: MsgType.Topen, fid, mode }, signal);
      const iounit = r.iounit > 0 && r.iounit <= this.iounit ? r.iounit : this.iounit;
      return new File(this, fid, r.qid, iounit);
    } catch (e) {
      await this.clunk(fid);
      throw e;
    }
  }

  async stat(path: string): Promise<Dir> {
    const fid = await this.walk(path);
    try {
      return (await this.rpc<Rstat>({ type: MsgType.Tstat, fid })).stat;
    } finally {
      await this.clunk(fid);
    }
  }

  async wstat(path: string, changes: Partial<Dir>): Promise<void> {
    const fid = await this.walk(path);
    try {
      await this.rpc({ type: MsgType.Twstat, fid, stat: { ...nochangeDir(), ...changes } });
    } finally {
      await this.clunk(fid);
    }
  }

  /** The entries of a directory. */
  async ls(path: string): Promise<Dir[]> {
    const f = await this.open(path, OREAD);
    try {
      const out: Dir[] = [];
      for (;;) {
        const buf = await f.read(this.iounit);
        if (buf.length === 0) return out;
        const r = decodeDirEntries(buf, this.dialect);
        if (!r.ok) throw new NinepError(`bad directory entry: ${r.error}`);
        out.push(...r.dirs);
      }
    } finally {
      await f.close();
    }
  }

  /** Read a whole file (until a 0-byte read). */
  async readFile(path: string): Promise<Buffer> {
    const f = await this.open(path, OREAD);
    try {
      return await f.readAll();
    } finally {
      await f.close();
    }
  }

  /** Open OWRITE|OTRUNC and write data (like plan9port `9p write`). */
  async writeFile(path: string, data: Uint8Array | string): Promise<void> {
    const f = await this.open(path, OWRITE | OTRUNC);
    try {
      await f.write(typeof data === 'string' ? Buffer.from(data) : data);
    } finally {
      await f.close();
    }
  }
}

/** An open fid. Reads and writes advance `offset`; stream files ignore it. */
export class File {
  offset = 0n;
  private closed = false;

  constructor(readonly client: Client, readonly fid: number, readonly qid: Qid, readonly iounit: number) {}

  /** One Tread of at most `count` bytes (default iounit). */
  async read(count = this.iounit, signal?: AbortSignal, offset = this.offset): Promise<Buffer> {
    const n = Math.min(count, this.iounit);
    const r = await this.client.rpc<Rread>({ type: MsgType.Tread, fid: this.fid, offset, count: n }, signal);
    if (r.data.length > n) throw new NinepError('protocol error: Rread longer than asked');
    this.offset = offset + BigInt(r.data.length);
    return Buffer.from(r.data.buffer, r.data.byteOffset, r.data.length);
  }

  /** Read until a 0-byte read. */
  async readAll(signal?: AbortSignal): Promise<Buffer> {
    const parts: Buffer[] = [];
    for (;;) {
      const b = await this.read(this.iounit, signal);
      if (b.length === 0) return Buffer.concat(parts);
      parts.push(b);
    }
  }

  /** Write all of data in iounit-sized Twrites; a short or zero count is an error. */
  async write(data: Uint8Array | string, signal?: AbortSignal): Promise<number> {
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    let done = 0;
    do {
      const chunk = buf.subarray(done, done + this.iounit);
      const r = await this.client.rpc<Rwrite>({ type: MsgType.Twrite, fid: this.fid, offset: this.offset, data: chunk }, signal);
      if (r.count > chunk.length) throw new NinepError('protocol error: Rwrite count larger than asked');
      if (r.count === 0 && chunk.length > 0) throw new NinepError('short write');
      done += r.count;
      this.offset += BigInt(r.count);
    } while (done < buf.length);
    return done;
  }

  async stat(): Promise<Dir> {
    return (await this.client.rpc<Rstat>({ type: MsgType.Tstat, fid: this.fid })).stat;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.client.clunk(this.fid);
  }
}

const EMPTY = Buffer.alloc(0);

/** A window size within 1..MAX_WINDOW. */
function windowSize(n: number): number {
  return Math.max(1, Math.min(MAX_WINDOW, Math.floor(n)));
}

/**
 * Reads of a stream file (a conversation's data: offsets are ignored) with
 * up to `window` Treads of `count` bytes in flight, returned in the order
 * they were sent. Holds at most window × count bytes of replies.
 */
export class ReadWindow {
  private readonly inflight: Promise<Buffer>[] = [];
  /** A 0-byte read or an error was returned, or stop() was called: no more Treads. */
  private ended = false;
  private stopped = false;
  private readonly flush = new AbortController();
  readonly window: number;
  private readonly count: number;

  constructor(private readonly file: File, window = DEFAULT_WINDOW, count = file.iounit) {
    this.window = windowSize(window);
    this.count = Math.max(1, Math.min(count, file.iounit));
  }

  private fill(): void {
    while (!this.ended && this.inflight.length < this.window) {
      const p = this.file.read(this.count, this.flush.signal);
      // Settled in order by next(); a reply nobody waits for is not an unhandled rejection.
      p.catch(() => {});
      this.inflight.push(p);
    }
  }

  /**
   * The next reply's data in sending order: a 0-length Buffer at EOF (and
   * ever after). A failed read rejects with its error and ends the window.
   * After stop(), the replies that arrived before their Tflush are still
   * returned, then EOF.
   */
  async next(): Promise<Buffer> {
    this.fill();
    const p = this.inflight.shift();
    if (p === undefined) return EMPTY;
    try {
      const b = await p;
      if (b.length === 0) this.end();
      return b;
    } catch (e) {
      this.end();
      if (this.stopped && e instanceof Interrupted) return EMPTY;
      throw e;
    }
  }

  /** End the window; reads still in flight are flushed (next() returns what they carried). */
  stop(): void {
    this.stopped = true;
    this.end();
    this.flush.abort();
  }

  /** No more Treads; at EOF or an error the reads sent after it are not the stream's data: flush them. */
  private end(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.stopped) return;
    this.inflight.length = 0;
    this.flush.abort();
  }
}

/**
 * Writes to a stream file with up to `window` Twrites of at most iounit
 * bytes in flight, sent in order. A Twrite that fails or writes less than
 * it carried fails the window: the data after it was already sent, so the
 * stream cannot be resumed.
 */
export class WriteWindow {
  private inflight = 0;
  private failure: Error | null = null;
  private readonly room: (() => void)[] = [];
  readonly window: number;

  constructor(private readonly file: File, window = DEFAULT_WINDOW) {
    this.window = windowSize(window);
  }

  /** Whether a write has failed (its error is thrown by write and drain). */
  get failed(): Error | null {
    return this.failure;
  }

  /**
   * Send data in iounit-sized Twrites; resolves once every piece is sent
   * and the window has room again. The caller may reuse nothing of `data`
   * until then.
   */
  async write(data: Uint8Array): Promise<void> {
    const max = this.file.iounit;
    for (let done = 0; done < data.length; done += max) {
      while (this.inflight >= this.window && this.failure === null) await new Promise<void>((r) => this.room.push(r));
      if (this.failure !== null) throw this.failure;
      this.send(data.subarray(done, done + max));
    }
    if (this.failure !== null) throw this.failure;
  }

  /** Wait until every Twrite sent is answered; rejects with the first failure. */
  async drain(): Promise<void> {
    while (this.inflight > 0 && this.failure === null) await new Promise<void>((r) => this.room.push(r));
    if (this.failure !== null) throw this.failure;
  }

  private send(chunk: Uint8Array): void {
    const f = this.file;
    const offset = f.offset;
    f.offset += BigInt(chunk.length);
    this.inflight++;
    f.client.rpc<Rwrite>({ type: MsgType.Twrite, fid: f.fid, offset, data: chunk }).then(
      (r) => {
        if (r.count !== chunk.length) this.fail(new NinepError(r.count > chunk.length ? 'protocol error: Rwrite count larger than asked' : 'short write'));
        this.answered();
      },
      (e: unknown) => {
        this.fail(e instanceof Error ? e : new Error(String(e)));
        this.answered();
      },
    );
  }

  private fail(e: Error): void {
    this.failure ??= e;
  }

  private answered(): void {
    this.inflight--;
    for (const r of this.room.splice(0)) r();
  }
}
