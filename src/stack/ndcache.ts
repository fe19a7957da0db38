/**
 * The IPv6 neighbor cache (RFC 4861 §7.3 and its Appendix C state table):
 * address resolution and neighbor unreachability detection.
 *
 *     INCOMPLETE  NS sent to the solicited-node group, packets held;
 *                 every RetransTimer again, MAX_MULTICAST_SOLICIT in all,
 *                 then the entry goes and its packets get Address Unreachable
 *     REACHABLE   confirmed within ReachableTime (a solicited NA, or an
 *                 upper layer's confirm()); then STALE
 *     STALE       a link-layer address not known to work; the next packet
 *                 sent moves it to DELAY
 *     DELAY       waits DELAY_FIRST_PROBE_TIME for an upper-layer
 *                 confirmation, then PROBE
 *     PROBE       unicast NS every RetransTimer, MAX_UNICAST_SOLICIT in all,
 *                 then the entry goes
 *
 * What an NA changes follows §7.2.5 (override flag, solicited flag, a
 * different link-layer address); an NS, RS or RA carrying a source
 * link-layer address creates or refreshes a STALE entry (§7.2.3, §6.2.6,
 * §6.3.4). A neighbor that stops being a router (R clear) is reported so it
 * leaves the default router list (§7.2.5).
 *
 * Bounded: NEIGH_CACHE_SIZE entries (least recently used evicted), held
 * packets NEIGH_PENDING_PER_ENTRY per entry and NEIGH_PENDING_TOTAL in all.
 * No clock is read; pollAt() gives the next deadline. Held frames are whole
 * Ethernet frames whose destination MAC is written when the entry resolves.
 */
import type { Ifc } from './ifc.js';
import { writeEthernetDst } from './wire/ethernet.js';
import type { Ip6, Ip6Key } from './wire/ipv6addr.js';
import { ip6Key } from './wire/ipv6addr.js';

/** Entries (per stack). */
export const NEIGH_CACHE_SIZE = 256;
/** Frames held per unresolved entry (RFC 4861 §7.2.2: at least one). */
export const NEIGH_PENDING_PER_ENTRY = 16;
/** Frames held in the whole cache. */
export const NEIGH_PENDING_TOTAL = 1024;
/** RFC 4861 §10 host constants. */
export const MAX_MULTICAST_SOLICIT = 3;
export const MAX_UNICAST_SOLICIT = 3;
export const DELAY_FIRST_PROBE_TIME_MS = 5000;

export type NeighborState = 'INCOMPLETE' | 'REACHABLE' | 'STALE' | 'DELAY' | 'PROBE';

/** One entry, as /net/arp will list it. */
export interface NeighborInfo {
  ip: Ip6;
  /** 48-bit MAC; -1 while INCOMPLETE. */
  mac: number;
  state: NeighborState;
  isRouter: boolean;
  ifc: Ifc;
}

/** What the cache needs from its owner (the IPv6 layer). */
export interface NeighborHost {
  /** Send an NS for `target` on `ifc`: to its solicited-node group when `unicastMac` is -1, else to that MAC. */
  ndSolicit(ifc: Ifc, target: Ip6, unicastMac: number, now: number): void;
  /** Send a frame whose destination MAC has just been written. */
  ndTransmit(ifc: Ifc, frame: Uint8Array): void;
  /** Resolution failed: the held frames' senders get Address Unreachable (§7.2.2). */
  ndUnreachable(ifc: Ifc, frames: Uint8Array[], now: number): void;
  /** `n` held frames were discarded by a bound. */
  ndDiscarded(n: number): void;
  /** A neighbor that was a router says it is not one any more. */
  ndNotRouter(ifc: Ifc, ip: Ip6): void;
  /** The interface's RetransTimer and (randomized) ReachableTime, in ms. */
  ndTimes(ifc: Ifc): { retrans: number; reachable: number };
  /** Ask to be polled at `deadline`. */
  schedule(deadline: number): void;
}

interface Entry {
  key: Ip6Key;
  ip: Ip6;
  ifc: Ifc;
  state: NeighborState;
  mac: number;
  isRouter: boolean;
  /** When the state's timer runs out (REACHABLE → STALE, DELAY → PROBE, retransmissions); Infinity for none. */
  due: number;
  /** Solicitations sent in this INCOMPLETE or PROBE period. */
  probes: number;
  used: number;
  pending: Uint8Array[];
}

export class NeighborCache {
  private readonly map = new Map<Ip6Key, Entry>();
  private held = 0;

  constructor(private readonly host: NeighborHost) {}

