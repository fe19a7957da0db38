/**
 * The TCP layer: plugs into the Stack as IP protocol 6 and as a timer
 * source, demultiplexes segments to connections, limbo entries and
 * listeners, answers segments for nobody with RST (RFC 9293 §3.10.7.1),
 * and hands out connections (connect/listen).
 *
 *     const tcp = new TcpLayer(stack, { recvBuffer: 4 << 20 });
 *     const c = tcp.connect({ remoteAddr, remotePort: 80, handler: { onOpen, onData, onClosed } });
 *     const l = tcp.listen({ localPort: 80, onAccept: (conn) => handler });
 *
 * Bounds: maxConnections connections (Time_wait included), limboSize
 * half-open entries, per-connection send/receive buffers, out-of-order
 * queue (assembler.ts), SACK scoreboard (sack.ts).
 */
import type { Disposable } from '../../link/link.js';
import type { PacketHook } from '../../link/packethook.js';
import { flowHook, packetFrom, packetOf } from '../flow.js';
import type { IcmpAdvice, TimerSource } from '../core.js';
import { Einuse, Enoports, Enotlocal, StackError } from '../error.js';
import type { Ifc } from '../ifc.js';
import { allocEphemeral, allocRestricted } from '../ports.js';
import type { Stack } from '../stack.js';
import { IP_PROTO_TCP, parseIpv4 } from '../wire/ipv4.js';
import type { Ipv4Repr } from '../wire/ipv4.js';
import { get32 } from '../wire/bytes.js';
import { WireError } from '../wire/result.js';
import { parseTcp, TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN } from '../wire/tcp.js';
import type { TcpRepr } from '../wire/tcp.js';
import { TcpConn } from './conn.js';
import type { ConnConfig, ConnHost } from './conn.js';
import { IsnGenerator } from './isn.js';
import { MAX_AGE as COOKIE_MAX_AGE, SynCookies } from './syncookie.js';
import { SYNACK_RETRIES, TcpListener } from './listener.js';
import type { LimboEntry, ListenerHost } from './listener.js';
import { SegmentWriter } from './segment.js';
import { RTO_INITIAL_MS } from './rtt.js';
import { seqAdd, seqGt, seqInRange } from './seq.js';
import { newTcpStats } from './stats.js';
import type { TcpStats } from './stats.js';
import type { TcpConnectOptions, TcpHandler, TcpLayerOptions, TcpListenOptions } from './types.js';

export const TCP_DEFAULT_MAX_CONNECTIONS = 4096;
export const TCP_DEFAULT_LIMBO = 1024;
export const TCP_DEFAULT_BUFFER = 4 * 1024 * 1024;
/** Hard bound on any buffer option. */
export const TCP_MAX_BUFFER = 64 * 1024 * 1024;

export class TcpLayer implements ConnHost, ListenerHost, TimerSource {
  readonly stats: TcpStats = newTcpStats();
  /**
   * SYNs and handshake-completing ACKs dropped because their listener had
   * no room for another call (Linux ListenOverflows; not one of 9front's
   * 28 stats, so not in /net/tcp/stats).
   */
  listenOverflows = 0;
  readonly writer = new SegmentWriter();
  readonly cfg: ConnConfig;
  readonly maxConnections: number;
  readonly limboSize: number;

  /** Connections by localPort·65536 + remotePort. */
  private readonly conns = new Map<number, TcpConn[]>();
  private nconns = 0;
  /** Local port → references (connections + listeners). */
  private readonly portRefs = new Map<number, number>();
  private readonly listeners = new Map<number, TcpListener[]>();
  /** Half-open entries by the same key as conns; insertion order = age. */
  private readonly limbo = new Map<number, LimboEntry[]>();
  private nlimbo = 0;
  private readonly isnGen: IsnGenerator;
  private readonly synCookies: boolean;
  private readonly cookies: SynCookies;
  /** Our timestamp offset in cookie SYN-ACKs and the connections their ACKs make (one for all: cookies are stateless). */
  private readonly cookieTsOffset: number;
  /** When we last answered with a cookie: their ACKs are only looked at within a cookie's lifetime of it. */
  private lastCookieAt = -Infinity;
  /** SYN cookies sent, and connections made from their ACKs. */
  cookiesSent = 0;
  cookiesAccepted = 0;
  private readonly challengeLimit: number;
  private challengeSec = -1;
  /** Connections whose flush waits for the end of the current input batch (at most the table). */
  private readonly dirty = new Set<TcpConn>();
  private challengeCount = 0;
  private readonly subs: Disposable[];

