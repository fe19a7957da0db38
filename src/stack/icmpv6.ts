/**
 * ICMPv6 above the IPv6 layer (RFC 4443; Plan 9 9/ip/icmp6.c).
 *
 *  - Echo requests are answered (to multicast ones too, from a unicast
 *    address of ours, as 9front's mkechoreply6); echo replies and other
 *    messages go to the conversation whose port is the identifier, as the
 *    whole packet (the 40-byte fixed header and the message, as 9front's
 *    goticmpkt6), the source of what phase 2's /net/icmpv6 reads.
 *  - Errors (unreachable, packet too big, time exceeded, parameter problem)
 *    become advice with 9front's text, for the protocol of the quoted
 *    datagram (Packet Too Big also lowers the path MTU, RFC 8201).
 *  - Neighbor Discovery and MLD messages go to the IPv6 layer's handler.
 *  - Errors we originate follow RFC 4443 §2.4 (e): none about an ICMPv6
 *    error or a redirect, about a datagram to a multicast or link-layer group
 *    address (except Packet Too Big and Parameter Problem code 2 for an
 *    option that asks for it), or whose source is not one unicast node; they
 *    quote as much of the datagram as fits in 1280 bytes (§2.4 (c)), and are
 *    rate limited by a token bucket (§2.4 (f)).
 */
import type { SendResult } from './core.js';
import type { Icmp6Advice, Ip6Core, Ip6PayloadWriter, Ip6SendOptions, Ipv6Delivery } from './core6.js';
import { Enoports, StackError } from './error.js';
import { ICMP_MAX_ENDPOINTS, ICMP_RATE_BURST, ICMP_RATE_PER_SEC, RateLimiter } from './icmp.js';
import type { Ifc } from './ifc.js';
import { claimPort } from './ports.js';
import { get16 } from './wire/bytes.js';
import {
  emitIcmpv6,
  finishIcmpv6,
  ICMPV6_DEST_UNREACHABLE,
  ICMPV6_ECHO_REQUEST,
  ICMPV6_HEADER_LEN,
  ICMPV6_PACKET_TOO_BIG,
  ICMPV6_PARAM_PROBLEM,
  ICMPV6_REDIRECT,
  ICMPV6_TIME_EXCEEDED,
  icmpv6BufferLen,
  icmpv6Type,
  parseIcmpv6,
  parseIcmpv6Quote,
} from './wire/icmpv6.js';
import type { Icmpv6Repr } from './wire/icmpv6.js';
import type { Ip6 } from './wire/ipv6addr.js';
import { formatIpv6, ip6IsMulticast, ip6IsUnspecified } from './wire/ipv6addr.js';
import { IPV6_HEADER_LEN, IPV6_MIN_MTU, IPV6_NH, PARAM_UNRECOGNIZED_OPTION } from './wire/ipv6.js';
import { WireError } from './wire/result.js';

/** Errors we originate share ICMPv4's token bucket size and rate (RFC 4443 §2.4 (f)); conversations its bound. */
export { ICMP_MAX_ENDPOINTS as ICMP6_MAX_ENDPOINTS, ICMP_RATE_BURST as ICMP6_RATE_BURST, ICMP_RATE_PER_SEC as ICMP6_RATE_PER_SEC };

/** icmp6.c's counters (statnames6), in its order, for /net/icmpv6/stats. */
export const ICMP6_STAT_NAMES = [
  'InMsgs', 'InErrors', 'OutMsgs', 'CsumErrs', 'LenErrs', 'HlenErrs', 'HoplimErrs', 'IcmpCodeErrs', 'TargetErrs',
  'OptlenErrs', 'AddrmxpErrs', 'RouterAddrErrs',
] as const;
export type Icmp6StatName = (typeof ICMP6_STAT_NAMES)[number];

export interface Icmp6Stats extends Record<Icmp6StatName, number> {
  /** Messages in and out by type (256 each). */
  readonly inTypes: number[];
  readonly outTypes: number[];
}

export function newIcmp6Stats(): Icmp6Stats {
  const counts = Object.fromEntries(ICMP6_STAT_NAMES.map((n) => [n, 0])) as Record<Icmp6StatName, number>;
  return { ...counts, inTypes: new Array<number>(256).fill(0), outTypes: new Array<number>(256).fill(0) };
}

