/**
 * ICMPv4 (RFC 792, RFC 1122 §3.2.2; Plan 9 ip/icmp.c, plan9-net.md §6).
 *
 *  - Echo requests to one of our unicast addresses are answered by the
 *    stack (broadcast/multicast echo is ignored, as Linux does by default).
 *  - Destination-unreachable and time-exceeded messages are parsed back
 *    (parseIcmpv4Quote) into {@link IcmpAdvice} with Plan 9's reason text
 *    and dispatched to the protocol of the quoted datagram (Stack.advise).
 *  - Every other message (echo replies, …) goes to the ICMP conversation
 *    whose local port equals the message identifier, as a copy of the whole
 *    IPv4 packet: a 20-byte header (options stripped, like Plan 9) + ICMP.
 *  - Errors we originate are rate limited by a token bucket
 *    (ICMP_RATE_BURST, ICMP_RATE_PER_SEC) driven by `now`.
 */
import type { IcmpAdvice, IpPayloadWriter, SendResult, StackCore } from './core.js';
import { Enoports, Enotlocal, StackError } from './error.js';
import type { Ifc } from './ifc.js';
import { claimPort } from './ports.js';
import { DEFAULT_TTL } from './stats.js';
import { EMPTY, get16 } from './wire/bytes.js';
import { formatIpv4, fragField, IP_PROTO_ICMP, IPV4_HEADER_LEN, writeIpv4Header } from './wire/ipv4.js';
import type { Ipv4Repr } from './wire/ipv4.js';
import {
  emitIcmpv4,
  ICMP_DEST_UNREACHABLE,
  ICMP_ECHO_REPLY,
  ICMP_ECHO_REQUEST,
  ICMP_TIME_EXCEEDED,
  ICMPV4_HEADER_LEN,
  icmpv4Ident,
  icmpv4Type,
  parseIcmpv4,
  parseIcmpv4Quote,
  writeIcmpv4,
} from './wire/icmp.js';
import { WireError } from './wire/result.js';

/** Token bucket size for ICMP errors we originate. */
export const ICMP_RATE_BURST = 50;
/** Sustained ICMP errors per second. */
export const ICMP_RATE_PER_SEC = 100;
/** Bound on ICMP conversations per stack (Plan 9: 128). */
export const ICMP_MAX_ENDPOINTS = 1024;

/** Plan 9's unreachable reason strings by code (icmp.c unreachcode[]). */
export const UNREACH_REASONS: readonly string[] = Object.freeze([
  'net unreachable',
  'host unreachable',
  'protocol unreachable',
  'port unreachable',
  'fragmentation needed and DF set',
  'source route failed',
  'destination network unknown',
  'destination host unknown',
  'source host isolated',
  'network administratively prohibited',
  'host administratively prohibited',
  'network unreachable for tos',
  'host unreachable for tos',
  'communication administratively prohibited',
  'host precedence violation',
  'precedence cutoff in effect',
]);

/**
 * Plan 9 advice text for an ICMP error from `from` to `to`, or null when
 * Plan 9 gives no advice for it (only unreachable and TTL exceeded do).
 */
export function icmpReason(type: number, code: number, from: number, to: number): string | null {
  if (type === ICMP_DEST_UNREACHABLE) {
    return code < UNREACH_REASONS.length
      ? UNREACH_REASONS[code]!
      : `unreachable ${formatIpv4(from)} -> ${formatIpv4(to)} code ${code}`;
  }
  if (type === ICMP_TIME_EXCEEDED && code === 0) return `ttl exceeded at ${formatIpv4(from)}`;
  return null;
}

