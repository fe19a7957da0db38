/**
 * IPv4 helpers above the wire layer: address classes, fragmentation
 * arithmetic, option copying (RFC 791 §3.2) and
 * the reassembly state machine (RFC 791 §3.2, RFC 815; overlap policy as
 * Linux since 4.19 / RFC 5722 for IPv6: overlapping fragments discard the
 * whole datagram).
 *
 * Nothing here reads a clock: the Reassembler takes `now` and reports its
 * next deadline with pollAt(). It is bounded in memory (REASM_MAX_BYTES,
 * REASM_MAX_DATAGRAMS, REASM_MAX_FRAGMENTS) and never throws on input.
 */
import { IPV4_HEADER_LEN, writeIpv4Header } from './wire/ipv4.js';
import type { Ipv4Repr } from './wire/ipv4.js';
import type { IpStats } from './stats.js';

/** True for 224.0.0.0/4. */
export function isMulticastIp(ip: number): boolean {
  return ip >>> 28 === 0xe;
}

/** True for addresses that can never be a unicast source: class D/E, 255.255.255.255 included (0/8 and 127/8: see {@link linkSourceInvalid}). */
export function isMartianSource(ip: number): boolean {
  return ip >>> 28 >= 0xe;
}

/** True for 127/8, which never appears outside a host (RFC 1122 §3.2.1.3 (g)). */
export function isLoopbackIp(ip: number): boolean {
  return ip >>> 24 === 127;
}

/**
 * True for sources a datagram arriving from a link can never carry (RFC 1122
 * §3.2.1.3; RFC 1812 §5.3.7): 0/8 ("this network", a source only while a
 * host learns its address: we answer no such host), 127/8, class D and E.
 * Our own broadcast addresses are the Stack's to check (its self table).
 */
export function linkSourceInvalid(ip: number): boolean {
  const top = ip >>> 24;
  return top === 0 || top === 127 || top >= 0xe0;
}

