/**
 * The Stack: everything below TCP, smoltcp-style. It owns the interfaces,
 * the routing table, the ARP cache, IPv4 input/output (fragmentation and
 * reassembly), ICMP, UDP and the protocol demux, and it is the only part
 * that holds the Clock: it reads `now` once per received frame or user
 * call and passes it down, and it arms ONE clock timer at the earliest
 * deadline of all its parts (ARP retries/expiry, reassembly timeouts, the
 * loopback queue, registered TimerSources such as TCP).
 *
 * Input path (per frame, allocation-light): Ethernet demux on the raw
 * bytes → parseIpv4 → self/broadcast check → reassembly if fragmented →
 * ICMP / UDP / registered handler by protocol number. Malformed input is
 * dropped and counted (stats.drops, MIB counters); nothing received throws.
 *
 * Output path: route → source address → one allocation holding Ethernet +
 * IPv4 + payload, written top-down (the payload by an IpPayloadWriter or
 * copied from bytes) → fragmentation to the interface MTU if needed → link
 * broadcast/multicast MAC or ARP (which may hold the frame until resolved).
 * Datagrams to our own addresses go through a bounded loopback queue that
 * is drained from the timer (never synchronously inside the sender's call).
 *
 * Forwarding between interfaces is available behind `forwarding` (off by
 * default): TTL decrement, ICMP time exceeded / net unreachable /
 * fragmentation needed, and fragmentation with option copying.
 */
import type { Clock, TimerHandle } from '../lib/clock.js';
import type { Rng } from '../lib/rng.js';
import type { Disposable, Link } from '../link/link.js';
import { FrameAllocator } from './alloc.js';
import { ArpCache, ArpTable } from './arp.js';
import type { ArpHost, ArpTableHost } from './arp.js';
import type {
  IcmpAdvice,
  IpPayloadWriter,
  IpProtocolHandler,
  IpSendOptions,
  SendResult,
  StackCore,
  TimerSource,
} from './core.js';
import { Enotlocal, StackError } from './error.js';
import { IcmpLayer } from './icmp.js';
import { Ifc } from './ifc.js';
import type { IfcAddress, IfcOwner } from './ifc.js';
import {
  copiedOptions,
  fragField,
  fragmentStep,
  ipv4HeaderLenFor,
  isMartianSource,
  isMulticastIp,
  multicastMac,
  Reassembler,
  writeIpv4Header,
  writeIpv4HeaderOptions,
} from './ipv4.js';
import type { ReasmHost } from './ipv4.js';
import { IFC_TAG, RF_BCAST, RF_LOCAL, RF_MCAST, RF_UNI, RouteTable, routeFlagsText } from './route.js';
import { ALL_SYSTEMS, computeSelf } from './self.js';
import type { SelfRef } from './self.js';
import type { Route } from './route.js';
import { DEFAULT_TTL, DropCounters, newIcmpStats, newIpStats, newUdpStats } from './stats.js';
import type { StackStats } from './stats.js';
import { UdpLayer } from './udp.js';
import { emitArp } from './wire/arp.js';
import type { ArpRepr } from './wire/arp.js';
import { EMPTY, get16, get32, put16, put48 } from './wire/bytes.js';
import { checksum } from './wire/checksum.js';
import { ETHERNET_HEADER_LEN, ETHERTYPE_ARP, ETHERTYPE_IPV4, MAC_BROADCAST, macFromBytes } from './wire/ethernet.js';
import { parseArp } from './wire/arp.js';
import { formatIpv4, IP_PROTO_ICMP, IP_PROTO_UDP, IPV4_BROADCAST, IPV4_HEADER_LEN, parseIpv4 } from './wire/ipv4.js';
import type { Ipv4Repr } from './wire/ipv4.js';
import { WireError } from './wire/result.js';

/** Bound on interfaces per stack. */
export const MAX_INTERFACES = 256;
/** Bound on datagrams waiting in the loopback queue. */
export const LOOPBACK_MAX = 1024;
export { ALL_SYSTEMS };


