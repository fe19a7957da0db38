/**
 * The Stack: everything below TCP, smoltcp-style. It owns the interfaces,
 * the routing table, the ARP cache, IPv4 input/output (fragmentation and
 * reassembly), ICMP, UDP and the protocol demux, and it is the only part
 * that holds the Clock: it reads `now` once per received frame or user
 * call and passes it down, and it arms ONE clock timer at the earliest
 * deadline of all its parts (ARP retries/expiry, reassembly timeouts, the
 * loopback queue, registered TimerSources such as TCP).
 *
 * Every layer is parsed and written with the wire/ codecs (the functions
 * the goldens and fuzz tests check), in their allocation-free forms where
 * they have one.
 *
 * Input path (per frame, allocation-light): Ethernet accessors → MAC filter →
 * parseIpv4 → martian check (below) → self/broadcast check → reassembly if
 * fragmented → ICMP / UDP / registered handler by protocol number.
 * Malformed input is dropped and counted (stats.drops, MIB counters);
 * nothing received throws.
 *
 * Martians (RFC 1122 §3.2.1.3, §3.3.6; RFC 1812 §5.3.7): a datagram from a
 * link whose source is 0/8, 127/8, class D/E (255.255.255.255 included) or
 * one of our broadcast/network addresses, or whose destination is 127/8, is
 * discarded silently and counted in InAddrErrors (/net/ipifc/stats). 0.0.0.0
 * as a destination (the accept-any DHCP address) and as our own source stay
 * allowed.
 *
 * Output path: route → source address → one allocation holding Ethernet +
 * IPv4 + payload, written top-down (the payload by an IpPayloadWriter or
 * copied from bytes) → fragmentation to the interface MTU if needed → link
 * broadcast/multicast MAC or ARP (which may hold the frame until resolved).
 *
 * Loopback: every stack starts with a loopback interface (Plan 9's
 * `bind loopback /dev/null; add 127.0.0.1 255.0.0.0`, loopbackmedium.c).
 * Datagrams routed to it, and datagrams to any of our own addresses, go
 * through one bounded loopback queue that is drained from the timer (never
 * synchronously inside the sender's call) and come back as input; nothing
 * with a 127/8 source or destination is ever handed to a link.
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
import type { Ipv6Input } from './core6.js';
import { Enotlocal, StackError } from './error.js';
import { IcmpLayer } from './icmp.js';
import { Ifc } from './ifc.js';
import type { IfcAddress, IfcOwner } from './ifc.js';
import {
  copiedOptions,
  fragmentStep,
  isLoopbackIp,
  isMartianSource,
  isMulticastIp,
  linkSourceInvalid,
  multicastMac,
  Reassembler,
} from './ipv4.js';
import type { ReasmHost } from './ipv4.js';
import { IFC_TAG, RF_BCAST, RF_LOCAL, RF_MCAST, RF_UNI, RouteTable, routeFlagsText } from './route.js';
import { ALL_SYSTEMS, computeSelf } from './self.js';
import type { LoopNet, SelfRef } from './self.js';
import type { Route } from './route.js';
import { DEFAULT_TTL, DropCounters, newIcmpStats, newIpStats, newUdpStats } from './stats.js';
import type { StackStats } from './stats.js';
import { UdpLayer } from './udp.js';
import { ARP_LEN, emitArp, parseArp } from './wire/arp.js';
import type { ArpRepr } from './wire/arp.js';
import { EMPTY, get16 } from './wire/bytes.js';
import {
  ETHERNET_HEADER_LEN,
  ethernetDst,
  ethernetDstIsGroup,
  ethernetType,
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  ETHERTYPE_IPV6,
  isMulticastMac,
  MAC_BROADCAST,
  writeEthernetHeader,
} from './wire/ethernet.js';
import {
  formatIpv4,
  fragField,
  IP_PROTO_ICMP,
  IP_PROTO_UDP,
  IPV4_BROADCAST,
  IPV4_HEADER_LEN,
  ipv4Dst,
  ipv4HeaderLenFor,
  ipv4Src,
  parseIpv4,
  setIpv4Ttl,
  writeIpv4Header,
} from './wire/ipv4.js';
import type { Ipv4Repr } from './wire/ipv4.js';
import { WireError } from './wire/result.js';

/** Bound on interfaces per stack. */
export const MAX_INTERFACES = 256;
/** Bound on datagrams waiting in the loopback queue. */
export const LOOPBACK_MAX = 1024;
/** Bound on bytes waiting in the loopback queue (datagrams are at most 64 KiB each). */
export const LOOPBACK_MAX_BYTES = 8 * 1024 * 1024;
/** The loopback interface every stack starts with: 127.0.0.1/8 (RFC 1122 §3.2.1.3 (g)) on `/dev/null`, as Plan 9's ipconfig binds it. */
export const LOOPBACK_ADDR = 0x7f000001;
export const LOOPBACK_PREFIX = 8;
export const LOOPBACK_DEVICE = '/dev/null';
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

