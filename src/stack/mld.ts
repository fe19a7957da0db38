/**
 * Multicast listening for a host, as far as IPv6 needs it (RFC 3810,
 * MLDv2; RFC 4861 §7.2.1: a node joins the solicited-node group of each of
 * its addresses): the groups an interface listens to, reported so that
 * snooping switches forward them to us.
 *
 *  - Joining a group sends an unsolicited report (a CHANGE_TO_EXCLUDE {}
 *    record) and repeats it once after a random delay of up to the
 *    Unsolicited Report Interval (1 s): Robustness Variable 2 (§9.1, §9.11).
 *    Leaving sends CHANGE_TO_INCLUDE {} the same way.
 *  - A query (v1 or v2) is answered after a random delay of up to its
 *    Maximum Response Delay with MODE_IS_EXCLUDE {} records for the groups
 *    it asks about (all of ours for a general query).
 *  - ff02::1 is always listened to and never reported (§6).
 *
 * Joins are counted (two addresses may share a solicited-node group).
 * Bounded: MLD_GROUPS_MAX groups per interface (a join beyond it is
 * refused); a report carries at most MLD_RECORDS_PER_REPORT records. No
 * clock is read.
 */
import type { Rng } from '../lib/rng.js';
import type { Ifc } from './ifc.js';
import {
  MLD2_CHANGE_TO_EXCLUDE,
  MLD2_CHANGE_TO_INCLUDE,
  MLD2_MODE_IS_EXCLUDE,
} from './wire/icmpv6.js';
import type { Icmpv6Repr, Mld2Record } from './wire/icmpv6.js';
import type { Ip6, Ip6Key } from './wire/ipv6addr.js';
import { IP6_ALL_NODES, ip6FromKey, ip6IsUnspecified, ip6Key } from './wire/ipv6addr.js';

/** Groups per interface. */
export const MLD_GROUPS_MAX = 64;
/** Records per report (64 × 20 bytes fits a 1280-byte packet). */
export const MLD_RECORDS_PER_REPORT = 48;
/** RFC 3810 §9.11 Unsolicited Report Interval. */
export const MLD_UNSOLICITED_INTERVAL_MS = 1000;
/** RFC 3810 §9.1 Robustness Variable: each state change is reported this often. */
export const MLD_ROBUSTNESS = 2;

/** What MLD needs from the IPv6 layer. */
export interface MldHost {
  readonly rng: Rng;
  /** Send an MLDv2 report with `records` on `ifc`. */
  sendMldReport(ifc: Ifc, records: Mld2Record[], now: number): void;
  schedule(deadline: number): void;
}

interface Pending {
  recordType: number;
  group: Ip6Key;
  /** Reports of this change still to send. */
  left: number;
  due: number;
}

interface State {
  groups: Map<Ip6Key, number>;
  changes: Pending[];
  /** A query answer due (Infinity: none), and for which groups (null: all). */
  answerDue: number;
  answerFor: Set<Ip6Key> | null;
}

const ALL_NODES_KEY = ip6Key(IP6_ALL_NODES);

export class MldListener {
  private readonly ifcs = new Map<Ifc, State>();

  constructor(private readonly host: MldHost) {}

  private state(ifc: Ifc): State {
    let s = this.ifcs.get(ifc);
    if (s === undefined) {
      s = { groups: new Map(), changes: [], answerDue: Infinity, answerFor: null };
      this.ifcs.set(ifc, s);
    }
    return s;
  }

  /** True if `ifc` listens to `group` (ff02::1 always). */
  listening(ifc: Ifc, group: Ip6, o = 0): boolean {
    const k = ip6Key(group, o);
    return k === ALL_NODES_KEY || (this.ifcs.get(ifc)?.groups.has(k) ?? false);
  }

  /** Groups `ifc` listens to (ff02::1 not included). */
  groups(ifc: Ifc): Ip6[] {
    return [...(this.ifcs.get(ifc)?.groups.keys() ?? [])].map(ip6FromKey);
  }