export interface StackOptions {
  clock: Clock;
  rng: Rng;
  /** Debug log sink; nothing is formatted when absent. */
  log?: (msg: string) => void;
  /** Forward datagrams between interfaces (default false). */
  forwarding?: boolean;
}

/** One entry of the self table (/net/ipselftab). */
export interface SelfEntry {
  ip: number;
  /** `u` unicast, `b` broadcast, `m` multicast. */
  type: 'u' | 'b' | 'm';
  /** Number of interface addresses that put it there. */
  refs: number;
  /** Plan 9 flag text, e.g. `4u`. */
  flags: string;
}

/** Handle returned by Stack.registerProtocol / addTimerSource. */
export type { Disposable };

export class Stack implements StackCore, IfcOwner, ArpHost, ArpTableHost, ReasmHost {
  readonly clock: Clock;
  readonly rng: Rng;
  readonly stats: StackStats;
  /** The routing table (/net/iproute). */
  readonly routes: RouteTable;
  /** The ARP table (/net/arp). */
  readonly arp: ArpTable;
  /** UDP endpoints (/net/udp). */
  readonly udp: UdpLayer;
  /** ICMP conversations (/net/icmp). */
  readonly icmp: IcmpLayer;

  private readonly logFn: ((msg: string) => void) | null;
  private readonly reasm: Reassembler;
  private readonly arpCache: ArpCache;
  private readonly frames = new FrameAllocator();
  private ifcs: Ifc[] = [];
  /** Self table: address → RF_UNI/RF_BCAST/RF_MCAST bits (fast input check). */
  private self = new Map<number, SelfRef>();
  private readonly handlers: (IpProtocolHandler | undefined)[] = new Array<IpProtocolHandler | undefined>(256);
  private timerSources: TimerSource[] = [];
  private loopQ: Uint8Array[] = [];
  private loopIfc: Ifc[] = [];
  /** When the oldest queued loopback datagram was queued. */
  private loopDue = 0;
  private ident: number;
  private fwd: boolean;
  private timer: TimerHandle | null = null;
  private armedAt = Infinity;
  private closed = false;

  constructor(opts: StackOptions) {
    this.clock = opts.clock;
    this.rng = opts.rng;
    this.logFn = opts.log ?? null;
    this.stats = { ip: newIpStats(), icmp: newIcmpStats(), udp: newUdpStats(), drops: new DropCounters() };
    this.routes = new RouteTable();
    this.arpCache = new ArpCache(this);
    this.arp = new ArpTable(this.arpCache, this);
    this.reasm = new Reassembler(this.stats.ip, this);
    this.udp = new UdpLayer(this);
    this.icmp = new IcmpLayer(this);
    this.ident = this.rng.u32() & 0xffff;
    this.fwd = false;
    this.forwarding = opts.forwarding ?? false;
  }

  // ------------------------------------------------------------------
  // Configuration

  /** Forward datagrams not addressed to us (Plan 9 `iprouting`). */
  get forwarding(): boolean {
    return this.fwd;
  }
  set forwarding(on: boolean) {
    this.fwd = on;
    this.stats.ip.Forwarding = on ? 1 : 2;
  }

  /**
   * Binds a link as a new interface. The interface attaches to the link at
   * once (a link takes one receiver). `name` defaults to `ether<index>`.
   */
  addInterface(link: Link, name?: string): Ifc {
    if (this.closed) throw new Error('stack is closed');
    if (this.ifcs.length >= MAX_INTERFACES) throw new StackError('no free devices');
    let index = 0;
    while (this.ifcs.some((i) => i.index === index)) index++;
    const ifc = new Ifc(this, link, index, name ?? `ether${index}`);
    this.ifcs.push(ifc);
    return ifc;
  }

  /** Bound interfaces, in creation order (a copy). */
  interfaces(): Ifc[] {
    return [...this.ifcs];
  }

  /** The bound interface that has `ip` as one of its addresses, or null. */
  ifcWithAddress(ip: number): Ifc | null {
    for (const i of this.ifcs) if (i.hasAddress(ip >>> 0)) return i;
    return null;
  }

  /** True if `ip` is one of our unicast addresses. */
  isLocal(ip: number): boolean {
    const s = this.self.get(ip >>> 0);
    return s !== undefined && (s.bits & RF_UNI) !== 0;
  }

