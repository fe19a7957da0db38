/**
 * The IPv6 layer of a Stack (RFC 8200 host, RFC 4861 Neighbor Discovery,
 * RFC 4862 SLAAC): input and output of IPv6 datagrams on the Stack's
 * Ethernet interfaces, and the machines that keep them working —
 * address configuration (addrconf.ts), router discovery (routers.ts), the
 * neighbor cache (ndcache.ts), MLD for solicited-node groups (mld.ts),
 * reassembly (reasm6.ts), path MTU (pmtu.ts) and ICMPv6 (icmpv6.ts).
 *
 *     const ip6 = new Ipv6Layer(stack);          // EtherType 0x86dd now reaches it
 *     ip6.enable(ifc);                           // link-local + DAD, then RS, RA, SLAAC
 *     const ping = ip6.icmp.open({ onPacket }); ping.sendEcho(1, data, dst, ifc);
 *
 * Input: parseIpv6 → source and destination checks (no multicast, ::1 or
 * v4-mapped source from a link; unicast destinations must be our own
 * non-tentative addresses, multicast ones groups the interface listens to)
 * → walkIpv6 (Parameter Problems answered as RFC 8200 §4 says) →
 * reassembly → ICMPv6 or a registered protocol, else Parameter Problem
 * code 1. Output: next hop (a redirect, an on-link prefix, a link-local or
 * multicast destination, else a default router, RFC 4861 §5.2) → source
 * address (RFC 6724's rules 1, 2, 3 and 8) → one frame, or fragments of the
 * path MTU (RFC 8200 §4.5, identification drawn at random, RFC 7739) →
 * group MAC or the neighbor cache. We are a host: nothing is forwarded,
 * router solicitations are ignored, redirects too unless acceptRedirects.
 * Nothing reads the clock but the Stack; the layer shares its timer as a
 * TimerSource.
 *
 * Phase 1 (this file and the modules above) is IPv6 below the transports.
 * Sends to our own addresses and ::1 say `no route` until phase 2 gives
 * IPv6 the loopback.
 *
 * ------------------------------------------------------------------
 * PHASE 2: IPv6 in TCP, UDP, routes, ipifc, arp, iproute, cs and /net
 *
 * Representation. The stack keeps IPv4 as u32 numbers (its hot paths are
 * IPv4 and stay so) and IPv6 as Ip6, 16-byte arrays (wire/ipv6addr.ts),
 * which is exactly netfs's Plan 9 `Ip`: /net text for either family goes
 * through netfs/ipaddr.ts (formatIp prints v4-mapped as dotted quads,
 * IPv6 with Plan 9's %I). Where the two families meet — a conversation's
 * local/remote address, a route, a neighbor — phase 2 uses one tagged type
 * in a new src/stack/ipaddr.ts: `type IpAddr = number | Ip6` (a number is
 * IPv4), with `ipKey(a)` (the u32 itself, or the Ip6Key string: Map keys
 * never collide since one is a number and the other a string), `ipEqual`,
 * `ipFamily`, `ipToPlan9(a): Ip` (u32ToV4 or the bytes) and
 * `ipFromPlan9(ip): IpAddr` (v4ToU32 for v4-mapped, else a copy). Nothing
 * per packet changes for IPv4.
 *
 * Files and how they change:
 *  - stack/core.ts: IpPayloadWriter.write's src/dst become IpAddr (IPv4
 *    writers keep reading numbers: the IPv4 path passes numbers only);
 *    IpProtocolHandler gains input6(d: Ipv6Delivery) beside input; advice
 *    carries IpAddr. core6.ts folds into core.ts.
 *  - stack/stack.ts: owns an Ipv6Layer (created with the stack, interfaces
 *    enabled on bind unless `ipv6: false`), sendIp(dst: IpAddr, ...)
 *    dispatching on the family; registerProtocol registers the handler
 *    with both layers; the loopback gets ::1/128 and the loopback queue
 *    carries IPv6 datagrams too (a byte-0 version switch in drainLoopback),
 *    which also gives sends to our own IPv6 addresses their path.
 *  - stack/udp.ts: endpoints keyed as now by port; addresses IpAddr;
 *    input6 verifies the checksum with pseudoHeaderSum6 (RFC 8200 §8.1:
 *    a zero UDP checksum is invalid over IPv6, dropped); output through
 *    Ipv6Layer.output6 with a writer whose write() takes Ip6 addresses;
 *    a wildcard endpoint takes both families (Plan 9 announces `*!port`
 *    for both). wire/udp.ts gains checkUdp6/writeUdp6 (pseudo-header
 *    sum as a parameter, so the IPv4 forms stay as they are).
 *  - stack/tcp/: conn keys stay port pairs; address comparisons go through
 *    ipEqual; segment.ts writes the checksum with pseudoHeaderSum6 for
 *    IPv6 conns; the MSS is the v6 path MTU − 60 (IPv6 40 + TCP 20) and
 *    Packet Too Big advice lowers a conn's MSS (RFC 8201 §5.4, as
 *    fragmentation-needed does for IPv4); TCP's progress confirms
 *    reachability (Ipv6Layer.confirmReachable, RFC 4861 §7.3.1); ISNs hash
 *    the 16-byte addresses (RFC 6528 takes any address length).
 *  - stack/route.ts: a second table of IPv6 routes (target, prefix length,
 *    next hop, flags, tag, ifc) with the same lookup rule (longest prefix,
 *    then source); the RA's default routers and on-link prefixes become
 *    routes tagged `ra6` (replacing routers.ts's lists as the source of
 *    next hops; routers.ts keeps the lifetimes and rewrites the routes),
 *    addresses' prefixes tagged `ifc` as for IPv4; redirects stay a
 *    destination cache in this file.
 *  - netfs/iproute + backend/stack/iproute: lists both tables in 9front's
 *    format (`::/0 ... fe80::1 4` for IPv6, flag `6` instead of `4`);
 *    `add`/`remove` take v6 prefixes (`fd00::/64`, Plan 9 /N masks).
 *  - netfs/ipifc + backend/stack/ipifc: `add fd00:9::2 /64` and `remove`
 *    with v6 masks (AddrConf.addManual/remove), 9front's `ra6` ctl (the
 *    host side: `ra6 recvra 1` turns SLAAC on/off) and `add6`; `status`
 *    and `local` list v6 addresses in 9front's format with their
 *    preferred/valid lifetimes (Addr6.validUntil/preferredUntil) and
 *    tentative state.
 *  - netfs/arp + backend/stack/arp: `/net/arp` lists neighbor entries
 *    after the ARP entries as 9front does (`ether OK fe80::1 525400123456
 *    fe80::5054:ff:fe12:3456`, states from NeighborInfo: INCOMPLETE→WAIT,
 *    else OK); `add`/`del` with v6 addresses go to NeighborCache.
 *  - backend/stack/icmpv6.ts (new): `/net/icmpv6` conversations over
 *    Icmp6Endpoint — writes and reads are whole packets with a 40-byte
 *    IPv6 header, `headers` mode as icmp6.c's icmpctl6; stats from
 *    Icmp6Stats with ICMP6_STAT_NAMES (moved to lib/mib.ts).
 *  - netfs/cs and dial strings: bare v6 literals (`tcp!fd00:9::1!22`)
 *    already parse (parseIp); cs on the stack answers AAAA from our
 *    resolver (stack/dns.ts asks for AAAA when an interface has a global
 *    IPv6 address) and RDNSS servers (routers.ts dnsChanged) join the
 *    resolver's servers and `/net/ndb` (`ipv6=` / `dns=` entries).
 *  - netfs UDP headers mode: already 16-byte addresses; the stack's UDP
 *    fills them from IpAddr with ipToPlan9.
 *  - cli: `--ip` repeated and taking v6 prefixes (addManual), link-local
 *    and SLAAC on every stack interface unless `--no-ipv6`/`--no-slaac`;
 *    link/etherport: a Plan 9 card gets a `connect 0x86dd` slot.
 *  - gateway (the gateway issue): its NDP responder and RAs use
 *    wire/icmpv6.ts and wire/ndopt.ts.
 * ------------------------------------------------------------------
 */