/** icmp6.c's unreachcode[] texts by code. */
export const UNREACH6_REASONS: readonly string[] = Object.freeze([
  'no route to destination',
  'comm with destination administratively prohibited',
  'beyond scope of source address',
  'address unreachable',
  'port unreachable',
  'source address failed ingress/egress policy',
  'reject route to destination',
]);

/** 9front's advice text for an error from `from`, or null for messages that give none. */
export function icmp6Reason(type: number, code: number, from: Ip6, mtu: number): string | null {
  switch (type) {
    case ICMPV6_DEST_UNREACHABLE:
      return UNREACH6_REASONS[code] ?? 'icmp unreachable: unknown code';
    case ICMPV6_TIME_EXCEEDED:
      if (code === 0) return `ttl exceeded at ${formatIpv6(from)}`;
      return code === 1 ? `frag time exceeded at ${formatIpv6(from)}` : null;
    case ICMPV6_PACKET_TOO_BIG:
      return `packet too big for ${mtu} mtu at ${formatIpv6(from)}`;
    default:
      return null;
  }
}

/** Writes one ICMPv6 message (a repr, or raw bytes from the type on) with its checksum. */
export class Icmp6Writer implements Ip6PayloadWriter {
  length = 0;
  private repr: Icmpv6Repr | null = null;
  private raw: Uint8Array | null = null;

  /** A message from its repr. */
  of(r: Icmpv6Repr): this {
    this.repr = r;
    this.raw = null;
    this.length = icmpv6BufferLen(r);
    return this;
  }

  /** A message given as bytes from the type byte on (its checksum is computed). */
  bytes(m: Uint8Array): this {
    this.raw = m;
    this.repr = null;
    this.length = m.length;
    return this;
  }

  write(out: Uint8Array, o: number, src: Ip6, dst: Ip6): void {
    if (this.repr !== null) emitIcmpv6(this.repr, out, o, src, dst);
    else if (this.raw !== null) {
      out.set(this.raw, o);
      finishIcmpv6(out, o, this.raw.length, src, dst);
    }
    this.repr = null;
    this.raw = null;
  }
}

/** Receives the whole packet (fixed header + message), a copy the receiver owns. */
export type Icmp6Receiver = (packet: Uint8Array, ifc: Ifc) => void;

/** An ICMPv6 conversation (phase 2: /net/icmpv6/N; ping6). */
export class Icmp6Endpoint {
  hopLimit: number | undefined = undefined;
  private open = true;

  /** @internal use Icmpv6Layer.open */
  constructor(
    private readonly layer: Icmpv6Layer,
    /** The identifier of what it sends and receives. */
    readonly port: number,
    public remote: Ip6 | null,
    public onPacket: Icmp6Receiver,
    public onAdvice: ((a: Icmp6Advice) => void) | null,
  ) {}

  get isOpen(): boolean {
    return this.open;
  }

  /**
   * Sends a message given from its type byte on (checksum computed, the
   * identifier set to {@link port} for echo requests).
   */
  send(message: Uint8Array, dst: Ip6 | null = this.remote, ifc?: Ifc): SendResult {
    if (!this.open || dst === null || message.length < ICMPV6_HEADER_LEN) return 'dropped';
    const m = message.slice();
    if (m[0] === ICMPV6_ECHO_REQUEST) {
      m[4] = this.port >>> 8;
      m[5] = this.port & 0xff;
    }
    return this.layer.sendRaw(m, dst, this.hopLimit, ifc);
  }

  /** Sends an echo request with this endpoint's identifier. */
  sendEcho(seq: number, data: Uint8Array, dst: Ip6 | null = this.remote, ifc?: Ifc): SendResult {
    const m = new Uint8Array(ICMPV6_HEADER_LEN + data.length);
    m[0] = ICMPV6_ECHO_REQUEST;
    m[6] = (seq >>> 8) & 0xff;
    m[7] = seq & 0xff;
    m.set(data, ICMPV6_HEADER_LEN);
    return this.send(m, dst, ifc);
  }