  /** `u`, `b` or `m` if `ip` is in the self table, else null. */
  selfType(ip: number): 'u' | 'b' | 'm' | null {
    const s = this.self.get(ip >>> 0);
    if (s === undefined) return null;
    return (s.bits & RF_UNI) !== 0 ? 'u' : (s.bits & RF_BCAST) !== 0 ? 'b' : 'm';
  }

  /** The self table (/net/ipselftab), sorted by address. */
  selfTable(): SelfEntry[] {
    const out: SelfEntry[] = [];
    for (const [ip, s] of this.self) {
      const type = (s.bits & RF_UNI) !== 0 ? 'u' : (s.bits & RF_BCAST) !== 0 ? 'b' : 'm';
      out.push({ ip, type, refs: s.ifcs.length, flags: routeFlagsText(s.bits) });
    }
    return out.sort((a, b) => a.ip - b.ip);
  }

  /**
   * The source address routing picks toward `dst` (Plan 9: the address of
   * the outgoing interface on the next hop's subnet), or 0 if unroutable.
   */
  sourceFor(dst: number): number {
    dst >>>= 0;
    const route = this.routes.find(dst, 0);
    if (route === null) return 0;
    const ifc = this.routes.outIfc(route);
    return ifc === null ? 0 : this.pickSource(route, ifc, dst);
  }

  /**
   * Plugs a transport protocol in by IP protocol number (e.g. 6 for TCP).
   * ICMP (1) and UDP (17) are built in. Throws if the number is taken.
   */
  registerProtocol(protocol: number, handler: IpProtocolHandler): Disposable {
    if (!Number.isInteger(protocol) || protocol < 0 || protocol > 255) throw new RangeError(`bad protocol ${protocol}`);
    if (protocol === IP_PROTO_ICMP || protocol === IP_PROTO_UDP || this.handlers[protocol] !== undefined) {
      throw new Error(`protocol ${protocol} already registered`);
    }
    this.handlers[protocol] = handler;
    return {
      dispose: () => {
        if (this.handlers[protocol] === handler) this.handlers[protocol] = undefined;
      },
    };
  }

  /**
   * Sends an IP datagram through routing, ARP and fragmentation.
   * `body` is copied into the frame, or written in place by an
   * IpPayloadWriter once the source address is known.
   * @throws StackError `not a local IP address` if `opts.src` is not ours
   */
  sendIp(dst: number, protocol: number, body: Uint8Array | IpPayloadWriter, opts: IpSendOptions = {}): SendResult {
    const src = (opts.src ?? 0) >>> 0;
    if (src !== 0 && !this.isLocal(src)) throw new StackError(Enotlocal);
    const isBytes = body instanceof Uint8Array;
    return this.output(
      src,
      dst >>> 0,
      protocol & 0xff,
      (opts.ttl ?? DEFAULT_TTL) & 0xff,
      (opts.tos ?? 0) & 0xff,
      opts.dontFrag ?? false,
      isBytes ? body : null,
      isBytes ? null : body,
      this.now(),
    );
  }

  /** Current time on the stack's clock (ms). */
  now(): number {
    return this.clock.now();
  }

  // ------------------------------------------------------------------
  // The single timer

  /**
   * Makes sure the stack's timer fires no later than `deadline`. Modules
   * (and TCP) call this whenever they create an earlier deadline.
   */
  schedule(deadline: number): void {
    if (this.closed || !(deadline < this.armedAt)) return;
    this.timer?.cancel();
    this.armedAt = deadline;
    this.timer = this.clock.at(deadline, this.onTimer);
  }

  /** Shares the timer with `src` (e.g. TCP): polled when its pollAt() has passed. */
  addTimerSource(src: TimerSource): Disposable {
    this.timerSources = [...this.timerSources, src];
    const t = src.pollAt();
    if (t !== null) this.schedule(t);
    return {
      dispose: () => {
        this.timerSources = this.timerSources.filter((s) => s !== src);
      },
    };
  }

