/**
 * Types shared by the IPv6 layer (ipv6.ts) and what plugs into it: the
 * ICMPv6 layer now, UDP and TCP in phase 2. The IPv6 twin of core.ts; the
 * send outcome is core.ts's SendResult.
 */
import type { Rng } from '../lib/rng.js';
import type { SendResult } from './core.js';
import type { Ifc } from './ifc.js';
import type { Ip6 } from './wire/ipv6addr.js';

/** Writes an upper-layer payload in place once both addresses are known (pseudo-header checksums). */
export interface Ip6PayloadWriter {
  readonly length: number;
  /** Writes exactly `length` bytes at `out[o..]`. Must not throw. */
  write(out: Uint8Array, o: number, src: Ip6, dst: Ip6): void;
}

/** A datagram delivered to an upper layer. Views valid only during the call: copy what is kept. */
export interface Ipv6Delivery {
  /** The whole datagram (reassembled if it came in fragments), fixed header first. */
  readonly packet: Uint8Array;
  readonly src: Ip6;
  readonly dst: Ip6;
  readonly hopLimit: number;
  readonly trafficClass: number;
  /** Offset of the upper-layer header in `packet`. */
  readonly offset: number;
  /** The upper-layer bytes. */
  readonly payload: Uint8Array;
  readonly ifc: Ifc;
  /** Sent to a multicast address. */
  readonly multicast: boolean;
  /** The frame came to a link-layer group address. */
  readonly l2group: boolean;
}

/** An ICMPv6 error about a datagram we sent (Plan 9's advice, icmp6.c). */
export interface Icmp6Advice {
  /** 9front's text: `port unreachable`, `ttl exceeded at A`, `packet too big for N mtu at A`, … */
  readonly reason: string;
  readonly type: number;
  readonly code: number;
  /** Who sent the error. */
  readonly from: Ip6;
  /** Source and destination of the quoted datagram (the source is ours). */
  readonly src: Ip6;
  readonly dst: Ip6;
  readonly protocol: number;
  /** Quoted ports (UDP/TCP) or ICMPv6 identifier in srcPort; 0 when absent. */
  readonly srcPort: number;
  readonly dstPort: number;
  /** Packet Too Big: the MTU reported (else 0). */
  readonly mtu: number;
  /** Quoted upper-layer bytes, a view valid only during the call. */
  readonly quote: Uint8Array;
}

/** An upper-layer protocol over IPv6 (phase 2: UDP and TCP). */
export interface Ip6ProtocolHandler {
  /** A datagram for us. Must not throw. */
  input(d: Ipv6Delivery, now: number): void;
  /** Advice about a datagram of this protocol that we sent. */
  advise?(a: Icmp6Advice, now: number): void;
}

/** Options of a send. */
export interface Ip6SendOptions {
  /** Source address; absent: chosen (RFC 6724). Must be one of ours. */
  src?: Ip6;
  /** Hop limit; absent: the interface's (or 255 for link-scoped ND, set by the caller). */
  hopLimit?: number;
  trafficClass?: number;
  /** Send on this interface (link-local and multicast destinations need one unless only one is enabled). */
  ifc?: Ifc;
  /** Add a hop-by-hop header with a Router Alert for MLD (RFC 2711, RFC 3810 §5). */
  routerAlert?: boolean;
}

/** What the Stack calls for each IPv6 frame from a link (stack.ts, EtherType 0x86dd). */
export interface Ipv6Input {
  /** `buf` is the Ethernet payload; `l2group`: the frame went to a group MAC. Must not throw. */
  ipv6Input(ifc: Ifc, buf: Uint8Array, l2group: boolean, now: number): void;
}

/** @internal What the ICMPv6 layer calls on the IPv6 layer. */
export interface Ip6Core {
  readonly rng: Rng;
  now(): number;
  drop(layer: string, reason: string): void;
  /** True for our (non-tentative) unicast addresses. */
  isLocal6(a: Ip6): boolean;
  /** Routes and sends a datagram carrying `nextHeader`. */
  output6(dst: Ip6, nextHeader: number, w: Ip6PayloadWriter, opts: Ip6SendOptions, now: number): SendResult;
  /** Hands advice to the protocol of the quoted datagram (and lowers the path MTU for Packet Too Big). */
  advise6(a: Icmp6Advice, now: number): void;
}