import type { Clock } from '../lib/clock.js';
import type { Rng } from '../lib/rng.js';
import type { Disposable } from '../link/link.js';
import { AddrConf } from './addrconf.js';
import type { Addr6, AddrConfHost } from './addrconf.js';
import { FrameAllocator } from './alloc.js';
import type { SendResult, TimerSource } from './core.js';
import type { Icmp6Advice, Ip6Core, Ip6PayloadWriter, Ip6ProtocolHandler, Ip6SendOptions, Ipv6Delivery, Ipv6Input } from './core6.js';
import { Enotlocal, StackError } from './error.js';
import { Icmpv6Layer } from './icmpv6.js';
import { iidSecret } from './iid.js';
import type { Ifc } from './ifc.js';
import { MldListener } from './mld.js';
import type { MldHost } from './mld.js';
import { NeighborCache } from './ndcache.js';
import type { NeighborHost } from './ndcache.js';
import { PathMtuCache } from './pmtu.js';
import { Reassembler6 } from './reasm6.js';
import type { Reasm6Host } from './reasm6.js';
import { RouterDiscovery } from './routers.js';
import type { Ifc6Params, Rdnss, RouterHost } from './routers.js';
import { DEFAULT_TTL, newIpStats } from './stats.js';
import type { IpStats } from './stats.js';
import { ETHERNET_HEADER_LEN, ETHERTYPE_IPV6, writeEthernetHeader } from './wire/ethernet.js';
import { EXCEEDED6_REASSEMBLY, ICMPV6_DEST_UNREACHABLE, ICMPV6_PACKET_TOO_BIG, ICMPV6_PARAM_PROBLEM, ICMPV6_TIME_EXCEEDED } from './wire/icmpv6.js';
import type { Icmpv6Repr, Mld2Record } from './wire/icmpv6.js';
import type { Ip6, Ip6Key } from './wire/ipv6addr.js';
import {
  IP6_ALL_MLDV2_ROUTERS,
  IP6_ALL_NODES,
  IP6_ALL_ROUTERS,
  IP6_UNSPECIFIED,
  formatIpv6,
  ip6CommonPrefixLen,
  ip6Equal,
  ip6IsLinkLocal,
  ip6IsLinkScoped,
  ip6IsLoopback,
  ip6IsMulticast,
  ip6IsSolicitedNode,
  ip6IsUnspecified,
  ip6IsV4Mapped,
  ip6Key,
  ip6MulticastMac,
  ip6PrefixMatch,
  ip6SolicitedNode,
  readIp6,
} from './wire/ipv6addr.js';
import {
  IPV6_FRAG_HEADER_LEN,
  IPV6_HEADER_LEN,
  IPV6_MIN_MTU,
  IPV6_NH,
  IPV6_OPT_ROUTER_ALERT,
  PARAM_UNRECOGNIZED_NH,
  parseIpv6,
  walkIpv6,
  writeIpv6Fragment,
  writeIpv6Header,
} from './wire/ipv6.js';
import type { Ipv6Headers } from './wire/ipv6.js';
import { ndLinkAddr } from './wire/ndopt.js';
import type { NdOption } from './wire/ndopt.js';
import { WireError } from './wire/result.js';

/** Redirects kept (destination cache entries, RFC 4861 §5.2), and for how long. */
export const REDIRECTS_MAX = 64;
export const REDIRECT_LIFETIME_MS = 10 * 60 * 1000;
/** ND messages are sent and must arrive with this hop limit (RFC 4861 §6.1, §7.1). */
export const ND_HOP_LIMIT = 255;
/** Bytes of the hop-by-hop header carrying a Router Alert (RFC 2711): next, len 0, RA(5,2,value 0), PadN(1,0). */
const ROUTER_ALERT_HBH = Uint8Array.of(0, 0, IPV6_OPT_ROUTER_ALERT, 2, 0, 0, 1, 0);