  constructor(
    private readonly stack: Stack,
    opts: TcpLayerOptions = {},
  ) {
    const buf = (v: number | undefined, d: number): number => {
      const x = v ?? d;
      if (!Number.isInteger(x) || x < 1024 || x > TCP_MAX_BUFFER) throw new RangeError(`bad tcp buffer size ${x}`);
      return x;
    };
    this.cfg = {
      sendBuffer: buf(opts.sendBuffer, TCP_DEFAULT_BUFFER),
      recvBuffer: buf(opts.recvBuffer, TCP_DEFAULT_BUFFER),
      timeWaitMs: opts.timeWaitMs ?? 60_000,
      synTimeoutMs: opts.synTimeoutMs ?? 127_000,
      rtxTimeoutMs: opts.rtxTimeoutMs ?? 540_000,
      delayedAckMs: opts.delayedAckMs ?? 40,
      minRtoMs: opts.minRtoMs ?? 200,
      congestion: opts.congestion ?? 'cubic',
      windowScaling: opts.windowScaling ?? true,
      timestamps: opts.timestamps ?? true,
      sack: opts.sack ?? true,
      batchInput: opts.batchInput ?? false,
    };
    this.maxConnections = opts.maxConnections ?? TCP_DEFAULT_MAX_CONNECTIONS;
    this.limboSize = opts.limboSize ?? TCP_DEFAULT_LIMBO;
    this.challengeLimit = opts.challengeAckLimit ?? 1000;
    this.stats.MaxConn = this.maxConnections;
    this.stats.MaxSegment = 0xffff - 40;
    this.isnGen = new IsnGenerator(stack.rng);
    this.synCookies = opts.synCookies ?? true;
    this.cookies = new SynCookies(stack.rng);
    this.cookieTsOffset = stack.rng.u32();
    this.subs = [
      stack.registerProtocol(IP_PROTO_TCP, {
        input: (ip, payload, ifc, now) => this.input(ip, payload, ifc, now),
        advise: (a, now) => this.advise(a, now),
      }),
      stack.addTimerSource(this),
      stack.onInputBatchEnd((now) => this.flushBatch(now)),
    ];
  }

  /** Connections in the table (Time_wait included). */
  get size(): number {
    return this.nconns;
  }
  /** Half-open entries in limbo. */
  get limboCount(): number {
    return this.nlimbo;
  }

  /** All connections (a copy). */
  connections(): TcpConn[] {
    const out: TcpConn[] = [];
    for (const l of this.conns.values()) out.push(...l);
    return out;
  }

  /** Unregisters from the stack; connections are dropped without RST. */
  dispose(): void {
    for (const s of this.subs) s.dispose();
    this.conns.clear();
    this.limbo.clear();
    this.listeners.clear();
  }

  // ------------------------------------------------------------------
  // User calls

  /**
   * Active open. Completion is reported by handler.onOpen, failure by
   * handler.onClosed(reason) with `connection refused`, `connection timed
   * out` or an ICMP reason.
   * @throws StackError `no route`, `not a local IP address`, `address in use`,
   *   `no ports available`, `no free devices` (maxConnections)
   */
  connect(opts: TcpConnectOptions): TcpConn {
    const now = this.stack.now();
    const ra = opts.remoteAddr >>> 0;
    const rp = opts.remotePort;
    if (!Number.isInteger(rp) || rp < 0 || rp > 0xffff) throw new StackError('bad numeric port');
    let la = (opts.localAddr ?? 0) >>> 0;
    if (la !== 0 && !this.stack.isLocal(la)) throw new StackError(Enotlocal);
    if (la === 0) la = this.stack.sourceFor(ra);
    if (la === 0) throw new StackError('no route');
    let lp = opts.localPort ?? 0;
    if (lp === 0) {
      const inUse = (p: number): boolean => this.portRefs.has(p);
      lp = opts.restricted ? allocRestricted(inUse) : allocEphemeral(this.stack.rng, inUse);
      if (lp < 0) throw new StackError(Enoports);
    } else {
      if (!Number.isInteger(lp) || lp < 1 || lp > 0xffff) throw new StackError('bad numeric port');
      const old = this.find(la, lp, ra, rp);
      if (old !== null) {
        if (old.state !== 'Time_wait') throw new StackError(Einuse);
        old.kill(now); // reuse of a Time_wait four-tuple (RFC 6191 spirit; Plan 9 allows it)
      }
    }
    if (this.nconns >= this.maxConnections) throw new StackError('no free devices');
    const conn = new TcpConn(this, la, lp, ra, rp, this.mtuTo(ra, la), opts.handler, opts.autoConsume ?? true, false);
    conn.ttl = opts.ttl ?? 255;
    conn.tos = opts.tos ?? 0;
    conn.ignoreAdvice = opts.ignoreAdvice ?? false;
    this.add(conn);
    opts.setup?.(conn);
    const iss = this.isnGen.isn(la, lp, ra, rp, now);
    conn.openActive(iss, this.stack.rng.u32(), now);
    return conn;
  }

