/**
 * One 9P client connection: version negotiation, the fid and tag tables,
 * request dispatch with asynchronous replies, Tflush, and bounds.
 *
 * Concurrency model (intro(5); flush(5)): every T-message becomes a request
 * keyed by its tag. Handlers may answer at once or later; a request that
 * waits never delays others. Tflush aborts the old request's signal and its
 * Rflush is written only after the old request has answered or been
 * dropped, so no reply for the old tag can follow the Rflush. A flushed
 * request that still succeeds is answered (the client accepts its effects);
 * a flushed request that fails is dropped silently.
 *
 * A client that breaks the framing or sends a malformed known message is
 * disconnected with a logged reason; other connections are unaffected.
 */
import type { Readable, Writable } from 'node:stream';
import { decode, encode } from './codec.js';
import { encodeStat } from './stat.js';
import { FrameReader } from './framer.js';
import {
  Ebadfid, Ebadname, Ebadoffset, Efidinuse, Eio, Eisdir, Enotdir, Enotfound, Enotopen,
  Eopen, Eperm, Eshort, Etoomanyfids, Eunknownmsg, Interrupted, NinepError, enameOf, errnoOf,
} from './error.js';
import { isDir } from './node.js';
import type { Peer } from './peer.js';
import type { MaybePromise, Node, OpenFile, Signal } from './node.js';
import {
  IOHDRSZ, MsgType, NOCHANGE16, NOCHANGE32, NOCHANGE64, NOFID, NOTAG, OEXEC, ORCLOSE, OREAD, ORDWR,
  OTRUNC, OWRITE, VERSION_9P2000, VERSION_9P2000U,
} from './types.js';
import type {
  Dialect, Dir, Fcall, Qid, RMessage, TMessage, Tattach, Tcreate, Tflush, Topen, Tread, Tremove, Tstat,
  Tversion, Twalk, Twrite, Twstat, Tclunk,
} from './types.js';

/** Limits of one connection. */
export interface ConnectionLimits {
  /** Largest msize we agree to (we never answer more than the client asked). */
  maxMsize: number;
  /** Fids alive at once. */
  maxFids: number;
  /** Requests in flight; beyond this we stop reading the socket (backpressure). */
  maxInflight: number;
  /** Reply bytes queued on the socket beyond which we stop reading requests. */
  maxQueuedReplyBytes: number;
  /** Milliseconds a message may take to arrive once its first byte has (a stalled message disconnects its client). */
  messageTimeoutMs: number;
}

export const defaultLimits: ConnectionLimits = {
  maxMsize: 2 * 1024 * 1024,
  maxFids: 65536,
  maxInflight: 1024,
  maxQueuedReplyBytes: 16 * 1024 * 1024,
  messageTimeoutMs: 60_000,
};

/** Smallest msize we accept (9front lib9p's minimum). */
const MIN_MSIZE = 256;
/**
 * Requests held while over the in-flight bound, and their bytes; requests
 * beyond them are refused at once with Ebusy (Tflush is never held, and
 * Tclunk and Tversion are always held, in order: they are small and a
 * clunk must not be lost).
 */
const MAX_BACKLOG = 256;
const MAX_BACKLOG_BYTES = 4 * 1024 * 1024;
/** Held requests (clunks and versions included) beyond which the client is disconnected. */
const MAX_HELD = MAX_BACKLOG + 4096;
/** What a request refused for being over the bound gets (Linux maps it to EAGAIN). */
export const Ebusy = 'Resource temporarily unavailable';
/** Largest frame accepted before Tversion fixes msize. */
const PREVERSION_MAX = 8192;

/** Bytes of incomplete messages, shared by the connections of a server (the server evicts over its bound). */
export interface InputBudget {
  /** A connection's incomplete message grew or shrank by `delta` bytes. */
  charge(conn: Connection, delta: number): void;
  /** Milliseconds, for message timeouts (an injected clock). */
  now(): number;
}

