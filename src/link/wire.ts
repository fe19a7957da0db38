/**
 * A one-way wire for in-memory links: a bounded FIFO of frames in flight,
 * each delivered `delay` ms after it was pushed. With a Clock, delivery runs
 * from clock timers (deterministic under ManualClock: nothing moves until the
 * test advances time). Without a Clock, delivery runs on a microtask
 * (queueMicrotask) after the sending code returns, never synchronously inside
 * send(), so a receiver that answers cannot recurse into its sender. The
 * frames one drain delivers are a batch: `endBatch` follows them.
 */
import type { Clock, TimerHandle } from '../lib/clock.js';

/** Default bound on frames in flight per wire; pushes beyond it are refused. */
export const DEFAULT_WIRE_LIMIT = 1024;
/** Largest bound a wire accepts. */
export const MAX_WIRE_LIMIT = 65536;

export interface WireOptions {
  /** Scheduler; without it frames are delivered on a microtask. */
  clock?: Clock;
  /** One-way delay in ms (needs a clock when > 0). Default 0. */
  delay?: number;
  /** Bound on frames in flight (1..MAX_WIRE_LIMIT). Default DEFAULT_WIRE_LIMIT. */
  limit?: number;
}

interface InFlight {
  due: number;
  frame: Uint8Array;
}

export function checkWireOptions(o: WireOptions): { delay: number; limit: number } {
  const delay = o.delay ?? 0;
  const limit = o.limit ?? DEFAULT_WIRE_LIMIT;
  if (!Number.isFinite(delay) || delay < 0) throw new RangeError(`delay must be a finite number >= 0, got ${delay}`);
  if (delay > 0 && !o.clock) throw new RangeError('a delay needs a clock');
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_WIRE_LIMIT) {
    throw new RangeError(`queue limit must be an integer in [1, ${MAX_WIRE_LIMIT}], got ${limit}`);
  }
  return { delay, limit };
}

export class Wire {
  private readonly clock: Clock | undefined;
  private readonly delay: number;
  private readonly limit: number;
  private q: (InFlight | undefined)[] = [];
  private head = 0;
  private timer: TimerHandle | null = null;
  private microtask = false;
  private closed = false;

  constructor(
    private readonly deliver: (frame: Uint8Array) => void,
    opts: WireOptions = {},
    private readonly endBatch: () => void = () => {},
  ) {
    const { delay, limit } = checkWireOptions(opts);
    this.clock = opts.clock;
    this.delay = delay;
    this.limit = limit;
  }

  /** Frames in flight. */
  get length(): number {
    return this.q.length - this.head;
  }

  /** Queue a frame; false (frame not taken) when the wire is full or closed. */
  push(frame: Uint8Array): boolean {
    if (this.closed || this.length >= this.limit) return false;
    const due = this.clock ? this.clock.now() + this.delay : 0;
    this.q.push({ due, frame });
    this.arm();
    return true;
  }

  /** Drop everything in flight and refuse further pushes. */
  close(): void {
    this.closed = true;
    this.q = [];
    this.head = 0;
    this.timer?.cancel();
    this.timer = null;
  }

  private arm(): void {
    if (this.length === 0 || this.closed) return;
    if (!this.clock) {
      if (!this.microtask) {
        this.microtask = true;
        queueMicrotask(() => {
          this.microtask = false;
          this.drain(Infinity);
        });
      }
      return;
    }
    if (this.timer) return;
    const clock = this.clock;
    this.timer = clock.at(this.q[this.head]!.due, () => {
      this.timer = null;
      this.drain(clock.now());
    });
  }

  // Deliver frames due by `now` that were queued before the drain began;
  // frames pushed by receivers during the drain wait for the next round.
  private drain(now: number): void {
    let n = this.length;
    let delivered = 0;
    try {
      while (n-- > 0 && !this.closed) {
        const f = this.q[this.head]!;
        if (f.due > now) break;
        this.q[this.head++] = undefined;
        if (this.head === this.q.length) {
          this.q = [];
          this.head = 0;
        } else if (this.head >= 1024 && this.head * 2 >= this.q.length) {
          this.q = this.q.slice(this.head);
          this.head = 0;
        }
        delivered++;
        this.deliver(f.frame);
      }
      if (delivered > 0) this.endBatch();
    } finally {
      this.arm();
    }
  }
}
