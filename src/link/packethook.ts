/**
 * What may stand between a packet path and the wire: capture taps and a
 * seeded impairment per direction. An owner (an IP interface, a TCP
 * connection, a UDP endpoint) keeps a PacketHook only while something is
 * attached, so a path without one pays a null check.
 *
 * Capture sees the wire side of the impairment, as tcpdump sees a netem
 * device: outgoing packets after impairment (dropped ones never, delayed
 * ones when they leave), incoming ones as they arrive, before it. Taps are
 * called synchronously with a view valid during the call; they copy what
 * they keep and must be cheap (they run in the stack's path).
 */
import type { Clock } from '../lib/clock.js';
import { SeededRng } from '../lib/rng.js';
import { HoldBudget, ImpairPipe, newImpairCounters } from './impair.js';
import type { ImpairCounters, ImpairSpec } from './impair.js';
import type { Disposable } from './link.js';

export type PacketDir = 'in' | 'out';

/** Sees one packet; `pkt` is valid only during the call. */
export type PacketTap = (pkt: Uint8Array, dir: PacketDir) => void;

/** Taps on the packets of one direction, or both (at most MAX_TAPS). */
export const MAX_TAPS = 64;

/** One direction's impairment, as `status` shows it. */
export interface ImpairmentState {
  dir: PacketDir;
  spec: Readonly<ImpairSpec>;
  seed: number;
  counters: Readonly<ImpairCounters>;
}

/** A list of taps, copied on change so a tap may dispose itself while called. */
export class TapList {
  private taps: readonly PacketTap[] = [];

  get size(): number {
    return this.taps.length;
  }

  add(fn: PacketTap): Disposable {
    if (this.taps.length >= MAX_TAPS) throw new RangeError('too many captures');
    this.taps = [...this.taps, fn];
    return { dispose: () => { this.taps = this.taps.filter((t) => t !== fn); } };
  }

  run(pkt: Uint8Array, dir: PacketDir): void {
    const t = this.taps;
    for (let i = 0; i < t.length; i++) t[i]!(pkt, dir);
  }
}

export interface PacketHookOptions<C> {
  clock: Clock;
  /** Puts an outgoing packet on its way (after impairment and capture). */
  send: (pkt: Uint8Array, ctx: C) => void;
  /** Hands an incoming packet on (after capture and impairment). */
  deliver: (pkt: Uint8Array, ctx: C) => void;
  /** Told after packets held on the way in were delivered late (their input batch is over). */
  afterInRelease?: () => void;
  /** Incoming packets are views valid only during in(): copy those held. */
  copyIn: boolean;
}

interface Side<C> {
  pipe: ImpairPipe<C>;
  state: ImpairmentState;
}

export class PacketHook<C = undefined> {
  readonly taps = new TapList();
  private readonly budget = new HoldBudget();
  private inSide: Side<C> | null = null;
  private outSide: Side<C> | null = null;
  private readonly sendTapped: (pkt: Uint8Array, ctx: C) => void;

  constructor(private readonly o: PacketHookOptions<C>) {
    this.sendTapped = (pkt, ctx) => {
      if (this.taps.size !== 0) this.taps.run(pkt, 'out');
      o.send(pkt, ctx);
    };
  }

  /** Nothing attached: the owner may drop the hook. */
  get idle(): boolean {
    return this.taps.size === 0 && this.inSide === null && this.outSide === null;
  }

  /**
   * Sets (or with `spec` null, removes) one direction's impairment, its
   * randomness seeded by `seed` and the direction. Packets the old one
   * held are dropped.
   */
  impair(dir: PacketDir, spec: ImpairSpec | null, seed: number): void {
    const old = dir === 'in' ? this.inSide : this.outSide;
    old?.pipe.close();
    let side: Side<C> | null = null;
    if (spec !== null) {
      const counters = newImpairCounters();
      const pipe = new ImpairPipe<C>({
        spec,
        rng: new SeededRng(((seed >>> 0) * 2 + (dir === 'in' ? 1 : 0)) >>> 0),
        clock: this.o.clock,
        budget: this.budget,
        counters,
        copyOnHold: dir === 'in' && this.o.copyIn,
        emit: dir === 'in' ? this.o.deliver : this.sendTapped,
        ...(dir === 'in' && this.o.afterInRelease ? { afterRelease: this.o.afterInRelease } : {}),
      });
      side = { pipe, state: { dir, spec: pipe.spec, seed: seed >>> 0, counters } };
    }
    if (dir === 'in') this.inSide = side;
    else this.outSide = side;
  }

  /** The impairments in place, `in` first. */
  impairments(): ImpairmentState[] {
    const out: ImpairmentState[] = [];
    if (this.inSide) out.push(this.inSide.state);
    if (this.outSide) out.push(this.outSide.state);
    return out;
  }

  /** An outgoing packet: impairment, then capture, then send. */
  out(pkt: Uint8Array, ctx: C): void {
    const side = this.outSide;
    if (side !== null) side.pipe.input(pkt, ctx);
    else this.sendTapped(pkt, ctx);
  }

  /** An incoming packet: capture, then impairment, then deliver. */
  in(pkt: Uint8Array, ctx: C): void {
    if (this.taps.size !== 0) this.taps.run(pkt, 'in');
    const side = this.inSide;
    if (side !== null) side.pipe.input(pkt, ctx);
    else this.o.deliver(pkt, ctx);
  }

  /** Removes both impairments (their held packets are dropped); taps stay. */
  close(): void {
    this.impair('in', null, 0);
    this.impair('out', null, 0);
  }
}