  close(): void {
    if (!this.open) return;
    this.open = false;
    this.layer.release(this);
  }
}

/** What the layer hands to the IPv6 layer: Neighbor Discovery and MLD. */
export type NdHandler = (d: Ipv6Delivery, m: Icmpv6Repr, now: number) => void;

export class Icmpv6Layer {
  readonly stats = newIcmp6Stats();
  private readonly eps = new Map<number, Icmp6Endpoint>();
  private readonly writer = new Icmp6Writer();
  private readonly limiter = new RateLimiter(ICMP_RATE_BURST, ICMP_RATE_PER_SEC);

  /** @internal created by the IPv6 layer, which sets `nd`. */
  constructor(private readonly core: Ip6Core, private readonly nd: NdHandler) {}

  /** Conversations open (≤ ICMP_MAX_ENDPOINTS). */
  get size(): number {
    return this.eps.size;
  }

  /**
   * Opens a conversation on `port` (0: an ephemeral one).
   * @throws StackError `address in use`, `no ports available`
   */
  open(opts: { port?: number; remote?: Ip6; onPacket: Icmp6Receiver; onAdvice?: (a: Icmp6Advice) => void }): Icmp6Endpoint {
    if (this.eps.size >= ICMP_MAX_ENDPOINTS) throw new StackError(Enoports);
    const port = claimPort(this.core.rng, opts.port ?? 0, (p) => this.eps.has(p));
    const ep = new Icmp6Endpoint(this, port, opts.remote?.slice() ?? null, opts.onPacket, opts.onAdvice ?? null);
    this.eps.set(port, ep);
    return ep;
  }

  /** @internal */
  release(ep: Icmp6Endpoint): void {
    if (this.eps.get(ep.port) === ep) this.eps.delete(ep.port);
  }

  /** @internal */
  sendRaw(m: Uint8Array, dst: Ip6, hopLimit: number | undefined, ifc: Ifc | undefined): SendResult {
    return this.emit(dst, this.writer.bytes(m), m[0]!, { hopLimit, ifc });
  }

  /** Sends a message built from its repr (the IPv6 layer's ND and MLD messages go through here). */
  send(dst: Ip6, r: Icmpv6Repr, opts: Ip6SendOptions): SendResult {
    return this.emit(dst, this.writer.of(r), icmpv6Type(r), opts);
  }

  private emit(dst: Ip6, w: Ip6PayloadWriter, type: number, opts: Ip6SendOptions): SendResult {
    const r = this.core.output6(dst, IPV6_NH.ICMPV6, w, opts, this.core.now());
    if (r === 'sent' || r === 'pending') {
      this.stats.OutMsgs++;
      this.stats.outTypes[type]!++;
    }
    return r;
  }

  /**
   * Originates an error about the datagram `pkt` (fixed header first) that
   * arrived on `ifc`, unless RFC 4443 §2.4 (e) forbids it or the rate limit
   * is spent. `param` is the MTU, pointer or 0.
   */
  error(pkt: Uint8Array, multicast: boolean, l2group: boolean, ifc: Ifc, type: number, code: number, param: number, now: number): void {
    if (pkt.length < IPV6_HEADER_LEN) return;
    const src = pkt.subarray(8, 24);
    if (ip6IsUnspecified(src) || ip6IsMulticast(src)) return;
    const allowedToGroup = type === ICMPV6_PACKET_TOO_BIG || (type === ICMPV6_PARAM_PROBLEM && code === PARAM_UNRECOGNIZED_OPTION);
    if ((multicast || l2group) && !allowedToGroup) return;
    // Not about ICMPv6 errors or redirects (when the upper layer is right after the fixed header: what the quote shows).
    if (pkt[6] === IPV6_NH.ICMPV6 && pkt.length > IPV6_HEADER_LEN) {
      const t = pkt[IPV6_HEADER_LEN]!;
      if (t < 128 || t === ICMPV6_REDIRECT) return;
    }
    if (!this.limiter.allow(now)) {
      this.core.drop('icmp6', 'rate limited');
      return;
    }
    const room = IPV6_MIN_MTU - IPV6_HEADER_LEN - ICMPV6_HEADER_LEN;
    const data = pkt.subarray(0, pkt.length < room ? pkt.length : room);
    const dst = src.slice();
    const mine = pkt.subarray(24, 40).slice();
    const from = !multicast && this.core.isLocal6(mine) ? mine : undefined;
    let r: Icmpv6Repr;
    if (type === ICMPV6_PACKET_TOO_BIG) r = { kind: 'packetTooBig', code, mtu: param, data };
    else if (type === ICMPV6_PARAM_PROBLEM) r = { kind: 'paramProblem', code, pointer: param, data };
    else r = { kind: type === ICMPV6_TIME_EXCEEDED ? 'timeExceeded' : 'destUnreachable', code, unused: 0, data };
    this.send(dst, r, { src: from, ifc });
  }

