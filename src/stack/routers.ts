/**
 * Router discovery for a host (RFC 4861 §6.3): router solicitations, and
 * what router advertisements teach an interface.
 *
 *  - Solicitations: after a random delay of up to
 *    MAX_RTR_SOLICITATION_DELAY, MAX_RTR_SOLICITATIONS of them
 *    RTR_SOLICITATION_INTERVAL apart, until an advertisement arrives (§6.3.7).
 *  - An advertisement (validated by the IPv6 layer, §6.1.2) sets the
 *    interface's hop limit, base ReachableTime (ReachableTime is redrawn in
 *    [0.5, 1.5] × base, §6.3.2) and RetransTimer when non-zero, its link
 *    MTU from an MTU option within [1280, the link's], enters or refreshes
 *    the router in the default router list for its router lifetime (0 takes
 *    it out), and keeps each on-link prefix (L) for its valid lifetime (§6.3.4);
 *    autonomous prefixes (A) go to address configuration.
 *  - RDNSS options (RFC 8106 §5.3.1): each server is kept for its lifetime
 *    (0 removes it), at most RDNSS_MAX per interface (the RFC's advice of
 *    three), a new one replacing the one that expires first.
 *
 * Bounded: ROUTERS_MAX routers and PREFIXES_MAX on-link prefixes per
 * interface (further ones ignored). No clock is read.
 */
import type { Rng } from '../lib/rng.js';
import type { Ifc } from './ifc.js';
import { MAX_RTR_SOLICITATION_DELAY_MS } from './addrconf.js';
import type { Icmpv6Repr } from './wire/icmpv6.js';
import type { Ip6 } from './wire/ipv6addr.js';
import { ip6Equal, ip6IsLinkLocal, ip6Masked, ip6PrefixMatch } from './wire/ipv6addr.js';
import { IPV6_MIN_MTU } from './wire/ipv6.js';
import { ND_INFINITE } from './wire/ndopt.js';

/** RFC 4861 §10 host constants. */
export const MAX_RTR_SOLICITATIONS = 3;
export const RTR_SOLICITATION_INTERVAL_MS = 4000;
/** RFC 4861 §10 node defaults. */
export const REACHABLE_TIME_MS = 30_000;
export const RETRANS_TIMER_MS = 1000;
export const MIN_RANDOM_FACTOR = 0.5;
export const MAX_RANDOM_FACTOR = 1.5;
/** Bounds per interface. */
export const ROUTERS_MAX = 8;
export const PREFIXES_MAX = 16;
export const RDNSS_MAX = 3;

/** A default router (§6.3.6). */
export interface DefaultRouter {
  readonly addr: Ip6;
  readonly until: number;
}

/** An on-link prefix (§5.1 Prefix List). */
export interface OnLinkPrefix {
  readonly prefix: Ip6;
  readonly len: number;
  readonly until: number;
}

/** A recursive DNS server learnt from an RA (RFC 8106). */
export interface Rdnss {
  readonly addr: Ip6;
  readonly until: number;
}

/** What an interface has learnt; the IPv6 layer reads it for next hops and sending. */
export interface Ifc6Params {
  /** CurHopLimit for what we originate. */
  hopLimit: number;
  /** The IPv6 MTU of the link (≤ the interface MTU). */
  linkMtu: number;
  baseReachable: number;
  reachable: number;
  retrans: number;
  routers: DefaultRouter[];
  prefixes: OnLinkPrefix[];
  dns: Rdnss[];
}

/** What router discovery needs from the IPv6 layer. */
export interface RouterHost {
  readonly rng: Rng;
  /** Send a router solicitation on `ifc` (with our SLLA when we have a source address). */
  sendRouterSolicit(ifc: Ifc, now: number): void;
  /** An autonomous prefix (RFC 4862 §5.5.3). */
  autonomousPrefix(ifc: Ifc, prefix: Ip6, len: number, validS: number, preferredS: number, now: number): void;
  /** The DNS servers of `ifc` changed. */
  dnsChanged(ifc: Ifc, servers: readonly Rdnss[]): void;
  schedule(deadline: number): void;
}