/** What the layer needs from its Stack (Stack implements it; see stack.ts attachIpv6). */
export interface Ipv6StackHost {
  readonly clock: Clock;
  readonly rng: Rng;
  schedule(deadline: number): void;
  addTimerSource(src: TimerSource): Disposable;
  attachIpv6(input: Ipv6Input): Disposable;
  drop(layer: string, reason: string): void;
  log(msg: string): void;
}

export interface Ipv6Options {
  /** The RFC 7217 secret (16 bytes); drawn from the stack's Rng when absent. */
  secret?: Uint8Array;
  /** Take addresses from router advertisements' autonomous prefixes (default true). */
  slaac?: boolean;
  /** Follow redirects (default false: ignored, as a host may, RFC 4861 §8.3 is a SHOULD for hosts we deliberately skip). */
  acceptRedirects?: boolean;
  /** An address became usable, was found duplicate or went away. */
  onAddress?: (ifc: Ifc, a: Addr6, event: 'ready' | 'duplicate' | 'expired' | 'removed') => void;
  /** The RDNSS servers of an interface changed (RFC 8106). */
  onDns?: (ifc: Ifc, servers: readonly Rdnss[]) => void;
}

interface Redirect {
  ifc: Ifc;
  nextHop: Ip6;
  until: number;
}

interface Hop {
  ifc: Ifc;
  /** The neighbor to hand the frame to; null for a multicast destination. */
  nextHop: Ip6 | null;
}

export class Ipv6Layer implements Ip6Core, Ipv6Input, TimerSource, AddrConfHost, RouterHost, NeighborHost, MldHost, Reasm6Host {
  readonly rng: Rng;
  /** IPv6 counters, with the IP MIB's names. */
  readonly stats: IpStats = newIpStats();
  readonly icmp: Icmpv6Layer;
  readonly neighbors: NeighborCache;
  private readonly addrs: AddrConf;
  private readonly routers: RouterDiscovery;
  private readonly mld: MldListener;
  private readonly reasm: Reassembler6;
  private readonly pmtu = new PathMtuCache();
  private readonly frames = new FrameAllocator();
  private readonly handlers: (Ip6ProtocolHandler | undefined)[] = new Array<Ip6ProtocolHandler | undefined>(256);
  private readonly redirects = new Map<Ip6Key, Redirect>();
  private readonly enabledIfcs: Ifc[] = [];
  private readonly slaac: boolean;
  private readonly acceptRedirects: boolean;
  private readonly subs: Disposable[];

  constructor(private readonly stack: Ipv6StackHost, private readonly opts: Ipv6Options = {}) {
    this.rng = stack.rng;
    this.slaac = opts.slaac ?? true;
    this.acceptRedirects = opts.acceptRedirects ?? false;
    this.addrs = new AddrConf(this, opts.secret ?? iidSecret(stack.rng));
    this.routers = new RouterDiscovery(this, DEFAULT_TTL);
    this.neighbors = new NeighborCache(this);
    this.mld = new MldListener(this);
    this.reasm = new Reassembler6(this);
    this.icmp = new Icmpv6Layer(this, (d, m, now) => this.ndInput(d, m, now));
    this.subs = [stack.attachIpv6(this), stack.addTimerSource(this)];
  }

  // ------------------------------------------------------------------
  // Configuration

  /**
   * Starts IPv6 on an Ethernet interface: a link-local address (DAD first),
   * then router solicitation and SLAAC. Idempotent.
   * @throws StackError `bad arg in system call` for the loopback or a link MTU under 1280
   */
  enable(ifc: Ifc): void {
    if (this.enabledIfcs.includes(ifc)) return;
    if (ifc.loopback || ifc.mtu < IPV6_MIN_MTU || !ifc.bound) throw new StackError('bad arg in system call');
    this.enabledIfcs.push(ifc);
    this.routers.enable(ifc);
    this.addrs.enable(ifc, this.now());
  }

  /** Stops IPv6 on `ifc`: addresses, neighbors, routers and groups go. */
  disable(ifc: Ifc): void {
    const i = this.enabledIfcs.indexOf(ifc);
    if (i < 0) return;
    this.enabledIfcs.splice(i, 1);
    this.addrs.disable(ifc, this.now());
    this.routers.disable(ifc);
    this.mld.disable(ifc);
    this.neighbors.flush(ifc);
    for (const [k, r] of this.redirects) if (r.ifc === ifc) this.redirects.delete(k);
  }

  /** Interfaces IPv6 runs on. */
  interfaces(): Ifc[] {
    return [...this.enabledIfcs];
  }

  /** `ifc`'s addresses (tentative and duplicate ones included). */
  addresses(ifc: Ifc): Addr6[] {
    return this.addrs.addresses(ifc);
  }

  /**
   * Adds an address by hand (DAD first).
   * @throws StackError `bad arg in system call` if IPv6 is off on `ifc`, the address is there, or the table is full
   */
  addAddress(ifc: Ifc, addr: Ip6, prefixLen: number): Addr6 {
    if (ip6IsMulticast(addr) || ip6IsUnspecified(addr) || prefixLen < 0 || prefixLen > 128) throw new StackError('bad arg in system call');
    const a = this.addrs.addManual(ifc, addr, prefixLen, this.now());
    if (a === null) throw new StackError('bad arg in system call');
    return a;
  }

  /** Removes an address. @throws StackError `address not on this interface` */
  removeAddress(ifc: Ifc, addr: Ip6): void {
    if (!this.addrs.remove(ifc, addr, this.now())) throw new StackError('address not on this interface');
  }

