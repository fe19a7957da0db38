/**
 * One reader's queue of records (pcap blocks, event lines) that never
 * makes its producer wait: a record that does not fit is lost and
 * counted, so a reader that stops reading costs the stack nothing but the
 * bound. Reads are a byte stream (records coalesce; a short read leaves
 * the rest of a record for the next) and block while nothing is queued.
 *
 * Losses are told to the reader: a capture puts them in its next record
 * (takeLost()), an event stream gets the `marker` record, e.g. `lost 12`,
 * in their place (the next push or read brings it; it is the one record
 * allowed beyond the bound).
 */
import { Interrupted } from '../ninep/error.js';
import type { MaybePromise, Signal } from '../ninep/node.js';
import { settle, waitingRead } from './queue.js';
import type { Waiter } from './queue.js';

const EMPTY = new Uint8Array(0);

/** Readers of one kind a stack allows at once (each holds a LossyQueue). */
export class ReaderBudget {
  private n = 0;
  constructor(readonly max: number) {}
  /** Takes a place; false when all are taken. */
  take(): boolean {
    if (this.n >= this.max) return false;
    this.n++;
    return true;
  }
  give(): void {
    if (this.n > 0) this.n--;
  }
  get used(): number {
    return this.n;
  }
}

/** Capture readers at once per stack (each up to CAPTURE_MAX_BYTES queued). */
export const MAX_CAPTURE_READERS = 16;
/** Event readers at once per stack (each up to EVENTS_MAX_BYTES queued). */
export const MAX_EVENT_READERS = 64;

/** One stack's budgets of capture and event readers. */
export interface ReaderBudgets {
  readonly captures: ReaderBudget;
  readonly events: ReaderBudget;
}

export function readerBudgets(): ReaderBudgets {
  return { captures: new ReaderBudget(MAX_CAPTURE_READERS), events: new ReaderBudget(MAX_EVENT_READERS) };
}

export class LossyQueue {
  private parts: Uint8Array[] = [];
  private head = 0;
  /** Bytes of parts[head] already read. */
  private headOff = 0;
  private bytes = 0;
  private waiters: Waiter[] = [];
  private over = false;
  /** Records lost, in all. */
  lost = 0;
  private unreported = 0;

  constructor(
    readonly maxRecords: number,
    readonly maxBytes: number,
    private readonly marker: ((lost: number) => Uint8Array) | null = null,
  ) {}

  /** Records queued. */
  get records(): number {
    return this.parts.length - this.head;
  }

  /** Whether a record of `len` bytes fits now. */
  fits(len: number): boolean {
    return !this.over && this.records < this.maxRecords && this.bytes + len <= this.maxBytes;
  }

  /** Counts one record lost. */
  lose(): void {
    this.lost++;
    this.unreported++;
  }

  /** Records lost and not yet told. */
  get pendingLost(): number {
    return this.unreported;
  }

  /** Records lost since the last call (a capture writes them into its next record). */
  takeLost(): number {
    const n = this.unreported;
    this.unreported = 0;
    return n;
  }

  /** Queues a record the caller found room for (fits()). */
  push(rec: Uint8Array): void {
    if (this.over) return;
    if (this.marker !== null && this.unreported > 0) this.append(this.marker(this.takeLost()));
    this.append(rec);
  }

  /** Offers a record: queued if it fits, else lost. */
  offer(rec: Uint8Array): void {
    if (this.fits(rec.length)) this.push(rec);
    else if (!this.over) this.lose();
  }

  /** Drops what is queued (a new filter: what came before it was not filtered). */
  clear(): void {
    this.parts = [];
    this.head = 0;
    this.headOff = 0;
    this.bytes = 0;
  }

  /** No more records: readers get what is queued, then EOF (0 bytes). */
  hangup(): void {
    this.over = true;
    this.wake();
  }

  read(count: number, signal: Signal): MaybePromise<Uint8Array> {
    if (this.waiters.length === 0) {
      const b = this.take(count);
      if (b !== null) return b;
      if (this.over) return EMPTY;
    }
    if (signal.aborted) throw new Interrupted();
    return waitingRead(this.waiters, count, signal);
  }

  private append(rec: Uint8Array): void {
    this.enqueue(rec);
    this.wake();
  }

  private enqueue(rec: Uint8Array): void {
    this.parts.push(rec);
    this.bytes += rec.length;
  }

  private wake(): void {
    while (this.waiters.length > 0) {
      const w = this.waiters[0]!;
      const b = this.take(w.count);
      if (b === null && !this.over) return;
      this.waiters.shift();
      settle(w);
      w.resolve(b ?? EMPTY);
    }
  }

  /** Up to `count` bytes, or null when there is nothing (a pending loss marker counts as something). */
  private take(count: number): Uint8Array | null {
    if (this.records === 0) {
      if (this.marker === null || this.unreported === 0 || this.over) return null;
      this.enqueue(this.marker(this.takeLost()));
    }
    let n = 0;
    let j = this.head;
    let off = this.headOff;
    const pieces: Uint8Array[] = [];
    while (j < this.parts.length && n < count) {
      const p = this.parts[j]!;
      const k = Math.min(p.length - off, count - n);
      pieces.push(p.subarray(off, off + k));
      n += k;
      off += k;
      if (off === p.length) {
        this.parts[j] = EMPTY;
        j++;
        off = 0;
      }
    }
    this.head = j;
    this.headOff = off;
    this.bytes -= n;
    if (this.head === this.parts.length) {
      this.parts = [];
      this.head = 0;
    } else if (this.head > 64 && this.head * 2 > this.parts.length) {
      this.parts = this.parts.slice(this.head);
      this.head = 0;
    }
    return pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces);
  }
}