  /** @internal A datagram carrying ICMPv6 for us. */
  input(d: Ipv6Delivery, now: number): void {
    const s = this.stats;
    s.InMsgs++;
    const m = parseIcmpv6(d.payload, d.src, d.dst);
    if (m instanceof WireError) {
      s.InErrors++;
      if (m === WireError.badChecksum) s.CsumErrs++;
      else if (m === WireError.badOption) s.OptlenErrs++;
      else s.HlenErrs++;
      this.core.drop('icmp6', m.reason);
      return;
    }
    const type = icmpv6Type(m);
    s.inTypes[type]!++;
    switch (m.kind) {
      case 'echoRequest':
        this.send(d.src.slice(), { kind: 'echoReply', ident: m.ident, seq: m.seq, data: m.data }, {
          src: d.multicast ? undefined : d.dst.slice(), ifc: d.ifc,
        });
        return;
      case 'routerSolicit':
      case 'routerAdvert':
      case 'neighborSolicit':
      case 'neighborAdvert':
      case 'redirect':
      case 'mldQuery':
      case 'mldReport':
      case 'mldDone':
      case 'mld2Report':
        this.nd(d, m, now);
        return;
      case 'destUnreachable':
      case 'timeExceeded':
      case 'packetTooBig':
      case 'paramProblem': {
        const mtu = m.kind === 'packetTooBig' ? m.mtu : 0;
        const reason = icmp6Reason(type, m.code, d.src, mtu);
        const q = parseIcmpv6Quote(m.data);
        if (q instanceof WireError || q.protocol < 0) {
          s.LenErrs++;
          this.core.drop('icmp6', 'bad quote');
          return;
        }
        if (reason === null) break;
        const p = q.payload;
        let sport = 0;
        let dport = 0;
        if (q.protocol === IPV6_NH.ICMPV6) {
          if (p.length >= 8) sport = get16(p, 4);
        } else if (p.length >= 4) {
          sport = get16(p, 0);
          dport = get16(p, 2);
        }
        this.core.advise6({ reason, type, code: m.code, from: d.src, src: q.src, dst: q.dst, protocol: q.protocol, srcPort: sport, dstPort: dport, mtu, quote: p }, now);
        return;
      }
      default:
        break;
    }
    this.deliver(d, m.kind === 'echoReply' ? m.ident : get16(d.payload, 4));
  }

  /** @internal Advice about one of our ICMPv6 messages (a quoted echo request): to its conversation. */
  advise(a: Icmp6Advice): void {
    if (a.quote.length < 8 || a.quote[0] !== ICMPV6_ECHO_REQUEST) return;
    this.eps.get(a.srcPort)?.onAdvice?.(a);
  }

  private deliver(d: Ipv6Delivery, id: number): void {
    const ep = this.eps.get(id);
    if (ep === undefined) {
      this.core.drop('icmp6', 'no conversation');
      return;
    }
    const n = d.payload.length;
    const pkt = new Uint8Array(IPV6_HEADER_LEN + n);
    pkt.set(d.packet.subarray(0, IPV6_HEADER_LEN));
    pkt[4] = n >>> 8;
    pkt[5] = n & 0xff;
    pkt[6] = IPV6_NH.ICMPV6;
    pkt.set(d.payload, IPV6_HEADER_LEN);
    ep.onPacket(pkt, d.ifc);
  }
}