  /** What router advertisements taught `ifc` (routers, prefixes, DNS, MTU, hop limit), or null. */
  params(ifc: Ifc): Readonly<Ifc6Params> | null {
    return this.routers.params(ifc);
  }

  /** Groups `ifc` listens to (ff02::1 besides). */
  groups(ifc: Ifc): Ip6[] {
    return this.mld.groups(ifc);
  }

  /** Plugs an upper-layer protocol in by next-header value (phase 2: TCP, UDP). */
  registerProtocol(nextHeader: number, handler: Ip6ProtocolHandler): Disposable {
    if (nextHeader === IPV6_NH.ICMPV6 || this.handlers[nextHeader] !== undefined) throw new Error(`protocol ${nextHeader} already registered`);
    this.handlers[nextHeader] = handler;
    return { dispose: () => { if (this.handlers[nextHeader] === handler) this.handlers[nextHeader] = undefined; } };
  }

  /** An upper layer saw forward progress with `peer` (RFC 4861 §7.3.1). */
  confirmReachable(peer: Ip6): void {
    this.neighbors.confirm(peer, this.now());
  }

  /** The path MTU toward `dst` (the link MTU when no Packet Too Big lowered it). */
  pathMtu(dst: Ip6, ifc?: Ifc): number {
    const hop = this.nextHop(dst, ifc ?? null, null, this.now());
    if (hop === null) return IPV6_MIN_MTU;
    return this.pmtu.get(ip6Key(dst), this.linkMtu(hop.ifc), this.now());
  }

  /** The source address we would use toward `dst`, or null. */
  sourceFor(dst: Ip6, ifc?: Ifc): Ip6 | null {
    const hop = this.nextHop(dst, ifc ?? null, null, this.now());
    return hop === null ? null : this.pickSource(hop.ifc, dst);
  }

  /**
   * Sends a datagram (bytes, or written in place by a writer).
   * @throws StackError `not a local IP address` if `opts.src` is not ours
   */
  sendIp6(dst: Ip6, nextHeader: number, body: Uint8Array | Ip6PayloadWriter, opts: Ip6SendOptions = {}): SendResult {
    if (opts.src !== undefined && !this.isLocal6(opts.src)) throw new StackError(Enotlocal);
    const w: Ip6PayloadWriter = body instanceof Uint8Array ? { length: body.length, write: (out, o) => out.set(body, o) } : body;
    return this.output6(dst, nextHeader, w, opts, this.now());
  }

  /** Bytes and datagrams held by reassembly. */
  get reassemblyBytes(): number {
    return this.reasm.bytes;
  }
  get reassemblyDatagrams(): number {
    return this.reasm.datagrams;
  }

  /** Detaches from the Stack. */
  close(): void {
    for (const ifc of [...this.enabledIfcs]) this.disable(ifc);
    this.reasm.clear();
    for (const s of this.subs) s.dispose();
  }

  // ------------------------------------------------------------------
  // Ip6Core

  now(): number {
    return this.stack.clock.now();
  }

  drop(layer: string, reason: string): void {
    this.stack.drop(layer, reason);
  }

  isLocal6(a: Ip6): boolean {
    for (const ifc of this.enabledIfcs) if (this.usable(ifc, a)) return true;
    return false;
  }

  advise6(a: Icmp6Advice, now: number): void {
    if (!this.isLocal6(a.src)) {
      this.drop('icmp6', 'advice not about us');
      return;
    }
    if (a.type === ICMPV6_PACKET_TOO_BIG) {
      const hop = this.nextHop(a.dst, null, null, now);
      const key = ip6Key(a.dst);
      const current = hop === null ? IPV6_MIN_MTU : this.pmtu.get(key, this.linkMtu(hop.ifc), now);
      this.pmtu.tooBig(key, a.mtu, current, now);
    }
    if (a.protocol === IPV6_NH.ICMPV6) this.icmp.advise(a);
    else this.handlers[a.protocol]?.advise?.(a, now);
  }

  output6(dst: Ip6, nextHeader: number, w: Ip6PayloadWriter, opts: Ip6SendOptions, now: number): SendResult {
    const st = this.stats;
    st.OutRequests++;
    if (ip6IsUnspecified(dst) || ip6IsV4Mapped(dst) || ip6IsLoopback(dst) || this.isLocal6(dst)) {
      st.OutNoRoutes++;
      return 'no route';
    }
    const hop = this.nextHop(dst, opts.ifc ?? null, opts.src ?? null, now);
    if (hop === null) {
      st.OutNoRoutes++;
      return 'no route';
    }
    const ifc = hop.ifc;
    const src = opts.src ?? this.pickSource(ifc, dst);
    if (src === null) {
      st.OutNoRoutes++;
      return 'no route';
    }
    const params = this.routers.params(ifc)!;
    const hopLimit = opts.hopLimit ?? params.hopLimit;
    const ext = opts.routerAlert === true ? ROUTER_ALERT_HBH : null;
    const extLen = ext === null ? 0 : ext.length;
    const firstNh = ext === null ? nextHeader : IPV6_NH.HOP_BY_HOP;
    const plen = extLen + w.length;
    if (plen > 0xffff) {
      st.OutDiscards++;
      return 'too big';
    }
    const mtu = hop.nextHop === null ? this.linkMtu(ifc) : this.pmtu.get(ip6Key(dst), this.linkMtu(ifc), now);
    const tc = opts.trafficClass ?? 0;
    if (IPV6_HEADER_LEN + plen <= mtu) {
      const frame = this.frames.alloc(ETHERNET_HEADER_LEN + IPV6_HEADER_LEN + plen);
      const o = ETHERNET_HEADER_LEN + IPV6_HEADER_LEN;
      if (ext !== null) {
        frame.set(ext, o);
        frame[o] = nextHeader;
      }
      w.write(frame, o + extLen, src, dst);
      writeIpv6Header(frame, ETHERNET_HEADER_LEN, tc, 0, plen, firstNh, hopLimit, src, dst);
      return this.sendFrame(ifc, hop, dst, frame, now);
    }
    // RFC 8200 §4.5: the unfragmentable part (fixed header, hop-by-hop) in every fragment.
    const body = new Uint8Array(w.length);
    w.write(body, 0, src, dst);
    const step = (mtu - IPV6_HEADER_LEN - extLen - IPV6_FRAG_HEADER_LEN) & ~7;
    const ident = this.rng.u32();
    let pending = false;
    for (let off = 0; off < body.length; off += step) {
      const n = Math.min(step, body.length - off);
      const more = off + n < body.length;
      const fplen = extLen + IPV6_FRAG_HEADER_LEN + n;
      const frame = this.frames.alloc(ETHERNET_HEADER_LEN + IPV6_HEADER_LEN + fplen);
      let o = ETHERNET_HEADER_LEN + IPV6_HEADER_LEN;
      if (ext !== null) {
        frame.set(ext, o);
        frame[o] = IPV6_NH.FRAGMENT;
        o += extLen;
      }
      writeIpv6Fragment(frame, o, nextHeader, off, more, ident);
      frame.set(body.subarray(off, off + n), o + IPV6_FRAG_HEADER_LEN);
      writeIpv6Header(frame, ETHERNET_HEADER_LEN, tc, 0, fplen, ext === null ? IPV6_NH.FRAGMENT : IPV6_NH.HOP_BY_HOP, hopLimit, src, dst);
      st.FragCreates++;
      if (this.sendFrame(ifc, hop, dst, frame, now) !== 'sent') pending = true;
    }
    st.FragOKs++;
    return pending ? 'pending' : 'sent';
  }

