/**
 * Test helpers for the stack: a channel Link (frames sent are recorded,
 * frames are injected by the test), address parsing, frame builders on the
 * wire emitters, and a hub network of stacks on a ManualClock.
 */
import { ManualClock } from '../../src/lib/clock.js';
import { SeededRng } from '../../src/lib/rng.js';
import { EtherPort } from '../../src/link/etherport.js';
import { Hub } from '../../src/link/hub.js';
import type { HubOptions } from '../../src/link/hub.js';
import { newLinkStats } from '../../src/link/link.js';
import type { BatchEndHandler, Disposable, FrameHandler, Link, LinkStats } from '../../src/link/link.js';
import { Stack } from '../../src/stack/stack.js';
import type { Ifc } from '../../src/stack/ifc.js';
import { emitArp, parseArp } from '../../src/stack/wire/arp.js';
import type { ArpRepr } from '../../src/stack/wire/arp.js';
import { put16, put48 } from '../../src/stack/wire/bytes.js';
import { checksum, pseudoHeaderSum } from '../../src/stack/wire/checksum.js';
import { ETHERTYPE_ARP, ETHERTYPE_IPV4, macToBytes, parseEthernet } from '../../src/stack/wire/ethernet.js';
import type { EthernetRepr } from '../../src/stack/wire/ethernet.js';
import { emitIcmpv4, parseIcmpv4 } from '../../src/stack/wire/icmp.js';
import type { Icmpv4Repr } from '../../src/stack/wire/icmp.js';
import { emitIpv4, IP_PROTO_UDP, parseIpv4, parseIpv4Addr } from '../../src/stack/wire/ipv4.js';
import type { Ipv4Repr } from '../../src/stack/wire/ipv4.js';
import { WireError } from '../../src/stack/wire/result.js';
import { parseUdp } from '../../src/stack/wire/udp.js';
import type { UdpRepr } from '../../src/stack/wire/udp.js';

/** Dotted quad → u32 (throws on bad input). */
export function ip(s: string): number {
  const v = parseIpv4Addr(s);
  if (v === null) throw new Error(`bad ip ${s}`);
  return v;
}

/** A Link the test drives: `sent` records frames, `inject` delivers one. */
export class ChannelLink implements Link {
  readonly mac: Uint8Array;
  readonly stats: LinkStats = newLinkStats();
  sent: Uint8Array[] = [];
  private rx: FrameHandler | null = null;
  private endBatch: BatchEndHandler | null = null;

  constructor(
    macNum: number,
    readonly mtu = 1500,
  ) {
    this.mac = macToBytes(macNum);
  }

  send(frame: Uint8Array): void {
    this.stats.txFrames++;
    this.stats.txBytes += frame.length;
    this.sent.push(frame);
  }
  sendBatch(frames: readonly Uint8Array[]): void {
    for (const f of frames) this.send(f);
  }
  attach(rx: FrameHandler, endBatch?: BatchEndHandler): Disposable {
    if (this.rx) throw new Error('already attached');
    this.rx = rx;
    this.endBatch = endBatch ?? null;
    return { dispose: () => { if (this.rx === rx) this.rx = null; } };
  }
  close(): Promise<void> {
    this.rx = null;
    return Promise.resolve();
  }
  /** Delivers one frame, a batch of its own. */
  inject(frame: Uint8Array): void {
    this.stats.rxFrames++;
    this.rx?.(frame);
    this.endBatch?.();
  }
  /** Removes and returns everything sent so far. */
  take(): Uint8Array[] {
    const s = this.sent;
    this.sent = [];
    return s;
  }
}

export const MAC_US = 0x02_00_00_00_00_01;
export const MAC_PEER = 0x02_00_00_00_00_02;

export interface Decoded {
  eth: EthernetRepr;
  arp?: ArpRepr;
  ip?: Ipv4Repr;
  udp?: UdpRepr;
  icmp?: Icmpv4Repr;
}

/** Decodes a frame as far as it parses (checksums verified). */
export function decode(frame: Uint8Array): Decoded {
  const eth = parseEthernet(frame);
  if (eth instanceof WireError) throw new Error('bad ethernet');
  const d: Decoded = { eth };
  if (eth.ethertype === ETHERTYPE_ARP) {
    const a = parseArp(eth.payload);
    if (!(a instanceof WireError)) d.arp = a;
  } else if (eth.ethertype === ETHERTYPE_IPV4) {
    const i = parseIpv4(eth.payload);
    if (i instanceof WireError) throw new Error(`bad ipv4: ${i.reason}`);
    d.ip = i;
    if (i.fragOffset === 0 && !i.moreFrags) {
      if (i.protocol === IP_PROTO_UDP) {
        const u = parseUdp(i.payload, i.src, i.dst);
        if (!(u instanceof WireError)) d.udp = u;
      } else if (i.protocol === 1) {
        const m = parseIcmpv4(i.payload);
        if (!(m instanceof WireError)) d.icmp = m;
      }
    }
  }
  return d;
}