interface State {
  params: Ifc6Params;
  /** Solicitations sent, and when the next is due (Infinity: done). */
  rsSent: number;
  rsDue: number;
}

function until(now: number, s: number): number {
  return s === ND_INFINITE ? Infinity : now + s * 1000;
}

export class RouterDiscovery {
  private readonly ifcs = new Map<Ifc, State>();

  /** The hop limit before any RA says otherwise. */
  constructor(private readonly host: RouterHost, private readonly defaultHopLimit: number) {}

  /** Starts on `ifc` (solicitations begin after the random delay). */
  enable(ifc: Ifc): Ifc6Params {
    const have = this.ifcs.get(ifc);
    if (have) return have.params;
    const params: Ifc6Params = {
      hopLimit: this.defaultHopLimit, linkMtu: ifc.mtu, baseReachable: REACHABLE_TIME_MS,
      reachable: this.draw(REACHABLE_TIME_MS), retrans: RETRANS_TIMER_MS, routers: [], prefixes: [], dns: [],
    };
    this.ifcs.set(ifc, { params, rsSent: 0, rsDue: Infinity });
    return params;
  }

  /** Begins soliciting (once the link-local address is ready, §6.3.7). */
  solicit(ifc: Ifc, now: number): void {
    const s = this.ifcs.get(ifc);
    if (s === undefined || s.rsSent > 0 || s.rsDue !== Infinity) return;
    s.rsDue = now + (this.host.rng.u32() % (MAX_RTR_SOLICITATION_DELAY_MS + 1));
    this.host.schedule(s.rsDue);
  }

  disable(ifc: Ifc): void {
    this.ifcs.delete(ifc);
  }

  /** What `ifc` has learnt, or null when IPv6 is off on it. */
  params(ifc: Ifc): Ifc6Params | null {
    return this.ifcs.get(ifc)?.params ?? null;
  }

  /** A router advertisement from `from`, already validated (§6.1.2). */
  advert(ifc: Ifc, from: Ip6, ra: Extract<Icmpv6Repr, { kind: 'routerAdvert' }>, now: number): void {
    const s = this.ifcs.get(ifc);
    if (s === undefined) return;
    s.rsDue = Infinity; // §6.3.7: an RA ends soliciting
    const p = s.params;
    if (ra.curHopLimit !== 0) p.hopLimit = ra.curHopLimit;
    if (ra.reachableTime !== 0 && ra.reachableTime !== p.baseReachable) {
      p.baseReachable = ra.reachableTime;
      p.reachable = this.draw(ra.reachableTime);
    }
    if (ra.retransTimer !== 0) p.retrans = ra.retransTimer;
    const i = p.routers.findIndex((r) => ip6Equal(r.addr, from));
    if (ra.routerLifetime === 0) {
      if (i >= 0) p.routers.splice(i, 1);
    } else {
      const r = { addr: from.slice(), until: now + ra.routerLifetime * 1000 };
      if (i >= 0) p.routers[i] = r;
      else if (p.routers.length < ROUTERS_MAX) p.routers.push(r);
    }
    let dnsChanged = false;
    for (const o of ra.options) {
      if (o.type === 'mtu') {
        if (o.mtu >= IPV6_MIN_MTU && o.mtu <= ifc.mtu) p.linkMtu = o.mtu;
      } else if (o.type === 'prefix') {
        if (ip6IsLinkLocal(o.prefix)) continue;
        if (o.onLink) this.onLink(p, o.prefix, o.prefixLen, o.validLifetime, now);
        if (o.autonomous) this.host.autonomousPrefix(ifc, o.prefix, o.prefixLen, o.validLifetime, o.preferredLifetime, now);
      } else if (o.type === 'rdnss') {
        for (const a of o.servers) dnsChanged = this.rdnss(p, a, o.lifetime, now) || dnsChanged;
      }
    }
    if (dnsChanged) this.host.dnsChanged(ifc, p.dns);
    this.host.schedule(now);
  }

