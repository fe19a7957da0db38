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
 * and counted as overflow. Each direction is an ImpairPipe (impair.ts).
 */
import type { Clock } from '../lib/clock.js';
import type { Rng } from '../lib/rng.js';
import { checkImpairSpec, DEFAULT_HOLD_LIMIT, HoldBudget, ImpairPipe, newImpairCounters } from './impair.js';
import type { ImpairCounters, ImpairSpec } from './impair.js';
import type { BatchEndHandler, Disposable, FrameHandler, Link, LinkStats } from './link.js';

/** Default bound on frames held for delay or reorder, per FaultLink. */
export const DEFAULT_FAULT_LIMIT = DEFAULT_HOLD_LIMIT;

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

export type FaultCounters = ImpairCounters;

function checkSpec(s: FaultSpec | undefined, hasClock: boolean, dir: string): ImpairSpec {
  const d = s?.delay ?? 0;
  const [delayMin, delayMax] = typeof d === 'number' ? [d, d] : [d.min, d.max];
  const spec: ImpairSpec = {
    loss: s?.drop ?? 0,
    duplicate: s?.duplicate ?? 0,
    corrupt: s?.corrupt ?? 0,
    reorder: s?.reorder ?? 0,
    delayMin,
    delayMax,
    rate: 0,
  };
  const bad = checkImpairSpec(spec, hasClock);
  if (bad !== null) throw new RangeError(`${dir}.${bad.replace(/^loss/, 'drop')}`);
  return spec;
}

export class FaultLink implements Link {
  readonly counters: FaultCounters = newImpairCounters();
  readonly rng: Rng;
  closed = false;
  private readonly budget: HoldBudget;
  private readonly tx: ImpairPipe;
  private readonly rxDir: ImpairPipe;
  private rx: FrameHandler | null = null;
  private endBatch: BatchEndHandler | null = null;
  /** Frames went to rx since the receiver was last told a batch ended. */
  private rxUnended = false;
  private innerSub: Disposable | null = null;
  private txBatch: Uint8Array[] | null = null;

  constructor(private readonly inner: Link, opts: FaultOptions) {
    this.rng = opts.rng;
    this.budget = new HoldBudget(opts.limit ?? DEFAULT_FAULT_LIMIT);
    const hasClock = opts.clock !== undefined;
    const common = { rng: opts.rng, clock: opts.clock, budget: this.budget, counters: this.counters, afterRelease: () => this.endRxBatch() };
    this.tx = new ImpairPipe({
      ...common,
      spec: checkSpec(opts.tx, hasClock, 'tx'),
      copyOnHold: false,
      emit: (f) => {
        if (this.txBatch) this.txBatch.push(f);
        else this.inner.send(f);
      },
    });
    this.rxDir = new ImpairPipe({
      ...common,
      spec: checkSpec(opts.rx, hasClock, 'rx'),
      copyOnHold: true,
      emit: (f) => {
        if (!this.rx) return;
        this.rxUnended = true;
        this.rx(f);
      },
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
    else this.tx.input(frame, undefined);
  }

  sendBatch(frames: readonly Uint8Array[]): void {
    if (this.closed) return this.inner.sendBatch(frames);
    const batch: Uint8Array[] = [];
    this.txBatch = batch;
    try {
      for (const f of frames) this.tx.input(f, undefined);
    } finally {
      this.txBatch = null;
    }
    if (batch.length) this.inner.sendBatch(batch);
  }

  attach(rx: FrameHandler, endBatch?: BatchEndHandler): Disposable {
    if (this.closed) throw new Error('link is closed');
    if (this.rx) throw new Error('link already has a receiver');
    this.innerSub = this.inner.attach((f) => this.rxDir.input(f, undefined), () => this.endRxBatch());
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
      this.tx.close();
      this.rxDir.close();
      this.rx = null;
      this.endBatch = null;
      this.innerSub?.dispose();
      this.innerSub = null;
    }
    await this.inner.close();
  }

  /** Frames currently held for delay or reorder. */
  get held(): number {
    return this.budget.held;
  }

  /** The inner link's batch (or a timer's frames) is over: tell the receiver, if it got any. */
  private endRxBatch(): void {
    if (!this.rxUnended) return;
    this.rxUnended = false;
    this.endBatch?.();
  }
}