/** Sees an ARP packet another station sent on `ifc` (Stack.onArp). */
export type ArpObserver = (ifc: Ifc, arp: ArpRepr) => void;
/** Observers of ARP input at once (one DHCP service per stack needs one). */
export const MAX_ARP_OBSERVERS = 8;

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
  /** The loopback interface the stack starts with (127.0.0.1/8). */
  readonly loopback: Ifc;

  private readonly logFn: ((msg: string) => void) | null;
  private readonly reasm: Reassembler;
  private readonly arpCache: ArpCache;
  private arpObservers: readonly ArpObserver[] = [];
  /** Where IPv6 frames go (an Ipv6Layer, ipv6.ts), or null: dropped as an unhandled type. */
  private ip6: Ipv6Input | null = null;
  private readonly frames = new FrameAllocator();
  private ifcs: Ifc[] = [];
  /** Self table: address → RF_UNI/RF_BCAST/RF_MCAST bits (fast input check). */
  private self = new Map<number, SelfRef>();
  /** Subnets of loopback interfaces: every host address in them is ours. */
  private loopNets: LoopNet[] = [];
  /** Host bits all our subnets with a broadcast address share (the fewest); see martian(). */
  private hostBits = 0;
  private readonly handlers: (IpProtocolHandler | undefined)[] = new Array<IpProtocolHandler | undefined>(256);
  private timerSources: TimerSource[] = [];
  /** Told after each batch of received frames (onInputBatchEnd). */
  private batchEnds: ((now: number) => void)[] = [];
  private loopQ: Uint8Array[] = [];
  private loopIfc: Ifc[] = [];
  private loopBytes = 0;
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
    this.loopback = this.addLoopback(LOOPBACK_DEVICE);
    this.loopback.addAddress(LOOPBACK_ADDR, LOOPBACK_PREFIX);
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
   * once (a link takes one receiver). `name` defaults to `etherN`, N the
   * lowest number no interface is named with.
   */
  addInterface(link: Link, name?: string): Ifc {
    let n = 0;
    while (this.ifcs.some((i) => i.name === `ether${n}`)) n++;
    return this.bind(link, name ?? `ether${n}`);
  }

  /**
   * A new loopback interface (Plan 9 `bind loopback DEV`): what is routed to
   * it comes back as input. The stack starts with one ({@link loopback}).
   */
  addLoopback(name: string): Ifc {
    return this.bind(null, name);
  }

  private bind(link: Link | null, name: string): Ifc {
    if (this.closed) throw new Error('stack is closed');
    if (this.ifcs.length >= MAX_INTERFACES) throw new StackError('no free devices');
    let index = 0;
    while (this.ifcs.some((i) => i.index === index)) index++;
    const ifc = new Ifc(this, link, index, name);
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

  /** True if `ip` is one of our unicast addresses (any host address of a loopback subnet counts). */
  isLocal(ip: number): boolean {
    const s = this.self.get(ip >>> 0);
    if (s !== undefined) return (s.bits & RF_UNI) !== 0;
    return this.loopNets.length !== 0 && this.inLoopNet(ip >>> 0);
  }

  private inLoopNet(ip: number): boolean {
    const nets = this.loopNets;
    for (let i = 0; i < nets.length; i++) {
      const n = nets[i]!;
      if (((ip & n.mask) >>> 0) === n.net && ip !== n.net && ip !== n.bcast) return true;
    }
    return false;
  }

  /** `u`, `b` or `m` if `ip` is in the self table (or a loopback subnet's host), else null. */
  selfType(ip: number): 'u' | 'b' | 'm' | null {
    const s = this.self.get(ip >>> 0);
    if (s === undefined) return this.isLocal(ip) ? 'u' : null;
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

  /**
   * Calls `fn(now)` each time a batch of received frames has been
   * processed: a link's batch (Link.attach's endBatch), a frame looped
   * back by sendRaw, a drain of the loopback queue. A protocol leaves work
   * for it (TCP flushes once per batch) instead of using a microtask or a
   * timer of its own.
   */
  onInputBatchEnd(fn: (now: number) => void): Disposable {
    this.batchEnds = [...this.batchEnds, fn];
    return {
      dispose: () => {
        this.batchEnds = this.batchEnds.filter((f) => f !== fn);
      },
    };
  }

  private endInputBatch(): void {
    const fns = this.batchEnds;
    if (fns.length === 0 || this.closed) return;
    const now = this.clock.now();
    for (let i = 0; i < fns.length; i++) fns[i]!(now);
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
    if (this.drainLoopback(now) > 0) this.endInputBatch();
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
    this.loopBytes = 0;
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
    // For us (our address, or routed to a loopback): whole, through the loopback queue.
    const local = (route.flags & RF_UNI) !== 0 || ifc.link === null;
    if (!local && (isLoopbackIp(src) || isLoopbackIp(dst))) {
      // RFC 1122 §3.2.1.3 (g): 127/8 never leaves a host.
      st.OutNoRoutes++;
      return 'no route';
    }
    const len = body !== null ? body.length : writer!.length;
    const total = IPV4_HEADER_LEN + len;
    if (total > 0xffff) {
      st.OutDiscards++;
      return 'too big';
    }
    const ident = this.ident;
    this.ident = (ident + 1) & 0xffff;
    const frag = dontFrag ? 0x4000 : 0;

    if (local) {
      const pkt = this.frames.alloc(total);
      if (body !== null) pkt.set(body, IPV4_HEADER_LEN);
      else writer!.write(pkt, IPV4_HEADER_LEN, src, dst);
      writeIpv4Header(pkt, 0, tos, total, ident, frag, ttl, protocol, src, dst);
      return this.loopIn(pkt, ifc, now);
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
    const src = ipv4Src(raw);
    const dst = ipv4Dst(raw);
    if (src === 0 || isMartianSource(src)) return;
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
    const type = ethernetType(frame);
    if (type < 0) {
      ifc.rxErrors++;
      this.drop('ether', 'truncated');
      return;
    }
    const group = ethernetDstIsGroup(frame);
    if (!group && ethernetDst(frame) !== ifc.mac) {
      this.drop('ether', 'not for us');
      return;
    }
    ifc.rxFrames++;
    if (type === ETHERTYPE_IPV4) this.ipInput(ifc, frame.subarray(ETHERNET_HEADER_LEN), group, this.clock.now());
    else if (type === ETHERTYPE_ARP) this.arpInput(ifc, frame.subarray(ETHERNET_HEADER_LEN), this.clock.now());
    else if (type === ETHERTYPE_IPV6 && this.ip6 !== null) this.ip6.ipv6Input(ifc, frame.subarray(ETHERNET_HEADER_LEN), group, this.clock.now());
    else this.drop('ether', 'unhandled type');
  }

  /** @internal */
  ifcBatchEnd(_ifc: Ifc): void {
    this.endInputBatch();
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
    if (ifc === null || ifc.loopback) return false;
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
    const why = this.martian(r.src, r.dst, r.protocol);
    if (why !== null) {
      st.InAddrErrors++;
      this.drop('ipv4', why);
      return;
    }
    this.ipReceive(ifc, r, raw, l2group, now);
  }

  /**
   * Why a datagram from a link with these addresses is a martian, or null
   * (RFC 1122 §3.2.1.3: a host silently discards a datagram with an invalid
   * source; 127/8 never appears outside a host; RFC 1812 §5.3.7). Our own
   * broadcast and network addresses as a source are what a reflector attack
   * uses: answering them would broadcast the answer. The one exception is
   * a host still learning its address (§3.2.1.3 (a)): UDP from exactly
   * 0.0.0.0 to a broadcast address, which is how DHCP and BOOTP clients
   * reach a server (RFC 2131 §4.1).
   */
  private martian(src: number, dst: number, protocol: number): string | null {
    if (src === 0 && protocol === IP_PROTO_UDP && (dst === IPV4_BROADCAST || this.isOurBroadcast(dst))) return null;
    if (linkSourceInvalid(src)) return 'martian source';
    // Only a source whose low host bits are all 0 or all 1 can be one of our
    // broadcast/network addresses: the self table is consulted for those alone.
    const low = src & this.hostBits;
    if (low === 0 || low === this.hostBits) {
      const ss = this.self.get(src);
      if (ss !== undefined && (ss.bits & RF_UNI) === 0) return 'martian source';
    }
    if (isLoopbackIp(dst)) return 'martian destination';
    return null;
  }

  /** One of our subnets' broadcast (or network) addresses, from the self table. */
  private isOurBroadcast(ip: number): boolean {
    const ss = this.self.get(ip);
    return ss !== undefined && (ss.bits & RF_UNI) === 0;
  }

  /** A parsed datagram from `ifc`, from a link (martians already discarded) or the loopback queue. */
  private ipReceive(ifc: Ifc, r: Ipv4Repr, raw: Uint8Array, l2group: boolean, now: number): void {
    const st = this.stats.ip;
    const dst = r.dst;
    const s = this.self.get(dst);
    let bcast: boolean;
    if (s === undefined && this.loopNets.length !== 0 && this.inLoopNet(dst)) {
      bcast = false; // any host of a loopback subnet is us (127/8 from a link is a martian already)
    } else if (s !== undefined) {
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

  private forward(inIfc: Ifc, r: Ipv4Repr, raw: Uint8Array, l2group: boolean, now: number): void {
    const st = this.stats.ip;
    if (!this.fwd || inIfc.loopback || l2group || isMulticastIp(r.dst) || r.dst === IPV4_BROADCAST) {
      st.InAddrErrors++;
      this.drop('ipv4', 'not for us');
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
    if (route === null || out === null || (route.flags & RF_UNI) !== 0 || out.loopback) {
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
      setIpv4Ttl(frame, ETHERNET_HEADER_LEN, r.ttl - 1);
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

  /**
   * Be told of every well-formed ARP packet from another station on an
   * interface (a DHCP client's conflict probe, RFC 5227 §2.1.1). At most
   * MAX_ARP_OBSERVERS at once.
   */
  onArp(fn: ArpObserver): Disposable {
    if (this.arpObservers.length >= MAX_ARP_OBSERVERS) throw new RangeError('too many ARP observers');
    this.arpObservers = [...this.arpObservers, fn];
    return { dispose: () => { this.arpObservers = this.arpObservers.filter((f) => f !== fn); } };
  }

  /** Sends EtherType 0x86dd frames to `input` (the IPv6 layer attaches itself); one at a time. */
  attachIpv6(input: Ipv6Input): Disposable {
    if (this.ip6 !== null) throw new Error('an IPv6 layer is attached already');
    this.ip6 = input;
    return { dispose: () => { if (this.ip6 === input) this.ip6 = null; } };
  }

  private arpInput(ifc: Ifc, buf: Uint8Array, now: number): void {
    const a = parseArp(buf);
    if (a instanceof WireError) {
      ifc.rxErrors++;
      this.drop('arp', a.reason);
      return;
    }
    if (a.senderMac === ifc.mac) return; // our own, looped back
    const obs = this.arpObservers;
    for (let i = 0; i < obs.length; i++) obs[i]!(ifc, a);
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
    const senderOk = !linkSourceInvalid(sender) && !isMulticastMac(a.senderMac);
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

  /** Writes the Ethernet header, with the broadcast/multicast MAC or for ARP to fill in, and sends (or holds for ARP). */
  private sendFrame(ifc: Ifc, route: Route, dst: number, frame: Uint8Array, now: number): SendResult {
    if ((route.flags & RF_BCAST) !== 0 || dst === IPV4_BROADCAST) {
      writeEthernetHeader(frame, 0, MAC_BROADCAST, ifc.mac, ETHERTYPE_IPV4);
      ifc.transmit(frame);
      return 'sent';
    }
    if ((route.flags & RF_MCAST) !== 0 || isMulticastIp(dst)) {
      writeEthernetHeader(frame, 0, multicastMac(dst), ifc.mac, ETHERTYPE_IPV4);
      ifc.transmit(frame);
      return 'sent';
    }
    writeEthernetHeader(frame, 0, 0, ifc.mac, ETHERTYPE_IPV4);
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
      writeIpv4Header(frame, ETHERNET_HEADER_LEN, tos, total, ident, fragField(false, !last || baseMf, baseOff + off), ttl, protocol, src, dst, opts);
      st.FragCreates++;
      if (this.sendFrame(ifc, route, dst, frame, now) !== 'sent') pending = true;
      off += chunk;
    } while (off < n);
    st.FragOKs++;
    return pending ? 'pending' : 'sent';
  }

  /**
   * Queues a datagram for delivery as input on `ifc` (the loopback, or the
   * interface owning the destination address): drained from the timer,
   * bounded by LOOPBACK_MAX datagrams and LOOPBACK_MAX_BYTES.
   */
  private loopIn(pkt: Uint8Array, ifc: Ifc, now: number): SendResult {
    if (this.loopQ.length >= LOOPBACK_MAX || this.loopBytes + pkt.length > LOOPBACK_MAX_BYTES) {
      this.stats.ip.OutDiscards++;
      if (ifc.loopback) ifc.txErrors++;
      this.drop('loopback', 'queue full');
      return 'dropped';
    }
    if (this.loopQ.length === 0) this.loopDue = now;
    // A loopback's capture sees each datagram once, as it is sent.
    if (ifc.hook !== null && ifc.loopback) ifc.hook.taps.run(pkt, 'out');
    this.loopQ.push(pkt);
    this.loopIfc.push(ifc);
    this.loopBytes += pkt.length;
    if (ifc.loopback) ifc.txFrames++;
    this.schedule(now);
    return 'sent';
  }

  /**
   * Delivers what was queued before the drain began (what that queues waits
   * for the next round); returns how many.
   */
  private drainLoopback(now: number): number {
    if (this.loopQ.length === 0) return 0;
    const q = this.loopQ;
    const qi = this.loopIfc;
    this.loopQ = [];
    this.loopIfc = [];
    this.loopBytes = 0;
    for (let i = 0; i < q.length; i++) {
      const ifc = qi[i]!;
      if (!ifc.bound) continue;
      const pkt = q[i]!;
      if (ifc.loopback) ifc.rxFrames++;
      this.stats.ip.InReceives++;
      const r = parseIpv4(pkt, false);
      if (r instanceof WireError) continue; // cannot happen: we wrote it
      this.ipReceive(ifc, r, pkt, false, now);
    }
    return q.length;
  }

  private sendArp(ifc: Ifc, op: 'request' | 'reply', ethDst: number, targetMac: number, senderIp: number, targetIp: number): void {
    const frame = this.frames.alloc(ETHERNET_HEADER_LEN + ARP_LEN);
    writeEthernetHeader(frame, 0, ethDst, ifc.mac, ETHERTYPE_ARP);
    const repr: ArpRepr = { op, senderMac: ifc.mac, senderIp, targetMac, targetIp };
    emitArp(repr, frame, ETHERNET_HEADER_LEN);
    ifc.transmit(frame);
  }

  private sendGratuitous(ifc: Ifc, ip: number): void {
    if (ifc.bound && !ifc.loopback) this.sendArp(ifc, 'request', MAC_BROADCAST, 0, ip, ip);
  }

  // ------------------------------------------------------------------
  // Self table and interface routes

  /** Recomputes the self table and the interface routes (tag `ifc`); see self.ts. */
  private rebuild(): void {
    const { self, routes, loopNets, hostBits } = computeSelf(this.ifcs);
    this.self = self;
    this.loopNets = loopNets;
    this.hostBits = hostBits;
    this.routes.removeWhere((r) => r.tag === IFC_TAG && (r.flags & RF_LOCAL) !== 0);
    for (const r of routes) this.routes.add({ ...r, tag: IFC_TAG });
  }
}