  /**
   * Passive open (Plan 9 `announce`).
   * @throws StackError `address in use`, `not a local IP address`, `no ports available`
   */
  listen(opts: TcpListenOptions): TcpListener {
    let la = (opts.localAddr ?? 0) >>> 0;
    if (la !== 0 && !this.stack.isLocal(la)) throw new StackError(Enotlocal);
    let lp = opts.localPort;
    if (lp === 0) {
      lp = allocEphemeral(this.stack.rng, (p) => this.portRefs.has(p));
      if (lp < 0) throw new StackError(Enoports);
    } else if (!Number.isInteger(lp) || lp < 1 || lp > 0xffff) throw new StackError('bad numeric port');
    const list = this.listeners.get(lp) ?? [];
    if (list.some((l) => l.localAddr === la)) throw new StackError(Einuse);
    la >>>= 0;
    const backlog = Math.max(1, Math.min(opts.backlog ?? 128, this.limboSize));
    const admit = opts.admit ?? (() => true);
    const l = new TcpListener(la, lp, backlog, opts.onAccept, opts.autoConsume ?? true, () => admit(), this);
    l.ttl = opts.ttl ?? 255;
    l.tos = opts.tos ?? 0;
    list.push(l);
    this.listeners.set(lp, list);
    this.ref(lp, 1);
    return l;
  }

  /** @internal ListenerHost: the listener closed. */
  unlisten(l: TcpListener): void {
    const list = this.listeners.get(l.localPort);
    if (list === undefined) return;
    const i = list.indexOf(l);
    if (i < 0) return;
    list.splice(i, 1);
    if (list.length === 0) this.listeners.delete(l.localPort);
    this.ref(l.localPort, -1);
    for (const [k, entries] of this.limbo) {
      const keep = entries.filter((e) => e.listener !== l);
      this.nlimbo -= entries.length - keep.length;
      if (keep.length === 0) this.limbo.delete(k);
      else this.limbo.set(k, keep);
    }
    l.limboCount = 0;
  }

  /** True if some connection or listener uses local port `port`. */
  portInUse(port: number): boolean {
    return this.portRefs.has(port);
  }

  // ------------------------------------------------------------------
  // ConnHost

  emit(conn: TcpConn, now: number): void {
    this.stats.OutSegs++;
    this.writer.prepare();
    if (conn.flow !== null) {
      conn.flow.out(packetFrom(this.writer, IP_PROTO_TCP, conn.localAddr, conn.remoteAddr, conn.ttl, conn.tos), null);
      return;
    }
    this.stack.output(conn.localAddr, conn.remoteAddr, IP_PROTO_TCP, conn.ttl, conn.tos, false, null, this.writer, now);
  }

  schedule(deadline: number): void {
    this.stack.schedule(deadline);
  }

  release(conn: TcpConn): void {
    const list = this.conns.get(conn.key);
    if (list === undefined) return;
    const i = list.indexOf(conn);
    if (i < 0) return;
    list.splice(i, 1);
    if (list.length === 0) this.conns.delete(conn.key);
    this.nconns--;
    this.ref(conn.localPort, -1);
  }

  accept(conn: TcpConn): TcpHandler | null {
    const l = this.findListener(conn.localAddr, conn.localPort);
    if (l === null) return null;
    conn.setAutoConsume(l.autoConsume);
    return l.onAccept(conn);
  }

  /** @internal */
  deferFlush(conn: TcpConn): void {
    this.dirty.add(conn);
  }

