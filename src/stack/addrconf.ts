/**
 * IPv6 addresses of the interfaces: link-local and stateless
 * autoconfiguration (RFC 4862) with duplicate address detection, and
 * addresses configured by hand.
 *
 *  - Every enabled interface gets a link-local address fe80::/64 + a stable
 *    interface identifier (RFC 7217, iid.ts; RFC 8064 recommends it for
 *    every SLAAC address), as do the autonomous prefixes of router
 *    advertisements (§5.5.3: 64-bit identifiers, so /64 prefixes only).
 *  - A new address is tentative: its solicited-node group is joined (MLD),
 *    and after a random delay of up to MAX_RTR_SOLICITATION_DELAY
 *    (§5.4.2) DUP_ADDR_DETECT_TRANSMITS neighbor solicitations from ::
 *    are sent RetransTimer apart, each with a nonce (RFC 7527). If nothing
 *    answers within RetransTimer of the last it becomes preferred (or
 *    deprecated, with a preferred lifetime of 0).
 *  - During DAD a neighbor advertisement for the address, or a solicitation
 *    for it from :: that does not carry one of our nonces (our own, looped
 *    back by the link, does), makes it a duplicate (§5.4.3, §5.4.4);
 *    solicitations from unicast sources are address resolution and are
 *    ignored. A duplicate RFC 7217 address is formed again with the next
 *    DAD_Counter, IDGEN_RETRIES times (RFC 7217 §6); a manual one stays
 *    duplicate and unused.
 *  - Lifetimes follow §5.5.3 (e), the two-hour rule included: preferred
 *    ends → deprecated (still ours, not chosen as a source for new
 *    traffic), valid ends → removed.
 *
 * Bounded: ADDRS_PER_IFC addresses per interface (further prefixes are
 * ignored). No clock is read; pollAt()/poll(now) drive DAD and lifetimes.
 */
import type { Rng } from '../lib/rng.js';
import { IDGEN_RETRIES, stableIid } from './iid.js';
import type { Ifc } from './ifc.js';
import type { Ip6, Ip6Key } from './wire/ipv6addr.js';
import {
  IP6_LINK_LOCAL_PREFIX,
  ip6Equal,
  ip6FromPrefixIid,
  ip6IsLinkLocal,
  ip6Key,
  ip6PrefixMatch,
  ip6SolicitedNode,
} from './wire/ipv6addr.js';
import { macToBytes } from './wire/ethernet.js';
import { ND_INFINITE } from './wire/ndopt.js';

/** RFC 4862 §5.1: DupAddrDetectTransmits. */
export const DUP_ADDR_DETECT_TRANSMITS = 1;
/** RFC 4861 §10: MAX_RTR_SOLICITATION_DELAY, also the most DAD waits before its first NS (RFC 4862 §5.4.2). */
export const MAX_RTR_SOLICITATION_DELAY_MS = 1000;
/** Bound on addresses per interface. */
export const ADDRS_PER_IFC = 16;
/** RFC 4862 §5.5.3 (e): the two hours below which an RA cannot shorten a valid lifetime. */
export const TWO_HOURS_MS = 2 * 60 * 60 * 1000;
/** Bytes of DAD nonce (RFC 7527 §4.1: at least 6). */
export const DAD_NONCE_LEN = 6;

export type Addr6State = 'tentative' | 'preferred' | 'deprecated' | 'duplicate';
/** Where an address came from: the link-local one, SLAAC, or by hand. */
export type Addr6Origin = 'link' | 'slaac' | 'manual';

/** One address of an interface. */
export interface Addr6 {
  readonly addr: Ip6;
  readonly key: Ip6Key;
  readonly prefixLen: number;
  readonly origin: Addr6Origin;
  readonly state: Addr6State;
  /** When the address stops being valid / preferred (ms; Infinity for ever). */
  readonly validUntil: number;
  readonly preferredUntil: number;
}

interface Slot extends Addr6 {
  addr: Ip6;
  key: Ip6Key;
  state: Addr6State;
  validUntil: number;
  preferredUntil: number;
  /** RFC 7217 DAD_Counter this address was formed with. */
  dadCounter: number;
  /** The prefix it was formed from (link and slaac). */
  prefix: Ip6 | null;
  /** DAD: solicitations sent, the next event, our nonces. */
  dadSent: number;
  dadDue: number;
  nonces: Uint8Array[];
}

/** What address configuration needs from the IPv6 layer. */
export interface AddrConfHost {
  readonly rng: Rng;
  /** Send a DAD solicitation for `target` (from ::, to its solicited-node group) carrying `nonce`. */
  dadSolicit(ifc: Ifc, target: Ip6, nonce: Uint8Array, now: number): void;
  /** Join / leave a multicast group on `ifc` (MLD). */
  joinGroup(ifc: Ifc, group: Ip6, now: number): void;
  leaveGroup(ifc: Ifc, group: Ip6, now: number): void;
  /** DAD succeeded: `a` is usable. */
  addrReady(ifc: Ifc, a: Addr6, now: number): void;
  /** An address was found duplicate, or went away. */
  addrLost(ifc: Ifc, a: Addr6, why: 'duplicate' | 'expired' | 'removed', now: number): void;
  /** The interface's RetransTimer (ms). */
  retransTimer(ifc: Ifc): number;
  schedule(deadline: number): void;
}

