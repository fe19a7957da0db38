/**
 * Time for protocol code. Protocol state machines never read a clock: they
 * take `now` (milliseconds, arbitrary epoch) as an argument and report when
 * they next need to run. Only drivers hold a Clock, injected so tests can
 * run everything under simulated time (ManualClock).
 */

export interface TimerHandle {
  cancel(): void;
}

export interface Clock {
  /** Milliseconds since an arbitrary epoch; monotonic. */
  now(): number;
  /** Run `fn` once when now() >= deadline. */
  at(deadline: number, fn: () => void): TimerHandle;
}

/** The real clock: performance.now() and unref'd setTimeout. */
export class RealClock implements Clock {
  now(): number {
    return performance.now();
  }
  at(deadline: number, fn: () => void): TimerHandle {
    const t = setTimeout(fn, Math.max(0, deadline - this.now()));
    t.unref();
    return { cancel: () => clearTimeout(t) };
  }
}

interface ManualTimer {
  deadline: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

/**
 * Simulated time. advance() fires due timers in (deadline, insertion order),
 * setting now() to each timer's deadline as it fires, so timers armed by a
 * firing timer run in the same advance() if they fall due.
 */
export class ManualClock implements Clock {
  private t: number;
  private seq = 0;
  private timers: ManualTimer[] = [];

  constructor(start = 0) {
    this.t = start;
  }
  now(): number {
    return this.t;
  }
  at(deadline: number, fn: () => void): TimerHandle {
    const timer: ManualTimer = { deadline, seq: this.seq++, fn, cancelled: false };
    this.timers.push(timer);
    return { cancel: () => { timer.cancelled = true; } };
  }
  /** Move time forward by ms, firing every timer that falls due on the way. */
  advance(ms: number): void {
    this.runUntil(this.t + ms);
  }
  /** Fire timers up to and including `deadline`, then set now() to it. */
  runUntil(deadline: number): void {
    for (;;) {
      const next = this.nextTimer();
      if (!next || next.deadline > deadline) break;
      this.timers.splice(this.timers.indexOf(next), 1);
      if (next.deadline > this.t) this.t = next.deadline;
      next.fn();
    }
    if (deadline > this.t) this.t = deadline;
  }
  /** Deadline of the earliest pending timer, or null. */
  nextDeadline(): number | null {
    return this.nextTimer()?.deadline ?? null;
  }
  private nextTimer(): ManualTimer | undefined {
    this.timers = this.timers.filter((x) => !x.cancelled);
    let best: ManualTimer | undefined;
    for (const x of this.timers) {
      if (!best || x.deadline < best.deadline || (x.deadline === best.deadline && x.seq < best.seq)) best = x;
    }
    return best;
  }
}
