/**
 * FaultLink: a Link decorator that injects seeded faults: drop, duplicate,
 * corrupt (one flipped bit in a copy), delay (needs a Clock) and reorder,
 * separately for frames we send (tx) and frames we receive (rx). All
 * randomness comes from the injected Rng, drawn in a fixed order per frame,
 * so a seed reproduces a run exactly (with ManualClock or no delays).
 *
 * Reorder holds a frame back and releases it right after the next frame in
 * the same direction; if none follows, it is released at the next clock tick
 * (clock.at(now)) or, without a clock, on a microtask. Frames held for delay
 * or reorder are bounded by `limit` (default 1024); beyond it they are dropped
 * and counted as overflow.
 */
import type { Clock, TimerHandle } from '../lib/clock.js';
import type { Rng } from '../lib/rng.js';
import type { BatchEndHandler, Disposable, FrameHandler, Link, LinkStats } from './link.js';

/** Default bound on frames held for delay or reorder, per FaultLink. */
export const DEFAULT_FAULT_LIMIT = 1024;

export interface FaultSpec {
  /** Probability in [0, 1] that a frame is dropped. */
  drop?: number;
  /** Probability that a frame is sent twice. */
  duplicate?: number;
  /** Probability that a copy of the frame has one random bit flipped. */
  corrupt?: number;
  /** Probability that a frame is held back and overtaken by the next one. */
  reorder?: number;
  /** Extra delay in ms, fixed or uniform in [min, max]; needs a clock. */
  delay?: number | { min: number; max: number };
}

export interface FaultOptions {
  rng: Rng;
  clock?: Clock;
  /** Faults on frames sent through this link. */
  tx?: FaultSpec;
  /** Faults on frames received from the inner link. */
  rx?: FaultSpec;
  /** Bound on held frames (1..65536, default DEFAULT_FAULT_LIMIT). */
  limit?: number;
}

export interface FaultCounters {
  dropped: number;
  duplicated: number;
  corrupted: number;
  reordered: number;
  delayed: number;
  /** Frames dropped because `limit` frames were already held. */
  overflow: number;
}

interface Spec {
  drop: number;
  duplicate: number;
  corrupt: number;
  reorder: number;
  delayMin: number;
  delayMax: number;
}

function checkSpec(s: FaultSpec | undefined, hasClock: boolean, dir: string): Spec {
  const prob = (name: keyof FaultSpec, v: number | undefined): number => {
    const p = v ?? 0;
    if (!(p >= 0 && p <= 1)) throw new RangeError(`${dir}.${name} must be a probability in [0, 1], got ${p}`);
    return p;
  };
  const d = s?.delay ?? 0;
  const [delayMin, delayMax] = typeof d === 'number' ? [d, d] : [d.min, d.max];
  if (!(Number.isFinite(delayMin) && Number.isFinite(delayMax) && delayMin >= 0 && delayMax >= delayMin)) {
    throw new RangeError(`${dir}.delay must be >= 0 (and min <= max)`);
  }
  if (delayMax > 0 && !hasClock) throw new RangeError(`${dir}.delay needs a clock`);
  return {
    drop: prob('drop', s?.drop),
    duplicate: prob('duplicate', s?.duplicate),
    corrupt: prob('corrupt', s?.corrupt),
    reorder: prob('reorder', s?.reorder),
    delayMin,
    delayMax,
  };
}

/** One direction's fault pipeline: faults -> delay -> reorder -> emit. */
class Direction {
  private held: Uint8Array | null = null;
  private flushArmed = false;

  constructor(
    private readonly f: FaultLink,
    private readonly spec: Spec,
    private readonly copyOnHold: boolean,
    private readonly emit: (frame: Uint8Array) => void,
  ) {}

  get holding(): number {
    return this.held ? 1 : 0;
  }

  input(frame: Uint8Array): void {
    const s = this.spec;
    const c = this.f.counters;
    if (this.f.chance(s.drop)) {
      c.dropped++;
      return;
    }
    const copies = this.f.chance(s.duplicate) ? 2 : 1;
    if (copies === 2) c.duplicated++;
    for (let i = 0; i < copies; i++) {
      let out = frame;
      if (this.f.chance(s.corrupt) && frame.length > 0) {
        out = frame.slice();
        const bit = this.f.rng.u32() % (out.length * 8);
        out[bit >>> 3]! ^= 1 << (bit & 7);
        c.corrupted++;
      }
      const reorder = this.f.chance(s.reorder);
      const delay = s.delayMax > 0 ? s.delayMin + ((s.delayMax - s.delayMin) * this.f.rng.u32()) / 2 ** 32 : 0;
      if (delay > 0) {
        if (!this.f.reserve()) continue;
        c.delayed++;
        const held = this.copyOnHold && out === frame ? frame.slice() : out;
        this.f.schedule(delay, () => {
          this.f.release();
          this.output(held, reorder);
        });
      } else {
        this.output(out === frame && this.copyOnHold && reorder ? frame.slice() : out, reorder);
      }
    }
  }

