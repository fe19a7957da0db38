/**
 * A protocol directory, /net/<proto>, as 9front devip serves it
 * (9/ip/devip.c): clone, stats, and one directory per conversation with
 * ctl, data, err, listen, local, remote and status.
 *
 * Generic behaviour lives here: conversation allocation (lowest free),
 * ownership and 9front's strict permission test, reference counting (the
 * last close closes the conversation), the generic ctl verbs with devip's
 * address parsing and error strings, and blocking, flushable `listen`.
 */
import { Interrupted, NinepError, Eperm } from '../ninep/error.js';
import { readSlice } from '../ninep/node.js';
import type { MaybePromise, Node, OpenFile, OpenRequest, Signal } from '../ninep/node.js';
import { Conv, MAX_BACKLOG } from './conv.js';
import { Einuse, Elistenhungup, Enoconv, Enotannounced, guarded } from './errors.js';
import { captureFile } from './capture.js';
import { eventsFile } from './events.js';
import type { LocalSpec, Proto, RemoteSpec } from './conv.js';
import { ctlText, tokenize } from './ctl.js';
import { formatIp, isUnspecified, parseIp } from './ipaddr.js';
import { Q, ipQid } from './qid.js';
import { SynthDir, SynthFile, readOnly, snapshotText, textFile, wantsWrite } from '../ninep/synth.js';
import type { Dir } from '../ninep/types.js';

export interface NetContext {
  /** The host owner: passes every conversation permission check. */
  eve: string;
  /**
   * Conversations one user (other than eve) may hold per protocol, calls
   * accepted on their announcements included (default: three quarters of
   * the table, so a user who takes all theirs leaves the rest to others).
   */
  userQuota?: number;
}

export { Eunknownctl } from './errors.js';

export class ProtoDir {
  readonly convs: Conv[] = [];
  readonly node: SynthDir;

  constructor(readonly proto: Proto, readonly protoIndex: number, private readonly ctx: NetContext) {
    this.node = new SynthDir(
      ipQid(Q.protodir, protoIndex),
      () => ({ name: proto.name, uid: 'network', gid: ctx.eve, mode: 0o555 }),
      () => [...this.convs.map((c) => this.convDir(c)), this.cloneNode(), this.statsNode()],
      (name) => this.lookup(name),
    );
  }

  private lookup(name: string): Node | null {
    if (name === 'clone') return this.cloneNode();
    if (name === 'stats') return this.statsNode();
    if (/^(0|[1-9]\d*)$/.test(name)) {
      const c = this.convs[Number(name)];
      return c ? this.convDir(c) : null;
    }
    return null;
  }

  // ---- allocation and lifetime ----

  private recyclable(c: Conv): boolean {
    return c.refs === 0 && c.state === 'Idle' && !c.queued && !this.proto.inuse?.(c);
  }

  /** The most conversations `owner` may hold (eve: the whole table). */
  quota(owner: string): number {
    if (owner === this.ctx.eve) return this.proto.maxConvs;
    return this.ctx.userQuota ?? Math.floor((this.proto.maxConvs * 3) / 4);
  }

  /** Conversations `owner` holds now. */
  held(owner: string): number {
    let n = 0;
    for (const c of this.convs) if (c.owner === owner && !this.recyclable(c)) n++;
    return n;
  }

  /**
   * Allocate the lowest free conversation, or null when the table is full
   * or `owner` holds their quota.
   */
  allocate(owner: string): Conv | null {
    if (this.held(owner) >= this.quota(owner)) return null;
    for (const c of this.convs) {
      if (this.recyclable(c)) {
        c.reset(owner);
        return c;
      }
    }
    if (this.convs.length >= this.proto.maxConvs) return null;
    const c = new Conv(this.convs.length, this.proto);
    c.reset(owner);
    this.convs.push(c);
    return c;
  }