  /** Takes `addr` out of `ifc`'s default router list (its neighbor entry says it is no router, §7.2.5). */
  notRouter(ifc: Ifc, addr: Ip6): void {
    const p = this.ifcs.get(ifc)?.params;
    if (p === undefined) return;
    const i = p.routers.findIndex((r) => ip6Equal(r.addr, addr));
    if (i >= 0) p.routers.splice(i, 1);
  }

  /** True if `dst` is in an on-link prefix of `ifc`. */
  isOnLink(ifc: Ifc, dst: Ip6): boolean {
    const p = this.ifcs.get(ifc)?.params;
    return p !== undefined && p.prefixes.some((x) => ip6PrefixMatch(x.prefix, dst, x.len));
  }

  /** The earliest deadline, or null. */
  pollAt(): number | null {
    let t = Infinity;
    for (const s of this.ifcs.values()) {
      if (s.rsDue < t) t = s.rsDue;
      for (const x of [...s.params.routers, ...s.params.prefixes, ...s.params.dns]) if (x.until < t) t = x.until;
    }
    return t === Infinity ? null : t;
  }

  /** Sends due solicitations and expires what timed out. */
  poll(now: number): void {
    for (const [ifc, s] of this.ifcs) {
      if (s.rsDue <= now) {
        s.rsSent++;
        s.rsDue = s.rsSent < MAX_RTR_SOLICITATIONS ? now + RTR_SOLICITATION_INTERVAL_MS : Infinity;
        this.host.sendRouterSolicit(ifc, now);
      }
      const p = s.params;
      p.routers = p.routers.filter((r) => r.until > now);
      p.prefixes = p.prefixes.filter((r) => r.until > now);
      const n = p.dns.length;
      p.dns = p.dns.filter((r) => r.until > now);
      if (p.dns.length !== n) this.host.dnsChanged(ifc, p.dns);
    }
    const next = this.pollAt();
    if (next !== null) this.host.schedule(next);
  }

  private onLink(p: Ifc6Params, prefix: Ip6, len: number, validS: number, now: number): void {
    const net = ip6Masked(prefix, len);
    const i = p.prefixes.findIndex((x) => x.len === len && ip6Equal(x.prefix, net));
    if (validS === 0) {
      if (i >= 0) p.prefixes.splice(i, 1);
      return;
    }
    const e = { prefix: net, len, until: until(now, validS) };
    if (i >= 0) p.prefixes[i] = e;
    else if (p.prefixes.length < PREFIXES_MAX) p.prefixes.push(e);
  }

  /** @returns whether the list changed */
  private rdnss(p: Ifc6Params, addr: Ip6, lifetimeS: number, now: number): boolean {
    const i = p.dns.findIndex((d) => ip6Equal(d.addr, addr));
    if (lifetimeS === 0) {
      if (i < 0) return false;
      p.dns.splice(i, 1);
      return true;
    }
    const e = { addr: addr.slice(), until: until(now, lifetimeS) };
    if (i >= 0) {
      p.dns[i] = e;
      return false;
    }
    if (p.dns.length >= RDNSS_MAX) {
      let k = 0;
      for (let j = 1; j < p.dns.length; j++) if (p.dns[j]!.until < p.dns[k]!.until) k = j;
      p.dns.splice(k, 1);
    }
    p.dns.push(e);
    return true;
  }

  /** ReachableTime drawn uniformly from [MIN_RANDOM_FACTOR, MAX_RANDOM_FACTOR] × base (§6.3.2). */
  private draw(base: number): number {
    const f = MIN_RANDOM_FACTOR + (this.host.rng.u32() / 0x1_0000_0000) * (MAX_RANDOM_FACTOR - MIN_RANDOM_FACTOR);
    return Math.round(base * f);
  }
}