  /** The stack's input batch is over: one flush per connection that received (batchInput). */
  private flushBatch(now: number): void {
    if (this.dirty.size === 0) return;
    for (const c of this.dirty) if (c.state !== 'Closed') c.flush(now);
    this.dirty.clear();
  }

  challengeAllowed(now: number): boolean {
    const sec = Math.floor(now / 1000);
    if (sec !== this.challengeSec) {
      this.challengeSec = sec;
      this.challengeCount = 0;
    }
    return this.challengeCount++ < this.challengeLimit;
  }

  // ------------------------------------------------------------------
  // TimerSource

  pollAt(): number | null {
    let t = Infinity;
    for (const list of this.conns.values()) {
      for (const c of list) {
        const x = c.pollAt();
        if (x !== null && x < t) t = x;
      }
    }
    for (const list of this.limbo.values()) for (const e of list) if (e.rtxAt < t) t = e.rtxAt;
    return t === Infinity ? null : t;
  }

  poll(now: number): void {
    for (const list of [...this.conns.values()]) {
      for (const c of [...list]) {
        const x = c.pollAt();
        if (x !== null && x <= now) c.poll(now);
      }
    }
    for (const [k, list] of [...this.limbo]) {
      for (const e of [...list]) {
        if (e.rtxAt > now) continue;
        if (e.retries >= SYNACK_RETRIES) {
          this.dropLimbo(k, e);
          continue;
        }
        e.retries++;
        e.rtxAt = now + RTO_INITIAL_MS * 2 ** e.retries;
        this.stats.RetransSegs++;
        this.sendSynAck(e, now);
      }
    }
  }

  // ------------------------------------------------------------------
  // Flow hooks

  /**
   * The hook on `conn`'s segments only (its /net/tcp/N/pcap and ctl
   * `impair`), made on first use; dropIdleFlow() removes it once nothing
   * is attached. Segments pass it between the connection and IP.
   */
  flowHook(conn: TcpConn): PacketHook<Ifc | null> {
    conn.flow ??= flowHook(this.stack, this.stack.clock, (pkt, ifc) => this.hookedInput(pkt, ifc), () => this.flushBatch(this.stack.now()));
    return conn.flow;
  }

  dropIdleFlow(conn: TcpConn): void {
    if (conn.flow?.idle) conn.flow = null;
  }

  /** A segment its connection's hook let through (now or later). */
  private hookedInput(pkt: Uint8Array, ifc: Ifc | null): void {
    const ip = parseIpv4(pkt, false);
    if (ip instanceof WireError) return;
    const seg = parseTcp(ip.payload, ip.src, ip.dst, false);
    if (seg instanceof WireError) return;
    this.demux(ip, seg, ifc, this.stack.now(), true);
  }

  // ------------------------------------------------------------------
  // Input

  private input(ip: Ipv4Repr, payload: Uint8Array, ifc: Ifc, now: number): void {
    const st = this.stats;
    st.InSegs++;
    if (!this.stack.isLocal(ip.dst)) {
      this.stack.drop('tcp', 'not unicast');
      return;
    }
    const seg = parseTcp(payload, ip.src, ip.dst);
    if (seg instanceof WireError) {
      st.InErrs++;
      if (seg === WireError.badChecksum) st.CsumErrs++;
      else if (seg === WireError.badHeaderLength) st.HlenErrs++;
      else if (seg === WireError.truncated) st.LenErrs++;
      this.stack.drop('tcp', seg.reason);
      return;
    }
    this.demux(ip, seg, ifc, now, false);
  }

  /** A valid segment to its connection, limbo entry or listener; `hooked`: its connection's hook passed it. */
  private demux(ip: Ipv4Repr, seg: TcpRepr, ifc: Ifc | null, now: number, hooked: boolean): void {
    const conn = this.find(ip.dst, seg.dstPort, ip.src, seg.srcPort);
    if (conn !== null) {
      // RFC 6191: a new SYN may reuse a Time_wait four-tuple when its sequence number is higher.
      if (
        conn.state === 'Time_wait' &&
        (seg.flags & (TCP_SYN | TCP_ACK | TCP_RST)) === TCP_SYN &&
        seqGt(seg.seq, conn.rcvNxt) &&
        this.findListener(ip.dst, seg.dstPort) !== null
      ) {
        conn.kill(now);
      } else {
        if (conn.flow !== null && !hooked) conn.flow.in(packetOf(ip, ip.payload), ifc);
        else conn.input(seg, now);
        return;
      }
    }
    const key = seg.dstPort * 0x10000 + seg.srcPort;
    const lim = this.limbo.get(key);
    if (lim !== undefined) {
      for (const e of lim) {
        if (e.remoteAddr === ip.src && e.localAddr === ip.dst) {
          this.limboInput(key, e, seg, now);
          return;
        }
      }
    }
    const l = this.findListener(ip.dst, seg.dstPort);
    if (l !== null) {
      this.listenInput(l, ip, seg, now);
      return;
    }
    this.resetFor(ip.dst, ip.src, seg, now);
  }