/** An Ethernet frame around `payload`. */
export function ethFrame(dst: number, src: number, type: number, payload: Uint8Array): Uint8Array {
  const f = new Uint8Array(14 + payload.length);
  put48(f, 0, dst);
  put48(f, 6, src);
  put16(f, 12, type);
  f.set(payload, 14);
  return f;
}

export function arpFrame(ethDst: number, repr: ArpRepr): Uint8Array {
  const p = new Uint8Array(28);
  emitArp(repr, p, 0);
  return ethFrame(ethDst, repr.senderMac, ETHERTYPE_ARP, p);
}

export interface IpOpts {
  src: number;
  dst: number;
  protocol: number;
  ttl?: number;
  ident?: number;
  moreFrags?: boolean;
  fragOffset?: number;
  dontFrag?: boolean;
  options?: Uint8Array;
}

/** An IPv4 datagram (no Ethernet). */
export function ipPacket(o: IpOpts, payload: Uint8Array): Uint8Array {
  const repr: Ipv4Repr = {
    src: o.src,
    dst: o.dst,
    protocol: o.protocol,
    ttl: o.ttl ?? 64,
    tos: 0,
    ident: o.ident ?? 1,
    dontFrag: o.dontFrag ?? false,
    moreFrags: o.moreFrags ?? false,
    fragOffset: o.fragOffset ?? 0,
    options: o.options ?? new Uint8Array(0),
    payload,
  };
  const out = new Uint8Array(20 + ((repr.options.length + 3) & ~3) + payload.length);
  emitIpv4(repr, out, 0);
  return out;
}

/** A UDP header + payload with a correct checksum for src/dst. */
export function udpBytes(src: number, dst: number, sport: number, dport: number, payload: Uint8Array): Uint8Array {
  const b = new Uint8Array(8 + payload.length);
  put16(b, 0, sport);
  put16(b, 2, dport);
  put16(b, 4, b.length);
  b.set(payload, 8);
  const c = checksum(b, pseudoHeaderSum(src, dst, IP_PROTO_UDP, b.length));
  put16(b, 6, c === 0 ? 0xffff : c);
  return b;
}

export function icmpBytes(repr: Icmpv4Repr): Uint8Array {
  const b = new Uint8Array(8 + repr.data.length);
  emitIcmpv4(repr, b, 0);
  return b;
}

/** Bytes 0..n-1 of a deterministic pattern. */
export function pattern(n: number, seed = 0): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed * 7 + (i >>> 8)) & 0xff;
  return b;
}

/** A stack on a ChannelLink with 10.0.0.1/24, peer 10.0.0.2 at MAC_PEER known in ARP. */
export function channelStack(opts: { mtu?: number; seed?: number; knowPeer?: boolean } = {}): {
  clock: ManualClock;
  stack: Stack;
  link: ChannelLink;
  ifc: Ifc;
} {
  const clock = new ManualClock(1000);
  const stack = new Stack({ clock, rng: new SeededRng(opts.seed ?? 1) });
  const link = new ChannelLink(MAC_US, opts.mtu ?? 1500);
  const ifc = stack.addInterface(link);
  ifc.addAddress(ip('10.0.0.1'), 24);
  if (opts.knowPeer ?? true) stack.arp.add(ip('10.0.0.2'), MAC_PEER);
  link.take(); // the gratuitous ARP
  return { clock, stack, link, ifc };
}

export interface Net {
  clock: ManualClock;
  hub: Hub;
  stacks: Stack[];
  ifcs: Ifc[];
  /** Stack i's ether device (its tap sees the frames in and out, as /net/ether0 slots do). */
  ports: EtherPort[];
}

/** `n` stacks on one hub, each bound through an EtherPort, stack i at 10.0.0.(i+1)/24 (addresses optional). */
export function hubNet(n: number, opts: { hub?: HubOptions; addresses?: boolean; seed?: number } = {}): Net {
  const clock = new ManualClock(0);
  const hub = new Hub({ clock, ...opts.hub });
  const stacks: Stack[] = [];
  const ifcs: Ifc[] = [];
  const ports: EtherPort[] = [];
  for (let i = 0; i < n; i++) {
    const s = new Stack({ clock, rng: new SeededRng((opts.seed ?? 100) + i) });
    const port = new EtherPort('ether0', hub.port());
    const ifc = s.addInterface(port.stackLink(), port.name);
    if (opts.addresses ?? true) ifc.addAddress(ip(`10.0.0.${i + 1}`), 24);
    stacks.push(s);
    ifcs.push(ifc);
    ports.push(port);
  }
  clock.advance(0);
  return { clock, hub, stacks, ifcs, ports };
}

/** The EtherType of a frame (at least 14 bytes). */
export function etherType(frame: Uint8Array): number {
  return (frame[12]! << 8) | frame[13]!;
}