  /** Earliest deadline of every part of the stack, or null when idle. */
  pollAt(): number | null {
    let t = Infinity;
    if (this.loopQ.length > 0) t = this.loopDue;
    const a = this.arpCache.pollAt();
    if (a !== null && a < t) t = a;
    const r = this.reasm.pollAt();
    if (r !== null && r < t) t = r;
    for (const s of this.timerSources) {
      const x = s.pollAt();
      if (x !== null && x < t) t = x;
    }
    return t === Infinity ? null : t;
  }

  /** Runs everything due at `now` (the timer does this; tests may too). */
  poll(now: number = this.clock.now()): void {
    this.drainLoopback(now);
    this.arpCache.poll(now);
    this.reasm.poll(now);
    for (const s of this.timerSources) {
      const x = s.pollAt();
      if (x !== null && x <= now) s.poll(now);
    }
  }

  private readonly onTimer = (): void => {
    this.timer = null;
    this.armedAt = Infinity;
    if (this.closed) return;
    const now = this.clock.now();
    this.poll(now);
    const next = this.pollAt();
    if (next !== null) this.schedule(next < now ? now : next);
  };

  /** Bytes held by IPv4 reassembly (bounded by REASM_MAX_BYTES). */
  get reassemblyBytes(): number {
    return this.reasm.bytes;
  }

  /** Datagrams being reassembled (bounded by REASM_MAX_DATAGRAMS). */
  get reassemblyDatagrams(): number {
    return this.reasm.datagrams;
  }

  /** Unbinds every interface and stops the timer. Links are not closed. */
  close(): void {
    if (this.closed) return;
    for (const i of [...this.ifcs]) i.unbind();
    this.arpCache.flush();
    this.reasm.clear();
    this.loopQ = [];
    this.loopIfc = [];
    this.closed = true;
    this.timer?.cancel();
    this.timer = null;
  }

  // ------------------------------------------------------------------
  // StackCore

  drop(layer: string, reason: string): void {
    this.stats.drops.count(layer, reason);
  }

  log(msg: string): void {
    this.logFn?.(msg);
  }

  output(
    src: number,
    dst: number,
    protocol: number,
    ttl: number,
    tos: number,
    dontFrag: boolean,
    body: Uint8Array | null,
    writer: IpPayloadWriter | null,
    now: number,
  ): SendResult {
    const st = this.stats.ip;
    st.OutRequests++;
    const route = this.routes.find(dst, src);
    const ifc = route === null ? null : this.routes.outIfc(route);
    if (route === null || ifc === null) {
      st.OutNoRoutes++;
      return 'no route';
    }
    if (src === 0) src = this.pickSource(route, ifc, dst);
    const len = body !== null ? body.length : writer!.length;
    const total = IPV4_HEADER_LEN + len;
    if (total > 0xffff) {
      st.OutDiscards++;
      return 'too big';
    }
    const ident = this.ident;
    this.ident = (ident + 1) & 0xffff;
    const frag = dontFrag ? 0x4000 : 0;

    if ((route.flags & RF_UNI) !== 0) {
      const pkt = this.frames.alloc(total);
      if (body !== null) pkt.set(body, IPV4_HEADER_LEN);
      else writer!.write(pkt, IPV4_HEADER_LEN, src, dst);
      writeIpv4Header(pkt, 0, tos, total, ident, frag, ttl, protocol, src, dst);
      return this.loopback(pkt, ifc, now);
    }

    if (total <= ifc.mtu) {
      const frame = this.frames.alloc(ETHERNET_HEADER_LEN + total);
      const o = ETHERNET_HEADER_LEN + IPV4_HEADER_LEN;
      if (body !== null) frame.set(body, o);
      else writer!.write(frame, o, src, dst);
      writeIpv4Header(frame, ETHERNET_HEADER_LEN, tos, total, ident, frag, ttl, protocol, src, dst);
      return this.sendFrame(ifc, route, dst, frame, now);
    }

    if (dontFrag) {
      st.FragFails++;
      return 'too big';
    }
    let payload = body;
    if (payload === null) {
      payload = new Uint8Array(len);
      writer!.write(payload, 0, src, dst);
    }
    return this.fragment(ifc, route, src, dst, protocol, ttl, tos, ident, EMPTY, payload, 0, false, now);
  }

