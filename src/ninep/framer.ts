/**
 * 9P stream framer: recovers frames (size[4] type[1] tag[2] body) from a byte
 * stream such as a socket (intro(5)).
 *
 * Frames that lie wholly inside one pushed chunk are delivered as views of it
 * (no copy). A frame spread over several chunks is kept as a list of chunk
 * views and copied once, into a buffer allocated only after its size field has
 * been read and checked against maxSize. The reader therefore keeps references
 * to pushed chunks until their bytes are delivered: do not reuse a chunk's memory
 * after pushing it. Small chunks of an incomplete frame are copied into a
 * buffer of the reader's own instead of kept as views, so a client that
 * trickles a frame a few bytes per segment holds what it sent, not a socket
 * read buffer per segment.
 */
import { Buffer } from 'node:buffer';

/** Smallest legal frame: size[4] type[1] tag[2]. */
const MIN_FRAME = 7;
/** Twrite frames at least this large may be delivered scattered (see push). */
export const SCATTER_MIN = 64 * 1024;
const TWRITE = 118;
/** Chunks of an incomplete frame shorter than this are copied (see keep). */
const COPY_BELOW = 16 * 1024;
/** Size of the buffers small chunks are copied into. */
const COALESCE_SIZE = 64 * 1024;

export class FrameReader {
  /** Largest legal frame in bytes (size field value). May be changed between push() calls or from inside onFrame. */
  maxSize: number;

  /** Views of the chunks holding the incomplete frame, in order. */
  private parts: Buffer[] = [];
  /** Bytes held in parts. */
  private have = 0;
  /** Checked size of the incomplete frame; 0 while its size field is not complete. */
  private size = 0;
  /** Set once the stream is broken; returned by every later push(). */
  private broken: string | null = null;
  /** The buffer small chunks are being copied into; its used part is the last of parts. */
  private tail: Buffer | null = null;
  private tailUsed = 0;

  constructor(maxSize: number) {
    this.maxSize = maxSize;
  }

  /** Bytes buffered of an incomplete frame. */
  get pending(): number {
    return this.have;
  }

  /** Bytes of memory the incomplete frame keeps alive (its parts' underlying buffers). */
  get retained(): number {
    const seen = new Set<ArrayBufferLike>();
    let n = 0;
    for (const p of this.parts) {
      if (seen.has(p.buffer)) continue;
      seen.add(p.buffer);
      n += p.buffer.byteLength;
    }
    return n;
  }

  /**
   * Feeds bytes from the stream, calling onFrame once per complete frame, in
   * order. Returns null, or an error string when the stream is broken (size
   * field < 7 or > maxSize); then no more frames are delivered and the reader
   * must be discarded. If onFrame throws, the reader is marked broken and the
   * exception propagates. With onScattered, a Twrite of at least SCATTER_MIN
   * bytes that spans several chunks is delivered as the list of chunk views
   * that make it up (the first holding at least its 23-byte header) instead
   * of being copied into one buffer.
   */
  push(chunk: Buffer, onFrame: (frame: Buffer) => void, onScattered?: (parts: Buffer[]) => void): string | null {
    if (this.broken !== null) return this.broken;
    const len = chunk.length;
    if (len === 0) return null;
    let off = 0;
    try {
      if (this.have > 0) {
        // Continue the frame begun in earlier chunks.
        if (this.size === 0) {
          const hdrNeed = 4 - this.have;
          if (len < hdrNeed) return this.keep(chunk);
          const err = this.check(this.headerSize(chunk));
          if (err !== null) return err;
        }
        const want = this.size - this.have;
        if (len < want) return this.keep(chunk);
        // A large Twrite spread over chunks: hand over the views, uncopied,
        // when the caller can take them (its header must be in the first view).
        if (onScattered && this.size >= SCATTER_MIN && this.parts[0]!.length >= 23 && this.parts[0]![4] === TWRITE) {
          const parts = this.parts;
          parts.push(want === len ? chunk : chunk.subarray(0, want));
          off = want;
          this.clear();
          onScattered(parts);
        }
      }
      if (this.have > 0) {
        const want = this.size - this.have;
        const frame = Buffer.allocUnsafe(this.size);
        let p = 0;
        for (const part of this.parts) {
          frame.set(part, p);
          p += part.length;
        }
        frame.set(want === len ? chunk : chunk.subarray(0, want), p);
        off = want;
        this.clear();
        onFrame(frame);
      }
      // Frames wholly inside the chunk: deliver views.
      while (len - off >= 4) {
        const size = chunk.readUInt32LE(off);
        const err = this.check(size);
        if (err !== null) return err;
        if (len - off < size) break;
        this.size = 0;
        onFrame(chunk.subarray(off, off + size));
        off += size;
      }
      if (off < len) {
        // this.size is already set if the size field was complete.
        this.keep(off === 0 ? chunk : chunk.subarray(off));
      }
      return null;
    } catch (e) {
      this.fail('frame handler threw');
      throw e;
    }
  }

  /** Stores a chunk that does not complete the current frame: large ones as views, small ones copied. */
  private keep(chunk: Buffer): null {
    const before = this.have;
    this.have += chunk.length;
    // Until the size field is complete (at most 3 bytes) nothing is allocated.
    if (chunk.length >= COPY_BELOW || this.size === 0) {
      this.parts.push(chunk);
      this.tail = null;
      return null;
    }
    let from = 0;
    while (from < chunk.length) {
      if (this.tail === null || this.tailUsed === this.tail.length) {
        // Never more than the rest of the frame: a bogus size costs its sender.
        this.tail = Buffer.allocUnsafeSlow(Math.min(COALESCE_SIZE, this.size - before - from));
        this.tailUsed = 0;
        this.parts.push(this.tail.subarray(0, 0));
      }
      const start = this.tailUsed - this.parts[this.parts.length - 1]!.length;
      const n = Math.min(chunk.length - from, this.tail.length - this.tailUsed);
      chunk.copy(this.tail, this.tailUsed, from, from + n);
      this.tailUsed += n;
      from += n;
      this.parts[this.parts.length - 1] = this.tail.subarray(start, this.tailUsed);
    }
    return null;
  }

  /** Forget the incomplete frame's bytes (delivered, or the stream broke). */
  private clear(): void {
    this.parts = [];
    this.have = 0;
    this.size = 0;
    this.tail = null;
    this.tailUsed = 0;
  }

  /** The size field of the pending frame, whose first bytes are in parts and the rest at the start of chunk. */
  private headerSize(chunk: Buffer): number {
    let size = 0;
    let mul = 1;
    let n = 0;
    for (const part of this.parts) {
      for (let i = 0; i < part.length && n < 4; i++, n++, mul *= 256) size += part[i]! * mul;
    }
    for (let i = 0; n < 4; i++, n++, mul *= 256) size += chunk[i]! * mul;
    return size;
  }

  /** Validates a size field; on success records it as the current frame's size. */
  private check(size: number): string | null {
    if (size < MIN_FRAME) return this.fail(`9P frame size ${size} < ${MIN_FRAME}`);
    if (size > this.maxSize) return this.fail(`9P frame size ${size} > maximum ${this.maxSize}`);
    this.size = size;
    return null;
  }

  private fail(err: string): string {
    this.broken = err;
    this.clear();
    return err;
  }
}
