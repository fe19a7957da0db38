/**
 * The IPv4 routing table (Plan 9 ip/iproute.c semantics, plan9-net.md §8).
 *
 * A route has Plan 9's eight fields: target, mask, nexthop, flags, tag,
 * interface, source, source mask. Selection is by longest destination mask,
 * then longest source mask, among routes with `(dst & mask) == target` and
 * `(src & smask) == source` (src 0 = "not chosen yet" only matches routes
 * without a source restriction).
 *
 * Flags (printed by {@link routeFlagsText} as Plan 9 does: `4`, then `i`,
 * one of `u`/`b`/`m`, then `p`, `y`, `t`):
 *   RF_IFC   i  directly connected network: the next hop is the destination
 *   RF_UNI   u  one of our unicast addresses (delivered locally)
 *   RF_BCAST b  a broadcast address of ours (sent as link broadcast)
 *   RF_MCAST m  a multicast address (sent as link multicast)
 *   RF_PTP   p  point-to-point
 *   RF_PROXY y  proxy ARP
 *   RF_TRANS t  source NAT (recorded only)
 *
 * Interface routes (tag `ifc`) are maintained by the Stack as addresses are
 * added and removed; `flush` never removes them (as 9front's routeflush).
 * A gateway route without an explicit interface is bound, at lookup time,
 * to the interface of the directly connected route that contains its next
 * hop (memoized until the table changes).
 */
import type { Ifc } from './ifc.js';
import { maskBits } from './ipv4.js';

export const RF_IFC = 1;
export const RF_UNI = 2;
export const RF_BCAST = 4;
export const RF_MCAST = 8;
export const RF_PTP = 16;
export const RF_PROXY = 32;
export const RF_TRANS = 64;
/** Flags that mark routes to our own addresses or attached networks. */
export const RF_LOCAL = RF_IFC | RF_UNI | RF_BCAST | RF_MCAST;

/** Longest tag Plan 9 keeps. */
export const ROUTE_TAG_LEN = 4;
/** Tag of the routes the stack maintains for interface addresses. */
export const IFC_TAG = 'ifc';
/** Default tag of routes added without one (Plan 9: `none`). */
export const DEFAULT_TAG = 'none';
/** Bound on routes (user and interface routes together). */
export const ROUTE_MAX = 4096;

/** A route as stored; treat as read-only. */
export interface Route {
  readonly target: number;
  readonly mask: number;
  readonly nexthop: number;
  readonly flags: number;
  readonly tag: string;
  /** Explicit outgoing interface, or null (resolved through the next hop). */
  readonly ifc: Ifc | null;
  readonly source: number;
  readonly smask: number;
}

/** What {@link RouteTable.add} takes; `target` is masked, `tag` cut to 4 characters. */
export interface RouteSpec {
  target: number;
  mask: number;
  nexthop: number;
  /** RF_* bits, or Plan 9 flag text such as `4i` (default: none). */
  flags?: number | string;
  tag?: string;
  ifc?: Ifc | null;
  source?: number;
  smask?: number;
}

/** Result of a lookup. */
export interface RouteMatch {
  route: Route;
  /** The interface the packet leaves on. */
  ifc: Ifc;
  /** The link-level next hop: the destination itself for RF_LOCAL routes, else the gateway. */
  nexthop: number;
}

/** Internal entry; extra fields memoize the resolved interface. */
class Entry implements Route {
  resolved: Ifc | null = null;
  resolvedGen = -1;
  readonly order: number;
  constructor(
    readonly target: number,
    readonly mask: number,
    readonly nexthop: number,
    readonly flags: number,
    readonly tag: string,
    readonly ifc: Ifc | null,
    readonly source: number,
    readonly smask: number,
  ) {
    this.order = maskBits(mask) * 64 + maskBits(smask);
  }
}

/** Plan 9 flag text of a route's flags, e.g. `4i`, `4u`, `4b`, `4`. */
export function routeFlagsText(flags: number): string {
  let s = '4';
  if (flags & RF_IFC) s += 'i';
  if (flags & RF_UNI) s += 'u';
  else if (flags & RF_BCAST) s += 'b';
  else if (flags & RF_MCAST) s += 'm';
  if (flags & RF_PTP) s += 'p';
  if (flags & RF_PROXY) s += 'y';
  if (flags & RF_TRANS) s += 't';
  return s;
}

/** Parses Plan 9 flag text (`4`, `4i`, `ip`, …; `-` = none). @returns RF_* bits, or null if invalid (e.g. `6`). */
export function parseRouteFlags(text: string): number | null {
  let f = 0;
  for (const c of text) {
    switch (c) {
      case '4':
      case '-':
        break;
      case 'i':
        f |= RF_IFC;
        break;
      case 'u':
        f |= RF_UNI;
        break;
      case 'b':
        f |= RF_BCAST;
        break;
      case 'm':
        f |= RF_MCAST;
        break;
      case 'p':
        f |= RF_PTP;
        break;
      case 'y':
        f |= RF_PROXY;
        break;
      case 't':
        f |= RF_TRANS;
        break;
      default:
        return null;
    }
  }
  return f;
}