  /** Entries (≤ NEIGH_CACHE_SIZE). */
  get size(): number {
    return this.map.size;
  }

  /** Frames held (≤ NEIGH_PENDING_TOTAL). */
  get pendingFrames(): number {
    return this.held;
  }

  /** The state of `ip`'s entry, or null. */
  state(ip: Ip6): NeighborState | null {
    return this.map.get(ip6Key(ip))?.state ?? null;
  }

  /**
   * Sends `frame` to the neighbor `ip` on `ifc` (§7.2.2, §7.3.3): at once
   * when its link-layer address is known (a STALE entry moves to DELAY),
   * else held while it is resolved. Takes ownership of `frame`.
   * @returns true if sent now
   */
  output(ifc: Ifc, ip: Ip6, frame: Uint8Array, now: number): boolean {
    const key = ip6Key(ip);
    let e = this.entryOn(ifc, key);
    if (e === undefined) {
      e = this.insert(key, ip, ifc, now);
      this.enter(e, 'INCOMPLETE', now);
      this.hold(e, frame);
      return false;
    }
    e.used = now;
    if (e.state === 'INCOMPLETE') {
      this.hold(e, frame);
      return false;
    }
    if (e.state === 'STALE') this.enter(e, 'DELAY', now);
    writeEthernetDst(frame, 0, e.mac);
    this.host.ndTransmit(ifc, frame);
    return true;
  }

  /** The MAC of `ip` if known (any state but INCOMPLETE), else -1. */
  lookup(ip: Ip6): number {
    const e = this.map.get(ip6Key(ip));
    return e === undefined || e.state === 'INCOMPLETE' ? -1 : e.mac;
  }

  /** True if `ip` has an entry marked as a router. */
  isRouter(ip: Ip6): boolean {
    return this.map.get(ip6Key(ip))?.isRouter ?? false;
  }

  /**
   * An NS, RS or RA from `ip` carried its link-layer address `mac`
   * (§7.2.3, §6.2.6, §6.3.4): a new entry is STALE; a changed address
   * makes an entry STALE; an INCOMPLETE entry is resolved. `router` marks
   * it a router (an RA).
   */
  learn(ifc: Ifc, ip: Ip6, mac: number, router: boolean, now: number): void {
    const key = ip6Key(ip);
    let e = this.entryOn(ifc, key);
    if (e === undefined) {
      e = this.insert(key, ip, ifc, now);
      e.mac = mac;
      this.enter(e, 'STALE', now);
    } else if (e.state === 'INCOMPLETE' || e.mac !== mac) {
      e.mac = mac;
      this.enter(e, 'STALE', now);
      this.release(e);
    }
    if (router) e.isRouter = true;
  }

  /**
   * A neighbor advertisement for `ip` (§7.2.5). `mac` is its target
   * link-layer address, or -1 when it had none.
   */
  advert(ifc: Ifc, ip: Ip6, mac: number, solicited: boolean, override: boolean, router: boolean, now: number): void {
    const e = this.map.get(ip6Key(ip));
    if (e === undefined || e.ifc !== ifc) return; // no entry: nothing to do
    const wasRouter = e.isRouter;
    if (e.state === 'INCOMPLETE') {
      if (mac < 0) return;
      e.mac = mac;
      e.isRouter = router;
      this.enter(e, solicited ? 'REACHABLE' : 'STALE', now);
      this.release(e);
    } else {
      const differs = mac >= 0 && mac !== e.mac;
      if (!override && differs) {
        if (e.state === 'REACHABLE') this.enter(e, 'STALE', now);
        return;
      }
      if (differs) e.mac = mac;
      if (solicited) this.enter(e, 'REACHABLE', now);
      else if (differs) this.enter(e, 'STALE', now);
      e.isRouter = router;
    }
    if (wasRouter && !e.isRouter) this.host.ndNotRouter(ifc, e.ip);
  }

  /** An upper layer saw forward progress with `ip` (§7.3.1): REACHABLE if its address is known. */
  confirm(ip: Ip6, now: number): void {
    const e = this.map.get(ip6Key(ip));
    if (e !== undefined && e.state !== 'INCOMPLETE') this.enter(e, 'REACHABLE', now);
  }

  /** The earliest deadline, or null. */
  pollAt(): number | null {
    let t = Infinity;
    for (const e of this.map.values()) if (e.due < t) t = e.due;
    return t === Infinity ? null : t;
  }