  /** RFC 9293 §3.10.7.2 LISTEN. */
  private listenInput(l: TcpListener, ip: Ipv4Repr, seg: TcpRepr, now: number): void {
    const f = seg.flags;
    if (f & TCP_RST) return;
    if (f & TCP_ACK) {
      if ((f & TCP_SYN) === 0 && this.cookieAck(l, ip, seg, now)) return;
      this.resetFor(ip.dst, ip.src, seg, now);
      return;
    }
    if (!(f & TCP_SYN)) return;
    if (!l.admit()) {
      // No room for another call: no answer, the client retransmits (listener.ts).
      this.listenOverflow();
      return;
    }
    const full = l.limboCount >= l.backlog || this.nlimbo >= this.limboSize;
    if (full && this.synCookies) {
      // Half-open entries are full (a flood): the SYN-ACK carries the connection (syncookie.ts).
      this.sendCookie(l, ip, seg, now);
      return;
    }
    // Limbo bounds: per listener (backlog), then overall; drop the oldest.
    if (l.limboCount >= l.backlog) this.evictOldest(l);
    if (this.nlimbo >= this.limboSize) this.evictOldest(null);
    const e = this.halfOpen(l, ip, seg, now);
    const key = e.localPort * 0x10000 + e.remotePort;
    const list = this.limbo.get(key);
    if (list === undefined) this.limbo.set(key, [e]);
    else list.push(e);
    this.nlimbo++;
    l.limboCount++;
    this.stats.PassiveOpens++;
    this.sendSynAck(e, now);
    this.stack.schedule(e.rtxAt);
  }

  /** What a SYN to `l` negotiates. */
  private halfOpen(l: TcpListener, ip: Ipv4Repr, seg: TcpRepr, now: number): LimboEntry {
    const cfg = this.cfg;
    const la = ip.dst;
    return {
      listener: l,
      localAddr: la,
      localPort: seg.dstPort,
      remoteAddr: ip.src,
      remotePort: seg.srcPort,
      iss: this.isnGen.isn(la, seg.dstPort, ip.src, seg.srcPort, now),
      irs: seg.seq,
      peerMss: seg.mss ?? 536,
      peerWscale: cfg.windowScaling && seg.windowScale !== null ? seg.windowScale : -1,
      sackOk: cfg.sack && seg.sackPermitted,
      tsOk: cfg.timestamps && seg.tsVal !== null,
      tsRecent: seg.tsVal ?? 0,
      tsOffset: this.stack.rng.u32(),
      peerWindow: seg.window,
      mtu: this.mtuTo(ip.src, la),
      createdAt: now,
      rtxAt: now + RTO_INITIAL_MS,
      retries: 0,
      ackDropped: false,
    };
  }

  /** A stateless SYN-ACK whose ISS (and timestamp) encode the half-open connection. */
  private sendCookie(l: TcpListener, ip: Ipv4Repr, seg: TcpRepr, now: number): void {
    const e = this.halfOpen(l, ip, seg, now);
    e.iss = this.cookies.iss(e.localAddr, e.localPort, e.remoteAddr, e.remotePort, e.irs, e.peerMss, now);
    e.tsOffset = this.cookieTsOffset;
    this.lastCookieAt = now;
    this.cookiesSent++;
    const ts = e.tsOk ? SynCookies.timestamp((Math.floor(now) + e.tsOffset) >>> 0, e.peerWscale, e.sackOk) : undefined;
    this.sendSynAck(e, now, ts);
  }

