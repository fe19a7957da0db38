/**
 * The receive-side out-of-order queue (smoltcp `storage/assembler.rs`,
 * 9front `tcpreseq`). Segments that arrive beyond RCV.NXT are copied once
 * (ownership boundary, style.md §4.4) and kept sorted and non-overlapping
 * until the hole before them is filled. Bounds: at most `maxSegments`
 * segments (ReseqPktlim when exceeded) and at most `maxBytes` bytes
 * (ReseqBytelim); the caller also trims every segment to the receive
 * window, so the queue never holds more than one window.
 *
 * It also produces the SACK blocks we send (RFC 2018 §4): the first block
 * covers the most recently received segment, then the other recently
 * reported blocks.
 */
import { seqAdd, seqGe, seqGt, seqLe, seqLt, seqSub } from './seq.js';

/** Default bound on queued out-of-order segments per connection. */
export const ASSEMBLER_MAX_SEGMENTS = 2048;

export type AssembleResult = 'queued' | 'duplicate' | 'pktlim' | 'bytelim';

interface Seg {
  seq: number;
  end: number;
  data: Uint8Array;
}

export class Assembler {
  private segs: Seg[] = [];
  private nbytes = 0;
  /** Start sequence numbers of recently received data, most recent first (≤ 4). */
  private recent: number[] = [];
  private readonly ranges: number[] = [];

  constructor(
    readonly maxSegments = ASSEMBLER_MAX_SEGMENTS,
    public maxBytes = 4 * 1024 * 1024,
  ) {}

  /** Segments queued. */
  get count(): number {
    return this.segs.length;
  }
  /** Bytes queued. */
  get bytes(): number {
    return this.nbytes;
  }
  get empty(): boolean {
    return this.segs.length === 0;
  }

  /**
   * Queues `data` at `seq` (which must be beyond RCV.NXT), copying only the
   * parts no queued segment covers yet.
   */
  insert(seq: number, data: Uint8Array): AssembleResult {
    const segs = this.segs;
    let end = seqAdd(seq, data.length);
    this.noteRecent(seq);
    // First queued segment that ends after `seq` (binary search).
    let lo = 0;
    let hi = segs.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (seqLe(segs[mid]!.end, seq)) lo = mid + 1;
      else hi = mid;
    }
    let i = lo;
    let added = false;
    while (seqLt(seq, end)) {
      const s = segs[i];
      if (s !== undefined && seqLe(s.seq, seq)) {
        // Covered up to s.end.
        if (seqGe(s.end, end)) break;
        data = data.subarray(seqSub(s.end, seq));
        seq = s.end;
        i++;
        continue;
      }
      const stop = s !== undefined && seqLt(s.seq, end) ? s.seq : end;
      const n = seqSub(stop, seq);
      if (segs.length >= this.maxSegments) return added ? 'queued' : 'pktlim';
      if (this.nbytes + n > this.maxBytes) return added ? 'queued' : 'bytelim';
      segs.splice(i, 0, { seq, end: stop, data: data.slice(0, n) });
      this.nbytes += n;
      added = true;
      i++;
      data = data.subarray(n);
      seq = stop;
      end = seqAdd(seq, data.length);
    }
    return added ? 'queued' : 'duplicate';
  }

  /**
   * Removes and returns the data of the first segment if it starts at or
   * before `rcvNxt` (the part beyond `rcvNxt`), else null. Segments wholly
   * before `rcvNxt` are discarded on the way.
   */
  pop(rcvNxt: number): Uint8Array | null {
    const segs = this.segs;
    while (segs.length > 0) {
      const s = segs[0]!;
      if (seqGt(s.seq, rcvNxt)) return null;
      segs.shift();
      this.nbytes -= s.data.length;
      if (seqLe(s.end, rcvNxt)) continue;
      return s.data.subarray(seqSub(rcvNxt, s.seq));
    }
    return null;
  }

  clear(): void {
    this.segs = [];
    this.nbytes = 0;
    this.recent.length = 0;
  }

  private noteRecent(seq: number): void {
    const r = this.recent;
    const k = r.indexOf(seq);
    if (k >= 0) r.splice(k, 1);
    r.unshift(seq);
    if (r.length > 4) r.length = 4;
  }

  /**
   * Writes up to `max` SACK blocks as edges `[l0, r0, l1, r1, …]` into
   * `out` (cleared first). RFC 2018 §4: the first block contains the most
   * recently received segment; then the other recent blocks; then the
   * remaining blocks from the lowest.
   */
  sackBlocks(out: number[], max: number): void {
    out.length = 0;
    const segs = this.segs;
    if (segs.length === 0 || max <= 0) return;
    // Merge contiguous segments into ranges.
    const rg = this.ranges;
    rg.length = 0;
    let l = segs[0]!.seq;
    let r = segs[0]!.end;
    for (let i = 1; i < segs.length; i++) {
      const s = segs[i]!;
      if (s.seq === r) r = s.end;
      else {
        rg.push(l, r);
        l = s.seq;
        r = s.end;
      }
    }
    rg.push(l, r);
    const used = (idx: number): boolean => {
      for (let k = 0; k < out.length; k += 2) if (out[k] === rg[idx]) return true;
      return false;
    };
    for (const seq of this.recent) {
      if (out.length >= 2 * max) return;
      for (let k = 0; k < rg.length; k += 2) {
        if (seqLe(rg[k]!, seq) && seqLt(seq, rg[k + 1]!)) {
          if (!used(k)) out.push(rg[k]!, rg[k + 1]!);
          break;
        }
      }
    }
    for (let k = 0; k < rg.length && out.length < 2 * max; k += 2) if (!used(k)) out.push(rg[k]!, rg[k + 1]!);
  }
}