/** A token bucket on simulated time. */
export class RateLimiter {
  private tokens: number;
  private last = -Infinity;
  constructor(
    private readonly burst: number,
    private readonly perSec: number,
  ) {
    this.tokens = burst;
  }
  /** Takes a token if one is available at `now`. */
  allow(now: number): boolean {
    if (this.last === -Infinity) this.last = now;
    const t = this.tokens + ((now - this.last) * this.perSec) / 1000;
    this.tokens = t > this.burst ? this.burst : t;
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/**
 * Writes an ICMP message in place with the wire codec (writeIcmpv4), from
 * its raw fields; one instance is reused per send.
 */
export class IcmpWriter implements IpPayloadWriter {
  length = 0;
  type = 0;
  code = 0;
  /** Header bytes 4..7 as a u32. */
  rest = 0;
  data: Uint8Array = EMPTY;

  /** Type, code, header bytes 4..7 as two u16 fields, and the data after the header. */
  set(type: number, code: number, rest1: number, rest2: number, data: Uint8Array): this {
    this.type = type & 0xff;
    this.code = code & 0xff;
    this.rest = (((rest1 & 0xffff) << 16) | (rest2 & 0xffff)) >>> 0;
    this.data = data;
    this.length = ICMPV4_HEADER_LEN + data.length;
    return this;
  }

  write(out: Uint8Array, o: number): void {
    writeIcmpv4(out, o, this.type, this.code, this.rest, this.data);
    this.data = EMPTY; // do not retain the caller's buffer
  }
}

/** Receives a whole IPv4 packet (20-byte header + ICMP message), a copy owned by the receiver. */
export type IcmpReceiver = (packet: Uint8Array, ifc: Ifc) => void;

export interface IcmpOpenOptions {
  /** Local address (0/absent = any of ours). */
  localAddr?: number;
  /** Remote address messages are sent to by default. */
  remoteAddr?: number;
  /** Local port = ICMP identifier (0/absent = random in 32768–65535). */
  port?: number;
  onPacket: IcmpReceiver;
  onAdvice?: (advice: IcmpAdvice) => void;
}

/** An ICMP conversation (Plan 9 /net/icmp/N). */
export class IcmpEndpoint {
  ttl = DEFAULT_TTL;
  tos = 0;
  private open = true;
  private lAddr: number;
  private rAddr: number;

  /** @internal use IcmpLayer.open */
  constructor(
    private readonly layer: IcmpLayer,
    /** The local port, used as the ICMP identifier of everything sent. */
    readonly port: number,
    localAddr: number,
    remoteAddr: number,
    public onPacket: IcmpReceiver,
    public onAdvice: ((advice: IcmpAdvice) => void) | null,
  ) {
    this.lAddr = localAddr;
    this.rAddr = remoteAddr;
  }

  get localAddr(): number {
    return this.lAddr;
  }
  get remoteAddr(): number {
    return this.rAddr;
  }
  get isOpen(): boolean {
    return this.open;
  }

  /** Sets the remote (and optionally local) address. */
  connect(remote: number, localAddr?: number): void {
    if (localAddr !== undefined) {
      this.layer.checkLocal(localAddr >>> 0);
      this.lAddr = localAddr >>> 0;
    }
    this.rAddr = remote >>> 0;
  }

  /**
   * Sends an ICMP message given from its type byte on: type, code,
   * checksum (ignored), identifier (overwritten with {@link port}),
   * sequence, data — Plan 9's write format minus its 20 bytes of IP header
   * room. Messages shorter than 8 bytes are dropped (`dropped`).
   */
  send(message: Uint8Array, dst: number = this.rAddr): SendResult {
    if (!this.open || message.length < ICMPV4_HEADER_LEN) return 'dropped';
    return this.layer.send(this, message, dst >>> 0);
  }

  /** Sends an echo request with this endpoint's identifier. */
  sendEcho(seq: number, data: Uint8Array = EMPTY, dst: number = this.rAddr): SendResult {
    const m = new Uint8Array(ICMPV4_HEADER_LEN + data.length);
    emitIcmpv4({ kind: 'echoRequest', ident: this.port, seq, data }, m, 0);
    return this.send(m, dst);
  }

  close(): void {
    if (!this.open) return;
    this.open = false;
    this.layer.release(this);
  }
}

export class IcmpLayer {
  private readonly eps = new Map<number, IcmpEndpoint>();
  private readonly writer = new IcmpWriter();
  private readonly limiter = new RateLimiter(ICMP_RATE_BURST, ICMP_RATE_PER_SEC);

  /** @internal created by the Stack */
  constructor(private readonly core: StackCore) {}

  get size(): number {
    return this.eps.size;
  }

  /**
   * Opens an ICMP conversation.
   * @throws StackError `not a local IP address`, `address in use`, `no ports available`
   */
  open(opts: IcmpOpenOptions): IcmpEndpoint {
    const la = (opts.localAddr ?? 0) >>> 0;
    this.checkLocal(la);
    if (this.eps.size >= ICMP_MAX_ENDPOINTS) throw new StackError(Enoports);
    const port = claimPort(this.core.rng, opts.port ?? 0, (p) => this.eps.has(p));
    const ep = new IcmpEndpoint(this, port, la, (opts.remoteAddr ?? 0) >>> 0, opts.onPacket, opts.onAdvice ?? null);
    this.eps.set(port, ep);
    return ep;
  }

  /** @internal */
  checkLocal(addr: number): void {
    if (addr !== 0 && !this.core.isLocal(addr)) throw new StackError(Enotlocal);
  }

  /** @internal */
  release(ep: IcmpEndpoint): void {
    if (this.eps.get(ep.port) === ep) this.eps.delete(ep.port);
  }

  /** @internal */
  send(ep: IcmpEndpoint, m: Uint8Array, dst: number): SendResult {
    if (dst === 0) return 'no route';
    const type = m[0]!;
    const w = this.writer.set(type, m[1]!, ep.port, get16(m, 6), m.subarray(ICMPV4_HEADER_LEN));
    return this.emit(ep.localAddr, dst, ep.ttl, ep.tos, w);
  }

  /** @internal Sends an ICMP message built in the writer; counts it. */
  emit(src: number, dst: number, ttl: number, tos: number, w: IcmpWriter): SendResult {
    const s = this.core.stats.icmp;
    const type = w.type;
    const r = this.core.output(src, dst, IP_PROTO_ICMP, ttl, tos, false, null, w, this.core.now());
    if (r === 'sent' || r === 'pending') {
      s.OutMsgs++;
      s.outTypes[type]!++;
    }
    return r;
  }

  /**
   * @internal Originates an ICMP error (type/code/mtu) quoting `quote`
   * (original header + ≥ 8 bytes) from `src` to `dst`, if the rate limit allows.
   */
  sendError(src: number, dst: number, type: number, code: number, mtu: number, quote: Uint8Array, now: number): void {
    if (!this.limiter.allow(now)) {
      this.core.drop('icmp', 'rate limited');
      return;
    }
    this.emit(src, dst, DEFAULT_TTL, 0, this.writer.set(type, code, 0, mtu, quote));
  }

  /** @internal An ICMP message addressed to us. `bcast`: sent to a broadcast/multicast address. */
  input(ip: Ipv4Repr, raw: Uint8Array, ifc: Ifc, bcast: boolean, now: number): void {
    const s = this.core.stats.icmp;
    s.InMsgs++;
    const m = parseIcmpv4(ip.payload);
    if (m instanceof WireError) {
      s.InErrors++;
      if (m === WireError.truncated) s.HlenErrs++;
      else s.CsumErrs++;
      this.core.drop('icmp', m.reason);
      return;
    }
    const type = icmpv4Type(m);
    s.inTypes[type]!++;
    switch (m.kind) {
      case 'echoRequest':
        if (bcast) {
          this.core.drop('icmp', 'broadcast echo');
          return;
        }
        // Reply from the address the request was sent to (RFC 1122 §3.2.2.6).
        this.emit(ip.dst, ip.src, DEFAULT_TTL, ip.tos, this.writer.set(ICMP_ECHO_REPLY, 0, m.ident, m.seq, m.data));
        return;
      case 'echoReply':
        break;
      default: {
        if (type === ICMP_ECHO_REQUEST && bcast) {
          this.core.drop('icmp', 'broadcast echo');
          return;
        }
        // Errors: also in their 'other' form, e.g. with an RFC 4884 length in the unused bytes.
        if (type !== ICMP_DEST_UNREACHABLE && type !== ICMP_TIME_EXCEEDED) break;
        const code = m.code;
        const q = parseIcmpv4Quote(m.data);
        if (q instanceof WireError) {
          s.InErrors++;
          s.LenErrs++;
          this.core.drop('icmp', `quote ${q.reason}`);
          return;
        }
        const reason = icmpReason(type, code, ip.src, ip.dst);
        if (reason === null) break;
        // RFC 1191 next-hop MTU of `fragmentation needed`.
        const fragNeeded = type === ICMP_DEST_UNREACHABLE && code === 4;
        const mtu = !fragNeeded ? 0 : m.kind === 'destUnreachable' ? m.nextHopMtu : m.kind === 'other' ? m.rest & 0xffff : 0;
        const p = q.payload;
        let sport = 0;
        let dport = 0;
        if (q.protocol === IP_PROTO_ICMP) {
          if (p.length >= 8) sport = get16(p, 4);
        } else if (p.length >= 4) {
          sport = get16(p, 0);
          dport = get16(p, 2);
        }
        this.core.advise(
          {
            reason,
            type,
            code,
            from: ip.src,
            src: q.src,
            dst: q.dst,
            protocol: q.protocol,
            srcPort: sport,
            dstPort: dport,
            mtu,
            quote: p,
          },
          now,
        );
        return;
      }
    }
    this.deliver(ip, raw, ifc, icmpv4Ident(m));
  }

  /** @internal Advice about an ICMP message we sent (quoted echo request): to the conversation with that identifier. */
  advise(a: IcmpAdvice): void {
    if (a.quote.length < 8 || a.quote[0] !== ICMP_ECHO_REQUEST) return;
    const ep = this.eps.get(a.srcPort);
    if (ep === undefined) return;
    if (ep.localAddr === 0 || ep.localAddr === a.src || ep.remoteAddr === a.dst) ep.onAdvice?.(a);
  }

  /** Hands a copy of the packet (20-byte header + ICMP) to the conversation with identifier `id`. */
  private deliver(ip: Ipv4Repr, raw: Uint8Array, ifc: Ifc, id: number): void {
    const ep = this.eps.get(id);
    if (ep === undefined) {
      this.core.drop('icmp', 'no conversation');
      return;
    }
    if (!(ep.localAddr === 0 || ep.localAddr === ip.dst || (ep.remoteAddr !== 0 && ep.remoteAddr === ip.src))) {
      this.core.drop('icmp', 'no conversation');
      return;
    }
    const n = ip.payload.length;
    const pkt = new Uint8Array(IPV4_HEADER_LEN + n);
    pkt.set(ip.payload, IPV4_HEADER_LEN);
    if (raw.length - n === IPV4_HEADER_LEN) {
      pkt.set(raw.subarray(0, IPV4_HEADER_LEN));
    } else {
      const frag = fragField(ip.dontFrag, ip.moreFrags, ip.fragOffset);
      writeIpv4Header(pkt, 0, ip.tos, pkt.length, ip.ident, frag, ip.ttl, ip.protocol, ip.src, ip.dst);
    }
    ep.onPacket(pkt, ifc);
  }
}