/** Number of one bits in a mask. */
export function maskBits(mask: number): number {
  let v = mask >>> 0;
  v = v - ((v >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24) & 0xff;
}

/** Prefix length of a contiguous mask, or -1 if it is not contiguous. */
export function maskPrefix(mask: number): number {
  const n = maskBits(mask);
  const m = n === 0 ? 0 : (0xffffffff << (32 - n)) >>> 0;
  return m === mask >>> 0 ? n : -1;
}

/** Ethernet multicast MAC for an IPv4 group (RFC 1112 §6.4): 01:00:5e + low 23 bits. */
export function multicastMac(ip: number): number {
  return 0x01005e000000 + (ip & 0x7fffff);
}

/**
 * Payload bytes per fragment for an MTU and header length: the largest
 * multiple of 8 that fits (RFC 791). At least 8 (MTU ≥ 68 guarantees it).
 */
export function fragmentStep(mtu: number, hlen: number): number {
  const n = (mtu - hlen) & ~7;
  return n < 8 ? 8 : n;
}

/**
 * The options to repeat in every fragment after the first: those with the
 * "copied" bit (0x80) set (RFC 791 §3.1). Malformed option lists give none.
 * Returns `options` itself when every option is copied, else a new array.
 */
export function copiedOptions(options: Uint8Array): Uint8Array {
  const n = options.length;
  if (n === 0) return options;
  const keep: number[] = [];
  let i = 0;
  while (i < n) {
    const t = options[i]!;
    if (t === 0) break; // end of option list
    if (t === 1) {
      i++; // NOP, not copied
      continue;
    }
    if (i + 1 >= n) return new Uint8Array(0);
    const len = options[i + 1]!;
    if (len < 2 || i + len > n) return new Uint8Array(0);
    if ((t & 0x80) !== 0) for (let k = 0; k < len; k++) keep.push(options[i + k]!);
    i += len;
  }
  return Uint8Array.from(keep);
}

// ---------------------------------------------------------------------------
// Reassembly

/** Give up on a partial datagram this long after its first fragment (Plan 9 / Linux: 30 s). */
export const REASM_TIMEOUT_MS = 30_000;
/** Bound on fragment bytes held, counting REASM_FRAG_OVERHEAD per fragment (1 MiB). */
export const REASM_MAX_BYTES = 1 << 20;
/** Bound on datagrams being reassembled at once. */
export const REASM_MAX_DATAGRAMS = 64;
/** Bound on fragments held for one datagram. */
export const REASM_MAX_FRAGMENTS = 1024;
/** Bookkeeping cost charged per held fragment, so tiny fragments cannot evade REASM_MAX_BYTES. */
export const REASM_FRAG_OVERHEAD = 64;
/** Largest reassembled payload: it must fit a 20-byte header in a 65535-byte datagram. */
export const REASM_MAX_PAYLOAD = 0xffff - IPV4_HEADER_LEN;

/** What the Reassembler reports to its owner. */
export interface ReasmHost {
  /** Count a discarded fragment/datagram under `reasm: <reason>`. */
  reasmDrop(reason: string): void;
  /**
   * A datagram timed out. `first` is a copy of its first fragment's header
   * plus up to 8 payload bytes (for an ICMP time-exceeded quote), or null if
   * fragment 0 never arrived (RFC 1122 §3.3.2: then no ICMP is sent).
   */
  reasmTimedOut(first: Uint8Array | null, now: number): void;
  /** Ask to be polled at `deadline`. */
  schedule(deadline: number): void;
}

interface Fragment {
  off: number;
  end: number;
  data: Uint8Array;
}

interface Datagram {
  key: string;
  src: number;
  dst: number;
  protocol: number;
  ident: number;
  /** Payload length once the last fragment arrived, else -1. */
  total: number;
  /** Payload bytes held (non-overlapping, so completion is received === total). */
  received: number;
  /** Charged against REASM_MAX_BYTES. */
  cost: number;
  deadline: number;
  /** Fragments sorted by offset, non-overlapping. */
  frags: Fragment[];
  /** First fragment's header + ≤ 8 payload bytes (copy), once fragment 0 arrived. */
  first: Uint8Array | null;
  ttl: number;
  tos: number;
}

/**
 * IPv4 reassembly. Fragments are copied (ownership boundary); a completed
 * datagram comes back as one new buffer holding a 20-byte header (options
 * dropped, as Plan 9 does) and the payload.
 *
 * Policy: an exact duplicate fragment is ignored; any other overlap, a
 * length inconsistent with the known end, or a datagram over 65515 payload
 * bytes discards the whole datagram (ReasmFails). A non-final fragment whose
 * length is not a positive multiple of 8 is dropped on its own. When a new
 * fragment would exceed the byte or datagram bound, the oldest datagrams
 * are discarded first (ReasmFails).
 */
export class Reassembler {
  private readonly map = new Map<string, Datagram>();
  private heldBytes = 0;

  constructor(
    private readonly stats: IpStats,
    private readonly host: ReasmHost,
  ) {}

  /** Bytes currently charged (payload + per-fragment overhead); never above REASM_MAX_BYTES. */
  get bytes(): number {
    return this.heldBytes;
  }

  /** Datagrams in progress; never above REASM_MAX_DATAGRAMS. */
  get datagrams(): number {
    return this.map.size;
  }

  /**
   * Adds one fragment. `repr` is its parsed header (moreFrags or fragOffset
   * set) and `raw` the whole fragment datagram (header + payload), a view.
   * @returns the reassembled datagram (a new buffer), or null if incomplete or dropped
   */
  add(repr: Ipv4Repr, raw: Uint8Array, now: number): Uint8Array | null {
    const off = repr.fragOffset;
    const len = repr.payload.length;
    const end = off + len;
    const mf = repr.moreFrags;
    if (mf && (len === 0 || (len & 7) !== 0)) {
      this.host.reasmDrop('bad fragment length');
      return null;
    }
    const key = `${repr.src}/${repr.dst}/${repr.protocol}/${repr.ident}`;
    let d = this.map.get(key);
    if (end > REASM_MAX_PAYLOAD) {
      this.host.reasmDrop('too big');
      if (d) this.discard(d);
      return null;
    }
    if (!d) {
      while (this.map.size >= REASM_MAX_DATAGRAMS) this.evictOldest(null);
      d = {
        key,
        src: repr.src,
        dst: repr.dst,
        protocol: repr.protocol,
        ident: repr.ident,
        total: -1,
        received: 0,
        cost: 0,
        deadline: now + REASM_TIMEOUT_MS,
        frags: [],
        first: null,
        ttl: repr.ttl,
        tos: repr.tos,
      };
      this.map.set(key, d);
      if (this.map.size === 1) this.host.schedule(d.deadline);
    }

    // Consistency with the known end of the datagram.
    if (!mf) {
      if (d.total >= 0 && d.total !== end) return this.fail(d, 'inconsistent length');
      const last = d.frags.length > 0 ? d.frags[d.frags.length - 1]! : null;
      if (last !== null && last.end > end) return this.fail(d, 'inconsistent length');
    } else if (d.total >= 0 && end > d.total) {
      return this.fail(d, 'inconsistent length');
    }

    // Find the insertion point (first fragment with off >= this one's).
    const frags = d.frags;
    let i = frags.length;
    while (i > 0 && frags[i - 1]!.off >= off) i--;
    const next = i < frags.length ? frags[i]! : null;
    if (next !== null && next.off === off && next.end === end && len > 0) {
      this.host.reasmDrop('duplicate');
      return null;
    }
    const prev = i > 0 ? frags[i - 1]! : null;
    if ((prev !== null && prev.end > off) || (next !== null && next.off < end)) {
      return this.fail(d, 'overlap');
    }
    if (len > 0 && frags.length >= REASM_MAX_FRAGMENTS) return this.fail(d, 'too many fragments');

    if (!mf) d.total = end;
    if (len > 0) {
      const cost = len + REASM_FRAG_OVERHEAD;
      while (this.heldBytes + cost > REASM_MAX_BYTES) {
        if (!this.evictOldest(d)) return this.fail(d, 'memory');
      }
      frags.splice(i, 0, { off, end, data: repr.payload.slice() });
      d.received += len;
      d.cost += cost;
      this.heldBytes += cost;
    }
    if (off === 0) {
      const hlen = raw.length - len;
      d.first = raw.slice(0, hlen + (len < 8 ? len : 8));
      d.ttl = repr.ttl;
      d.tos = repr.tos;
    }
    if (d.total < 0 || d.received !== d.total) return null;

    // Complete: frags tile [0, total) exactly.
    const out = new Uint8Array(IPV4_HEADER_LEN + d.total);
    for (const f of frags) out.set(f.data, IPV4_HEADER_LEN + f.off);
    writeIpv4Header(out, 0, d.tos, out.length, d.ident, 0, d.ttl, d.protocol, d.src, d.dst);
    this.remove(d);
    this.stats.ReasmOKs++;
    return out;
  }

  /** Earliest timeout, or null when nothing is in progress. */
  pollAt(): number | null {
    for (const d of this.map.values()) return d.deadline; // insertion order = deadline order
    return null;
  }

  /** Times out datagrams whose deadline has passed. */
  poll(now: number): void {
    for (const d of this.map.values()) {
      if (d.deadline > now) break;
      this.remove(d);
      this.stats.ReasmTimeout++;
      this.stats.ReasmFails++;
      this.host.reasmDrop('timeout');
      this.host.reasmTimedOut(d.first, now);
    }
    const next = this.pollAt();
    if (next !== null) this.host.schedule(next);
  }

  /** Drops everything (counted as failures). */
  clear(): void {
    for (const d of [...this.map.values()]) this.discard(d);
  }

  private fail(d: Datagram, reason: string): null {
    this.host.reasmDrop(reason);
    this.discard(d);
    return null;
  }

  private discard(d: Datagram): void {
    this.remove(d);
    this.stats.ReasmFails++;
  }

  private remove(d: Datagram): void {
    if (this.map.delete(d.key)) this.heldBytes -= d.cost;
  }

  /** Discards the oldest datagram other than `keep`; false if there is none. */
  private evictOldest(keep: Datagram | null): boolean {
    for (const d of this.map.values()) {
      if (d === keep) continue;
      this.host.reasmDrop('evicted');
      this.discard(d);
      return true;
    }
    return false;
  }
}
