/**
 * An in-memory point-to-point link: two Links connected back to back, like
 * a crossover cable. Every frame one end sends arrives at the other (no MAC
 * filtering), after `delay` ms on the injected Clock, or on a microtask
 * without one (see Wire). Each direction holds at most `limit` frames in
 * flight (default DEFAULT_WIRE_LIMIT = 1024); excess frames are dropped and
 * counted as txDropped at the sender.
 */
import type { Rng } from '../lib/rng.js';
import { DEFAULT_MTU } from './link.js';
import type { Link } from './link.js';
import { randomMac } from './mac.js';
import { MemoryPort, sequentialMac } from './port.js';
import { Wire } from './wire.js';
import type { WireOptions } from './wire.js';

export interface PairOptions extends WireOptions {
  /** IP MTU of both ends (default 1500). */
  mtu?: number;
  /** MACs of the two ends; else random ones from `rng`, else 02:39:6e:00:00:01 and ...:02. */
  macs?: [Uint8Array, Uint8Array];
  rng?: Rng;
}

/** Two Links wired back to back. Closing one end drops frames in flight towards it. */
export function createPair(opts: PairOptions = {}): [Link, Link] {
  const mtu = opts.mtu ?? DEFAULT_MTU;
  const macs = opts.macs ?? (opts.rng ? [randomMac(opts.rng), randomMac(opts.rng)] : [sequentialMac(1), sequentialMac(2)]);
  // Wires are created before the ports they deliver to; `ends` is filled below.
  const ends: MemoryPort[] = [];
  const toA = new Wire((f) => ends[0]!.ingress(f), opts, () => ends[0]!.ingressEnd());
  const toB = new Wire((f) => ends[1]!.ingress(f), opts, () => ends[1]!.ingressEnd());
  ends.push(
    new MemoryPort(macs[0], mtu, (f) => toB.push(f), () => toA.close()),
    new MemoryPort(macs[1], mtu, (f) => toA.push(f), () => toB.close()),
  );
  return [ends[0]!, ends[1]!];
}
