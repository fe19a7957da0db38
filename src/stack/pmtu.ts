/**
 * Path MTU for IPv6 destinations (RFC 8201), learnt from ICMPv6 Packet Too
 * Big messages.
 *
 *  - A Packet Too Big lowers the estimate for its destination to the MTU it
 *    reports, never below IPV6_MIN_MTU (§4: a report under 1280 is taken as
 *    1280; we send no atomic fragments, RFC 8021) and never raises it (§4).
 *  - An estimate is dropped PMTU_AGE_MS after it was last lowered (§4: at
 *    least 5 minutes, 10 recommended), and the path tried at the link MTU
 *    again.
 *  - At most PMTU_MAX_ENTRIES destinations; a new one evicts the oldest.
 *
 * No clock is read: every call takes `now`.
 */
import type { Ip6Key } from './wire/ipv6addr.js';
import { IPV6_MIN_MTU } from './wire/ipv6.js';

/** How long a lowered estimate holds (RFC 8201 §4). */
export const PMTU_AGE_MS = 10 * 60 * 1000;
/** Bound on destinations with an estimate. */
export const PMTU_MAX_ENTRIES = 1024;

interface Estimate {
  mtu: number;
  expires: number;
}

export class PathMtuCache {
  private readonly map = new Map<Ip6Key, Estimate>();

  /** Destinations with an estimate (≤ PMTU_MAX_ENTRIES). */
  get size(): number {
    return this.map.size;
  }

  /** The MTU to use toward `dst` over a link of `linkMtu`. */
  get(dst: Ip6Key, linkMtu: number, now: number): number {
    const e = this.map.get(dst);
    if (e === undefined) return linkMtu;
    if (now >= e.expires) {
      this.map.delete(dst);
      return linkMtu;
    }
    return e.mtu < linkMtu ? e.mtu : linkMtu;
  }

  /**
   * A Packet Too Big reported `reported` toward `dst`, whose packets go out
   * at `current` now. @returns the new estimate when it is lower, else null
   */
  tooBig(dst: Ip6Key, reported: number, current: number, now: number): number | null {
    const mtu = reported < IPV6_MIN_MTU ? IPV6_MIN_MTU : reported;
    if (mtu >= current) return null;
    this.map.delete(dst); // re-insert at the end: insertion order is age order
    if (this.map.size >= PMTU_MAX_ENTRIES) {
      for (const k of this.map.keys()) {
        this.map.delete(k);
        break;
      }
    }
    this.map.set(dst, { mtu, expires: now + PMTU_AGE_MS });
    return mtu;
  }

  /** Forgets every estimate. */
  clear(): void {
    this.map.clear();
  }
}
