/**
 * Observers of something that may not exist yet: a conversation's
 * captures, impairment and event readers are attached before `connect`
 * makes its TCP connection (so the SYN is seen), and an interface's before
 * anything happens on it. FlowWatch keeps the taps and impairments and
 * puts them on the target's PacketHook once bound (making the hook only
 * while something is attached); EventFan formats each event once and hands
 * the line to every reader, and is the target's sink only while someone
 * reads.
 */
import type { ImpairSpec } from '../../link/impair.js';
import { newImpairCounters } from '../../link/impair.js';
import type { Disposable } from '../../link/link.js';
import type { ImpairmentState, PacketDir, PacketHook, PacketTap } from '../../link/packethook.js';
import type { ImpairRequest } from '../../netfs/impair.js';
import type { Rng } from '../../lib/rng.js';
import { MAX_TAPS } from '../../link/packethook.js';

/** The parts of a PacketHook observers use (whatever its packets' context). */
export type HookControl = Pick<PacketHook<unknown>, 'taps' | 'impair' | 'impairments'>;

/** What observers attach to: the target's hook, made on demand, dropped once idle. */
export interface HookTarget {
  hook(): HookControl;
  dropIdle(): void;
}

interface TapEntry {
  tap: PacketTap;
  sub: Disposable | null;
}

export class FlowWatch {
  private readonly taps: TapEntry[] = [];
  private readonly impairs = new Map<PacketDir, { spec: ImpairSpec; seed: number }>();
  private target: HookTarget | null = null;

  /** Puts everything on `t` (and from now on). */
  bind(t: HookTarget): void {
    this.target = t;
    for (const e of this.taps) e.sub = t.hook().taps.add(e.tap);
    for (const [dir, i] of this.impairs) t.hook().impair(dir, i.spec, i.seed);
  }

  /** @throws RangeError beyond MAX_TAPS */
  addTap(tap: PacketTap): Disposable {
    if (this.taps.length >= MAX_TAPS) throw new RangeError('too many captures');
    const e: TapEntry = { tap, sub: null };
    this.taps.push(e);
    if (this.target) e.sub = this.target.hook().taps.add(tap);
    return {
      dispose: () => {
        const i = this.taps.indexOf(e);
        if (i < 0) return;
        this.taps.splice(i, 1);
        e.sub?.dispose();
        this.target?.dropIdle();
      },
    };
  }

  /** Applies an `impair` request; without a seed one is drawn from `rng`. */
  impair(req: ImpairRequest, rng: Rng): void {
    const seed = req.seed ?? rng.u32() % 1_000_000;
    for (const dir of req.dirs) {
      if (req.spec === null) this.impairs.delete(dir);
      else this.impairs.set(dir, { spec: req.spec, seed });
      if (this.target) this.target.hook().impair(dir, req.spec, seed);
    }
    if (req.spec === null) this.target?.dropIdle();
  }

  /** Takes `from`'s impairments (an announcement's, for a call it accepts), same seeds. */
  inherit(from: FlowWatch): void {
    for (const [dir, i] of from.impairs) this.impairs.set(dir, i);
  }

  /** What status shows: the hook's states once bound, else the settings waiting for it. */
  impairments(): ImpairmentState[] {
    if (this.impairs.size === 0) return [];
    if (this.target) return this.target.hook().impairments();
    return [...this.impairs].map(([dir, i]) => ({ dir, spec: i.spec, seed: i.seed, counters: newImpairCounters() }));
  }

  /** True when nothing is attached. */
  get idle(): boolean {
    return this.taps.length === 0 && this.impairs.size === 0;
  }
}

/** One event source's readers: each event formatted once, the line to all. */
export class EventFan<E> {
  private sinks: readonly ((now: number, line: string) => void)[] = [];

  /** `onChange(sink)` installs the target's sink when the first reader comes, null when the last goes. */
  constructor(
    private readonly text: (e: E) => string,
    private readonly onChange: (sink: ((now: number, e: E) => void) | null) => void,
  ) {}

  readonly sink = (now: number, e: E): void => {
    const line = this.text(e);
    const s = this.sinks;
    for (let i = 0; i < s.length; i++) s[i]!(now, line);
  };

  get active(): boolean {
    return this.sinks.length > 0;
  }

  attach(fn: (now: number, line: string) => void): Disposable {
    this.sinks = [...this.sinks, fn];
    if (this.sinks.length === 1) this.onChange(this.sink);
    return {
      dispose: () => {
        const before = this.sinks.length;
        this.sinks = this.sinks.filter((f) => f !== fn);
        if (before > 0 && this.sinks.length === 0) this.onChange(null);
      },
    };
  }
}