  /**
   * A call arrived on announced conversation `parent`: allocate its
   * conversation (Connected, owned by the parent's owner) and queue it for
   * `listen`. Returns null when the backlog or the table is full; the
   * caller then refuses the call.
   */
  newCall(parent: Conv, setup: (c: Conv) => void): Conv | null {
    if (!this.callRoom(parent)) return null;
    const c = this.allocate(parent.owner);
    if (!c) return null;
    c.state = 'Connected';
    c.queued = true;
    setup(c);
    const l = parent.listeners.shift();
    if (l) {
      c.queued = false;
      c.refs++;
      l.resolve(c);
    } else {
      parent.incall.push(c);
    }
    return c;
  }

  /**
   * Whether a call arriving now on `parent` would be queued: it is
   * announced, its queue of unaccepted calls is under its backlog, and the
   * table has a free conversation. A backend that can leave calls waiting
   * below us (the kernel's accept queue, a SYN the peer retransmits) asks
   * this first and leaves the call there while it is false.
   */
  callRoom(parent: Conv): boolean {
    if (parent.state !== 'Announced' || parent.incall.length >= parent.backlog) return false;
    if (this.held(parent.owner) >= this.quota(parent.owner)) return false;
    return this.convs.length < this.proto.maxConvs || this.convs.some((c) => this.recyclable(c));
  }

  /** Told when an announced conversation's queue of calls shrinks (a listen took one). */
  onCallTaken: ((parent: Conv) => void) | null = null;

  /** Wake pending listens with "listen hungup" (hangup of an announcement). */
  hangupListeners(c: Conv): void {
    for (const l of c.listeners.splice(0)) l.reject(new NinepError(Elistenhungup));
  }

  private incref(c: Conv, user: string): void {
    if (c.refs === 0 && c.state === 'Idle' && !c.queued) {
      // First open of an idle conversation: the opener owns it.
      c.owner = user;
      c.perm = 0o660;
    }
    c.refs++;
  }

  private decref(c: Conv): void {
    if (c.refs <= 0) return;
    if (--c.refs > 0) return;
    this.closeConv(c);
  }

  /** The last reference went away (devip closeconv). */
  private closeConv(c: Conv): void {
    for (const call of c.incall.splice(0)) {
      call.queued = false;
      this.proto.close(call);
      this.finish(call);
    }
    this.hangupListeners(c);
    this.proto.close(c);
    this.finish(c);
    // Free now: a transport holding calls below us for want of a conversation may offer one.
    this.proto.freed?.();
  }

  private finish(c: Conv): void {
    c.rq.hangup();
    c.eq.hangup();
    c.owner = 'network';
    c.perm = 0o660;
    c.state = 'Idle';
    c.ptcl = null;
    c.endWatchers();
  }

  // ---- permissions ----

  /** 9front's test: the owner gets the owner bits, others the other bits, eve passes. */
  private checkPerm(c: Conv, user: string, mode: number): void {
    if (user === this.ctx.eve) return;
    const need = wantsWrite(mode) ? ((mode & 3) === 2 ? 6 : 2) : 4;
    const bits = user === c.owner ? (c.perm >> 6) & 7 : c.perm & 7;
    if ((bits & need) !== need) throw new NinepError(Eperm);
  }

  // ---- nodes ----

  private cloneNode(): Node {
    return new SynthFile(
      ipQid(Q.clone, this.protoIndex),
      () => ({ name: 'clone', uid: 'network', gid: this.ctx.eve, mode: 0o666 }),
      (req) => {
        const c = this.allocate(req.user);
        if (!c) throw new NinepError(Enoconv);
        c.refs++;
        return this.ctlFile(c, req.user);
      },
    );
  }

  private statsNode(): Node {
    return new SynthFile(
      ipQid(Q.stats, this.protoIndex),
      () => ({ name: 'stats', uid: 'network', gid: this.ctx.eve, mode: 0o444 }),
      (req) => {
        readOnly(req.mode);
        if (!this.proto.stats) throw new NinepError('stats not implemented');
        const stats = this.proto.stats.bind(this.proto);
        return snapshotText(() => stats());
      },
    );
  }

