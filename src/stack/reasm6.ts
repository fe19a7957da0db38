/**
 * IPv6 reassembly (RFC 8200 §4.5) with RFC 5722's overlap rule.
 *
 * Fragments are grouped by (source, destination, identification). The
 * unfragmentable part (fixed header and the extension headers before the
 * fragment header) comes from the fragment with offset 0; the reassembled
 * datagram is that part, with the fragment header removed and the next
 * header that named it set to the fragment header's, followed by the
 * fragment data in order, its payload length recomputed.
 *
 *  - A fragment that overlaps another discards the whole datagram, and the
 *    datagram's later fragments too (RFC 5722 §4): the entry stays, dead,
 *    until its deadline. An exact duplicate is ignored (§4.5 allows it).
 *  - A non-last fragment whose length is not a multiple of 8 is answered
 *    with Parameter Problem code 0 at the payload length field; one that
 *    would end past 65535 bytes with code 0 at its fragment offset field.
 *  - 60 s after the first fragment arrived (§4.5), an unfinished datagram is
 *    dropped, with Time Exceeded code 1 when its offset-0 fragment arrived.
 *  - Bounded: REASM6_MAX_BYTES held (REASM6_FRAG_OVERHEAD charged per
 *    fragment), REASM6_MAX_DATAGRAMS in progress, REASM6_MAX_FRAGMENTS each;
 *    beyond the first two the oldest datagrams are discarded.
 *
 * Nothing here reads a clock or throws on input: add() and poll() take
 * `now`, pollAt() reports the next deadline.
 */
import { put16 } from './wire/bytes.js';
import { ip6Key } from './wire/ipv6addr.js';
import { IPV6_FRAG_HEADER_LEN, IPV6_HEADER_LEN, PARAM_ERRONEOUS_FIELD } from './wire/ipv6.js';
import type { Ipv6Headers } from './wire/ipv6.js';

/** How long a datagram may take to arrive whole (RFC 8200 §4.5: 60 s). */
export const REASM6_TIMEOUT_MS = 60_000;
/** Bytes held in all, per-fragment overhead included (1 MiB). */
export const REASM6_MAX_BYTES = 1 << 20;
/** Datagrams in progress (dead ones included). */
export const REASM6_MAX_DATAGRAMS = 64;
/** Fragments held per datagram. */
export const REASM6_MAX_FRAGMENTS = 256;
/** Bookkeeping cost charged per fragment. */
export const REASM6_FRAG_OVERHEAD = 64;

/** What the reassembler reports to its owner. */
export interface Reasm6Host {
  /** Count a drop as `reasm6: <reason>`. */
  reasm6Drop(reason: string): void;
  /** Answer `pkt` (the fragment) with a Parameter Problem. */
  reasm6Problem(pkt: Uint8Array, code: number, pointer: number, now: number): void;
  /** A datagram timed out; `first` is a copy of its offset-0 fragment, or null if that never came. */
  reasm6TimedOut(first: Uint8Array | null, now: number): void;
  /** Ask to be polled at `deadline`. */
  schedule(deadline: number): void;
}

interface Piece {
  off: number;
  end: number;
  data: Uint8Array;
}

interface Datagram {
  key: string;
  deadline: number;
  /** Length of the fragmentable part once the last fragment came, else -1. */
  total: number;
  received: number;
  cost: number;
  pieces: Piece[];
  /** Copy of the offset-0 fragment (for its unfragmentable part and for a Time Exceeded quote). */
  first: Uint8Array | null;
  /** Offset of the fragment header in `first`, and of the byte naming it. */
  fragAt: number;
  namedAt: number;
  nextHeader: number;
  /** Overlap seen: drop everything of this datagram until the deadline. */
  dead: boolean;
}

export class Reassembler6 {
  private readonly map = new Map<string, Datagram>();
  private held = 0;
  /** Datagrams reassembled, and failures (overlap, timeout, bounds), for the MIB. */
  oks = 0;
  fails = 0;

  constructor(private readonly host: Reasm6Host) {}

  /** Bytes charged now (≤ REASM6_MAX_BYTES). */
  get bytes(): number {
    return this.held;
  }

  /** Datagrams in progress (≤ REASM6_MAX_DATAGRAMS). */
  get datagrams(): number {
    return this.map.size;
  }