  /**
   * A bare ACK for a listener with no limbo entry: the ACK of a cookie
   * SYN-ACK? Then the connection it encodes is made. False when it is no
   * cookie of ours (the caller answers with RST).
   */
  private cookieAck(l: TcpListener, ip: Ipv4Repr, seg: TcpRepr, now: number): boolean {
    if (!this.synCookies || now - this.lastCookieAt > COOKIE_MAX_AGE * 60_000) return false;
    const p = this.cookies.check(ip.dst, seg.dstPort, ip.src, seg.srcPort, seg.seq, seg.ack, seg.tsVal !== null ? seg.tsEcr : null, now);
    if (p === null) return false;
    if (!l.admit()) {
      // No room: drop it; the client's next segment carries the ACK again while the cookie lasts.
      this.listenOverflow();
      return true;
    }
    if (this.nconns >= this.maxConnections) {
      this.resetFor(ip.dst, ip.src, seg, now, l.ttl, l.tos);
      return true;
    }
    const e = this.halfOpen(l, ip, seg, now);
    e.iss = (seg.ack - 1) >>> 0;
    e.irs = (seg.seq - 1) >>> 0;
    e.peerMss = p.mss;
    e.peerWscale = this.cfg.windowScaling ? p.wscale : -1;
    e.sackOk = this.cfg.sack && p.sackOk;
    e.tsOk = this.cfg.timestamps && p.tsOk;
    e.tsOffset = this.cookieTsOffset;
    this.cookiesAccepted++;
    this.stats.PassiveOpens++;
    this.complete(l, e, seg, now);
    return true;
  }

  /** The handshake of `e` completed with `seg`: the connection, handed to `l` by openPassive. */
  private complete(l: TcpListener, e: LimboEntry, seg: TcpRepr, now: number): void {
    const conn = new TcpConn(this, e.localAddr, e.localPort, e.remoteAddr, e.remotePort, e.mtu, {}, true, true);
    conn.ttl = l.ttl;
    conn.tos = l.tos;
    this.add(conn);
    conn.openPassive(e, now);
    conn.input(seg, now);
  }

  private evictOldest(l: TcpListener | null): void {
    for (const [k, list] of this.limbo) {
      for (const e of list) {
        if (l === null || e.listener === l) {
          this.dropLimbo(k, e);
          return;
        }
      }
    }
  }

  private dropLimbo(key: number, e: LimboEntry): void {
    const list = this.limbo.get(key);
    if (list === undefined) return;
    const i = list.indexOf(e);
    if (i < 0) return;
    list.splice(i, 1);
    if (list.length === 0) this.limbo.delete(key);
    this.nlimbo--;
    e.listener.limboCount--;
  }

  /** RFC 9293 §3.10.7.4 for SYN-RECEIVED, for entries still in limbo. */
  private limboInput(key: number, e: LimboEntry, seg: TcpRepr, now: number): void {
    const f = seg.flags;
    if (f & TCP_RST) {
      // RFC 5961 §3.2: only an exactly in-sequence RST kills it.
      if (seg.seq === seqAdd(e.irs, 1)) this.dropLimbo(key, e);
      return;
    }
    if (f & TCP_SYN) {
      if (seg.seq === e.irs) this.sendSynAck(e, now); // retransmitted SYN
      return;
    }
    if (!(f & TCP_ACK)) return;
    const l = e.listener;
    if (seg.ack !== seqAdd(e.iss, 1)) {
      this.resetFor(e.localAddr, e.remoteAddr, seg, now, l.ttl, l.tos);
      return;
    }
    if (!l.admit()) {
      // The handshake is complete but the listener has no room: keep the entry, drop the ACK (listener.ts).
      e.ackDropped = true;
      this.listenOverflow();
      return;
    }
    this.dropLimbo(key, e);
    if (!l.open) return;
    if (this.nconns >= this.maxConnections) {
      this.resetFor(e.localAddr, e.remoteAddr, seg, now, l.ttl, l.tos);
      return;
    }
    this.complete(l, e, seg, now);
  }

