/**
 * The ARP cache (RFC 826, RFC 1122 §2.3.2; Plan 9 ip/arp.c semantics,
 * plan9-net.md §9).
 *
 * Entries are `OK` (resolved) or `WAIT` (request sent, packets held).
 *   - 256 entries (ARP_CACHE_SIZE); inserting into a full cache evicts the
 *     least recently used entry (its held packets are discarded).
 *   - A WAIT entry holds at most ARP_PENDING_PER_ENTRY frames (the oldest is
 *     dropped beyond that) and the whole cache at most ARP_PENDING_TOTAL.
 *   - Requests are retried every ARP_RETRY_MS; a WAIT entry still unanswered
 *     ARP_WAIT_MS after its first request is removed and every held packet
 *     is reported to the host (which answers ICMP host unreachable).
 *   - An OK entry resolved more than ARP_LIFETIME_MS (15 min) ago is not
 *     trusted: the next packet puts it back in WAIT and re-resolves.
 *   - Any ARP packet from a known IP refreshes its entry; a request or reply
 *     aimed at one of our addresses creates one.
 *
 * No clock is read: every entry point takes `now`, and pollAt() reports the
 * next retry/expiry. Held frames are complete Ethernet frames with the
 * source MAC and EtherType written; the destination MAC is filled in when
 * the entry resolves.
 */
import type { Ifc } from './ifc.js';
import { writeEthernetDst } from './wire/ethernet.js';

/** Cache size (Plan 9 NHASH*... / spec: 256 entries, LRU). */
export const ARP_CACHE_SIZE = 256;
/** Frames held per unresolved entry. */
export const ARP_PENDING_PER_ENTRY = 16;
/** Frames held in the whole cache. */
export const ARP_PENDING_TOTAL = 1024;
/** Interval between requests for an unresolved address. */
export const ARP_RETRY_MS = 1000;
/** An unresolved entry is dropped this long after its first request (~3 s, Plan 9). */
export const ARP_WAIT_MS = 3000;
/** Resolved entries are re-resolved after 15 minutes (9front arp.c). */
export const ARP_LIFETIME_MS = 15 * 60 * 1000;

export type ArpState = 'OK' | 'WAIT';

/** One entry as listed by /net/arp. */
export interface ArpEntryInfo {
  ip: number;
  /** 48-bit MAC; 0 while WAIT. */
  mac: number;
  state: ArpState;
  ifc: Ifc;
  /** The local address of the interface the entry belongs to (best match for `ip`), or 0. */
  ifcAddr: number;
}

/** What the cache needs from its owner (the Stack). */
export interface ArpHost {
  /** Broadcast a request for `ip` on `ifc`. */
  arpRequest(ifc: Ifc, ip: number, now: number): void;
  /** Send a frame whose destination MAC has just been filled in. */
  arpTransmit(ifc: Ifc, frame: Uint8Array): void;
  /** A held frame's next hop never answered: report host unreachable. */
  arpFailed(frame: Uint8Array, now: number): void;
  /** `n` held frames were discarded (queue bounds, eviction, deletion). */
  arpDiscarded(n: number): void;
  /** Ask to be polled at `deadline`. */
  schedule(deadline: number): void;
}

interface Entry {
  ip: number;
  mac: number;
  state: ArpState;
  ifc: Ifc;
  /** When it became OK. */
  resolvedAt: number;
  /** Last use, for LRU. */
  used: number;
  /** WAIT: first request time + ARP_WAIT_MS. */
  expires: number;
  /** WAIT: when to send the next request. */
  nextRetry: number;
  /** WAIT: held frames (oldest first). */
  pending: Uint8Array[];
}

export class ArpCache {
  private readonly map = new Map<number, Entry>();
  /** Entries in WAIT (for pollAt without scanning the cache). */
  private readonly waiting = new Set<Entry>();
  private held = 0;

  constructor(private readonly host: ArpHost) {}

  /** Entries in the cache. */
  get size(): number {
    return this.map.size;
  }

  /** Frames held awaiting resolution. */
  get pendingFrames(): number {
    return this.held;
  }

