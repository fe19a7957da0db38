/**
 * Simulated time a user steers (`--clock manual`, /net/clock): a Clock
 * whose time runs at a chosen rate of a real clock, 0 meaning frozen.
 * Frozen, it moves only by advance(), which fires the timers that fall
 * due on the way in (deadline, insertion) order, setting now() to each
 * deadline as it fires (ManualClock's rule), so a script single-steps
 * RTOs, Time_wait and keepalives. Running (`rate R`, `real` = rate 1),
 * it arms one timer of the real clock for its earliest deadline.
 *
 * It is a driver, as RealClock is: protocol code sees only Clock. The real
 * clock is injected too, so tests steer it by a ManualClock.
 */
import type { Clock, TimerHandle } from './clock.js';
import { RealClock } from './clock.js';

/** Longest single advance (one day): a bound on the timers one write can fire. */
export const MAX_ADVANCE_MS = 24 * 3600 * 1000;
/** Rates a running clock accepts (a millionth to a thousand times real time). */
export const MIN_RATE = 1e-6;
export const MAX_RATE = 1000;

interface SimTimer {
  deadline: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

export class SimClock implements Clock {
  /** Simulated time at the last change of rate. */
  private base: number;
  /** The real clock's time then. */
  private anchor: number;
  private r: number;
  private seq = 0;
  /** Binary heap by (deadline, seq); cancelled timers leave lazily. */
  private heap: SimTimer[] = [];
  private cancelled = 0;
  private realTimer: TimerHandle | null = null;
  private firing = false;

  /** Starts frozen at `start` unless `rate` is given. */
  constructor(start = 0, private readonly real: Clock = new RealClock(), rate = 0) {
    this.base = start;
    this.anchor = real.now();
    this.r = rate;
  }

  now(): number {
    return this.r === 0 ? this.base : this.base + (this.real.now() - this.anchor) * this.r;
  }

  /** 0 when frozen, else simulated ms per real ms. */
  get rate(): number {
    return this.r;
  }

  at(deadline: number, fn: () => void): TimerHandle {
    const t: SimTimer = { deadline, seq: this.seq++, fn, cancelled: false };
    this.push(t);
    if (this.r !== 0 && !this.firing && this.heap[0] === t) this.arm();
    return {
      cancel: () => {
        if (t.cancelled) return;
        t.cancelled = true;
        // Compact when most of the heap is dead (a stack re-arms its one timer often).
        if (++this.cancelled > 64 && this.cancelled * 2 > this.heap.length) this.compact();
      },
    };
  }

  /** Stops time (`freeze`). */
  freeze(): void {
    this.setRate(0);
  }

  /** Runs at `rate` times the real clock (`rate R`; `real` is 1); 0 freezes. */
  setRate(rate: number): void {
    if (!(rate === 0 || (rate >= MIN_RATE && rate <= MAX_RATE))) throw new RangeError(`rate must be 0 or in [${MIN_RATE}, ${MAX_RATE}]`);
    this.base = this.now();
    this.anchor = this.real.now();
    this.r = rate;
    this.arm();
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way. */
  advance(ms: number): void {
    if (!(ms >= 0 && ms <= MAX_ADVANCE_MS)) throw new RangeError(`advance must be in [0, ${MAX_ADVANCE_MS}] ms`);
    this.runUntil(this.now() + ms);
  }

  /** Fires timers up to and including `deadline`, then sets now() to it (when that is later). */
  runUntil(deadline: number): void {
    this.fireDue(deadline, true);
    if (deadline > this.now()) {
      this.base = deadline;
      this.anchor = this.real.now();
    }
    this.arm();
  }

  /** Deadline of the earliest pending timer, or null. */
  nextDeadline(): number | null {
    this.dropCancelled();
    return this.heap.length === 0 ? null : this.heap[0]!.deadline;
  }

  /** Fires what is due by `limit`; `step` moves a frozen (or late) now() to each deadline as it fires. */
  private fireDue(limit: number, step: boolean): void {
    if (this.firing) return; // a timer advancing the clock: the outer loop fires the rest
    this.firing = true;
    try {
      for (;;) {
        this.dropCancelled();
        const t = this.heap[0];
        if (t === undefined || t.deadline > limit) break;
        this.pop();
        t.cancelled = true; // fired: a later cancel() is a no-op
        if (step && t.deadline > this.now()) {
          this.base = t.deadline;
          this.anchor = this.real.now();
        }
        t.fn();
      }
    } finally {
      this.firing = false;
    }
  }

  /** Arms the real clock's timer for the earliest deadline while running. */
  private arm(): void {
    this.realTimer?.cancel();
    this.realTimer = null;
    if (this.r === 0) return;
    const next = this.nextDeadline();
    if (next === null) return;
    const when = this.anchor + (next - this.base) / this.r;
    this.realTimer = this.real.at(when, () => {
      this.realTimer = null;
      this.fireDue(this.now(), false);
      this.arm();
    });
  }

  // ---- the heap ----

  private less(a: SimTimer, b: SimTimer): boolean {
    return a.deadline < b.deadline || (a.deadline === b.deadline && a.seq < b.seq);
  }

  private push(t: SimTimer): void {
    const h = this.heap;
    h.push(t);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  private pop(): void {
    const h = this.heap;
    const last = h.pop()!;
    if (h.length === 0) return;
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && this.less(h[l]!, h[m]!)) m = l;
      if (r < h.length && this.less(h[r]!, h[m]!)) m = r;
      if (m === i) break;
      [h[i], h[m]] = [h[m]!, h[i]!];
      i = m;
    }
  }

  private dropCancelled(): void {
    while (this.heap.length > 0 && this.heap[0]!.cancelled) {
      this.pop();
      this.cancelled--;
    }
  }

  private compact(): void {
    const live = this.heap.filter((t) => !t.cancelled);
    this.heap = [];
    this.cancelled = 0;
    for (const t of live) this.push(t);
  }
}
