/**
 * Two stacks with TCP layers on an in-memory hub under a ManualClock,
 * optionally through seeded FaultLinks, plus a driver that runs simulated
 * time until a condition holds.
 */
import { ManualClock } from '../../../src/lib/clock.js';
import { SeededRng } from '../../../src/lib/rng.js';
import { FaultLink } from '../../../src/link/fault.js';
import type { FaultSpec } from '../../../src/link/fault.js';
import { Hub } from '../../../src/link/hub.js';
import type { Link } from '../../../src/link/link.js';
import { Stack } from '../../../src/stack/stack.js';
import { TcpLayer } from '../../../src/stack/tcp/tcp.js';
import type { TcpLayerOptions } from '../../../src/stack/tcp/types.js';
import { ip } from '../helpers.js';

export interface TcpNet {
  clock: ManualClock;
  a: Stack;
  b: Stack;
  ta: TcpLayer;
  tb: TcpLayer;
  links: Link[];
  /** Runs simulated time until `cond()` or `limitMs` of simulated time passed; returns whether cond held. */
  run(cond: () => boolean, limitMs?: number): boolean;
}

export const A = ip('10.0.0.1');
export const B = ip('10.0.0.2');

export function tcpNet(
  opts: {
    seed?: number;
    fault?: FaultSpec;
    delay?: number;
    mtu?: number;
    a?: TcpLayerOptions;
    b?: TcpLayerOptions;
    wireLimit?: number;
  } = {},
): TcpNet {
  const clock = new ManualClock(0);
  const seed = opts.seed ?? 1;
  const hub = new Hub({ clock, delay: opts.delay ?? 0, mtu: opts.mtu ?? 1500, limit: opts.wireLimit ?? 4096 });
  const links: Link[] = [];
  const stacks: Stack[] = [];
  for (let i = 0; i < 2; i++) {
    let link: Link = hub.port();
    if (opts.fault) link = new FaultLink(link, { rng: new SeededRng(seed * 7 + i), clock, tx: opts.fault, limit: 65536 });
    links.push(link);
    const s = new Stack({ clock, rng: new SeededRng(seed * 13 + i) });
    const ifc = s.addInterface(link);
    ifc.addAddress(i === 0 ? A : B, 24);
    stacks.push(s);
  }
  const [a, b] = stacks as [Stack, Stack];
  // Known neighbours: no ARP loss to fight in fault tests.
  a.arp.add(B, bytesToMac(links[1]!.mac));
  b.arp.add(A, bytesToMac(links[0]!.mac));
  const ta = new TcpLayer(a, opts.a);
  const tb = new TcpLayer(b, opts.b);
  clock.advance(0);
  const run = (cond: () => boolean, limitMs = 600_000): boolean => {
    const end = clock.now() + limitMs;
    while (!cond()) {
      const d = clock.nextDeadline();
      if (d === null || d > end) return cond();
      clock.runUntil(d);
    }
    return true;
  };
  return { clock, a, b, ta, tb, links, run };
}

function bytesToMac(m: Uint8Array): number {
  let v = 0;
  for (let i = 0; i < 6; i++) v = v * 256 + m[i]!;
  return v;
}

/** Deterministic pseudo-random bytes. */
export function randomBytesSeeded(n: number, seed: number): Uint8Array {
  const r = new SeededRng(seed);
  const out = new Uint8Array(n);
  const v = new DataView(out.buffer);
  let i = 0;
  for (; i + 4 <= n; i += 4) v.setUint32(i, r.u32());
  for (; i < n; i++) out[i] = r.u32() & 0xff;
  return out;
}