export interface ConnectionHost {
  /** The root of the tree for an attach, or null when the aname is unknown. */
  root(aname: string, uname: string): Node | null;
  /** What Tauth answers (we need no authentication). */
  readonly authError: string;
  log(line: string): void;
  /** Print every message (chatty9p). */
  readonly trace: boolean;
  /** Shared accounting of bytes held for incomplete messages (optional). */
  readonly budget?: InputBudget;
  /**
   * Whether the peer may attach as `uname` (after 9P2000.u's numeric form
   * is resolved): null to allow, else the error for the client. Absent:
   * every attach is allowed.
   */
  admit?(peer: Peer, uname: string, aname: string): string | null;
}

class Fid {
  /** Nodes from the attach root to the current file; never empty. */
  path: Node[];
  open: OpenFile | null = null;
  openMode = 0;
  /** Directory listing snapshot taken at offset 0 of a directory read. */
  dirEntries: Buffer[] | null = null;
  dirOffsets: number[] | null = null;
  /** Requests running on this fid; release waits for them. */
  busy = 0;
  clunked = false;
  released = false;

  constructor(path: Node[], readonly user: string, readonly nUname: number) {
    this.path = path;
  }
  get node(): Node {
    return this.path[this.path.length - 1]!;
  }
}

/** A request in flight; it is also the Signal its handler sees. */
class Request implements Signal {
  aborted = false;
  /** Tflush asked for this request to be abandoned. */
  flushed = false;
  /** The reply must never be sent (connection closed, or Tversion reset). */
  dropped = false;
  private abortFns: (() => void)[] | null = null;
  private waiters: (() => void)[] | null = null;

  constructor(readonly tag: number, readonly type: number) {}

  get signal(): Signal {
    return this;
  }
  addEventListener(_type: 'abort', fn: () => void): void {
    if (this.aborted) return;
    (this.abortFns ??= []).push(fn);
  }
  removeEventListener(_type: 'abort', fn: () => void): void {
    const i = this.abortFns?.indexOf(fn) ?? -1;
    if (i >= 0) this.abortFns!.splice(i, 1);
  }
  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    const fns = this.abortFns;
    this.abortFns = null;
    if (fns) for (const fn of fns) fn();
  }
  /** Run fn once this request has answered or been dropped. */
  whenDone(fn: () => void): void {
    (this.waiters ??= []).push(fn);
  }
  finish(): void {
    const w = this.waiters;
    this.waiters = null;
    if (w) for (const fn of w) fn();
  }
}

function isTMessageType(t: number): boolean {
  return t >= MsgType.Tversion && t <= MsgType.Twstat && (t & 1) === 0 && t !== 106;
}

/** A valid single path element for walk. */
function validName(name: string): boolean {
  return name !== '' && name !== '.' && !name.includes('/');
}

export class Connection {
  dialect: Dialect | null = null;
  msize = PREVERSION_MAX;
  closed = false;
  private readonly fids = new Map<number, Fid>();
  private readonly reqs = new Map<number, Request>();
  private readonly reader = new FrameReader(PREVERSION_MAX);
  private corked = false;
  private paused = false;
  /** Requests read while over the in-flight bound (MAX_BACKLOG, MAX_BACKLOG_BYTES; see there). */
  private backlog: Buffer[] = [];
  private backlogBytes = 0;
  private inputPaused = false;
  /** Bytes of the incomplete message charged to the budget. */
  private charged = 0;
  /** When the incomplete message began (budget clock), or -1. */
  partialSince = -1;
  private readonly onCloseFns: (() => void)[] = [];

  constructor(
    private readonly host: ConnectionHost,
    private readonly input: Readable,
    private readonly output: Writable,
    readonly label: string,
    private readonly limits: ConnectionLimits = defaultLimits,
    /** Who is at the other end (see peer.ts). */
    readonly peer: Peer = { kind: 'stdio', uid: null },
  ) {
    input.on('data', (chunk: Buffer) => this.onData(chunk));
    input.on('end', () => this.close('client closed'));
    input.on('close', () => this.close('client closed'));
    input.on('error', (e) => this.close(`read error: ${e.message}`));
    output.on('error', (e) => this.close(`write error: ${e.message}`));
    output.on('drain', () => this.maybeResume());
  }

  /** Called once when the connection is gone and everything it held is released. */
  onClose(fn: () => void): void {
    if (this.closed) fn();
    else this.onCloseFns.push(fn);
  }

  get fidCount(): number {
    return this.fids.size;
  }
  get inflight(): number {
    return this.reqs.size;
  }