  icmpError(raw: Uint8Array, type: number, code: number, mtu: number, now: number): void {
    if (raw.length < IPV4_HEADER_LEN) return;
    const hlen = (raw[0]! & 0x0f) << 2;
    if (hlen < IPV4_HEADER_LEN || raw.length < hlen) return;
    // RFC 1122 §3.2.2: never about non-initial fragments, ICMP errors,
    // broadcast/multicast destinations or non-unicast sources.
    if ((get16(raw, 6) & 0x1fff) !== 0) return;
    const src = get32(raw, 12);
    const dst = get32(raw, 16);
    if (src === 0 || isMartianSource(src) || src >>> 24 === 127) return;
    const ss = this.self.get(src);
    if (ss !== undefined && (ss.bits & RF_UNI) === 0) return;
    if (isMulticastIp(dst) || dst === IPV4_BROADCAST) return;
    const ds = this.self.get(dst);
    if (ds !== undefined && (ds.bits & RF_UNI) === 0) return;
    if (raw[9] === IP_PROTO_ICMP) {
      if (raw.length <= hlen) return;
      const t = raw[hlen]!;
      if (!(t === 0 || t === 8 || (t >= 13 && t <= 18))) return; // only queries get errors
    }
    const quote = raw.subarray(0, raw.length < hlen + 8 ? raw.length : hlen + 8);
    const from = ds !== undefined ? dst : this.sourceFor(src);
    this.icmp.sendError(from, src, type, code, mtu, quote, now);
  }

  advise(a: IcmpAdvice, now: number): void {
    if (!this.isLocal(a.src)) {
      this.drop('icmp', 'advice not about us');
      return;
    }
    if (a.protocol === IP_PROTO_UDP) this.udp.advise(a);
    else if (a.protocol === IP_PROTO_ICMP) this.icmp.advise(a);
    else this.handlers[a.protocol]?.advise?.(a, now);
  }

  // ------------------------------------------------------------------
  // IfcOwner

  /** @internal A frame from an interface's link. */
  ifcInput(ifc: Ifc, frame: Uint8Array): void {
    if (frame.length < ETHERNET_HEADER_LEN) {
      ifc.rxErrors++;
      this.drop('ether', 'truncated');
      return;
    }
    const type = (frame[12]! << 8) | frame[13]!;
    const group = (frame[0]! & 1) !== 0;
    if (!group && macFromBytes(frame, 0) !== ifc.mac) {
      this.drop('ether', 'not for us');
      return;
    }
    ifc.rxFrames++;
    if (type === ETHERTYPE_IPV4) this.ipInput(ifc, frame.subarray(ETHERNET_HEADER_LEN), group, this.clock.now());
    else if (type === ETHERTYPE_ARP) this.arpInput(ifc, frame.subarray(ETHERNET_HEADER_LEN), this.clock.now());
    else this.drop('ether', 'unhandled type');
  }

  /** @internal */
  ifcAddressesChanged(ifc: Ifc, added: IfcAddress | null): void {
    this.rebuild();
    if (added !== null && added.ip !== 0) this.sendGratuitous(ifc, added.ip);
  }

  /** @internal */
  ifcUnbound(ifc: Ifc): void {
    this.ifcs = this.ifcs.filter((i) => i !== ifc);
    this.arpCache.removeIfc(ifc);
    this.routes.removeWhere((r) => r.ifc === ifc);
    this.rebuild();
  }

  // ------------------------------------------------------------------
  // ArpHost / ReasmHost

  /** @internal */
  arpRequest(ifc: Ifc, ip: number): void {
    this.sendArp(ifc, 'request', MAC_BROADCAST, 0, ifc.addressFor(ip), ip);
  }

  /** @internal */
  arpTransmit(ifc: Ifc, frame: Uint8Array): void {
    if (ifc.bound) ifc.transmit(frame);
  }

  /** @internal */
  arpFailed(frame: Uint8Array, now: number): void {
    this.drop('arp', 'unresolved');
    if (frame.length > ETHERNET_HEADER_LEN) this.icmpError(frame.subarray(ETHERNET_HEADER_LEN), 3, 1, 0, now);
  }