  convDir(c: Conv): SynthDir {
    const files = (): Node[] => [
      this.convFile(c, 'ctl', Q.ctl),
      this.convFile(c, 'data', Q.data),
      this.convFile(c, 'err', Q.err),
      this.convFile(c, 'listen', Q.listen),
      this.infoFile(c, 'local', Q.local, () => `${formatIp(c.laddr)}!${c.lport}\n`),
      this.infoFile(c, 'remote', Q.remote, () => `${formatIp(c.raddr)}!${c.rport}\n`),
      this.infoFile(c, 'status', Q.status, () => this.proto.status(c)),
      ...(this.proto.capture ? [this.convFile(c, 'pcap', Q.pcap)] : []),
      ...(this.proto.events ? [this.convFile(c, 'events', Q.events)] : []),
    ];
    return new SynthDir(
      ipQid(Q.convdir, this.protoIndex, c.index),
      () => ({ name: String(c.index), uid: c.owner, gid: this.ctx.eve, mode: 0o555 }),
      files,
      (name) => files().find((f) => f.stat().name === name) ?? null,
    );
  }

  private infoFile(c: Conv, name: string, type: Q, gen: () => string): Node {
    return textFile(
      ipQid(type, this.protoIndex, c.index),
      () => ({ name, uid: c.owner, gid: this.ctx.eve, mode: 0o444 }),
      gen,
    );
  }

  private convFile(c: Conv, name: string, type: Q): Node {
    const length = (): bigint => (type === Q.data ? BigInt(c.rq.length) : type === Q.err ? BigInt(c.eq.length) : 0n);
    return new SynthFile(
      ipQid(type, this.protoIndex, c.index),
      () => ({ name, uid: c.owner, gid: this.ctx.eve, mode: c.perm, length: length() }),
      (req) => this.openConvFile(c, type, req),
      (changes, user) => this.wstatConv(c, type, changes, user),
    );
  }

  private openConvFile(c: Conv, type: Q, req: OpenRequest): MaybePromise<OpenFile> {
    this.checkPerm(c, req.user, req.mode);
    switch (type) {
      case Q.ctl:
        this.incref(c, req.user);
        return this.ctlFile(c, req.user);
      case Q.data:
        this.incref(c, req.user);
        return this.dataFile(c);
      case Q.err:
        if (wantsWrite(req.mode)) throw new NinepError(Eperm);
        this.incref(c, req.user);
        return {
          read: (_o, count, signal) => c.eq.read(count, signal),
          clunk: () => this.decref(c),
        };
      case Q.listen:
        return this.listen(c, req.user, req.signal);
      // Observers hold no reference: a capture does not keep a conversation alive.
      case Q.pcap:
        return captureFile(this.proto.capture!(c));
      case Q.events:
        if (wantsWrite(req.mode)) throw new NinepError(Eperm);
        return eventsFile(this.proto.events!(c));
      default:
        throw new NinepError(Eperm);
    }
  }

  /** wstat on ctl and data: the owner or eve may change uid and mode (masked 0666). */
  private wstatConv(c: Conv, type: Q, d: Dir, user: string): void {
    if (type !== Q.ctl && type !== Q.data) throw new NinepError(Eperm);
    if (user !== c.owner && user !== this.ctx.eve) throw new NinepError(Eperm);
    if (d.uid !== '') {
      if (d.uid !== user && user !== this.ctx.eve) throw new NinepError(Eperm);
      c.owner = d.uid;
    }
    if (d.mode !== 0xffffffff) c.perm = d.mode & 0o666;
  }

  /** The OpenFile a fid becomes for a conversation's ctl (also after clone and listen). */
  private ctlFile(c: Conv, user: string): OpenFile {
    return {
      node: this.convFile(c, 'ctl', Q.ctl),
      read: (offset, count) => readSlice(Buffer.from(String(c.index)), offset, count),
      write: (_offset, data, signal) => {
        const r = guarded(() => this.ctl(c, tokenize(ctlText(data)), signal, user));
        return r instanceof Promise ? r.then(() => data.length) : data.length;
      },
      clunk: () => this.decref(c),
    };
  }

  private dataFile(c: Conv): OpenFile {
    return {
      read: (_offset, count, signal) => c.rq.read(count, signal),
      write: (_offset, data, signal) => guarded(() => this.proto.write(c, data, signal)),
      writev: (_offset, parts, signal) =>
        guarded(() => (this.proto.writev ? this.proto.writev(c, parts, signal) : this.proto.write(c, Buffer.concat(parts), signal))),
      clunk: () => this.decref(c),
    };
  }

