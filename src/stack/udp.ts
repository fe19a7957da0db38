/**
 * UDP endpoints (RFC 768; Plan 9 ip/udp.c semantics, plan9-net.md §5).
 *
 * An endpoint is bound to a local port (and optionally a local address) and
 * may be connected to a remote address and port. Demultiplexing picks the
 * most specific endpoint for (dst, dport, src, sport): connected beats
 * unconnected, a bound address beats the wildcard. A datagram with no
 * endpoint counts NoPorts and, unless it was broadcast/multicast, gets an
 * ICMP port unreachable (rate limited).
 *
 * Receive queues are the /net layer's job: every datagram is handed to the
 * endpoint's callback at once, with its payload copied (the one copy at this
 * ownership boundary). ICMP errors about datagrams an endpoint sent arrive
 * as advice (Plan 9 hangs up connected conversations with the reason).
 */
import type { PacketHook } from '../link/packethook.js';
import type { IcmpAdvice, IpPayloadWriter, SendResult, StackCore } from './core.js';
import { flowHook, packetFrom, packetOf } from './flow.js';
import { Einuse, Enoports, Enotlocal, StackError } from './error.js';
import type { Ifc } from './ifc.js';
import { allocEphemeral } from './ports.js';
import { DEFAULT_TTL } from './stats.js';
import { EMPTY } from './wire/bytes.js';
import { IP_PROTO_UDP, IPV4_HEADER_LEN, parseIpv4 } from './wire/ipv4.js';
import type { Ipv4Repr } from './wire/ipv4.js';
import { WireError } from './wire/result.js';
import { checkUdp, UDP_HEADER_LEN, udpDstPort, udpSrcPort, writeUdp } from './wire/udp.js';

/** Largest UDP payload in one IPv4 datagram. */
export const UDP_MAX_PAYLOAD = 0xffff - IPV4_HEADER_LEN - UDP_HEADER_LEN;
/** Bound on open UDP endpoints per stack. */
export const UDP_MAX_ENDPOINTS = 16384;

/**
 * Receives one datagram. `payload` is a copy owned by the receiver; `ifc`
 * is the interface it arrived on (loopback traffic: the interface owning
 * the address). Must not throw.
 */
export type UdpReceiver = (src: number, sport: number, dst: number, dport: number, payload: Uint8Array, ifc: Ifc) => void;

export interface UdpOpenOptions {
  /** Local address (0/absent = any of ours). Must be one of our unicast addresses. */
  localAddr?: number;
  /** Local port (0/absent = random ephemeral port). */
  localPort?: number;
  /** Remote address and port: set both to connect. */
  remoteAddr?: number;
  remotePort?: number;
  onDatagram: UdpReceiver;
  /** ICMP errors about datagrams this endpoint sent. */
  onAdvice?: (advice: IcmpAdvice) => void;
}

/** Writes a UDP datagram in place with the wire codec (writeUdp); reused per send, no per-packet closure. */
class UdpWriter implements IpPayloadWriter {
  length = 0;
  sport = 0;
  dport = 0;
  payload: Uint8Array = EMPTY;

  write(out: Uint8Array, o: number, src: number, dst: number): void {
    writeUdp(out, o, this.sport, this.dport, this.payload, src, dst);
    this.payload = EMPTY; // do not retain the caller's buffer
  }
}

export class UdpEndpoint {
  /** TTL of sent datagrams (Plan 9 `ttl`). */
  ttl = DEFAULT_TTL;
  /** TOS of sent datagrams (Plan 9 `tos`). */
  tos = 0;
  /** Capture and impairment of this endpoint's datagrams only (UdpLayer.endpointHook); null while nothing is attached. */
  hook: PacketHook<Ifc | null> | null = null;
  private lAddr: number;
  private rAddr = 0;
  private rPort = 0;
  private open = true;

  /** @internal use UdpLayer.open */
  constructor(
    private readonly layer: UdpLayer,
    localAddr: number,
    readonly localPort: number,
    /** Datagram callback; may be replaced. */
    public onDatagram: UdpReceiver,
    /** Advice callback; may be replaced. */
    public onAdvice: ((advice: IcmpAdvice) => void) | null,
  ) {
    this.lAddr = localAddr;
  }

  get localAddr(): number {
    return this.lAddr;
  }
  get remoteAddr(): number {
    return this.rAddr;
  }
  get remotePort(): number {
    return this.rPort;
  }
  /** Connected: remote address and port set. */
  get connected(): boolean {
    return this.rPort !== 0;
  }
  get isOpen(): boolean {
    return this.open;
  }