  /** Joins `group` on `ifc`. @returns false when the interface's table is full */
  join(ifc: Ifc, group: Ip6, now: number): boolean {
    const k = ip6Key(group);
    if (k === ALL_NODES_KEY) return true;
    const s = this.state(ifc);
    const n = s.groups.get(k);
    if (n !== undefined) {
      s.groups.set(k, n + 1);
      return true;
    }
    if (s.groups.size >= MLD_GROUPS_MAX) return false;
    s.groups.set(k, 1);
    this.change(s, MLD2_CHANGE_TO_EXCLUDE, k, now);
    return true;
  }

  /** Leaves `group` on `ifc` (once per join). */
  leave(ifc: Ifc, group: Ip6, now: number): void {
    const k = ip6Key(group);
    const s = this.ifcs.get(ifc);
    const n = s?.groups.get(k);
    if (s === undefined || n === undefined) return;
    if (n > 1) {
      s.groups.set(k, n - 1);
      return;
    }
    s.groups.delete(k);
    this.change(s, MLD2_CHANGE_TO_INCLUDE, k, now);
  }

  /** Forgets `ifc` (nothing is sent: the interface is going). */
  disable(ifc: Ifc): void {
    this.ifcs.delete(ifc);
  }

  /** A query arrived on `ifc`. */
  query(ifc: Ifc, q: Extract<Icmpv6Repr, { kind: 'mldQuery' }>, now: number): void {
    const s = this.ifcs.get(ifc);
    if (s === undefined || s.groups.size === 0) return;
    const general = ip6IsUnspecified(q.group);
    const k = ip6Key(q.group);
    if (!general && !s.groups.has(k)) return;
    // RFC 3810 §5.1.3: Maximum Response Code below 32768 is milliseconds; above, a floating point form.
    const code = q.maxResponse;
    const maxMs = q.v2 === null || code < 32768 ? code : ((code & 0x0fff) | 0x1000) << (((code >>> 12) & 7) + 3);
    const due = now + (maxMs > 0 ? this.host.rng.u32() % maxMs : 0);
    if (general) s.answerFor = null;
    else if (s.answerDue === Infinity) s.answerFor = new Set([k]);
    else s.answerFor?.add(k);
    if (due < s.answerDue) s.answerDue = due;
    this.host.schedule(s.answerDue);
  }

  /** The earliest deadline, or null. */
  pollAt(): number | null {
    let t = Infinity;
    for (const s of this.ifcs.values()) {
      if (s.answerDue < t) t = s.answerDue;
      for (const c of s.changes) if (c.due < t) t = c.due;
    }
    return t === Infinity ? null : t;
  }

  /** Sends the reports that are due. */
  poll(now: number): void {
    for (const [ifc, s] of this.ifcs) {
      const due = s.changes.filter((c) => c.due <= now);
      if (due.length > 0) {
        this.send(ifc, due.map((c) => ({ recordType: c.recordType, group: ip6FromKey(c.group), sources: [], aux: new Uint8Array(0) })), now);
        for (const c of due) {
          c.left--;
          c.due = now + 1 + (this.host.rng.u32() % MLD_UNSOLICITED_INTERVAL_MS);
        }
        s.changes = s.changes.filter((c) => c.left > 0);
      }
      if (s.answerDue <= now) {
        const keys = s.answerFor === null ? [...s.groups.keys()] : [...s.answerFor].filter((k) => s.groups.has(k));
        s.answerDue = Infinity;
        s.answerFor = null;
        if (keys.length > 0) {
          this.send(ifc, keys.map((k) => ({ recordType: MLD2_MODE_IS_EXCLUDE, group: ip6FromKey(k), sources: [], aux: new Uint8Array(0) })), now);
        }
      }
    }
    const next = this.pollAt();
    if (next !== null) this.host.schedule(next);
  }

  private change(s: State, recordType: number, k: Ip6Key, now: number): void {
    s.changes = s.changes.filter((c) => c.group !== k);
    s.changes.push({ recordType, group: k, left: MLD_ROBUSTNESS, due: now });
    this.host.schedule(now);
  }

  private send(ifc: Ifc, records: Mld2Record[], now: number): void {
    for (let i = 0; i < records.length; i += MLD_RECORDS_PER_REPORT) {
      this.host.sendMldReport(ifc, records.slice(i, i + MLD_RECORDS_PER_REPORT), now);
    }
  }
}