export class RouteTable {
  /** Sorted by decreasing (mask bits, source mask bits): first match wins. */
  private entries: Entry[] = [];
  private gen = 0;

  /** Called after every change (the Stack drops caches that depend on routes). */
  onChange: (() => void) | null = null;

  /** Number of routes. */
  get size(): number {
    return this.entries.length;
  }

  /**
   * Adds a route, replacing one with the same target, mask, source and
   * source mask. Throws RangeError on invalid flag text or a full table
   * (ROUTE_MAX): both are caller errors the /net layer reports.
   */
  add(spec: RouteSpec): Route {
    const flags = typeof spec.flags === 'string' ? parseRouteFlags(spec.flags) : (spec.flags ?? 0);
    if (flags === null) throw new RangeError(`bad route flags ${String(spec.flags)}`);
    const mask = spec.mask >>> 0;
    const smask = (spec.smask ?? 0) >>> 0;
    const e = new Entry(
      (spec.target & mask) >>> 0,
      mask,
      spec.nexthop >>> 0,
      flags,
      (spec.tag ?? DEFAULT_TAG).slice(0, ROUTE_TAG_LEN),
      spec.ifc ?? null,
      ((spec.source ?? 0) & smask) >>> 0,
      smask,
    );
    const i = this.entries.findIndex(
      (r) => r.target === e.target && r.mask === e.mask && r.source === e.source && r.smask === e.smask,
    );
    if (i >= 0) this.entries.splice(i, 1);
    else if (this.entries.length >= ROUTE_MAX) throw new RangeError('routing table full');
    let j = 0;
    while (j < this.entries.length && this.entries[j]!.order >= e.order) j++;
    this.entries.splice(j, 0, e);
    this.changed();
    return e;
  }

  /**
   * Removes routes matching target and mask, and (when given) nexthop,
   * source and smask. Plan 9's `del`/`remove`. @returns how many were removed
   */
  remove(spec: { target: number; mask: number; nexthop?: number; source?: number; smask?: number }): number {
    const mask = spec.mask >>> 0;
    const target = (spec.target & mask) >>> 0;
    return this.removeWhere(
      (r) =>
        r.target === target &&
        r.mask === mask &&
        (spec.nexthop === undefined || r.nexthop === spec.nexthop >>> 0) &&
        (spec.smask === undefined ||
          (r.smask === spec.smask >>> 0 && r.source === ((spec.source ?? 0) & spec.smask) >>> 0)),
    );
  }

  /** Removes every non-interface route, or those with `tag` (Plan 9 `flush [tag]`). */
  flush(tag?: string): number {
    const t = tag?.slice(0, ROUTE_TAG_LEN);
    return this.removeWhere((r) => (r.flags & RF_LOCAL) === 0 && (t === undefined || r.tag === t));
  }

  /** Removes routes for which `pred` holds. @returns how many */
  removeWhere(pred: (r: Route) => boolean): number {
    const before = this.entries.length;
    this.entries = this.entries.filter((r) => !pred(r));
    const n = before - this.entries.length;
    if (n > 0) this.changed();
    return n;
  }

  /** All routes, sorted by target then mask length (display order). */
  list(): Route[] {
    return [...this.entries].sort((a, b) => a.target - b.target || maskBits(a.mask) - maskBits(b.mask) || b.smask - a.smask);
  }

  /**
   * The route for `dst` from `src` (0 when the source is not chosen yet),
   * or null. Allocation-free; use {@link outIfc} for its interface.
   */
  find(dst: number, src = 0): Route | null {
    const es = this.entries;
    for (let i = 0; i < es.length; i++) {
      const r = es[i]!;
      if (((dst & r.mask) >>> 0) === r.target && ((src & r.smask) >>> 0) === r.source) return r;
    }
    return null;
  }

  /** The interface a route sends on, or null if it cannot be resolved (or is unbound). */
  outIfc(route: Route): Ifc | null {
    const e = route as Entry;
    if (e.ifc !== null) return e.ifc.bound ? e.ifc : null;
    if (e.resolvedGen === this.gen) return e.resolved;
    let ifc: Ifc | null = null;
    if ((e.flags & RF_LOCAL) === 0) {
      // Gateway: the directly connected route containing the next hop.
      for (const r of this.entries) {
        if ((r.flags & RF_IFC) !== 0 && ((e.nexthop & r.mask) >>> 0) === r.target && r.ifc !== null && r.ifc.bound) {
          ifc = r.ifc;
          break;
        }
      }
    }
    e.resolved = ifc;
    e.resolvedGen = this.gen;
    return ifc;
  }

  /** Link-level next hop of `dst` over `route`. */
  nexthopOf(route: Route, dst: number): number {
    return (route.flags & RF_LOCAL) !== 0 ? dst : route.nexthop;
  }

  /** Route, interface and next hop for `dst`, or null (no route or unresolvable interface). */
  lookup(dst: number, src = 0): RouteMatch | null {
    const route = this.find(dst >>> 0, src >>> 0);
    if (route === null) return null;
    const ifc = this.outIfc(route);
    if (ifc === null) return null;
    return { route, ifc, nexthop: this.nexthopOf(route, dst >>> 0) };
  }

  private changed(): void {
    this.gen++;
    this.onChange?.();
  }
}
