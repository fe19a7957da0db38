/**
 * The send buffer: a bounded ring of bytes written by the application and
 * not yet acknowledged. Byte 0 of the ring is the oldest unacknowledged
 * byte (SND.UNA, or ISS+1 before the SYN is acknowledged). Segments are
 * copied straight from the ring into outgoing frames (copyOut), so nothing
 * is allocated per segment. The capacity is fixed at construction: that is
 * the bound on memory per connection for outgoing data.
 */
export class SendBuffer {
  private buf: Uint8Array;
  private head = 0;
  private len = 0;

  /**
   * Holds at most `capacity` bytes (the bound). Storage starts small and
   * doubles on demand up to the capacity, so idle connections stay cheap.
   */
  constructor(readonly capacity: number) {
    this.buf = new Uint8Array(Math.min(capacity, 16 * 1024));
  }

  private grow(need: number): void {
    let size = this.buf.length;
    while (size < need) size *= 2;
    if (size > this.capacity) size = this.capacity;
    const nb = new Uint8Array(size);
    if (this.len > 0) this.copyOut(0, this.len, nb, 0);
    this.buf = nb;
    this.head = 0;
  }

  /** Bytes held. */
  get length(): number {
    return this.len;
  }
  /** Free bytes. */
  get free(): number {
    return this.capacity - this.len;
  }

  /** Appends as much of `src` as fits; returns the number of bytes taken. */
  write(src: Uint8Array): number {
    const n = Math.min(src.length, this.capacity - this.len);
    if (n === 0) return 0;
    if (this.len + n > this.buf.length) this.grow(this.len + n);
    const cap = this.buf.length;
    let tail = this.head + this.len;
    if (tail >= cap) tail -= cap;
    const first = Math.min(n, cap - tail);
    this.buf.set(first === src.length ? src : src.subarray(0, first), tail);
    if (first < n) this.buf.set(src.subarray(first, n), 0);
    this.len += n;
    return n;
  }

  /** Copies `n` bytes starting `offset` bytes into the buffer to `out[at..]`. */
  copyOut(offset: number, n: number, out: Uint8Array, at: number): void {
    const cap = this.buf.length;
    let p = this.head + offset;
    if (p >= cap) p -= cap;
    const first = Math.min(n, cap - p);
    out.set(this.buf.subarray(p, p + first), at);
    if (first < n) out.set(this.buf.subarray(0, n - first), at + first);
  }

  /** Drops the oldest `n` bytes (acknowledged). */
  consume(n: number): void {
    if (n > this.len) n = this.len;
    this.len -= n;
    this.head += n;
    if (this.head >= this.buf.length) this.head -= this.buf.length;
    if (this.len === 0) this.head = 0;
  }

  clear(): void {
    this.head = 0;
    this.len = 0;
  }
}