  /** @internal */
  arpDiscarded(n: number): void {
    this.stats.ip.OutDiscards += n;
    for (let i = 0; i < n; i++) this.drop('arp', 'queue overflow');
  }

  /** @internal */
  arpGratuitous(ip: number): boolean {
    const ifc = this.ifcWithAddress(ip);
    if (ifc === null) return false;
    this.sendGratuitous(ifc, ip);
    return true;
  }

  /** @internal */
  arpRouteIfc(ip: number): Ifc | null {
    return this.routes.lookup(ip)?.ifc ?? null;
  }

  /** @internal */
  reasmDrop(reason: string): void {
    this.drop('reasm', reason);
  }

  /** @internal */
  reasmTimedOut(first: Uint8Array | null, now: number): void {
    if (first !== null) this.icmpError(first, 11, 1, 0, now);
  }

  // ------------------------------------------------------------------
  // Input

  private ipInput(ifc: Ifc, buf: Uint8Array, l2group: boolean, now: number): void {
    const st = this.stats.ip;
    st.InReceives++;
    const r = parseIpv4(buf);
    if (r instanceof WireError) {
      st.InHdrErrors++;
      ifc.rxErrors++;
      this.drop('ipv4', r.reason);
      return;
    }
    const raw = buf.length === IPV4_HEADER_LEN + r.options.length + r.payload.length
      ? buf
      : buf.subarray(0, IPV4_HEADER_LEN + r.options.length + r.payload.length);
    this.ipReceive(ifc, r, raw, l2group, now);
  }

  /** A parsed datagram from `ifc` (or the loopback). */
  private ipReceive(ifc: Ifc, r: Ipv4Repr, raw: Uint8Array, l2group: boolean, now: number): void {
    const st = this.stats.ip;
    const dst = r.dst;
    const s = this.self.get(dst);
    let bcast: boolean;
    if (s !== undefined) {
      bcast = (s.bits & RF_UNI) === 0;
      if (!bcast && l2group) {
        // RFC 1122 §3.3.6: unicast IP in a link-level broadcast.
        st.InAddrErrors++;
        this.drop('ipv4', 'unicast in link broadcast');
        return;
      }
    } else if (ifc.acceptAny) {
      bcast = dst === IPV4_BROADCAST || isMulticastIp(dst);
    } else {
      this.forward(ifc, r, raw, l2group, now);
      return;
    }
    if (isMartianSource(r.src)) {
      st.InAddrErrors++;
      this.drop('ipv4', 'martian source');
      return;
    }
    if (r.moreFrags || r.fragOffset !== 0) {
      st.ReasmReqds++;
      const whole = this.reasm.add(r, raw, now);
      if (whole === null) return;
      const r2 = parseIpv4(whole, false);
      if (r2 instanceof WireError) return; // cannot happen: we wrote it
      this.deliver(ifc, r2, whole, bcast, now);
      return;
    }
    this.deliver(ifc, r, raw, bcast, now);
  }

  private deliver(ifc: Ifc, r: Ipv4Repr, raw: Uint8Array, bcast: boolean, now: number): void {
    const st = this.stats.ip;
    const p = r.protocol;
    if (p === IP_PROTO_UDP) {
      st.InDelivers++;
      this.udp.input(r, raw, ifc, bcast, now);
    } else if (p === IP_PROTO_ICMP) {
      st.InDelivers++;
      this.icmp.input(r, raw, ifc, bcast, now);
    } else {
      const h = this.handlers[p];
      if (h !== undefined) {
        st.InDelivers++;
        h.input(r, r.payload, ifc, now);
      } else {
        st.InUnknownProtos++;
        this.drop('ipv4', 'unknown protocol');
        if (!bcast) this.icmpError(raw, 3, 2, 0, now);
      }
    }
  }