  /**
   * Sends `frame` (an Ethernet frame, source MAC and type written) to the
   * IPv4 next hop `ip` on `ifc`: fills the destination MAC and transmits
   * when resolved, else holds it and (re)starts resolution. Fast path: one
   * Map lookup. Takes ownership of `frame`.
   * @returns true if transmitted now, false if held or dropped
   */
  output(ifc: Ifc, ip: number, frame: Uint8Array, now: number): boolean {
    let e = this.map.get(ip);
    if (e !== undefined && e.state === 'OK' && e.ifc === ifc) {
      if (now - e.resolvedAt < ARP_LIFETIME_MS) {
        e.used = now;
        writeEthernetDst(frame, 0, e.mac);
        this.host.arpTransmit(ifc, frame);
        return true;
      }
      this.startWait(e, now); // aged: re-resolve (9front)
    } else if (e === undefined) {
      e = this.insert(ip, ifc, now);
      this.startWait(e, now);
    } else if (e.ifc !== ifc) {
      // The route moved to another interface: start over there.
      this.dropPending(e);
      e.ifc = ifc;
      this.startWait(e, now);
    }
    e.used = now;
    this.hold(e, frame);
    return false;
  }

  /** The MAC for `ip` if resolved and fresh, else -1 (no side effects). */
  lookup(ip: number, now: number): number {
    const e = this.map.get(ip);
    return e !== undefined && e.state === 'OK' && now - e.resolvedAt < ARP_LIFETIME_MS ? e.mac : -1;
  }

  /**
   * Learns `ip` → `mac` from received ARP on `ifc`. Refreshes an existing
   * entry (sending its held frames); creates one only when `create`.
   */
  learn(ifc: Ifc, ip: number, mac: number, create: boolean, now: number): void {
    let e = this.map.get(ip);
    if (e === undefined) {
      if (!create) return;
      e = this.insert(ip, ifc, now);
    }
    this.resolve(e, ifc, mac, now);
  }

  /** Earliest retry or expiry, or null. */
  pollAt(): number | null {
    let t = Infinity;
    for (const e of this.waiting) {
      if (e.nextRetry < t) t = e.nextRetry;
      if (e.expires < t) t = e.expires;
    }
    return t === Infinity ? null : t;
  }

  /** Retries and expires WAIT entries. */
  poll(now: number): void {
    for (const e of [...this.waiting]) {
      if (now >= e.expires) {
        this.waiting.delete(e);
        this.map.delete(e.ip);
        e.ifc.ev?.(now, { kind: 'arp', what: 'failed', ip: e.ip, mac: 0 });
        const frames = e.pending;
        e.pending = [];
        this.held -= frames.length;
        for (const f of frames) this.host.arpFailed(f, now);
      } else if (now >= e.nextRetry) {
        e.nextRetry = now + ARP_RETRY_MS;
        this.host.arpRequest(e.ifc, e.ip, now);
      }
    }
    const next = this.pollAt();
    if (next !== null) this.host.schedule(next);
  }

  // ---- /net/arp operations ----

  /** Entries in LRU order (least recently used first). */
  list(): ArpEntryInfo[] {
    const out: ArpEntryInfo[] = [];
    const es = [...this.map.values()].sort((a, b) => a.used - b.used);
    for (const e of es) {
      out.push({ ip: e.ip, mac: e.state === 'OK' ? e.mac : 0, state: e.state, ifc: e.ifc, ifcAddr: e.ifc.addressFor(e.ip) });
    }
    return out;
  }

  /** Adds or replaces a resolved entry for `ip` on `ifc` (`add IP MAC`). */
  add(ifc: Ifc, ip: number, mac: number, now: number): void {
    this.learn(ifc, ip >>> 0, mac, true, now);
  }

  /** Deletes the entry for `ip` (held frames discarded). @returns whether one existed */
  del(ip: number): boolean {
    const e = this.map.get(ip >>> 0);
    if (e === undefined) return false;
    this.remove(e);
    return true;
  }

  /** Clears the cache. */
  flush(): void {
    for (const e of [...this.map.values()]) this.remove(e);
  }

  /** Forgets every entry on `ifc` (unbind). */
  removeIfc(ifc: Ifc): void {
    for (const e of [...this.map.values()]) if (e.ifc === ifc) this.remove(e);
  }

  // ---- internals ----

  private insert(ip: number, ifc: Ifc, now: number): Entry {
    if (this.map.size >= ARP_CACHE_SIZE) this.evictLru();
    const e: Entry = {
      ip,
      mac: 0,
      state: 'WAIT',
      ifc,
      resolvedAt: 0,
      used: now,
      expires: 0,
      nextRetry: 0,
      pending: [],
    };
    this.map.set(ip, e);
    return e;
  }