  /** `tsVal`: the timestamp to send (a cookie's), else ours for `e`. */
  private sendSynAck(e: LimboEntry, now: number, tsVal?: number): void {
    const w = this.writer;
    w.reset();
    w.srcPort = e.localPort;
    w.dstPort = e.remotePort;
    w.seq = e.iss;
    w.ack = seqAdd(e.irs, 1);
    w.flags = TCP_SYN | TCP_ACK;
    const wnd = Math.min(0xffff, this.cfg.recvBuffer, 256 * 1024);
    w.window = wnd;
    w.mss = Math.max(536, Math.min(0xffff, e.mtu - 40));
    if (e.peerWscale >= 0) {
      let shift = 0;
      while (shift < 14 && this.cfg.recvBuffer >>> shift > 0xffff) shift++;
      w.windowScale = shift;
    }
    w.sackPermitted = e.sackOk;
    if (e.tsOk) {
      w.timestamps = true;
      w.tsVal = tsVal ?? (Math.floor(now) + e.tsOffset) >>> 0;
      w.tsEcr = e.tsRecent;
    }
    w.prepare();
    this.stats.OutSegs++;
    this.stack.output(e.localAddr, e.remoteAddr, IP_PROTO_TCP, e.listener.ttl, e.listener.tos, false, null, w, now);
  }

  private listenOverflow(): void {
    this.listenOverflows++;
    this.stack.drop('tcp', 'listen queue full');
  }

  /** @internal ListenerHost: a call was taken; answer again the oldest handshake held for want of room. */
  roomReturned(l: TcpListener, now: number): void {
    for (const list of this.limbo.values()) {
      for (const e of list) {
        if (e.listener === l && e.ackDropped) {
          e.ackDropped = false;
          this.sendSynAck(e, now);
          return;
        }
      }
    }
  }

  /** RFC 9293 §3.10.7.1: RST for a segment nobody takes (never for a RST), with a listener's ttl/tos when it concerns one. */
  private resetFor(local: number, remote: number, seg: TcpRepr, now: number, ttl = 255, tos = 0): void {
    if (seg.flags & TCP_RST) return;
    const w = this.writer;
    w.reset();
    w.srcPort = seg.dstPort;
    w.dstPort = seg.srcPort;
    w.window = 0;
    if (seg.flags & TCP_ACK) {
      w.seq = seg.ack;
      w.ack = 0;
      w.flags = TCP_RST;
    } else {
      w.seq = 0;
      const len = seg.payload.length + (seg.flags & TCP_SYN ? 1 : 0) + (seg.flags & TCP_FIN ? 1 : 0);
      w.ack = seqAdd(seg.seq, len);
      w.flags = TCP_RST | TCP_ACK;
    }
    w.prepare();
    this.stats.OutSegs++;
    this.stats.OutRsts++;
    this.stack.output(local, remote, IP_PROTO_TCP, ttl, tos, false, null, w, now);
  }

  private advise(a: IcmpAdvice, now: number): void {
    const c = this.find(a.src, a.srcPort, a.dst, a.dstPort);
    if (c === null) return;
    // RFC 5927 §4.1: only about a segment of ours still unacknowledged (a blind ICMP error cannot end a connect).
    if (a.quote.length < 8 || !seqInRange(get32(a.quote, 4), c.sndUna, c.sndMax)) {
      this.stack.drop('tcp', 'advice out of window');
      return;
    }
    const fragNeeded = a.type === 3 && a.code === 4;
    c.advise(a.reason, a.mtu, fragNeeded, now);
  }

  // ------------------------------------------------------------------
  // Tables

  private find(la: number, lp: number, ra: number, rp: number): TcpConn | null {
    const list = this.conns.get(lp * 0x10000 + rp);
    if (list === undefined) return null;
    for (let i = 0; i < list.length; i++) {
      const c = list[i]!;
      if (c.remoteAddr === ra && c.localAddr === la) return c;
    }
    return null;
  }

  private findListener(la: number, lp: number): TcpListener | null {
    const list = this.listeners.get(lp);
    if (list === undefined) return null;
    let any: TcpListener | null = null;
    for (const l of list) {
      if (l.localAddr === la) return l;
      if (l.localAddr === 0) any = l;
    }
    return any;
  }

  private add(conn: TcpConn): void {
    const list = this.conns.get(conn.key);
    if (list === undefined) this.conns.set(conn.key, [conn]);
    else list.push(conn);
    this.nconns++;
    this.ref(conn.localPort, 1);
  }

  private ref(port: number, d: number): void {
    const n = (this.portRefs.get(port) ?? 0) + d;
    if (n <= 0) this.portRefs.delete(port);
    else this.portRefs.set(port, n);
  }

  /** IP MTU of the route toward `dst` (1500 when unknown). */
  private mtuTo(dst: number, src: number): number {
    const r = this.stack.routes.find(dst, src);
    const ifc = r === null ? null : this.stack.routes.outIfc(r);
    return ifc === null ? 1500 : ifc.mtu;
  }
}
