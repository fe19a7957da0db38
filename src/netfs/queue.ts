/**
 * A conversation queue with Plan 9 qio semantics (port/qio.c).
 *
 * Reads block while the queue is empty and not hung up, and return what is
 * there up to the count: in stream mode bytes coalesce across writes; in
 * datagram mode a read returns one message and a short read discards the
 * rest of it. After a hangup queued data is still delivered; then, for the
 * generic reason, reads return 0 bytes three times and fail from the
 * fourth on; for any other reason reads fail with it at once.
 *
 * Bounded: `limit` bytes. In stream mode put() reports when the queue is
 * over its limit so the producer can stop (and `onDrain` says when to go
 * on); in datagram mode a message that does not fit is dropped.
 */
import { Interrupted, NinepError } from '../ninep/error.js';
import type { MaybePromise, Signal } from '../ninep/node.js';

export const Ehungup = 'i/o on hungup channel';

/** A reader waiting for data; settle() it (stop listening for its flush) before answering it. */
export interface Waiter {
  count: number;
  resolve: (b: Uint8Array) => void;
  reject: (e: Error) => void;
  signal: Signal | undefined;
  onAbort: () => void;
}

/** A read of `count` that waits in `waiters` until answered, or flushed (it then leaves with Interrupted). */
export function waitingRead(waiters: Waiter[], count: number, signal: Signal | undefined): Promise<Uint8Array> {
  return new Promise<Uint8Array>((resolve, reject) => {
    const w: Waiter = {
      count, resolve, reject, signal,
      onAbort: () => {
        const i = waiters.indexOf(w);
        if (i >= 0) waiters.splice(i, 1);
        reject(new Interrupted());
      },
    };
    signal?.addEventListener('abort', w.onAbort, { once: true });
    waiters.push(w);
  });
}

/** The waiter is being answered: its flush no longer concerns it. */
export function settle(w: Waiter): void {
  w.signal?.removeEventListener('abort', w.onAbort);
}

export class Queue {
  private parts: Uint8Array[] = [];
  private head = 0;
  private bytes = 0;
  private waiters: Waiter[] = [];
  private hungup: string | null = null;
  private eofReads = 0;
  /** Datagrams dropped because the queue was full. */
  dropped = 0;
  onDrain: (() => void) | null = null;
  /** Told how many bytes each read took (our TCP reopens its window with it). */
  onTake: ((n: number) => void) | null = null;

  constructor(readonly mode: 'stream' | 'datagram', readonly limit: number) {}

  /** Bytes queued. */
  get length(): number {
    return this.bytes;
  }

  get isHungup(): boolean {
    return this.hungup !== null;
  }

  /** Something (perhaps an empty datagram) waits to be read. */
  private get hasData(): boolean {
    return this.head < this.parts.length;
  }

  /**
   * Queue data (the queue keeps the reference; pass a copy if the buffer
   * will be reused). Returns false when the producer should pause (stream)
   * or the datagram was dropped.
   */
  put(data: Uint8Array): boolean {
    if (this.hungup !== null) return false;
    // An empty datagram is a message (an empty read); empty stream data is nothing.
    if (this.mode === 'stream' && data.length === 0) return this.bytes < this.limit;
    if (this.mode === 'datagram' && this.bytes + data.length > this.limit) {
      this.dropped++;
      return false;
    }
    // Hand data straight to a waiting reader when nothing is queued.
    if (!this.hasData && this.waiters.length > 0) {
      const w = this.waiters.shift()!;
      settle(w);
      if (this.mode === 'datagram' || data.length <= w.count) {
        const out = data.length <= w.count ? data : data.subarray(0, w.count);
        w.resolve(out);
        if (this.onTake && out.length > 0) this.onTake(out.length);
        return true;
      }
      w.resolve(data.subarray(0, w.count));
      if (this.onTake) this.onTake(w.count);
      data = data.subarray(w.count);
    }
    this.parts.push(data);
    this.bytes += data.length;
    this.wake();
    return this.mode === 'datagram' || this.bytes < this.limit;
  }

  /** Read up to count bytes (one datagram in datagram mode). */
  read(count: number, signal?: Signal): MaybePromise<Uint8Array> {
    if (this.hasData && this.waiters.length === 0) return this.take(count);
    if (this.hungup !== null && !this.hasData) return this.eof();
    if (signal?.aborted) throw new Interrupted();
    return waitingRead(this.waiters, count, signal);
  }

  /** Hang up with a reason (default: the generic one); queued data stays readable. */
  hangup(reason: string = Ehungup): void {
    if (this.hungup !== null) return;
    this.hungup = reason;
    this.wake();
  }

  /** Discard queued data and hang up with the generic reason (TCP Closed). */
  close(): void {
    this.parts = [];
    this.head = 0;
    this.bytes = 0;
    this.hungup = null;
    this.hangup(Ehungup);
  }

  /** The write side's check: throws the hangup reason if hung up. */
  checkWritable(): void {
    if (this.hungup !== null) throw new NinepError(this.hungup);
  }

  /** Make the queue usable again (conversation recycled). */
  reset(): void {
    for (const w of this.waiters.splice(0)) {
      settle(w);
      w.reject(new NinepError(Ehungup));
    }
    this.parts = [];
    this.head = 0;
    this.bytes = 0;
    this.hungup = null;
    this.eofReads = 0;
    this.dropped = 0;
    this.onDrain = null;
    this.onTake = null;
  }

  private eof(): Uint8Array {
    if (this.hungup !== Ehungup) throw new NinepError(this.hungup!);
    if (this.eofReads++ < 3) return new Uint8Array(0);
    throw new NinepError(Ehungup);
  }

  private wake(): void {
    while (this.waiters.length > 0 && (this.hasData || this.hungup !== null)) {
      const w = this.waiters.shift()!;
      settle(w);
      if (this.hasData) w.resolve(this.take(w.count));
      else {
        try {
          w.resolve(this.eof());
        } catch (e) {
          w.reject(e as Error);
        }
      }
    }
  }

  private take(count: number): Uint8Array {
    const wasFull = this.bytes >= this.limit;
    let out: Uint8Array;
    if (this.mode === 'datagram') {
      const d = this.parts[this.head]!;
      this.parts[this.head++] = EMPTY;
      this.bytes -= d.length;
      out = d.length <= count ? d : d.subarray(0, count);
    } else {
      const first = this.parts[this.head]!;
      if (first.length > count) {
        out = first.subarray(0, count);
        this.parts[this.head] = first.subarray(count);
        this.bytes -= count;
      } else {
        // Coalesce whole parts up to count.
        let n = 0;
        let j = this.head;
        while (j < this.parts.length && n + this.parts[j]!.length <= count) n += this.parts[j++]!.length;
        if (j === this.head + 1) {
          out = first;
        } else {
          const buf = Buffer.allocUnsafe(n);
          let o = 0;
          for (let k = this.head; k < j; k++) {
            buf.set(this.parts[k]!, o);
            o += this.parts[k]!.length;
            this.parts[k] = EMPTY;
          }
          out = buf;
        }
        this.parts[this.head] = EMPTY;
        this.head = j;
        this.bytes -= n;
      }
    }
    if (this.head > 64 && this.head * 2 > this.parts.length) {
      this.parts = this.parts.slice(this.head);
      this.head = 0;
    }
    if (this.head >= this.parts.length) {
      this.parts = [];
      this.head = 0;
    }
    if (this.onTake && out.length > 0) this.onTake(out.length);
    if (wasFull && this.bytes < this.limit && this.onDrain) this.onDrain();
    return out;
  }
}

const EMPTY = new Uint8Array(0);