  private forward(_in: Ifc, r: Ipv4Repr, raw: Uint8Array, l2group: boolean, now: number): void {
    const st = this.stats.ip;
    if (!this.fwd || l2group || isMulticastIp(r.dst) || r.dst === IPV4_BROADCAST) {
      st.InAddrErrors++;
      this.drop('ipv4', 'not for us');
      return;
    }
    if (isMartianSource(r.src) || r.src === 0) {
      st.InAddrErrors++;
      this.drop('ipv4', 'martian source');
      return;
    }
    if (r.ttl <= 1) {
      st.InHdrErrors++;
      this.drop('ipv4', 'ttl exceeded');
      this.icmpError(raw, 11, 0, 0, now);
      return;
    }
    const route = this.routes.find(r.dst, r.src);
    const out = route === null ? null : this.routes.outIfc(route);
    if (route === null || out === null || (route.flags & RF_UNI) !== 0) {
      st.OutNoRoutes++;
      this.drop('ipv4', 'no route');
      this.icmpError(raw, 3, 0, 0, now);
      return;
    }
    st.ForwDatagrams++;
    const total = raw.length;
    if (total <= out.mtu) {
      const frame = this.frames.alloc(ETHERNET_HEADER_LEN + total);
      frame.set(raw, ETHERNET_HEADER_LEN);
      const o = ETHERNET_HEADER_LEN;
      const hlen = total - r.payload.length;
      frame[o + 8] = r.ttl - 1;
      put16(frame, o + 10, 0);
      put16(frame, o + 10, checksum(frame, 0, o, o + hlen));
      this.sendFrame(out, route, r.dst, frame, now);
      return;
    }
    if (r.dontFrag) {
      st.FragFails++;
      this.icmpError(raw, 3, 4, out.mtu, now);
      return;
    }
    this.fragment(out, route, r.src, r.dst, r.protocol, r.ttl - 1, r.tos, r.ident, r.options, r.payload, r.fragOffset, r.moreFrags, now);
  }

  private arpInput(ifc: Ifc, buf: Uint8Array, now: number): void {
    const a = parseArp(buf);
    if (a instanceof WireError) {
      ifc.rxErrors++;
      this.drop('arp', a.reason);
      return;
    }
    if (a.senderMac === ifc.mac) return; // our own, looped back
    if (ifc.addresses().length === 0) {
      this.drop('arp', 'no address'); // don't answer before we know who we are (arp.c)
      return;
    }
    const sender = a.senderIp;
    if (sender !== 0 && ifc.hasAddress(sender)) {
      this.drop('arp', 'address conflict');
      if (this.logFn !== null) this.log(`arp: ${formatIpv4(sender)} claimed by ${a.senderMac.toString(16)}`);
      return;
    }
    const forMe = ifc.hasAddress(a.targetIp);
    const senderOk = sender !== 0 && !isMartianSource(sender) && (Math.floor(a.senderMac / 0x100_0000_0000) & 1) === 0;
    if (senderOk) this.arpCache.learn(ifc, sender, a.senderMac, forMe, now);
    if (forMe && a.op === 'request') {
      this.sendArp(ifc, 'reply', a.senderMac, a.senderMac, a.targetIp, sender);
    }
  }

  // ------------------------------------------------------------------
  // Output helpers

  private pickSource(route: Route, ifc: Ifc, dst: number): number {
    if ((route.flags & RF_UNI) !== 0) return dst;
    return ifc.addressFor((route.flags & RF_LOCAL) !== 0 ? dst : route.nexthop);
  }

  /** Writes the Ethernet header's source and type, picks the destination MAC and sends (or holds for ARP). */
  private sendFrame(ifc: Ifc, route: Route, dst: number, frame: Uint8Array, now: number): SendResult {
    put48(frame, 6, ifc.mac);
    frame[12] = ETHERTYPE_IPV4 >>> 8;
    frame[13] = ETHERTYPE_IPV4 & 0xff;
    if ((route.flags & RF_BCAST) !== 0 || dst === IPV4_BROADCAST) {
      put48(frame, 0, MAC_BROADCAST);
      ifc.transmit(frame);
      return 'sent';
    }
    if ((route.flags & RF_MCAST) !== 0 || isMulticastIp(dst)) {
      put48(frame, 0, multicastMac(dst));
      ifc.transmit(frame);
      return 'sent';
    }
    const nh = (route.flags & RF_LOCAL) !== 0 ? dst : route.nexthop;
    return this.arpCache.output(ifc, nh, frame, now) ? 'sent' : 'pending';
  }