  private listen(c: Conv, user: string, signal: Signal): MaybePromise<OpenFile> {
    if (c.state !== 'Announced') throw new NinepError(Enotannounced);
    // devip: a listen on an announcement that was hung up fails at once.
    if (c.rq.isHungup) throw new NinepError(Elistenhungup);
    const take = (call: Conv): OpenFile => this.ctlFile(call, user);
    const ready = c.incall.shift();
    if (ready) {
      ready.queued = false;
      ready.refs++;
      this.onCallTaken?.(c);
      return take(ready);
    }
    // Wait for a call; the pending listen holds a reference on the announcer.
    c.refs++;
    return new Promise<Conv>((resolve, reject) => {
      const entry: { resolve: (c: Conv) => void; reject: (e: Error) => void } = { resolve, reject };
      const onAbort = (): void => {
        const i = c.listeners.indexOf(entry);
        if (i >= 0) c.listeners.splice(i, 1);
        reject(new Interrupted());
      };
      entry.resolve = (call: Conv) => { signal.removeEventListener('abort', onAbort); resolve(call); };
      entry.reject = (e: Error) => { signal.removeEventListener('abort', onAbort); reject(e); };
      signal.addEventListener('abort', onAbort, { once: true });
      c.listeners.push(entry);
    }).then(
      (call) => {
        this.decref(c);
        return take(call);
      },
      (e: unknown) => {
        this.decref(c);
        throw e;
      },
    );
  }

  // ---- ctl ----

  private ctl(c: Conv, f: string[], signal: Signal, user: string): MaybePromise<void> {
    if (f.length === 0) throw new NinepError('short control request');
    switch (f[0]) {
      case 'connect': return this.connect(c, f, signal, user);
      case 'announce': return this.announce(c, f, signal, user);
      case 'bind': return this.bind(c, f, signal, user);
      case 'ttl': c.ttl = f.length > 1 ? clampInt(f[1]!, 0, 255, 255) : 255; return this.proto.option?.(c, f, signal);
      case 'tos': c.tos = f.length > 1 ? clampInt(f[1]!, 0, 255, 0) : 0; return this.proto.option?.(c, f, signal);
      case 'ignoreadvice': c.ignoreadvice = true; return this.proto.option?.(c, f, signal);
      case 'backlog': return this.backlog(c, f, signal);
      default: return this.proto.ctl(c, f, signal);
    }
  }

  /**
   * `backlog N` (ours; Plan 9 fixes it at Maxincall, 64): how many
   * completed calls may wait for `listen`, 1 to MAX_BACKLOG; before or
   * after announce.
   */
  private backlog(c: Conv, f: string[], signal: Signal): MaybePromise<void> {
    const n = f.length === 2 && /^\d+$/.test(f[1]!) ? Number(f[1]) : NaN;
    if (!(n >= 1 && n <= MAX_BACKLOG)) throw new NinepError('bad arg in system call');
    c.backlog = n;
    return this.proto.option?.(c, f, signal);
  }

  private connect(c: Conv, f: string[], signal: Signal, user: string): MaybePromise<void> {
    if (f.length < 2 || f.length > 3) throw new NinepError('bad args to connect');
    if (!this.proto.connect) throw new NinepError('connect not supported');
    if (c.state !== 'Idle') throw new NinepError(Einuse);
    const remote = parseRemote(f[1]!);
    const local = f.length === 3 ? this.parseLocal(f[2]!) : null;
    if (remote.restricted) this.checkPrivileged(600, user);
    if (local) this.checkPrivileged(local.port, user);
    c.state = 'Connecting';
    c.raddr = remote.addr;
    c.rport = remote.port;
    c.restricted = remote.restricted;
    if (local) {
      c.laddr = local.addr ?? c.laddr;
      c.lport = local.port;
    }
    return this.proto.connect(c, remote, local, signal).then(() => {
      c.state = 'Connected';
    });
  }