  /** Drop the connection: abort every request, release every fid. */
  close(reason?: string): void {
    if (this.closed) return;
    this.closed = true;
    if (reason && reason !== 'client closed') this.host.log(`${this.label}: ${reason}`);
    this.backlog = [];
    this.backlogBytes = 0;
    this.accountPartial(0);
    this.resetState();
    this.input.removeAllListeners('data');
    this.input.pause();
    // Write what is queued (an Rerror explaining the hangup), then close.
    if (this.corked) {
      this.corked = false;
      this.output.uncork();
    }
    const sock = this.output as Writable & { destroySoon?: () => void };
    if (typeof sock.destroySoon === 'function') sock.destroySoon();
    else {
      this.output.end?.();
      if (this.output !== (this.input as unknown)) this.input.destroy?.();
    }
    for (const fn of this.onCloseFns.splice(0)) fn();
  }

  // ---- input ----

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    // Replies answered while this chunk is processed leave in one writev;
    // replies that come later are written at once.
    this.corked = true;
    this.output.cork();
    const err = this.reader.push(chunk, (frame) => this.onFrame(frame), (parts) => this.onScattered(parts));
    if (this.corked) {
      this.corked = false;
      this.output.uncork();
    }
    if (err) this.close(`disconnected: ${err}`);
    else {
      this.accountPartial(this.reader.pending);
      this.maybePause();
    }
  }

  /** Bytes of the incomplete message held now. */
  get partialBytes(): number {
    return this.charged;
  }

  private accountPartial(pending: number): void {
    const budget = this.host.budget;
    if (pending === 0) this.partialSince = -1;
    else if (this.partialSince < 0) this.partialSince = budget ? budget.now() : 0;
    if (pending === this.charged) return;
    const delta = pending - this.charged;
    this.charged = pending;
    budget?.charge(this, delta);
  }

  private onFrame(frame: Buffer): void {
    if (this.closed) return;
    // Over the in-flight bound: hold requests until some finish, but let
    // Tflush through, so a client whose every request blocks can still
    // interrupt them (flush(5): a Tflush is never left unanswered).
    // The socket is still read, so Tflush and the client's EOF are seen.
    if (this.paused && frame[4] !== MsgType.Tflush) {
      const type = frame[4];
      const small = type === MsgType.Tclunk || type === MsgType.Tversion;
      if (!small && (this.backlog.length >= MAX_BACKLOG || this.backlogBytes + frame.length > MAX_BACKLOG_BYTES)) {
        return this.refuse(frame);
      }
      if (this.backlog.length >= MAX_HELD) return this.close('disconnected: too many requests held');
      // A copy: the frame may be a view of a much larger socket chunk.
      this.backlog.push(Buffer.from(frame));
      this.backlogBytes += frame.length;
      return;
    }
    this.handleFrame(frame);
    this.maybePause();
  }

  /**
   * A large Twrite delivered as the chunk views it arrived in (no copy):
   * validated here, then written with the file's writev when it has one.
   */
  private onScattered(parts: Buffer[]): void {
    if (this.closed) return;
    const h = parts[0]!;
    let total = 0;
    for (const p of parts) total += p.length;
    const tag = h.readUInt16LE(5);
    const count = h.readUInt32LE(19);
    if (this.paused || this.dialect === null || this.host.trace || count !== total - 23) {
      // Rare paths (backpressure, tracing, a bad count) take the ordinary, copying route.
      return this.onFrame(Buffer.concat(parts, total));
    }
    if (this.reqs.has(tag) || tag === NOTAG) return this.close(`disconnected: bad tag ${tag} on Twrite`);
    const m: Twrite = { type: MsgType.Twrite, tag, fid: h.readUInt32LE(7), offset: h.readBigUInt64LE(11), data: EMPTY };
    const data = [h.subarray(23), ...parts.slice(1)];
    const req = new Request(tag, MsgType.Twrite);
    this.reqs.set(tag, req);
    let out: MaybePromise<RMessage>;
    try {
      out = this.write(req, m, data, count);
    } catch (e) {
      return this.fail(req, e);
    }
    if (out instanceof Promise) out.then((r) => this.respond(req, r), (e) => this.fail(req, e));
    else this.respond(req, out);
    this.maybePause();
  }

  /** Answer a request over the bounds with Ebusy, unless it is broken (then as handleFrame would). */
  private refuse(frame: Buffer): void {
    if (frame.length < 7 || this.dialect === null) return this.handleFrame(frame);
    const tag = frame.readUInt16LE(5);
    if (tag === NOTAG || this.reqs.has(tag)) return this.handleFrame(frame);
    this.sendError(tag, Ebusy);
  }

  private handleFrame(frame: Buffer): void {
    const r = decode(frame, this.dialect ?? VERSION_9P2000);
    if (!r.ok) {
      if (r.tag < 0) return this.close(`disconnected: ${r.error}`);
      if (isTMessageType(r.type)) {
        // A known message with a broken body: tell the client, then hang up.
        this.sendError(r.tag, r.error);
        return this.close(`disconnected: malformed ${MsgType[r.type] ?? r.type}: ${r.error}`);
      }
      // An unknown type in a well-formed frame: answer and carry on.
      return this.sendError(r.tag, Eunknownmsg);
    }
    const m = r.msg;
    if (this.host.trace) this.host.log(`${this.label} <- ${fmt(m)}`);
    if (!isTMessageType(m.type)) return this.sendError(m.tag, Eunknownmsg);
    this.dispatch(m as TMessage);
  }

  private dispatch(m: TMessage): void {
    if (m.type === MsgType.Tversion) return this.version(m);
    if (this.dialect === null) return this.sendError(m.tag, 'version not negotiated');
    if (this.reqs.has(m.tag)) return this.close(`disconnected: duplicate tag ${m.tag}`);
    if (m.tag === NOTAG) return this.close('disconnected: NOTAG on a request other than Tversion');
    const req = new Request(m.tag, m.type);
    this.reqs.set(m.tag, req);
    if (m.type === MsgType.Tflush) return this.flush(req, m);
    let out: MaybePromise<RMessage>;
    try {
      out = this.handle(req, m);
    } catch (e) {
      return this.fail(req, e);
    }
    if (out instanceof Promise) out.then((r) => this.respond(req, r), (e) => this.fail(req, e));
    else this.respond(req, out);
  }

  private handle(req: Request, m: TMessage): MaybePromise<RMessage> {
    switch (m.type) {
      case MsgType.Tauth: throw new NinepError(this.host.authError);
      case MsgType.Tattach: return this.attach(m);
      case MsgType.Twalk: return this.walk(req, m);
      case MsgType.Topen: return this.open(req, m);
      case MsgType.Tcreate: return this.create(m);
      case MsgType.Tread: return this.read(req, m);
      case MsgType.Twrite: return this.write(req, m);
      case MsgType.Tclunk: return this.clunk(m);
      case MsgType.Tremove: return this.remove(m);
      case MsgType.Tstat: return this.stat(m);
      case MsgType.Twstat: return this.wstat(req, m);
      default: throw new NinepError(Eunknownmsg);
    }
  }

  // ---- output ----

  private respond(req: Request, r: RMessage): void {
    if (this.reqs.get(req.tag) === req) this.reqs.delete(req.tag);
    if (!req.dropped && !this.closed && !(req.flushed && r.type === MsgType.Rerror)) this.send(r);
    req.finish();
    this.maybeResume();
  }

  private fail(req: Request, e: unknown): void {
    if (!(e instanceof NinepError)) this.host.log(`${this.label}: internal error: ${(e as Error)?.stack ?? e}`);
    const ename = enameOf(e);
    this.respond(req, this.errorMsg(req.tag, ename));
  }

  private errorMsg(tag: number, ename: string): RMessage {
    return this.dialect === VERSION_9P2000U
      ? { type: MsgType.Rerror, tag, ename, errno: errnoOf(ename) }
      : { type: MsgType.Rerror, tag, ename };
  }

  private sendError(tag: number, ename: string): void {
    this.send(this.errorMsg(tag, ename));
  }

  private send(r: RMessage): void {
    if (this.closed) return;
    if (this.host.trace) this.host.log(`${this.label} -> ${fmt(r)}`);
    this.output.write(encode(r, this.dialect ?? VERSION_9P2000));
  }

  private maybePause(): void {
    if (this.closed) return;
    if (this.reqs.size >= this.limits.maxInflight) this.paused = true;
    // Replies the client does not read: stop reading its requests
    // altogether. (A client that then goes away is noticed when our writes
    // to it fail.)
    if (this.output.writableLength > this.limits.maxQueuedReplyBytes) {
      this.paused = true;
      this.pauseInput();
    }
  }

  private pauseInput(): void {
    if (!this.inputPaused) {
      this.inputPaused = true;
      this.input.pause();
    }
  }

  private maybeResume(): void {
    if (!this.paused || this.closed) return;
    if (this.reqs.size < this.limits.maxInflight / 2 && this.output.writableLength <= this.limits.maxQueuedReplyBytes / 2) {
      this.paused = false;
      while (this.backlog.length > 0 && !this.paused && !this.closed) {
        const f = this.backlog.shift()!;
        this.backlogBytes -= f.length;
        this.handleFrame(f);
        this.maybePause();
      }
      if (!this.paused && !this.closed && this.inputPaused) {
        this.inputPaused = false;
        this.input.resume();
      }
    }
  }

  // ---- version, flush ----

  private version(m: Tversion): void {
    this.resetState();
    let version: string;
    if (!m.version.startsWith('9P2000')) version = 'unknown';
    else if (m.version === '9P2000.u' || m.version === '9P2000.L') version = VERSION_9P2000U;
    else version = VERSION_9P2000;
    if (version !== 'unknown' && m.msize < MIN_MSIZE) {
      this.dialect = null;
      return this.send({ type: MsgType.Rerror, tag: m.tag, ename: 'msize too small' });
    }
    const msize = Math.min(m.msize, this.limits.maxMsize);
    if (version === 'unknown') {
      this.dialect = null;
      this.reader.maxSize = PREVERSION_MAX;
    } else {
      this.dialect = version as Dialect;
      this.msize = msize;
      this.reader.maxSize = msize;
    }
    this.send({ type: MsgType.Rversion, tag: m.tag, msize, version });
  }

  /** Abort every request without replying and release every fid (Tversion, close). */
  private resetState(): void {
    for (const req of this.reqs.values()) {
      req.dropped = true;
      req.abort();
      req.finish();
    }
    this.reqs.clear();
    for (const fid of this.fids.values()) this.releaseFid(fid);
    this.fids.clear();
  }

  private flush(req: Request, m: Tflush): void {
    const old = this.reqs.get(m.oldtag);
    const reply = (): void => this.respond(req, { type: MsgType.Rflush, tag: m.tag });
    if (!old || old === req) {
      // A request still held in the backlog is dropped unanswered.
      const i = this.backlog.findIndex((f) => f.readUInt16LE(5) === m.oldtag);
      if (i >= 0) this.backlogBytes -= this.backlog.splice(i, 1)[0]!.length;
      return reply();
    }
    old.flushed = true;
    old.abort();
    old.whenDone(reply);
  }

  // ---- fids ----

  private fid(n: number): Fid {
    const f = this.fids.get(n);
    if (!f) throw new NinepError(Ebadfid);
    return f;
  }

  private newFid(n: number, path: Node[], user: string, nUname: number): Fid {
    if (n === NOFID) throw new NinepError(Ebadfid);
    if (this.fids.has(n)) throw new NinepError(Efidinuse);
    if (this.fids.size >= this.limits.maxFids) throw new NinepError(Etoomanyfids);
    const f = new Fid(path, user, nUname);
    this.fids.set(n, f);
    return f;
  }

  /** Run fn with the fid marked busy, so a concurrent clunk waits for it. */
  private withFid<T>(fid: Fid, fn: () => MaybePromise<T>): MaybePromise<T> {
    fid.busy++;
    let out: MaybePromise<T>;
    try {
      out = fn();
    } catch (e) {
      this.unbusy(fid);
      throw e;
    }
    if (out instanceof Promise) {
      return out.finally(() => this.unbusy(fid));
    }
    this.unbusy(fid);
    return out;
  }

  private unbusy(fid: Fid): void {
    fid.busy--;
    if (fid.clunked && fid.busy === 0) this.releaseFid(fid);
  }

  private releaseFid(fid: Fid): void {
    fid.clunked = true;
    if (fid.busy > 0 || fid.released) return;
    fid.released = true;
    const open = fid.open;
    fid.open = null;
    fid.dirEntries = null;
    if (open?.clunk) {
      try {
        open.clunk();
      } catch (e) {
        this.host.log(`${this.label}: clunk: ${(e as Error)?.stack ?? e}`);
      }
    }
  }

  // ---- requests ----

  private attach(m: Tattach): RMessage {
    if (m.afid !== NOFID) throw new NinepError(Ebadfid);
    // 9P2000.u per-user attaches from Linux carry an empty uname and a uid.
    const uname = m.uname === '' && m.nUname !== undefined && m.nUname !== NOCHANGE32 ? String(m.nUname) : m.uname;
    if (this.fids.has(m.fid)) throw new NinepError(Efidinuse);
    const refused = this.host.admit?.(this.peer, uname, m.aname) ?? null;
    if (refused !== null) {
      this.host.log(`${this.label}: attach as ${uname} refused: ${refused}`);
      throw new NinepError(refused);
    }
    const root = this.host.root(m.aname, uname);
    if (!root) throw new NinepError(Enotfound);
    this.newFid(m.fid, [root], uname, m.nUname ?? NOCHANGE32);
    return { type: MsgType.Rattach, tag: m.tag, qid: root.qid };
  }

  private walk(req: Request, m: Twalk): MaybePromise<RMessage> {
    const fid = this.fid(m.fid);
    if (m.newfid !== m.fid) {
      if (m.newfid === NOFID) throw new NinepError(Ebadfid);
      if (this.fids.has(m.newfid)) throw new NinepError(Efidinuse);
    } else if (fid.open) {
      throw new NinepError(Eopen);
    }
    const path = fid.path.slice();
    const qids: Qid[] = [];
    const finish = (error: string | null): RMessage => {
      if (qids.length < m.wnames.length) {
        if (qids.length === 0) throw new NinepError(error ?? Enotfound);
        return { type: MsgType.Rwalk, tag: m.tag, qids };
      }
      if (m.newfid === m.fid) {
        if (!this.fids.has(m.fid)) throw new NinepError(Ebadfid);
        fid.path = path;
      } else {
        this.newFid(m.newfid, path, fid.user, fid.nUname);
      }
      return { type: MsgType.Rwalk, tag: m.tag, qids };
    };
    // Walk element by element; switch to async only when a node needs it.
    const step = (i: number): MaybePromise<RMessage> => {
      for (; i < m.wnames.length; i++) {
        const name = m.wnames[i]!;
        const cur = path[path.length - 1]!;
        if (!isDir(cur) || !cur.walk) return finish(Enotdir);
        if (name === '..') {
          if (path.length > 1) path.pop();
          qids.push(path[path.length - 1]!.qid);
          continue;
        }
        if (!validName(name)) return finish(qids.length === 0 ? Ebadname : null);
        const child = cur.walk(name, fid.user);
        if (child instanceof Promise) {
          return child.then((c) => {
            if (req.signal.aborted) throw new Interrupted();
            if (!c) return finish(null);
            path.push(c);
            qids.push(c.qid);
            return step(i + 1);
          });
        }
        if (!child) return finish(null);
        path.push(child);
        qids.push(child.qid);
      }
      return finish(null);
    };
    return this.withFid(fid, () => step(0));
  }

  private open(req: Request, m: Topen): MaybePromise<RMessage> {
    const fid = this.fid(m.fid);
    if (fid.open) throw new NinepError(Eopen);
    const node = fid.node;
    const iounit = this.msize - IOHDRSZ;
    const mode = m.mode & ~0x80; // tolerate OAPPEND from Linux .u
    if (isDir(node)) {
      if ((mode & 3) !== OREAD || mode & (OTRUNC | ORCLOSE)) throw new NinepError(Eisdir);
      fid.open = {};
      fid.openMode = mode;
      return { type: MsgType.Ropen, tag: m.tag, qid: node.qid, iounit };
    }
    if (!node.open) throw new NinepError(Eperm);
    if (mode & ORCLOSE) throw new NinepError(Eperm);
    const done = (of: OpenFile): RMessage => {
      if (req.dropped || this.closed || fid.released) {
        // The client will never learn of this open: undo it.
        of.clunk?.();
        throw new Interrupted();
      }
      fid.open = of;
      fid.openMode = mode;
      if (of.node) fid.path[fid.path.length - 1] = of.node;
      return { type: MsgType.Ropen, tag: m.tag, qid: fid.node.qid, iounit };
    };
    const openNode = node.open.bind(node);
    return this.withFid(fid, () => {
      const of = openNode({ mode, user: fid.user, signal: req.signal });
      return of instanceof Promise ? of.then(done) : done(of);
    });
  }

  private create(m: Tcreate): RMessage {
    const fid = this.fid(m.fid);
    if (!isDir(fid.node)) throw new NinepError(Enotdir);
    throw new NinepError(Eperm);
  }

  private read(req: Request, m: Tread): MaybePromise<RMessage> {
    const fid = this.fid(m.fid);
    const of = fid.open;
    if (!of) throw new NinepError(Enotopen);
    const rw = fid.openMode & 3;
    if (rw !== OREAD && rw !== ORDWR && rw !== OEXEC) throw new NinepError('bad use of fid');
    const count = Math.min(m.count, this.msize - IOHDRSZ);
    if (isDir(fid.node)) return this.withFid(fid, () => this.readDir(fid, m, count));
    if (!of.read) throw new NinepError(Eperm);
    const read = of.read.bind(of);
    return this.withFid(fid, () => {
      const data = read(m.offset, count, req.signal);
      if (data instanceof Promise) return data.then((d) => rread(m.tag, d, count));
      return rread(m.tag, data, count);
    });
  }

  private readDir(fid: Fid, m: Tread, count: number): MaybePromise<RMessage> {
    if (m.offset === 0n) {
      const node = fid.node;
      const kids = node.list ? node.list(fid.user) : [];
      const fill = (list: Node[]): RMessage => {
        const entries: Buffer[] = [];
        const offsets: number[] = [];
        let off = 0;
        for (const k of list) {
          const e = encodeStat(this.fixStat(k.stat(), fid), this.dialect!);
          entries.push(e);
          offsets.push(off);
          off += e.length;
        }
        fid.dirEntries = entries;
        fid.dirOffsets = offsets;
        return this.serveDir(fid, 0, count, m.tag);
      };
      return kids instanceof Promise ? kids.then(fill) : fill(kids);
    }
    if (!fid.dirEntries || !fid.dirOffsets) throw new NinepError(Ebadoffset);
    const off = Number(m.offset);
    const offsets = fid.dirOffsets;
    const total = offsets.length ? offsets[offsets.length - 1]! + fid.dirEntries[fid.dirEntries.length - 1]!.length : 0;
    if (off === total) return { type: MsgType.Rread, tag: m.tag, data: new Uint8Array(0) };
    const i = binarySearch(offsets, off);
    if (i < 0) throw new NinepError(Ebadoffset);
    return this.serveDir(fid, i, count, m.tag);
  }

  private serveDir(fid: Fid, first: number, count: number, tag: number): RMessage {
    const entries = fid.dirEntries!;
    let n = 0;
    let i = first;
    while (i < entries.length && n + entries[i]!.length <= count) n += entries[i++]!.length;
    if (i === first && i < entries.length) throw new NinepError(Eshort);
    const data = entries.length === 0 ? new Uint8Array(0) : Buffer.concat(entries.slice(first, i), n);
    return { type: MsgType.Rread, tag, data };
  }

  /** Twrite; `parts`/`count`: its data as scattered views (see onScattered). */
  private write(req: Request, m: Twrite, parts?: Uint8Array[], count = m.data.length): MaybePromise<RMessage> {
    const fid = this.fid(m.fid);
    const of = fid.open;
    if (!of) throw new NinepError(Enotopen);
    const rw = fid.openMode & 3;
    if (rw !== OWRITE && rw !== ORDWR) throw new NinepError('bad use of fid');
    if (isDir(fid.node)) throw new NinepError(Eisdir);
    if (!of.write && !of.writev) throw new NinepError(Eperm);
    const done = (n: number): RMessage => {
      if (n === 0 && count > 0) throw new NinepError(Eio);
      return { type: MsgType.Rwrite, tag: m.tag, count: Math.min(n, count) };
    };
    return this.withFid(fid, () => {
      let n: MaybePromise<number>;
      if (parts && of.writev) n = of.writev(m.offset, parts, req.signal);
      else if (of.write) n = of.write(m.offset, parts ? Buffer.concat(parts, count) : m.data, req.signal);
      else n = of.writev!(m.offset, [m.data], req.signal);
      return n instanceof Promise ? n.then(done) : done(n);
    });
  }

  private clunk(m: Tclunk): RMessage {
    const fid = this.fid(m.fid);
    this.fids.delete(m.fid);
    this.releaseFid(fid);
    return { type: MsgType.Rclunk, tag: m.tag };
  }

  private remove(m: Tremove): RMessage {
    const fid = this.fid(m.fid);
    this.fids.delete(m.fid);
    this.releaseFid(fid);
    throw new NinepError(Eperm);
  }

  private stat(m: Tstat): RMessage {
    const fid = this.fid(m.fid);
    return { type: MsgType.Rstat, tag: m.tag, stat: this.fixStat(fid.node.stat(), fid) };
  }

  private wstat(_req: Request, m: Twstat): MaybePromise<RMessage> {
    const fid = this.fid(m.fid);
    const d = m.stat;
    const ok: RMessage = { type: MsgType.Rwstat, tag: m.tag };
    const onlyTimesOrLength =
      d.type === NOCHANGE16 && d.dev === NOCHANGE32 && d.qid.type === 0xff && d.qid.vers === NOCHANGE32 &&
      d.qid.path === NOCHANGE64 && d.mode === NOCHANGE32 && d.name === '' && d.uid === '' && d.gid === '' &&
      (d.extension === undefined || d.extension === '');
    // Nothing but times and/or a truncation to 0 (Linux sends length 0 and
    // mtime after O_TRUNC, all "don't touch" for fsync): accept as a no-op.
    if (onlyTimesOrLength && (d.length === NOCHANGE64 || d.length === 0n)) return ok;
    const node = fid.node;
    if (!node.wstat) throw new NinepError(Eperm);
    const r = node.wstat(d, fid.user);
    return r instanceof Promise ? r.then(() => ok) : ok;
  }

  /**
   * Dialect-specific stat fields. In 9P2000.u Linux takes inode owners from
   * n_uid/n_gid: numeric names are used as they are; other owners (network,
   * the host owner) are reported as the attaching user's number, because an
   * unknown uid (~0) would take away root's permission override in the
   * guest and make every O_CREAT open (shell `>`) fail.
   */
  private fixStat(d: Dir, fid: Fid): Dir {
    if (this.dialect !== VERSION_9P2000U) {
      if (d.extension === undefined) return d;
      const { extension: _e, nUid: _u, nGid: _g, nMuid: _m, ...plain } = d;
      return plain;
    }
    const num = (s: string): number => (/^\d{1,9}$/.test(s) ? Number(s) : fid.nUname);
    return {
      ...d,
      extension: d.extension ?? '',
      nUid: d.nUid ?? num(d.uid),
      nGid: d.nGid ?? num(d.gid),
      nMuid: d.nMuid ?? num(d.muid),
    };
  }
}

const EMPTY = new Uint8Array(0);

function rread(tag: number, data: Uint8Array, count: number): RMessage {
  return { type: MsgType.Rread, tag, data: data.length > count ? data.subarray(0, count) : data };
}

function binarySearch(a: number[], x: number): number {
  let lo = 0;
  let hi = a.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const v = a[mid]!;
    if (v === x) return mid;
    if (v < x) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

/** A one-line description of a message for tracing. */
export function fmt(m: Fcall): string {
  const name = MsgType[m.type] ?? String(m.type);
  const rest: string[] = [];
  for (const [k, v] of Object.entries(m)) {
    if (k === 'type') continue;
    if (v instanceof Uint8Array) rest.push(`${k}[${v.length}]`);
    else if (typeof v === 'object' && v !== null) rest.push(`${k}=${JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x))}`);
    else rest.push(`${k}=${typeof v === 'string' ? JSON.stringify(v) : String(v)}`);
  }
  return `${name} ${rest.join(' ')}`;
}