  private startWait(e: Entry, now: number): void {
    e.state = 'WAIT';
    e.expires = now + ARP_WAIT_MS;
    e.nextRetry = now + ARP_RETRY_MS;
    this.waiting.add(e);
    this.host.arpRequest(e.ifc, e.ip, now);
    this.host.schedule(e.nextRetry);
  }

  private resolve(e: Entry, ifc: Ifc, mac: number, now: number): void {
    if (ifc.ev !== null && (e.state !== 'OK' || e.mac !== mac || e.ifc !== ifc)) {
      ifc.ev(now, { kind: 'arp', what: e.state === 'OK' && e.ifc === ifc ? 'changed' : 'resolved', ip: e.ip, mac });
    }
    if (e.ifc !== ifc) this.dropPending(e);
    e.ifc = ifc;
    e.mac = mac;
    e.state = 'OK';
    e.resolvedAt = now;
    e.used = now;
    this.waiting.delete(e);
    const frames = e.pending;
    if (frames.length === 0) return;
    e.pending = [];
    this.held -= frames.length;
    for (const f of frames) {
      writeEthernetDst(f, 0, mac);
      this.host.arpTransmit(ifc, f);
    }
  }

  private hold(e: Entry, frame: Uint8Array): void {
    if (e.pending.length >= ARP_PENDING_PER_ENTRY) {
      e.pending.shift();
      this.held--;
      this.host.arpDiscarded(1);
    }
    if (this.held >= ARP_PENDING_TOTAL) {
      this.host.arpDiscarded(1);
      return;
    }
    e.pending.push(frame);
    this.held++;
  }

  private dropPending(e: Entry): void {
    const n = e.pending.length;
    if (n === 0) return;
    e.pending = [];
    this.held -= n;
    this.host.arpDiscarded(n);
  }

  private remove(e: Entry): void {
    this.dropPending(e);
    this.waiting.delete(e);
    this.map.delete(e.ip);
  }

  private evictLru(): void {
    let victim: Entry | undefined;
    for (const e of this.map.values()) if (victim === undefined || e.used < victim.used) victim = e;
    if (victim !== undefined) this.remove(victim);
  }
}

/** What the /net/arp operations need from the Stack (the driver). */
export interface ArpTableHost {
  now(): number;
  /** The interface routing would use to reach `ip`, or null. */
  arpRouteIfc(ip: number): Ifc | null;
  /** Sends a gratuitous ARP for local address `ip`; false if it is not one. */
  arpGratuitous(ip: number): boolean;
}

/**
 * The user-facing ARP table (`stack.arp`, Plan 9 /net/arp): the cache's
 * ctl operations with the time supplied by the Stack.
 */
export class ArpTable {
  /** @internal created by the Stack */
  constructor(
    private readonly cache: ArpCache,
    private readonly host: ArpTableHost,
  ) {}

  /** Entries, least recently used first. */
  list(): ArpEntryInfo[] {
    return this.cache.list();
  }

  /** Entries in the cache (≤ ARP_CACHE_SIZE). */
  get size(): number {
    return this.cache.size;
  }

  /** Frames held awaiting resolution (≤ ARP_PENDING_TOTAL). */
  get pendingFrames(): number {
    return this.cache.pendingFrames;
  }

  /** The MAC for `ip` if resolved and fresh, else -1. */
  lookup(ip: number): number {
    return this.cache.lookup(ip >>> 0, this.host.now());
  }

  /**
   * Adds or replaces an entry (`add [medium] IP MAC [ifcIP]`), on `ifc` or
   * on the interface routing picks for `ip`.
   * @returns false if no (bound) interface reaches `ip` (Plan 9: `no interface`)
   */
  add(ip: number, mac: number, ifc?: Ifc): boolean {
    const via = ifc ?? this.host.arpRouteIfc(ip >>> 0);
    if (via === null || !via.bound) return false;
    this.cache.add(via, ip, mac, this.host.now());
    return true;
  }

  /** Deletes the entry for `ip` (`del IP`); its held frames are discarded. @returns whether it existed */
  del(ip: number): boolean {
    return this.cache.del(ip);
  }

  /** Clears the table (`flush`). */
  flush(): void {
    this.cache.flush();
  }

  /** Sends a gratuitous ARP for local address `ip` (`garp IP`). @returns false if `ip` is not ours */
  garp(ip: number): boolean {
    return this.host.arpGratuitous(ip >>> 0);
  }
}