  /** Runs the timers that are due. */
  poll(now: number): void {
    for (const e of [...this.map.values()]) {
      if (e.due > now) continue;
      switch (e.state) {
        case 'INCOMPLETE':
          if (e.probes >= MAX_MULTICAST_SOLICIT) {
            const frames = e.pending;
            e.pending = [];
            this.held -= frames.length;
            this.remove(e);
            this.host.ndUnreachable(e.ifc, frames, now);
          } else {
            this.solicit(e, -1, now);
          }
          break;
        case 'REACHABLE':
          this.enter(e, 'STALE', now);
          break;
        case 'DELAY':
          this.enter(e, 'PROBE', now);
          break;
        case 'PROBE':
          if (e.probes >= MAX_UNICAST_SOLICIT) this.remove(e);
          else this.solicit(e, e.mac, now);
          break;
        case 'STALE':
          e.due = Infinity;
          break;
      }
    }
    const next = this.pollAt();
    if (next !== null) this.host.schedule(next);
  }

  /** Every entry, least recently used first. */
  list(): NeighborInfo[] {
    return [...this.map.values()]
      .sort((a, b) => a.used - b.used)
      .map((e) => ({ ip: e.ip, mac: e.state === 'INCOMPLETE' ? -1 : e.mac, state: e.state, isRouter: e.isRouter, ifc: e.ifc }));
  }

  /** Deletes `ip`'s entry. @returns whether there was one */
  del(ip: Ip6): boolean {
    const e = this.map.get(ip6Key(ip));
    if (e === undefined) return false;
    this.remove(e);
    return true;
  }

  /** Forgets every entry on `ifc` (or all). */
  flush(ifc?: Ifc): void {
    for (const e of [...this.map.values()]) if (ifc === undefined || e.ifc === ifc) this.remove(e);
  }

  /** The entry for `key` if it is on `ifc`; one on another interface is dropped (the neighbor moved). */
  private entryOn(ifc: Ifc, key: Ip6Key): Entry | undefined {
    const e = this.map.get(key);
    if (e === undefined || e.ifc === ifc) return e;
    this.remove(e);
    return undefined;
  }

  private insert(key: Ip6Key, ip: Ip6, ifc: Ifc, now: number): Entry {
    if (this.map.size >= NEIGH_CACHE_SIZE) {
      let victim: Entry | undefined;
      for (const e of this.map.values()) if (victim === undefined || e.used < victim.used) victim = e;
      if (victim !== undefined) this.remove(victim);
    }
    const e: Entry = { key, ip: ip.slice(), ifc, state: 'STALE', mac: -1, isRouter: false, due: Infinity, probes: 0, used: now, pending: [] };
    this.map.set(key, e);
    return e;
  }

  /** Moves `e` to `state`, arming that state's timer (and sending the first solicitation). */
  private enter(e: Entry, state: NeighborState, now: number): void {
    e.state = state;
    e.probes = 0;
    const t = this.host.ndTimes(e.ifc);
    switch (state) {
      case 'INCOMPLETE':
        this.solicit(e, -1, now);
        return;
      case 'PROBE':
        this.solicit(e, e.mac, now);
        return;
      case 'REACHABLE':
        e.due = now + t.reachable;
        break;
      case 'DELAY':
        e.due = now + DELAY_FIRST_PROBE_TIME_MS;
        break;
      case 'STALE':
        e.due = Infinity;
        return;
    }
    this.host.schedule(e.due);
  }

  private solicit(e: Entry, mac: number, now: number): void {
    e.probes++;
    e.due = now + this.host.ndTimes(e.ifc).retrans;
    this.host.ndSolicit(e.ifc, e.ip, mac, now);
    this.host.schedule(e.due);
  }

  /** Sends the frames held for a resolved entry. */
  private release(e: Entry): void {
    const frames = e.pending;
    if (frames.length === 0) return;
    e.pending = [];
    this.held -= frames.length;
    for (const f of frames) {
      writeEthernetDst(f, 0, e.mac);
      this.host.ndTransmit(e.ifc, f);
    }
  }

  private hold(e: Entry, frame: Uint8Array): void {
    if (e.pending.length >= NEIGH_PENDING_PER_ENTRY) {
      e.pending.shift();
      this.held--;
      this.host.ndDiscarded(1);
    }
    if (this.held >= NEIGH_PENDING_TOTAL) {
      this.host.ndDiscarded(1);
      return;
    }
    e.pending.push(frame);
    this.held++;
  }

  private remove(e: Entry): void {
    if (e.pending.length > 0) {
      this.held -= e.pending.length;
      this.host.ndDiscarded(e.pending.length);
      e.pending = [];
    }
    this.map.delete(e.key);
  }
}