  /**
   * Adds the fragment `pkt` (the whole datagram, cut at its payload
   * length) whose walk stopped at its fragment header.
   * @returns the reassembled datagram (a new buffer), or null
   */
  add(pkt: Uint8Array, h: Ipv6Headers, now: number): Uint8Array | null {
    const f = h.fragment!;
    const dataAt = h.fragmentAt + IPV6_FRAG_HEADER_LEN;
    const len = pkt.length - dataAt;
    const off = f.offset;
    const end = off + len;
    if (f.more && (len === 0 || (len & 7) !== 0)) {
      this.host.reasm6Drop('bad fragment length');
      this.host.reasm6Problem(pkt, PARAM_ERRONEOUS_FIELD, 4, now);
      return null;
    }
    if (h.fragmentAt - IPV6_HEADER_LEN + end > 0xffff) {
      this.host.reasm6Drop('too big');
      this.host.reasm6Problem(pkt, PARAM_ERRONEOUS_FIELD, h.fragmentAt + 2, now);
      return null;
    }
    const key = `${ip6Key(pkt, 8)}${ip6Key(pkt, 24)}${f.ident}`;
    let d = this.map.get(key);
    if (d === undefined) {
      while (this.map.size >= REASM6_MAX_DATAGRAMS) this.evictOldest(null);
      d = { key, deadline: now + REASM6_TIMEOUT_MS, total: -1, received: 0, cost: 0, pieces: [], first: null, fragAt: 0, namedAt: 0, nextHeader: 0, dead: false };
      this.map.set(key, d);
      if (this.map.size === 1) this.host.schedule(d.deadline);
    }
    if (d.dead) {
      this.host.reasm6Drop('overlap');
      return null;
    }
    if (!f.more) {
      if ((d.total >= 0 && d.total !== end) || (d.pieces.length > 0 && d.pieces[d.pieces.length - 1]!.end > end)) {
        return this.kill(d, 'inconsistent length');
      }
    } else if (d.total >= 0 && end > d.total) {
      return this.kill(d, 'inconsistent length');
    }
    const ps = d.pieces;
    let i = ps.length;
    while (i > 0 && ps[i - 1]!.off >= off) i--;
    const next = i < ps.length ? ps[i]! : null;
    if (next !== null && next.off === off && next.end === end && len > 0) {
      this.host.reasm6Drop('duplicate');
      return null;
    }
    const prev = i > 0 ? ps[i - 1]! : null;
    if ((prev !== null && prev.end > off) || (next !== null && next.off < end)) return this.kill(d, 'overlap');
    if (ps.length >= REASM6_MAX_FRAGMENTS) return this.kill(d, 'too many fragments');
    const cost = len + REASM6_FRAG_OVERHEAD;
    while (this.held + cost > REASM6_MAX_BYTES) {
      if (!this.evictOldest(d)) return this.kill(d, 'memory');
    }
    if (!f.more) d.total = end;
    ps.splice(i, 0, { off, end, data: pkt.slice(dataAt) });
    d.received += len;
    d.cost += cost;
    this.held += cost;
    if (off === 0) {
      d.first = pkt.slice();
      d.fragAt = h.fragmentAt;
      d.namedAt = h.protocolAt;
      d.nextHeader = f.nextHeader;
    }
    if (d.first === null || d.total < 0 || d.received !== d.total) return null;

    // Complete: the unfragmentable part, then the pieces, which tile [0, total).
    const unfrag = d.fragAt;
    const out = new Uint8Array(unfrag + d.total);
    out.set(d.first.subarray(0, unfrag));
    for (const p of ps) out.set(p.data, unfrag + p.off);
    out[d.namedAt] = d.nextHeader;
    put16(out, 4, out.length - IPV6_HEADER_LEN);
    this.remove(d);
    this.oks++;
    return out;
  }

  /** The earliest deadline, or null. */
  pollAt(): number | null {
    for (const d of this.map.values()) return d.deadline; // insertion order is deadline order
    return null;
  }

  /** Drops the datagrams whose time is up. */
  poll(now: number): void {
    for (const d of this.map.values()) {
      if (d.deadline > now) break;
      this.remove(d);
      if (d.dead) continue;
      this.fails++;
      this.host.reasm6Drop('timeout');
      this.host.reasm6TimedOut(d.first, now);
    }
    const next = this.pollAt();
    if (next !== null) this.host.schedule(next);
  }

  /** Drops everything. */
  clear(): void {
    for (const d of [...this.map.values()]) this.remove(d);
  }

  /** Discards what `d` holds and keeps it dead until its deadline (RFC 5722). */
  private kill(d: Datagram, reason: string): null {
    this.host.reasm6Drop(reason);
    this.fails++;
    this.held -= d.cost;
    d.cost = 0;
    d.pieces = [];
    d.first = null;
    d.received = 0;
    d.dead = true;
    return null;
  }

  private remove(d: Datagram): void {
    if (this.map.delete(d.key)) this.held -= d.cost;
  }

  private evictOldest(keep: Datagram | null): boolean {
    for (const d of this.map.values()) {
      if (d === keep) continue;
      this.host.reasm6Drop('evicted');
      if (!d.dead) this.fails++;
      this.remove(d);
      return true;
    }
    return false;
  }
}
