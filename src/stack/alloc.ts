/**
 * Outgoing frame allocation from slabs. `new Uint8Array(n)` for n > 64
 * gets its own off-heap backing store (≈ 300–600 ns in V8); a view into a
 * shared, never-reused slab costs ≈ 30 ns. Each region is handed out once
 * (slabs are fresh, zeroed ArrayBuffers), so ownership rules are unchanged:
 * the receiver of a frame owns those bytes. A retained frame keeps its
 * 16 KiB slab alive; with the stack's bounds (ARP_PENDING_TOTAL held frames,
 * LOOPBACK_MAX) that is at most a few tens of MiB in the worst case.
 */

/** Bytes per slab. */
export const SLAB_SIZE = 16 * 1024;
/** Larger requests get their own buffer. */
const SLAB_MAX_REQUEST = SLAB_SIZE / 4;

export class FrameAllocator {
  private slab = new ArrayBuffer(0);
  private off = 0;

  /** A zeroed `n`-byte view no one else holds. */
  alloc(n: number): Uint8Array {
    if (n > SLAB_MAX_REQUEST) return new Uint8Array(n);
    if (this.off + n > this.slab.byteLength) {
      this.slab = new ArrayBuffer(SLAB_SIZE);
      this.off = 0;
    }
    const v = new Uint8Array(this.slab, this.off, n);
    this.off = (this.off + n + 7) & ~7;
    return v;
  }
}
