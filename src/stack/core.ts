/**
 * Types shared by the Stack and its protocol modules (udp.ts, icmp.ts, and
 * later TCP): the send API, ICMP advice, protocol handlers and timer
 * sources. `StackCore` is the internal surface the modules call back into;
 * it exists so those modules depend on an interface, not on stack.ts.
 */
import type { Clock } from '../lib/clock.js';
import type { Rng } from '../lib/rng.js';
import type { Ifc } from './ifc.js';
import type { StackStats } from './stats.js';
import type { Ipv4Repr } from './wire/ipv4.js';

/**
 * Outcome of sending an IP datagram:
 *  - `sent`: handed to the link (or queued on the loopback);
 *  - `pending`: held until ARP resolves the next hop (failure is reported
 *    later as ICMP `host unreachable` advice);
 *  - `no route`: no route or no usable interface (OutNoRoutes);
 *  - `too big`: over 65535 bytes, or DF set and over the route MTU;
 *  - `dropped`: discarded by a local bound (e.g. loopback queue full).
 */
export type SendResult = 'sent' | 'pending' | 'no route' | 'too big' | 'dropped';

/**
 * Writes an upper-layer payload in place, once the source address is known
 * (needed for pseudo-header checksums). Lets a protocol emit straight into
 * the outgoing frame without an intermediate buffer; implementations are
 * typically long-lived objects reused per send (no per-packet closure).
 */
export interface IpPayloadWriter {
  /** Bytes `write` produces. */
  readonly length: number;
  /** Writes exactly `length` bytes at `out[offset..]`. Must not throw. */
  write(out: Uint8Array, offset: number, src: number, dst: number): void;
}

/** Options of {@link Stack.sendIp}. */
export interface IpSendOptions {
  /** Source address; 0/absent = chosen by routing. Must be local (or 0). */
  src?: number;
  /** TTL (default 255, Plan 9's MAXTTL). */
  ttl?: number;
  /** TOS byte (default 0). */
  tos?: number;
  /** Set DF: never fragment (`too big` instead). */
  dontFrag?: boolean;
}

/**
 * An ICMP error about a datagram we sent, delivered to the endpoint it
 * concerns (Plan 9 "advice", plan9-net.md §5.5, §6).
 */
export interface IcmpAdvice {
  /** Plan 9 reason text: `port unreachable`, `host unreachable`, `ttl exceeded at A`, … (§14). */
  readonly reason: string;
  readonly type: number;
  readonly code: number;
  /** Who sent the ICMP error. */
  readonly from: number;
  /** Source of the quoted datagram (one of our addresses). */
  readonly src: number;
  /** Destination of the quoted datagram. */
  readonly dst: number;
  /** Protocol of the quoted datagram. */
  readonly protocol: number;
  /** Quoted source port (UDP/TCP) or ICMP identifier; 0 when not applicable. */
  readonly srcPort: number;
  /** Quoted destination port (UDP/TCP); 0 when not applicable. */
  readonly dstPort: number;
  /** Next-hop MTU of `fragmentation needed` (RFC 1191), else 0. */
  readonly mtu: number;
  /** Quoted upper-layer bytes (≥ 8: ports, TCP sequence number): a view valid only during the call. */
  readonly quote: Uint8Array;
}

/**
 * A transport protocol plugged into the stack by IP protocol number
 * (Stack.registerProtocol), e.g. TCP.
 */
export interface IpProtocolHandler {
  /**
   * A datagram of this protocol addressed to us (unicast, broadcast or
   * multicast: check `stack.isLocal(ip.dst)`). `ip` and `payload` are views
   * valid only during the call: copy what is kept. Must not throw.
   */
  input(ip: Ipv4Repr, payload: Uint8Array, ifc: Ifc, now: number): void;
  /** ICMP advice about a datagram of this protocol that we sent. */
  advise?(advice: IcmpAdvice, now: number): void;
}

/**
 * Something with deadlines that shares the Stack's single timer (TCP).
 * The Stack calls poll(now) when the earliest pollAt() has passed; call
 * Stack.schedule(deadline) whenever a new, earlier deadline appears.
 */
export interface TimerSource {
  /** Earliest deadline (ms, Stack clock), or null when idle. */
  pollAt(): number | null;
  /**
   * Runs everything due at `now`. Afterwards pollAt() must be later than
   * `now` (or null), else the timer would spin.
   */
  poll(now: number): void;
}

/** @internal What protocol modules call on their Stack. */
export interface StackCore {
  readonly stats: StackStats;
  readonly rng: Rng;
  readonly clock: Clock;
  now(): number;
  /** The source address routing picks toward `dst`, or 0 if unroutable. */
  sourceFor(dst: number): number;
  /** Counts a drop as `layer: reason`. */
  drop(layer: string, reason: string): void;
  /** True for our unicast addresses. */
  isLocal(ip: number): boolean;
  /** Routes and sends a datagram; exactly one of `body` / `writer` is non-null. */
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
  ): SendResult;
  /** Sends an ICMP error about the datagram `raw` (RFC 1122 §3.2.2 rules and rate limit applied). */
  icmpError(raw: Uint8Array, type: number, code: number, mtu: number, now: number): void;
  /** Dispatches advice to the protocol of the quoted datagram. */
  advise(advice: IcmpAdvice, now: number): void;
  /** Debug log, if enabled. */
  log(msg: string): void;
}