  private announce(c: Conv, f: string[], signal: Signal, user: string): MaybePromise<void> {
    if (f.length !== 2) throw new NinepError('bad args to announce');
    if (!this.proto.announce) throw new NinepError('announce not supported');
    if (c.state !== 'Idle') throw new NinepError(Einuse);
    const local = this.parseLocal(f[1]!);
    if (local.anyPort && c.owner !== this.ctx.eve) throw new NinepError(Eperm);
    this.checkPrivileged(local.port, user);
    const was = { laddr: c.laddr, lport: c.lport };
    // A failed announce leaves the conversation as it was (9front checks
    // the port before it sets the local address).
    const undo = (e: unknown): never => {
      if (c.state === 'Announcing') {
        c.state = 'Idle';
        c.laddr = was.laddr;
        c.lport = was.lport;
      }
      throw e;
    };
    c.state = 'Announcing';
    c.laddr = local.addr ?? c.laddr;
    c.lport = local.port;
    let p: Promise<void>;
    try {
      p = this.proto.announce(c, local, signal);
    } catch (e) {
      return undo(e);
    }
    return p.then(() => { c.state = 'Announced'; }, undo);
  }

  private bind(c: Conv, f: string[], signal: Signal, user: string): MaybePromise<void> {
    if (f.length !== 2) throw new NinepError('bad args to bind');
    const local = this.parseLocal(f[1]!);
    this.checkPrivileged(local.port, user);
    if (local.addr) c.laddr = local.addr;
    c.lport = local.port;
    return this.proto.bind?.(c, local, signal);
  }

  /**
   * Ports below 1024 are the host's privilege where the transport is the
   * host's own sockets and 9net runs as root (Proto.privilegedPorts): only
   * the host owner may take them, so no attached user gets what only root
   * has on that host.
   */
  private checkPrivileged(port: number, user: string): void {
    if (port > 0 && port < 1024 && this.proto.privilegedPorts && user !== this.ctx.eve) throw new NinepError(Eperm);
  }

  /** `[A!]P[!r]` (devip setladdrport). */
  private parseLocal(s: string): LocalSpec {
    let text = s;
    const bang = text.indexOf('!');
    if (bang >= 0 && text.slice(bang + 1) === 'r') text = text.slice(0, bang);
    let addrText: string | null = null;
    let portText = text;
    const i = text.indexOf('!');
    if (i >= 0) {
      addrText = text.slice(0, i);
      portText = text.slice(i + 1);
      const j = portText.indexOf('!');
      if (j >= 0) portText = portText.slice(0, j);
    }
    let addr = null;
    if (addrText !== null && addrText !== '*') {
      addr = parseIp(addrText);
      if (!addr) throw new NinepError('bad ip address syntax');
      if (!isUnspecified(addr) && !this.proto.isLocal(addr)) throw new NinepError('not a local IP address');
      if (isUnspecified(addr)) addr = null;
    }
    if (portText === '*') return { addr, port: 0, anyPort: true };
    if (!/^-?\d+$/.test(portText)) throw new NinepError('bad numeric port');
    const port = Number(portText);
    if (port > 65535) throw new NinepError('bad numeric port');
    return { addr, port: port > 0 ? port : 0, anyPort: false };
  }
}

/** `A!P[!r]` (devip setraddrport). */
export function parseRemote(s: string): RemoteSpec {
  const i = s.indexOf('!');
  if (i < 0) throw new NinepError('malformed address');
  const addr = parseIp(s.slice(0, i));
  if (!addr) throw new NinepError('bad ip address syntax');
  const rest = s.slice(i + 1);
  const m = /^(\d+)(!.*)?$/.exec(rest);
  if (!m) throw new NinepError('bad numeric port');
  const port = Number(m[1]);
  if (port > 65535) throw new NinepError('bad numeric port');
  return { addr, port, restricted: (m[2] ?? '').split('!').includes('r') };
}

function clampInt(s: string, lo: number, hi: number, dflt: number): number {
  const n = Number.parseInt(s, 10);
  if (!Number.isFinite(n)) return dflt;
  return Math.max(lo, Math.min(hi, n));
}