  // ------------------------------------------------------------------
  // Input

  ipv6Input(ifc: Ifc, buf: Uint8Array, l2group: boolean, now: number): void {
    if (!ifc.bound) return;
    const st = this.stats;
    if (!this.enabledIfcs.includes(ifc)) {
      this.drop('ipv6', 'not enabled');
      return;
    }
    st.InReceives++;
    const ip = parseIpv6(buf);
    if (ip instanceof WireError) {
      st.InHdrErrors++;
      ifc.rxErrors++;
      this.drop('ipv6', ip.reason);
      return;
    }
    const pkt = buf.length === IPV6_HEADER_LEN + ip.payload.length ? buf : buf.subarray(0, IPV6_HEADER_LEN + ip.payload.length);
    const src = ip.src;
    const dst = ip.dst;
    if (ip6IsMulticast(src) || ip6IsLoopback(src) || ip6IsV4Mapped(src) || ip6IsLoopback(dst) || ip6IsV4Mapped(dst)) {
      st.InAddrErrors++;
      this.drop('ipv6', 'martian');
      return;
    }
    const multicast = ip6IsMulticast(dst);
    if (multicast ? !this.mld.listening(ifc, dst) : !this.acceptsUnicast(ifc, dst)) {
      st.InAddrErrors++;
      this.drop('ipv6', 'not for us');
      return;
    }
    let h = walkIpv6(pkt);
    if (h instanceof WireError) {
      st.InHdrErrors++;
      this.drop('ipv6', h.reason);
      return;
    }
    if (h.kind === 'problem') {
      st.InHdrErrors++;
      this.drop('ipv6', 'parameter problem');
      if (h.icmp === 'always' || (h.icmp === 'unicast' && !multicast)) {
        this.icmp.error(pkt, multicast, l2group, ifc, ICMPV6_PARAM_PROBLEM, h.code, h.pointer, now);
      }
      return;
    }
    let whole = pkt;
    if (h.fragment !== null) {
      st.ReasmReqds++;
      const r = this.reasm.add(pkt, h, now);
      if (r === null) return;
      st.ReasmOKs++;
      const again = walkIpv6(r);
      if (again instanceof WireError || again.kind === 'problem') {
        st.InHdrErrors++;
        this.drop('ipv6', 'reassembled parameter problem');
        if (!(again instanceof WireError) && again.icmp !== 'never') this.icmp.error(r, multicast, l2group, ifc, ICMPV6_PARAM_PROBLEM, again.code, again.pointer, now);
        return;
      }
      whole = r;
      h = again;
    }
    this.deliver(ifc, whole, h, ip.hopLimit, ip.trafficClass, src, dst, multicast, l2group, now);
  }

  private deliver(
    ifc: Ifc, packet: Uint8Array, h: Ipv6Headers, hopLimit: number, trafficClass: number,
    src: Ip6, dst: Ip6, multicast: boolean, l2group: boolean, now: number,
  ): void {
    const st = this.stats;
    const p = h.protocol;
    if (p === IPV6_NH.NONE) return;
    const d: Ipv6Delivery = { packet, src, dst, hopLimit, trafficClass, offset: h.offset, payload: packet.subarray(h.offset), ifc, multicast, l2group };
    if (p === IPV6_NH.ICMPV6) {
      st.InDelivers++;
      this.icmp.input(d, now);
      return;
    }
    const handler = this.handlers[p];
    if (handler !== undefined) {
      st.InDelivers++;
      handler.input(d, now);
      return;
    }
    st.InUnknownProtos++;
    this.drop('ipv6', 'unknown protocol');
    this.icmp.error(packet, multicast, l2group, ifc, ICMPV6_PARAM_PROBLEM, PARAM_UNRECOGNIZED_NH, h.protocolAt, now);
  }

  /** A unicast destination we take on `ifc`: one of our usable addresses (link-local ones only on their own interface). */
  private acceptsUnicast(ifc: Ifc, dst: Ip6): boolean {
    if (this.usable(ifc, dst)) return true;
    if (ip6IsLinkLocal(dst)) return false;
    for (const other of this.enabledIfcs) if (other !== ifc && this.usable(other, dst)) return true;
    return false;
  }