  /**
   * Sends `payload` as fragments no larger than the interface MTU (RFC 791
   * §3.2). `baseOff`/`baseMf` describe the datagram being fragmented (itself
   * a fragment when forwarding). The first fragment carries `options`, the
   * others only the copied ones.
   */
  private fragment(
    ifc: Ifc,
    route: Route,
    src: number,
    dst: number,
    protocol: number,
    ttl: number,
    tos: number,
    ident: number,
    options: Uint8Array,
    payload: Uint8Array,
    baseOff: number,
    baseMf: boolean,
    now: number,
  ): SendResult {
    const st = this.stats.ip;
    const later = copiedOptions(options);
    const n = payload.length;
    let off = 0;
    let pending = false;
    do {
      const opts = off === 0 ? options : later;
      const hlen = ipv4HeaderLenFor(opts);
      const step = fragmentStep(ifc.mtu, hlen);
      const chunk = n - off < step ? n - off : step;
      const last = off + chunk >= n;
      const total = hlen + chunk;
      const frame = this.frames.alloc(ETHERNET_HEADER_LEN + total);
      frame.set(payload.subarray(off, off + chunk), ETHERNET_HEADER_LEN + hlen);
      writeIpv4HeaderOptions(
        frame,
        ETHERNET_HEADER_LEN,
        opts,
        tos,
        total,
        ident,
        fragField(false, !last || baseMf, baseOff + off),
        ttl,
        protocol,
        src,
        dst,
      );
      st.FragCreates++;
      if (this.sendFrame(ifc, route, dst, frame, now) !== 'sent') pending = true;
      off += chunk;
    } while (off < n);
    st.FragOKs++;
    return pending ? 'pending' : 'sent';
  }

  private loopback(pkt: Uint8Array, ifc: Ifc, now: number): SendResult {
    if (this.loopQ.length >= LOOPBACK_MAX) {
      this.stats.ip.OutDiscards++;
      this.drop('loopback', 'queue full');
      return 'dropped';
    }
    if (this.loopQ.length === 0) this.loopDue = now;
    this.loopQ.push(pkt);
    this.loopIfc.push(ifc);
    this.schedule(now);
    return 'sent';
  }

  private drainLoopback(now: number): void {
    if (this.loopQ.length === 0) return;
    const q = this.loopQ;
    const qi = this.loopIfc;
    this.loopQ = [];
    this.loopIfc = [];
    for (let i = 0; i < q.length; i++) {
      const ifc = qi[i]!;
      if (!ifc.bound) continue;
      const pkt = q[i]!;
      this.stats.ip.InReceives++;
      const r = parseIpv4(pkt, false);
      if (r instanceof WireError) continue; // cannot happen: we wrote it
      this.ipReceive(ifc, r, pkt, false, now);
    }
  }

  private sendArp(ifc: Ifc, op: 'request' | 'reply', ethDst: number, targetMac: number, senderIp: number, targetIp: number): void {
    const frame = this.frames.alloc(ETHERNET_HEADER_LEN + 28);
    put48(frame, 0, ethDst);
    put48(frame, 6, ifc.mac);
    put16(frame, 12, ETHERTYPE_ARP);
    const repr: ArpRepr = { op, senderMac: ifc.mac, senderIp, targetMac, targetIp };
    emitArp(repr, frame, ETHERNET_HEADER_LEN);
    ifc.transmit(frame);
  }

  private sendGratuitous(ifc: Ifc, ip: number): void {
    if (ifc.bound) this.sendArp(ifc, 'request', MAC_BROADCAST, 0, ip, ip);
  }

  // ------------------------------------------------------------------
  // Self table and interface routes

  /** Recomputes the self table and the interface routes (tag `ifc`); see self.ts. */
  private rebuild(): void {
    const { self, routes } = computeSelf(this.ifcs);
    this.self = self;
    this.routes.removeWhere((r) => r.tag === IFC_TAG && (r.flags & RF_LOCAL) !== 0);
    for (const r of routes) this.routes.add({ ...r, tag: IFC_TAG });
  }
}