function lifetimeEnd(now: number, seconds: number): number {
  return seconds === ND_INFINITE ? Infinity : now + seconds * 1000;
}

export class AddrConf {
  private readonly ifcs = new Map<Ifc, Slot[]>();

  constructor(
    private readonly host: AddrConfHost,
    /** The RFC 7217 secret key. */
    private readonly secret: Uint8Array,
  ) {}

  /** The interface's addresses (a copy), in the order added. */
  addresses(ifc: Ifc): Addr6[] {
    return [...(this.ifcs.get(ifc) ?? [])];
  }

  /** The address `a` of `ifc`, if there. */
  find(ifc: Ifc, a: Ip6): Addr6 | null {
    for (const s of this.ifcs.get(ifc) ?? []) if (ip6Equal(s.addr, a)) return s;
    return null;
  }

  /** Starts IPv6 on `ifc`: forms its link-local address. Nothing if it runs already. */
  enable(ifc: Ifc, now: number): void {
    if (this.ifcs.has(ifc)) return;
    this.ifcs.set(ifc, []);
    this.addStable(ifc, IP6_LINK_LOCAL_PREFIX, 'link', 0, Infinity, Infinity, now);
  }

  /** Stops IPv6 on `ifc`: every address goes. */
  disable(ifc: Ifc, now: number): void {
    const slots = this.ifcs.get(ifc);
    if (slots === undefined) return;
    this.ifcs.delete(ifc);
    for (const s of slots) this.drop(ifc, s, 'removed', now);
  }

  /** True while `ifc` is enabled. */
  enabled(ifc: Ifc): boolean {
    return this.ifcs.has(ifc);
  }

  /**
   * Adds `addr/prefixLen` by hand (phase 2: ipifc `add`), tentative until DAD ends.
   * @returns the address, or null when the interface is not enabled, has it already or is full
   */
  addManual(ifc: Ifc, addr: Ip6, prefixLen: number, now: number): Addr6 | null {
    const slots = this.ifcs.get(ifc);
    if (slots === undefined || slots.length >= ADDRS_PER_IFC || slots.some((s) => ip6Equal(s.addr, addr))) return null;
    return this.start(ifc, slots, addr.slice(), prefixLen, 'manual', null, 0, Infinity, Infinity, now);
  }

  /** Removes an address. @returns whether it was there */
  remove(ifc: Ifc, addr: Ip6, now: number): boolean {
    const slots = this.ifcs.get(ifc);
    const i = slots?.findIndex((s) => ip6Equal(s.addr, addr)) ?? -1;
    if (slots === undefined || i < 0) return false;
    const [s] = slots.splice(i, 1);
    this.drop(ifc, s!, 'removed', now);
    return true;
  }

  /**
   * A prefix information option with A set, from a valid router
   * advertisement (RFC 4862 §5.5.3). Lifetimes in seconds.
   */
  prefix(ifc: Ifc, prefix: Ip6, prefixLen: number, validS: number, preferredS: number, now: number): void {
    const slots = this.ifcs.get(ifc);
    if (slots === undefined) return;
    if (ip6IsLinkLocal(prefix) || preferredS > validS || prefixLen !== 64) return; // (b), (c), and our 64-bit identifiers
    const mine = slots.filter((s) => s.origin === 'slaac' && s.prefix !== null && ip6PrefixMatch(s.prefix, prefix, 64));
    if (mine.length === 0) {
      if (validS === 0 || slots.length >= ADDRS_PER_IFC) return;
      this.addStable(ifc, prefix, 'slaac', 0, lifetimeEnd(now, validS), lifetimeEnd(now, preferredS), now);
      return;
    }
    for (const s of mine) {
      // (e): the preferred lifetime as advertised; the valid one not cut below two hours.
      s.preferredUntil = lifetimeEnd(now, preferredS);
      const received = lifetimeEnd(now, validS);
      const remaining = s.validUntil - now;
      if (received - now > TWO_HOURS_MS || received > s.validUntil) s.validUntil = received;
      else if (remaining > TWO_HOURS_MS) s.validUntil = now + TWO_HOURS_MS;
      if (s.state === 'deprecated' && s.preferredUntil > now) s.state = 'preferred';
    }
    this.host.schedule(now);
  }

  /**
   * A neighbor solicitation for `target` arrived from `src` (:: for DAD)
   * with `nonce` (or null). @returns true if it concerned a tentative address (and is consumed)
   */
  solicitation(ifc: Ifc, target: Ip6, fromUnspecified: boolean, nonce: Uint8Array | null, now: number): boolean {
    const s = this.slot(ifc, target);
    if (s === null || s.state !== 'tentative') return false;
    if (!fromUnspecified) return true; // address resolution for a tentative address: ignored (§5.4.3)
    if (nonce !== null && s.nonces.some((n) => n.length === nonce.length && n.every((b, i) => b === nonce[i]))) return true;
    this.duplicate(ifc, s, now);
    return true;
  }