  /** `a` is an address of `ifc` that may be used (preferred or deprecated, not tentative or duplicate). */
  private usable(ifc: Ifc, a: Ip6): boolean {
    const x = this.addrs.find(ifc, a);
    return x !== null && (x.state === 'preferred' || x.state === 'deprecated');
  }

  // ------------------------------------------------------------------
  // Neighbor Discovery and MLD input (RFC 4861 §6.1, §7.1 validation)

  private ndInput(d: Ipv6Delivery, m: Icmpv6Repr, now: number): void {
    const s = this.icmp.stats;
    const ifc = d.ifc;
    if (m.kind === 'mldQuery') {
      if (ip6IsLinkLocal(d.src)) this.mld.query(ifc, m, now);
      return;
    }
    if (m.kind === 'mldReport' || m.kind === 'mldDone' || m.kind === 'mld2Report') return; // a host ignores others' reports
    if (d.hopLimit !== ND_HOP_LIMIT) {
      s.InErrors++;
      s.HoplimErrs++;
      this.drop('nd', 'hop limit');
      return;
    }
    const srcUnspec = ip6IsUnspecified(d.src);
    switch (m.kind) {
      case 'routerSolicit':
        this.drop('nd', 'router solicitation'); // hosts discard them (§6.2.6 is for routers)
        return;
      case 'routerAdvert': {
        if (!ip6IsLinkLocal(d.src)) {
          s.InErrors++;
          s.RouterAddrErrs++;
          this.drop('nd', 'router address');
          return;
        }
        const mac = ndLinkAddr(m.options, 'sourceLinkAddr');
        if (mac >= 0) this.neighbors.learn(ifc, d.src, mac, true, now);
        this.routers.advert(ifc, d.src, m, now);
        return;
      }
      case 'neighborSolicit': {
        const slla = ndLinkAddr(m.options, 'sourceLinkAddr');
        if (ip6IsMulticast(m.target)) {
          s.InErrors++;
          s.TargetErrs++;
          return;
        }
        if (srcUnspec && (!ip6IsSolicitedNode(d.dst) || slla >= 0)) {
          s.InErrors++;
          s.AddrmxpErrs++;
          return;
        }
        const nonce = m.options.find((o) => o.type === 'nonce');
        if (this.addrs.solicitation(ifc, m.target, srcUnspec, nonce?.type === 'nonce' ? nonce.nonce : null, now)) return;
        if (!this.usable(ifc, m.target)) {
          this.drop('nd', 'not our target');
          return;
        }
        if (srcUnspec) {
          // §7.2.4: someone's DAD for our address: defend it to all nodes.
          this.sendNa(ifc, IP6_ALL_NODES, m.target, false, now);
          return;
        }
        if (slla >= 0) this.neighbors.learn(ifc, d.src, slla, false, now);
        this.sendNa(ifc, d.src, m.target, true, now);
        return;
      }
      case 'neighborAdvert': {
        if (ip6IsMulticast(m.target)) {
          s.InErrors++;
          s.TargetErrs++;
          return;
        }
        if (d.multicast && m.solicited) {
          s.InErrors++;
          s.AddrmxpErrs++;
          return;
        }
        if (this.addrs.advertisement(ifc, m.target, now)) return;
        if (this.usable(ifc, m.target)) {
          this.drop('nd', 'address conflict');
          this.stack.log(`ipv6: ${formatIpv6(m.target)} is also claimed by another node`);
          return;
        }
        this.neighbors.advert(ifc, m.target, ndLinkAddr(m.options, 'targetLinkAddr'), m.solicited, m.override, m.router, now);
        return;
      }
      case 'redirect':
        this.redirect(d, m, now);
        return;
      default:
        return;
    }
  }

  /** A redirect (RFC 4861 §8.1 validation, §8.3 processing); ignored unless acceptRedirects. */
  private redirect(d: Ipv6Delivery, m: Extract<Icmpv6Repr, { kind: 'redirect' }>, now: number): void {
    if (!this.acceptRedirects) {
      this.drop('nd', 'redirect ignored');
      return;
    }
    const hop = this.nextHop(m.destination, d.ifc, null, now);
    const sameTarget = ip6Equal(m.target, m.destination);
    if (!ip6IsLinkLocal(d.src) || ip6IsMulticast(m.destination) || (!ip6IsLinkLocal(m.target) && !sameTarget) ||
      hop === null || hop.ifc !== d.ifc || hop.nextHop === null || !ip6Equal(hop.nextHop, d.src)) {
      this.drop('nd', 'bad redirect');
      return;
    }
    const key = ip6Key(m.destination);
    if (!this.redirects.has(key) && this.redirects.size >= REDIRECTS_MAX) {
      for (const k of this.redirects.keys()) {
        this.redirects.delete(k);
        break;
      }
    }
    this.redirects.set(key, { ifc: d.ifc, nextHop: m.target.slice(), until: now + REDIRECT_LIFETIME_MS });
    const mac = ndLinkAddr(m.options, 'targetLinkAddr');
    if (mac >= 0) this.neighbors.learn(d.ifc, m.target, mac, !sameTarget, now);
  }

  // ------------------------------------------------------------------
  // Output helpers

  private linkMtu(ifc: Ifc): number {
    const p = this.routers.params(ifc);
    const m = p === null ? ifc.mtu : p.linkMtu;
    return m < ifc.mtu ? m : ifc.mtu;
  }