  /**
   * Connects to `addr!port` (0, 0 disconnects). When `localAddr` is given it
   * becomes the bound address (e.g. the route-chosen source Plan 9 records).
   * @throws StackError `address in use` if an identical endpoint exists
   */
  connect(addr: number, port: number, localAddr?: number): void {
    const la = localAddr === undefined ? this.lAddr : localAddr >>> 0;
    this.layer.checkLocal(la);
    this.layer.checkFree(this.localPort, la, addr >>> 0, port, this);
    this.lAddr = la;
    this.rAddr = addr >>> 0;
    this.rPort = port & 0xffff;
  }

  /**
   * Sends one datagram to `dst!dport` (default: the connected remote) from
   * `src` (default: the bound address, else chosen by routing). The payload
   * is copied into the outgoing frame.
   */
  send(payload: Uint8Array, dst?: number, dport?: number, src?: number): SendResult {
    if (!this.open) return 'dropped';
    return this.layer.send(
      this,
      payload,
      dst === undefined ? this.rAddr : dst >>> 0,
      dport === undefined ? this.rPort : dport,
      src === undefined || src === 0 ? this.lAddr : src >>> 0,
    );
  }

  /** Releases the port. Idempotent. */
  close(): void {
    if (!this.open) return;
    this.open = false;
    this.hook?.close();
    this.layer.release(this);
  }
}

export class UdpLayer {
  /** Endpoints by local port. */
  private readonly ports = new Map<number, UdpEndpoint[]>();
  private count = 0;
  private readonly writer = new UdpWriter();

  /** @internal created by the Stack */
  constructor(private readonly core: StackCore) {}

  /** Open endpoints. */
  get size(): number {
    return this.count;
  }

  /**
   * Opens an endpoint.
   * @throws StackError `not a local IP address`, `address in use`, `no ports available`
   */
  open(opts: UdpOpenOptions): UdpEndpoint {
    const la = (opts.localAddr ?? 0) >>> 0;
    const ra = (opts.remoteAddr ?? 0) >>> 0;
    const rp = (opts.remotePort ?? 0) & 0xffff;
    this.checkLocal(la);
    if (this.count >= UDP_MAX_ENDPOINTS) throw new StackError(Enoports);
    let lp = opts.localPort ?? 0;
    if (lp === 0) {
      lp = allocEphemeral(this.core.rng, (p) => this.ports.has(p));
      if (lp < 0) throw new StackError(Enoports);
    } else {
      if (!Number.isInteger(lp) || lp < 1 || lp > 0xffff) throw new StackError('bad numeric port');
      this.checkFree(lp, la, ra, rp, null);
    }
    const ep = new UdpEndpoint(this, la, lp, opts.onDatagram, opts.onAdvice ?? null);
    if (rp !== 0) ep.connect(ra, rp);
    let list = this.ports.get(lp);
    if (list === undefined) this.ports.set(lp, (list = []));
    list.push(ep);
    this.count++;
    return ep;
  }

  /** True if some endpoint holds local port `port`. */
  portInUse(port: number): boolean {
    return this.ports.has(port);
  }

  /** @internal */
  checkLocal(addr: number): void {
    if (addr !== 0 && !this.core.isLocal(addr)) throw new StackError(Enotlocal);
  }

  /** @internal throws `address in use` when another endpoint has the same four-tuple. */
  checkFree(lp: number, la: number, ra: number, rp: number, self: UdpEndpoint | null): void {
    const list = this.ports.get(lp);
    if (list === undefined) return;
    for (const e of list) {
      if (e !== self && e.localAddr === la && e.remoteAddr === ra && e.remotePort === rp) throw new StackError(Einuse);
    }
  }

  /** @internal */
  release(ep: UdpEndpoint): void {
    const list = this.ports.get(ep.localPort);
    if (list === undefined) return;
    const i = list.indexOf(ep);
    if (i < 0) return;
    list.splice(i, 1);
    this.count--;
    if (list.length === 0) this.ports.delete(ep.localPort);
  }

  /** @internal */
  send(ep: UdpEndpoint, payload: Uint8Array, dst: number, dport: number, src: number): SendResult {
    if (dst === 0 || dport === 0) return 'no route';
    if (payload.length > UDP_MAX_PAYLOAD) return 'too big';
    // Plan 9 headers mode: a preferred source is used only if it is ours.
    if (src !== 0 && !this.core.isLocal(src)) src = 0;
    const w = this.writer;
    w.sport = ep.localPort;
    w.dport = dport & 0xffff;
    w.payload = payload;
    w.length = UDP_HEADER_LEN + payload.length;
    const core = this.core;
    if (ep.hook !== null) return this.sendHooked(ep, ep.hook, src, dst);
    const r = core.output(src, dst, IP_PROTO_UDP, ep.ttl, ep.tos, false, null, w, core.now());
    w.payload = EMPTY;
    if (r === 'sent' || r === 'pending') core.stats.udp.OutDatagrams++;
    return r;
  }