  /** A neighbor advertisement for `target` arrived. @returns true if it made one of our tentative addresses a duplicate */
  advertisement(ifc: Ifc, target: Ip6, now: number): boolean {
    const s = this.slot(ifc, target);
    if (s === null || s.state !== 'tentative') return false;
    this.duplicate(ifc, s, now);
    return true;
  }

  /** The earliest deadline, or null. */
  pollAt(): number | null {
    let t = Infinity;
    for (const slots of this.ifcs.values()) {
      for (const s of slots) {
        if (s.state === 'tentative' && s.dadDue < t) t = s.dadDue;
        if (s.state === 'preferred' && s.preferredUntil < t) t = s.preferredUntil;
        if (s.state !== 'duplicate' && s.validUntil < t) t = s.validUntil;
      }
    }
    return t === Infinity ? null : t;
  }

  /** Runs DAD and lifetimes. */
  poll(now: number): void {
    for (const [ifc, slots] of this.ifcs) {
      for (const s of [...slots]) {
        if (s.state !== 'duplicate' && s.validUntil <= now) {
          slots.splice(slots.indexOf(s), 1);
          this.drop(ifc, s, 'expired', now);
          continue;
        }
        if (s.state === 'tentative' && s.dadDue <= now) {
          if (s.dadSent < DUP_ADDR_DETECT_TRANSMITS) {
            this.sendDad(ifc, s, now);
          } else {
            s.state = s.preferredUntil > now ? 'preferred' : 'deprecated';
            this.host.addrReady(ifc, s, now);
          }
        }
        if (s.state === 'preferred' && s.preferredUntil <= now) s.state = 'deprecated';
      }
    }
    const next = this.pollAt();
    if (next !== null) this.host.schedule(next);
  }

  private slot(ifc: Ifc, a: Ip6): Slot | null {
    for (const s of this.ifcs.get(ifc) ?? []) if (ip6Equal(s.addr, a)) return s;
    return null;
  }

  private addStable(ifc: Ifc, prefix: Ip6, origin: Addr6Origin, counter: number, validUntil: number, preferredUntil: number, now: number): void {
    const slots = this.ifcs.get(ifc)!;
    const addr = ip6FromPrefixIid(prefix, stableIid(this.secret, prefix, macToBytes(ifc.mac), counter));
    if (slots.some((s) => ip6Equal(s.addr, addr))) return;
    this.start(ifc, slots, addr, 64, origin, prefix.slice(), counter, validUntil, preferredUntil, now);
  }

  private start(
    ifc: Ifc, slots: Slot[], addr: Ip6, prefixLen: number, origin: Addr6Origin, prefix: Ip6 | null,
    counter: number, validUntil: number, preferredUntil: number, now: number,
  ): Slot {
    const delay = this.host.rng.u32() % (MAX_RTR_SOLICITATION_DELAY_MS + 1);
    const s: Slot = {
      addr, key: ip6Key(addr), prefixLen, origin, state: 'tentative', validUntil, preferredUntil,
      dadCounter: counter, prefix, dadSent: 0, dadDue: now + delay, nonces: [],
    };
    slots.push(s);
    this.host.joinGroup(ifc, ip6SolicitedNode(addr), now);
    this.host.schedule(s.dadDue);
    return s;
  }

  private sendDad(ifc: Ifc, s: Slot, now: number): void {
    const nonce = new Uint8Array(DAD_NONCE_LEN);
    for (let i = 0; i < DAD_NONCE_LEN; i++) nonce[i] = this.host.rng.u32() & 0xff;
    s.nonces.push(nonce);
    s.dadSent++;
    s.dadDue = now + this.host.retransTimer(ifc);
    this.host.dadSolicit(ifc, s.addr, nonce, now);
    this.host.schedule(s.dadDue);
  }

  private duplicate(ifc: Ifc, s: Slot, now: number): void {
    s.state = 'duplicate';
    this.host.leaveGroup(ifc, ip6SolicitedNode(s.addr), now);
    this.host.addrLost(ifc, s, 'duplicate', now);
    if (s.prefix === null || s.dadCounter >= IDGEN_RETRIES) return;
    const slots = this.ifcs.get(ifc)!;
    slots.splice(slots.indexOf(s), 1);
    this.addStable(ifc, s.prefix, s.origin, s.dadCounter + 1, s.validUntil, s.preferredUntil, now);
  }

  private drop(ifc: Ifc, s: Slot, why: 'expired' | 'removed', now: number): void {
    if (s.state !== 'duplicate') this.host.leaveGroup(ifc, ip6SolicitedNode(s.addr), now);
    this.host.addrLost(ifc, s, why, now);
  }
}
