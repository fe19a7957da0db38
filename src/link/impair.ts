/**
 * Seeded impairment of one direction of a packet stream: loss, duplication,
 * corruption (one flipped bit in a copy), a rate limit (serialisation at
 * `rate` bits per second behind the packets before it), delay with jitter
 * (uniform in [min, max]) and reordering (a packet held back and released
 * right after the next one). FaultLink (fault.ts) is two of these around a
 * Link; PacketHook (packethook.ts) puts them on an interface or a
 * conversation (ipifc and conversation ctl `impair`).
 *
 * All randomness comes from the injected Rng, drawn in a fixed order per
 * packet (loss, duplicate, then per copy corrupt and its bit, reorder,
 * delay), so a seed reproduces a run exactly under a simulated clock.
 * Without a clock, packets are held only for reordering, released at the
 * next packet or on a microtask. Packets held for rate, delay or reorder
 * are bounded by a HoldBudget (shared by both directions of a link or
 * hook); beyond it they are dropped and counted as overflow.
 */
import type { Clock, TimerHandle } from '../lib/clock.js';
import type { Rng } from '../lib/rng.js';

/** Default bound on packets held for rate, delay or reorder. */
export const DEFAULT_HOLD_LIMIT = 1024;
/** Largest hold limit. */
export const MAX_HOLD_LIMIT = 65536;
/** Largest delay (or delay + jitter) accepted: one minute. */
export const MAX_DELAY_MS = 60_000;
/** Lowest rate accepted, bits per second (a 1500-byte packet every 12 s). */
export const MIN_RATE_BPS = 1000;

/** What one direction does to packets; probabilities in [0, 1]. */
export interface ImpairSpec {
  loss: number;
  duplicate: number;
  corrupt: number;
  reorder: number;
  /** Extra delay, uniform in [delayMin, delayMax] ms (needs a clock when > 0). */
  delayMin: number;
  delayMax: number;
  /** Bits per second, 0 for no limit (needs a clock). */
  rate: number;
}

export const NO_IMPAIRMENT: Readonly<ImpairSpec> = Object.freeze({ loss: 0, duplicate: 0, corrupt: 0, reorder: 0, delayMin: 0, delayMax: 0, rate: 0 });

export interface ImpairCounters {
  dropped: number;
  duplicated: number;
  corrupted: number;
  reordered: number;
  delayed: number;
  /** Packets dropped because the hold budget was used up. */
  overflow: number;
}

export function newImpairCounters(): ImpairCounters {
  return { dropped: 0, duplicated: 0, corrupted: 0, reordered: 0, delayed: 0, overflow: 0 };
}

/**
 * Checks a spec; returns what is wrong, or null. `hasClock` says whether
 * delay and rate can be had.
 */
export function checkImpairSpec(s: ImpairSpec, hasClock: boolean): string | null {
  for (const k of ['loss', 'duplicate', 'corrupt', 'reorder'] as const) {
    if (!(s[k] >= 0 && s[k] <= 1)) return `${k} must be a probability in [0, 1], got ${s[k]}`;
  }
  if (!(Number.isFinite(s.delayMin) && Number.isFinite(s.delayMax) && s.delayMin >= 0 && s.delayMax >= s.delayMin)) {
    return 'delay must be >= 0 (and min <= max)';
  }
  if (s.delayMax > MAX_DELAY_MS) return `delay must be at most ${MAX_DELAY_MS} ms`;
  if (!(s.rate === 0 || (Number.isFinite(s.rate) && s.rate >= MIN_RATE_BPS))) return `rate must be 0 or at least ${MIN_RATE_BPS} bit/s`;
  if ((s.delayMax > 0 || s.rate > 0) && !hasClock) return 'delay needs a clock';
  return null;
}

/** True when the spec does nothing. */
export function isNoImpairment(s: ImpairSpec): boolean {
  return s.loss === 0 && s.duplicate === 0 && s.corrupt === 0 && s.reorder === 0 && s.delayMax === 0 && s.rate === 0;
}

/** A copy of `b` (Buffer's own slice() would be a view). */
function copy(b: Uint8Array): Uint8Array {
  return Uint8Array.prototype.slice.call(b);
}

/** The bound on held packets, shared by the pipes of one link or hook. */
export class HoldBudget {
  held = 0;
  constructor(readonly limit = DEFAULT_HOLD_LIMIT) {
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_HOLD_LIMIT) {
      throw new RangeError(`limit must be an integer in [1, ${MAX_HOLD_LIMIT}], got ${limit}`);
    }
  }
  reserve(): boolean {
    if (this.held >= this.limit) return false;
    this.held++;
    return true;
  }
  release(): void {
    if (this.held > 0) this.held--;
  }
}