  /** RFC 4861 §5.2 next-hop determination. */
  private nextHop(dst: Ip6, want: Ifc | null, src: Ip6 | null, now: number): Hop | null {
    const ifcs = this.enabledIfcs;
    if (ifcs.length === 0) return null;
    if (want !== null && !ifcs.includes(want)) return null;
    const owner = src === null || ip6IsUnspecified(src) ? null : ifcs.find((i) => this.addrs.find(i, src) !== null) ?? null;
    const pinned = want ?? owner;
    if (ip6IsMulticast(dst) || ip6IsLinkLocal(dst)) {
      const ifc = pinned ?? (ifcs.length === 1 ? ifcs[0]! : null);
      if (ifc === null) return null;
      return { ifc, nextHop: ip6IsMulticast(dst) ? null : dst };
    }
    const red = this.redirects.get(ip6Key(dst));
    if (red !== undefined) {
      if (red.until > now && (pinned === null || pinned === red.ifc)) return { ifc: red.ifc, nextHop: red.nextHop };
      if (red.until <= now) this.redirects.delete(ip6Key(dst));
    }
    const cands = pinned === null ? ifcs : [pinned];
    for (const ifc of cands) {
      if (this.routers.isOnLink(ifc, dst)) return { ifc, nextHop: dst };
      for (const a of this.addrs.addresses(ifc)) if (a.origin === 'manual' && ip6PrefixMatch(a.addr, dst, a.prefixLen)) return { ifc, nextHop: dst };
    }
    // §6.3.6: a router whose link-layer address is known first, else any.
    let fallback: Hop | null = null;
    for (const ifc of cands) {
      for (const r of this.routers.params(ifc)?.routers ?? []) {
        if (r.until <= now) continue;
        if (this.neighbors.lookup(r.addr) >= 0) return { ifc, nextHop: r.addr };
        fallback ??= { ifc, nextHop: r.addr };
      }
    }
    return fallback;
  }

  /** RFC 6724 source selection among `ifc`'s usable addresses: same scope (rule 2), not deprecated (3), longest match (8). */
  private pickSource(ifc: Ifc, dst: Ip6): Ip6 | null {
    const linkScope = ip6IsLinkScoped(dst);
    let best: Addr6 | null = null;
    let bestScore = -1;
    for (const a of this.addrs.addresses(ifc)) {
      if (a.state !== 'preferred' && a.state !== 'deprecated') continue;
      const ll = ip6IsLinkLocal(a.addr);
      const score = (ll === linkScope ? 1 << 10 : 0) + (a.state === 'preferred' ? 1 << 9 : 0) + ip6CommonPrefixLen(a.addr, dst);
      if (score > bestScore) {
        best = a;
        bestScore = score;
      }
    }
    return best === null ? null : best.addr;
  }

  private sendFrame(ifc: Ifc, hop: Hop, dst: Ip6, frame: Uint8Array, now: number): SendResult {
    if (hop.nextHop === null) {
      writeEthernetHeader(frame, 0, ip6MulticastMac(dst), ifc.mac, ETHERTYPE_IPV6);
      ifc.transmit(frame);
      return 'sent';
    }
    writeEthernetHeader(frame, 0, 0, ifc.mac, ETHERTYPE_IPV6);
    return this.neighbors.output(ifc, hop.nextHop, frame, now) ? 'sent' : 'pending';
  }

  private sendNa(ifc: Ifc, dst: Ip6, target: Ip6, solicited: boolean, _now: number): void {
    const options: NdOption[] = [{ type: 'targetLinkAddr', mac: ifc.mac }];
    this.icmp.send(dst, { kind: 'neighborAdvert', router: false, solicited, override: true, reserved: 0, target, options }, {
      src: target, hopLimit: ND_HOP_LIMIT, ifc,
    });
  }

  // ------------------------------------------------------------------
  // Hosts of the machines

  /** @internal NeighborHost */
  ndSolicit(ifc: Ifc, target: Ip6, unicastMac: number, _now: number): void {
    const src = this.pickSource(ifc, target);
    if (src === null) {
      this.drop('nd', 'no source for solicitation');
      return;
    }
    const options: NdOption[] = [{ type: 'sourceLinkAddr', mac: ifc.mac }];
    const r: Icmpv6Repr = { kind: 'neighborSolicit', reserved: 0, target, options };
    // A probe goes to the neighbor itself (its entry holds its MAC); resolution to its solicited-node group.
    this.icmp.send(unicastMac < 0 ? ip6SolicitedNode(target) : target, r, { src, hopLimit: ND_HOP_LIMIT, ifc });
  }

  /** @internal */
  ndTransmit(ifc: Ifc, frame: Uint8Array): void {
    if (ifc.bound) ifc.transmit(frame);
  }

  /** @internal Our own held datagrams never reached their neighbor: advice, as Address Unreachable would give. */
  ndUnreachable(_ifc: Ifc, frames: Uint8Array[], now: number): void {
    for (const f of frames) {
      this.drop('nd', 'unresolved');
      const pkt = f.subarray(ETHERNET_HEADER_LEN);
      if (pkt.length < IPV6_HEADER_LEN) continue;
      const h = walkIpv6(pkt);
      if (h instanceof WireError || h.kind === 'problem' || (h.fragment !== null && h.fragment.offset !== 0)) continue;
      const protocol = h.fragment !== null ? h.fragment.nextHeader : h.protocol;
      const upper = pkt.subarray(h.offset);
      const srcPort = protocol === IPV6_NH.ICMPV6 ? (upper.length >= 6 ? (upper[4]! << 8) | upper[5]! : 0) : upper.length >= 2 ? (upper[0]! << 8) | upper[1]! : 0;
      const dstPort = protocol !== IPV6_NH.ICMPV6 && upper.length >= 4 ? (upper[2]! << 8) | upper[3]! : 0;
      const src = readIp6(pkt, 8);
      this.advise6({
        reason: 'address unreachable', type: ICMPV6_DEST_UNREACHABLE, code: 3, from: src, src, dst: readIp6(pkt, 24),
        protocol, srcPort, dstPort, mtu: 0, quote: upper,
      }, now);
    }
  }