  private output(frame: Uint8Array, reorder: boolean): void {
    if (this.f.closed) return;
    if (reorder && !this.held && this.f.reserve(false)) {
      this.f.counters.reordered++;
      this.held = frame;
      if (!this.flushArmed) {
        this.flushArmed = true;
        this.f.schedule(0, () => {
          this.flushArmed = false;
          this.flush();
        });
      }
      return;
    }
    this.emit(frame);
    this.flush();
  }

  flush(): void {
    const h = this.held;
    if (!h) return;
    this.held = null;
    this.f.release();
    if (!this.f.closed) this.emit(h);
  }

  drop(): void {
    if (this.held) this.f.release();
    this.held = null;
  }
}

export class FaultLink implements Link {
  readonly counters: FaultCounters = { dropped: 0, duplicated: 0, corrupted: 0, reordered: 0, delayed: 0, overflow: 0 };
  readonly rng: Rng;
  closed = false;
  private readonly clock: Clock | undefined;
  private readonly limit: number;
  private heldCount = 0;
  private readonly timers = new Set<TimerHandle>();
  private readonly tx: Direction;
  private readonly rxDir: Direction;
  private rx: FrameHandler | null = null;
  private endBatch: BatchEndHandler | null = null;
  /** Frames went to rx since the receiver was last told a batch ended. */
  private rxUnended = false;
  private innerSub: Disposable | null = null;
  private txBatch: Uint8Array[] | null = null;

  constructor(private readonly inner: Link, opts: FaultOptions) {
    this.rng = opts.rng;
    this.clock = opts.clock;
    this.limit = opts.limit ?? DEFAULT_FAULT_LIMIT;
    if (!Number.isInteger(this.limit) || this.limit < 1 || this.limit > 65536) {
      throw new RangeError(`limit must be an integer in [1, 65536], got ${this.limit}`);
    }
    const hasClock = opts.clock !== undefined;
    this.tx = new Direction(this, checkSpec(opts.tx, hasClock, 'tx'), false, (f) => {
      if (this.txBatch) this.txBatch.push(f);
      else this.inner.send(f);
    });
    this.rxDir = new Direction(this, checkSpec(opts.rx, hasClock, 'rx'), true, (f) => {
      if (!this.rx) return;
      this.rxUnended = true;
      this.rx(f);
    });
  }

  get mtu(): number {
    return this.inner.mtu;
  }
  get mac(): Uint8Array {
    return this.inner.mac;
  }
  /** The inner link's counters: what actually went through. Faults are in `counters`. */
  get stats(): Readonly<LinkStats> {
    return this.inner.stats;
  }

  send(frame: Uint8Array): void {
    if (this.closed) this.inner.send(frame); // the closed inner link counts the drop
    else this.tx.input(frame);
  }

  sendBatch(frames: readonly Uint8Array[]): void {
    if (this.closed) return this.inner.sendBatch(frames);
    const batch: Uint8Array[] = [];
    this.txBatch = batch;
    try {
      for (const f of frames) this.tx.input(f);
    } finally {
      this.txBatch = null;
    }
    if (batch.length) this.inner.sendBatch(batch);
  }

  attach(rx: FrameHandler, endBatch?: BatchEndHandler): Disposable {
    if (this.closed) throw new Error('link is closed');
    if (this.rx) throw new Error('link already has a receiver');
    this.innerSub = this.inner.attach((f) => this.rxDir.input(f), () => this.endRxBatch());
    this.rx = rx;
    this.endBatch = endBatch ?? null;
    return {
      dispose: () => {
        if (this.rx !== rx) return;
        this.rx = null;
        this.endBatch = null;
        this.innerSub?.dispose();
        this.innerSub = null;
      },
    };
  }

  async close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      for (const t of this.timers) t.cancel();
      this.timers.clear();
      this.tx.drop();
      this.rxDir.drop();
      this.heldCount = 0;
      this.rx = null;
      this.endBatch = null;
      this.innerSub?.dispose();
      this.innerSub = null;
    }
    await this.inner.close();
  }

  /** Frames currently held for delay or reorder. */
  get held(): number {
    return this.heldCount;
  }

  // ---- used by Direction ----

  chance(p: number): boolean {
    return p > 0 && this.rng.u32() < p * 2 ** 32;
  }

  /** Claims room for one held frame; false when `limit` frames are held. */
  reserve(countOverflow = true): boolean {
    if (this.heldCount >= this.limit) {
      if (countOverflow) this.counters.overflow++;
      return false;
    }
    this.heldCount++;
    return true;
  }

  release(): void {
    if (this.heldCount > 0) this.heldCount--;
  }

  /**
   * Runs `fn` after `delay`; frames it hands to the receiver (held or
   * delayed ones) are a batch of their own.
   */
  schedule(delay: number, fn: () => void): void {
    const clock = this.clock;
    if (!clock) {
      queueMicrotask(() => {
        if (this.closed) return;
        fn();
        this.endRxBatch();
      });
      return;
    }
    const t: TimerHandle = clock.at(clock.now() + delay, () => {
      this.timers.delete(t);
      if (this.closed) return;
      fn();
      this.endRxBatch();
    });
    this.timers.add(t);
  }

  /** The inner link's batch (or a timer's frames) is over: tell the receiver, if it got any. */
  private endRxBatch(): void {
    if (!this.rxUnended) return;
    this.rxUnended = false;
    this.endBatch?.();
  }
}