  /** A datagram of a hooked endpoint: as one packet through its hook (the source chosen now: it is in the checksum). */
  private sendHooked(ep: UdpEndpoint, hook: PacketHook<Ifc | null>, src: number, dst: number): SendResult {
    const w = this.writer;
    if (src === 0) src = this.core.sourceFor(dst);
    if (src === 0) {
      w.payload = EMPTY;
      return 'no route';
    }
    const pkt = packetFrom(w, IP_PROTO_UDP, src, dst, ep.ttl, ep.tos);
    this.core.stats.udp.OutDatagrams++;
    hook.out(pkt, null);
    return 'sent';
  }

  /**
   * The hook on `ep`'s datagrams only (the /net/udp/N/pcap and ctl `impair`
   * of its conversation), made on first use; dropIdleHook() removes it.
   */
  endpointHook(ep: UdpEndpoint): PacketHook<Ifc | null> {
    ep.hook ??= flowHook(this.core, this.core.clock, (pkt, ifc) => {
      const ip = parseIpv4(pkt, false);
      if (ip instanceof WireError || !ep.isOpen || ifc === null) return;
      this.deliver(ep, ip, ifc);
    }, () => {});
    return ep.hook;
  }

  dropIdleHook(ep: UdpEndpoint): void {
    if (ep.hook?.idle) ep.hook = null;
  }

  private deliver(ep: UdpEndpoint, ip: Ipv4Repr, ifc: Ifc): void {
    const b = ip.payload;
    this.core.stats.udp.InDatagrams++;
    ep.onDatagram(ip.src, udpSrcPort(b), ip.dst, udpDstPort(b), b.slice(UDP_HEADER_LEN), ifc);
  }

  /**
   * @internal A UDP datagram addressed to us. `bcast`: its destination is a
   * broadcast/multicast address (no ICMP errors).
   */
  input(ip: Ipv4Repr, raw: Uint8Array, ifc: Ifc, bcast: boolean, now: number): void {
    const stats = this.core.stats.udp;
    const b = ip.payload;
    const len = checkUdp(b, ip.src, ip.dst);
    if (len instanceof WireError) return this.bad(len.reason);
    const sport = udpSrcPort(b);
    const dport = udpDstPort(b);
    const ep = this.match(ip.dst, dport, ip.src, sport);
    if (ep === null) {
      stats.NoPorts++;
      if (!bcast) this.core.icmpError(raw, 3, 3, 0, now);
      return;
    }
    if (ep.hook !== null) {
      ep.hook.in(packetOf(ip, b.subarray(0, len)), ifc);
      return;
    }
    stats.InDatagrams++;
    ep.onDatagram(ip.src, sport, ip.dst, dport, b.slice(UDP_HEADER_LEN, len), ifc);
  }

  /** @internal ICMP error about a datagram we sent from `a.src!a.srcPort` to `a.dst!a.dstPort`. */
  advise(a: IcmpAdvice): void {
    const list = this.ports.get(a.srcPort);
    if (list === undefined) return;
    let best: UdpEndpoint | null = null;
    for (const e of list) {
      if (e.localAddr !== 0 && e.localAddr !== a.src) continue;
      if (e.remotePort !== 0) {
        if (e.remoteAddr === a.dst && e.remotePort === a.dstPort) {
          best = e;
          break;
        }
      } else if (best === null) best = e;
    }
    best?.onAdvice?.(a);
  }

  private match(dst: number, dport: number, src: number, sport: number): UdpEndpoint | null {
    const list = this.ports.get(dport);
    if (list === undefined) return null;
    let best: UdpEndpoint | null = null;
    let bestScore = -1;
    for (let i = 0; i < list.length; i++) {
      const e = list[i]!;
      const la = e.localAddr;
      if (la !== 0 && la !== dst) continue;
      let score = la !== 0 ? 1 : 0;
      if (e.remotePort !== 0) {
        if (e.remoteAddr !== src || e.remotePort !== sport) continue;
        score += 2;
      }
      if (score > bestScore) {
        best = e;
        bestScore = score;
      }
    }
    return best;
  }

  private bad(reason: string): void {
    this.core.stats.udp.InErrors++;
    this.core.drop('udp', reason);
  }
}