  /** @internal */
  ndDiscarded(n: number): void {
    this.stats.OutDiscards += n;
    for (let i = 0; i < n; i++) this.drop('nd', 'queue overflow');
  }

  /** @internal */
  ndNotRouter(ifc: Ifc, ip: Ip6): void {
    this.routers.notRouter(ifc, ip);
  }

  /** @internal */
  ndTimes(ifc: Ifc): { retrans: number; reachable: number } {
    const p = this.routers.params(ifc);
    return p === null ? { retrans: 1000, reachable: 30_000 } : { retrans: p.retrans, reachable: p.reachable };
  }

  /** @internal AddrConfHost */
  dadSolicit(ifc: Ifc, target: Ip6, nonce: Uint8Array, _now: number): void {
    this.icmp.send(ip6SolicitedNode(target), { kind: 'neighborSolicit', reserved: 0, target, options: [{ type: 'nonce', nonce }] }, {
      src: IP6_UNSPECIFIED, hopLimit: ND_HOP_LIMIT, ifc,
    });
  }

  /** @internal */
  joinGroup(ifc: Ifc, group: Ip6, now: number): void {
    if (!this.mld.join(ifc, group, now)) this.drop('mld', 'too many groups');
  }

  /** @internal */
  leaveGroup(ifc: Ifc, group: Ip6, now: number): void {
    this.mld.leave(ifc, group, now);
  }

  /** @internal */
  addrReady(ifc: Ifc, a: Addr6, now: number): void {
    this.stack.log(`ipv6: ${formatIpv6(a.addr)}/${a.prefixLen} on ${ifc.name} is ${a.state}`);
    if (a.origin === 'link') this.routers.solicit(ifc, now);
    this.opts.onAddress?.(ifc, a, 'ready');
  }

  /** @internal */
  addrLost(ifc: Ifc, a: Addr6, why: 'duplicate' | 'expired' | 'removed', _now: number): void {
    if (why === 'duplicate') this.stack.log(`ipv6: ${formatIpv6(a.addr)} on ${ifc.name} is a duplicate`);
    this.opts.onAddress?.(ifc, a, why);
  }

  /** @internal */
  retransTimer(ifc: Ifc): number {
    return this.ndTimes(ifc).retrans;
  }

  /** @internal RouterHost */
  sendRouterSolicit(ifc: Ifc, _now: number): void {
    const src = this.pickSource(ifc, IP6_ALL_ROUTERS);
    // §6.3.7: from a link-local address with our SLLA, or from :: without it.
    const options: NdOption[] = src === null ? [] : [{ type: 'sourceLinkAddr', mac: ifc.mac }];
    this.icmp.send(IP6_ALL_ROUTERS, { kind: 'routerSolicit', reserved: 0, options }, { src: src ?? IP6_UNSPECIFIED, hopLimit: ND_HOP_LIMIT, ifc });
  }

  /** @internal */
  autonomousPrefix(ifc: Ifc, prefix: Ip6, len: number, validS: number, preferredS: number, now: number): void {
    if (this.slaac) this.addrs.prefix(ifc, prefix, len, validS, preferredS, now);
  }

  /** @internal */
  dnsChanged(ifc: Ifc, servers: readonly Rdnss[]): void {
    this.opts.onDns?.(ifc, servers);
  }

  /** @internal MldHost: reports from a link-local address, or :: before we have one (RFC 3810 §5.2.13). */
  sendMldReport(ifc: Ifc, records: Mld2Record[], _now: number): void {
    const src = this.pickSource(ifc, IP6_ALL_MLDV2_ROUTERS) ?? IP6_UNSPECIFIED;
    this.icmp.send(IP6_ALL_MLDV2_ROUTERS, { kind: 'mld2Report', reserved: 0, records }, { src, hopLimit: 1, ifc, routerAlert: true });
  }

  /** @internal Reasm6Host */
  reasm6Drop(reason: string): void {
    if (reason !== 'duplicate') this.stats.ReasmFails++;
    this.drop('reasm6', reason);
  }

  /** @internal */
  reasm6Problem(pkt: Uint8Array, code: number, pointer: number, now: number): void {
    const ifc = this.enabledIfcs.find((i) => this.usable(i, pkt.subarray(24, 40)));
    if (ifc !== undefined) this.icmp.error(pkt, false, false, ifc, ICMPV6_PARAM_PROBLEM, code, pointer, now);
  }

  /** @internal */
  reasm6TimedOut(first: Uint8Array | null, now: number): void {
    this.stats.ReasmTimeout++;
    if (first === null) return;
    const ifc = this.enabledIfcs.find((i) => this.usable(i, first.subarray(24, 40)));
    if (ifc !== undefined) this.icmp.error(first, false, false, ifc, ICMPV6_TIME_EXCEEDED, EXCEEDED6_REASSEMBLY, 0, now);
  }

  /** @internal shared with every machine */
  schedule(deadline: number): void {
    this.stack.schedule(deadline);
  }

  // ------------------------------------------------------------------
  // TimerSource

  pollAt(): number | null {
    let t = Infinity;
    for (const x of [this.addrs.pollAt(), this.routers.pollAt(), this.neighbors.pollAt(), this.mld.pollAt(), this.reasm.pollAt()]) {
      if (x !== null && x < t) t = x;
    }
    return t === Infinity ? null : t;
  }

  poll(now: number): void {
    for (const ifc of [...this.enabledIfcs]) if (!ifc.bound) this.disable(ifc);
    if (due(this.addrs.pollAt(), now)) this.addrs.poll(now);
    if (due(this.routers.pollAt(), now)) this.routers.poll(now);
    if (due(this.neighbors.pollAt(), now)) this.neighbors.poll(now);
    if (due(this.mld.pollAt(), now)) this.mld.poll(now);
    if (due(this.reasm.pollAt(), now)) this.reasm.poll(now);
  }
}

function due(t: number | null, now: number): boolean {
  return t !== null && t <= now;
}
