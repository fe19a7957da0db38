/**
 * The sender's SACK scoreboard (RFC 2018, RFC 6675 §3): which bytes above
 * SND.UNA the peer reported as received. Kept as sorted, disjoint,
 * half-open ranges; at most SCOREBOARD_MAX_RANGES (the bound; beyond it the
 * highest ranges are forgotten, which only makes us retransmit more).
 */
import { seqGe, seqGt, seqLe, seqLt, seqMax, seqMin, seqSub } from './seq.js';

/** Bound on scoreboard ranges per connection. */
export const SCOREBOARD_MAX_RANGES = 64;

export class Scoreboard {
  /** Flat [l0, r0, l1, r1, …], sorted, disjoint, non-adjacent. */
  readonly r: number[] = [];
  /** Total SACKed bytes. */
  sacked = 0;

  get empty(): boolean {
    return this.r.length === 0;
  }

  /** Highest SACKed sequence number + 1 (or `una` when empty). */
  highest(una: number): number {
    return this.r.length === 0 ? una : this.r[this.r.length - 1]!;
  }

  clear(): void {
    this.r.length = 0;
    this.sacked = 0;
  }

  /** Forgets everything below `una` (cumulatively acknowledged). */
  ack(una: number): void {
    const r = this.r;
    let drop = 0;
    while (drop < r.length && seqLe(r[drop + 1]!, una)) {
      this.sacked -= seqSub(r[drop + 1]!, r[drop]!);
      drop += 2;
    }
    if (drop > 0) r.splice(0, drop);
    if (r.length > 0 && seqLt(r[0]!, una)) {
      this.sacked -= seqSub(una, r[0]!);
      r[0] = una;
    }
  }

  /**
   * Adds one block [l, r) reported by the peer, clipped to (una, max].
   * @returns bytes newly marked SACKed
   */
  add(l: number, rr: number, una: number, max: number): number {
    l = seqMax(l, una);
    rr = seqMin(rr, max);
    if (seqGe(l, rr)) return 0;
    const r = this.r;
    const before = this.sacked;
    // Find insertion point: first range whose end >= l.
    let i = 0;
    while (i < r.length && seqLt(r[i + 1]!, l)) i += 2;
    let nl = l;
    let nr = rr;
    let j = i;
    while (j < r.length && seqLe(r[j]!, nr)) {
      nl = seqMin(nl, r[j]!);
      nr = seqMax(nr, r[j + 1]!);
      this.sacked -= seqSub(r[j + 1]!, r[j]!);
      j += 2;
    }
    r.splice(i, j - i, nl, nr);
    this.sacked += seqSub(nr, nl);
    while (r.length > 2 * SCOREBOARD_MAX_RANGES) {
      const hi = r.length;
      this.sacked -= seqSub(r[hi - 1]!, r[hi - 2]!);
      r.length = hi - 2;
    }
    return this.sacked - before;
  }

  /** True if `seq` is inside a SACKed range. */
  isSacked(seq: number): boolean {
    const r = this.r;
    for (let i = 0; i < r.length; i += 2) {
      if (seqLt(seq, r[i]!)) return false;
      if (seqLt(seq, r[i + 1]!)) return true;
    }
    return false;
  }

  /** End of the SACKed range containing `seq`, or `seq` if none does. */
  skip(seq: number): number {
    const r = this.r;
    for (let i = 0; i < r.length; i += 2) {
      if (seqLt(seq, r[i]!)) return seq;
      if (seqLt(seq, r[i + 1]!)) return r[i + 1]!;
    }
    return seq;
  }

  /** Start of the next SACKed range above `seq` (or `limit`). */
  nextSacked(seq: number, limit: number): number {
    const r = this.r;
    for (let i = 0; i < r.length; i += 2) if (seqGt(r[i]!, seq)) return seqMin(r[i]!, limit);
    return limit;
  }

  /**
   * RFC 6675 IsLost generalised to bytes: the boundary below which every
   * un-SACKed byte counts as lost, i.e. the highest point with at least
   * `dupThreshBytes` SACKed bytes above it (`una` when there is none).
   */
  lostBoundary(una: number, dupThreshBytes: number): number {
    const r = this.r;
    let above = 0;
    for (let i = r.length - 2; i >= 0; i -= 2) {
      const len = seqSub(r[i + 1]!, r[i]!);
      if (above + len >= dupThreshBytes) return r[i]! === una ? una : r[i]!;
      above += len;
    }
    return una;
  }

  /**
   * The highest point with at least `bytes` SACKed bytes above it (exact,
   * inside a range), or `una` when fewer are SACKed in all.
   */
  pointBelow(una: number, bytes: number): number {
    const r = this.r;
    let above = 0;
    for (let i = r.length - 2; i >= 0; i -= 2) {
      const len = seqSub(r[i + 1]!, r[i]!);
      if (above + len >= bytes) return (r[i + 1]! - (bytes - above)) >>> 0;
      above += len;
    }
    return una;
  }

  /** Un-SACKed bytes in [from, to). */
  holesBetween(from: number, to: number): number {
    if (!seqLt(from, to)) return 0;
    let n = seqSub(to, from);
    const r = this.r;
    for (let i = 0; i < r.length; i += 2) {
      const l = seqMax(r[i]!, from);
      const rr = seqMin(r[i + 1]!, to);
      if (seqLt(l, rr)) n -= seqSub(rr, l);
    }
    return n;
  }
}