export interface ImpairPipeOptions<C> {
  spec: ImpairSpec;
  rng: Rng;
  clock?: Clock | undefined;
  budget: HoldBudget;
  counters: ImpairCounters;
  /** Copy a packet before holding it (the caller's view is only valid during input()). */
  copyOnHold: boolean;
  /** Where packets go; `ctx` is what input() was given with the packet. */
  emit: (pkt: Uint8Array, ctx: C) => void;
  /** Told after the packets a timer (or microtask) released were emitted. */
  afterRelease?: () => void;
}

export class ImpairPipe<C = undefined> {
  readonly spec: Readonly<ImpairSpec>;
  private held: Uint8Array | null = null;
  private heldCtx: C | undefined = undefined;
  private flushArmed = false;
  /** When the rate limit is next free (ms on the clock). */
  private busyUntil = 0;
  /** Pending timers, and whether each holds a unit of the budget. */
  private readonly timers = new Map<TimerHandle, boolean>();
  private closed = false;

  constructor(private readonly o: ImpairPipeOptions<C>) {
    this.spec = { ...o.spec };
  }

  /** Packets held for reorder (0 or 1). */
  get holding(): number {
    return this.held ? 1 : 0;
  }

  input(pkt: Uint8Array, ctx: C): void {
    if (this.closed) return;
    const s = this.spec;
    const c = this.o.counters;
    if (this.chance(s.loss)) {
      c.dropped++;
      return;
    }
    const copies = this.chance(s.duplicate) ? 2 : 1;
    if (copies === 2) c.duplicated++;
    for (let i = 0; i < copies; i++) {
      let out = pkt;
      if (this.chance(s.corrupt) && pkt.length > 0) {
        out = copy(pkt);
        const bit = this.o.rng.u32() % (out.length * 8);
        out[bit >>> 3]! ^= 1 << (bit & 7);
        c.corrupted++;
      }
      const reorder = this.chance(s.reorder);
      let delay = s.delayMax > 0 ? s.delayMin + ((s.delayMax - s.delayMin) * this.o.rng.u32()) / 2 ** 32 : 0;
      if (s.rate > 0) {
        const now = this.o.clock!.now();
        const start = this.busyUntil > now ? this.busyUntil : now;
        this.busyUntil = start + (out.length * 8 * 1000) / s.rate;
        delay += this.busyUntil - now;
      }
      if (delay > 0) {
        if (!this.o.budget.reserve()) {
          c.overflow++;
          continue;
        }
        c.delayed++;
        const held = this.o.copyOnHold && out === pkt ? copy(pkt) : out;
        this.schedule(delay, true, () => {
          this.o.budget.release();
          this.output(held, ctx, reorder);
        });
      } else {
        this.output(out === pkt && this.o.copyOnHold && reorder ? copy(pkt) : out, ctx, reorder);
      }
    }
  }

  /** Stops: cancels timers and forgets held packets. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const [t, holds] of this.timers) {
      t.cancel();
      if (holds) this.o.budget.release();
    }
    this.timers.clear();
    if (this.held) this.o.budget.release();
    this.held = null;
    this.heldCtx = undefined;
  }

  private chance(p: number): boolean {
    return p > 0 && this.o.rng.u32() < p * 2 ** 32;
  }

  private output(pkt: Uint8Array, ctx: C, reorder: boolean): void {
    if (this.closed) return;
    if (reorder && !this.held && this.o.budget.reserve()) {
      this.o.counters.reordered++;
      this.held = pkt;
      this.heldCtx = ctx;
      if (!this.flushArmed) {
        this.flushArmed = true;
        this.schedule(0, false, () => {
          this.flushArmed = false;
          this.flush();
        });
      }
      return;
    }
    this.o.emit(pkt, ctx);
    this.flush();
  }

  private flush(): void {
    const h = this.held;
    if (!h) return;
    const ctx = this.heldCtx as C;
    this.held = null;
    this.heldCtx = undefined;
    this.o.budget.release();
    if (!this.closed) this.o.emit(h, ctx);
  }

  /**
   * Runs `fn` after `delay` (on a microtask without a clock); the packets
   * it emits are followed by afterRelease. The budget a timer `holds` is
   * released by `fn` itself, or by close().
   */
  private schedule(delay: number, holds: boolean, fn: () => void): void {
    const clock = this.o.clock;
    if (!clock) {
      queueMicrotask(() => {
        if (this.closed) return;
        fn();
        this.o.afterRelease?.();
      });
      return;
    }
    const t: TimerHandle = clock.at(clock.now() + delay, () => {
      this.timers.delete(t);
      if (this.closed) return;
      fn();
      this.o.afterRelease?.();
    });
    this.timers.set(t, holds);
  }
}
