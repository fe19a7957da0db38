// In-memory learning switch: flooding, learning, filtering, table bound,
// per-port delay and port removal.
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/lib/clock.js';
import { Hub } from '../../src/link/hub.js';
import type { Link } from '../../src/link/link.js';
import { BROADCAST_MAC, formatMac } from '../../src/link/mac.js';
import { frameSeq, seqFrame } from './frames.js';

function ports(hub: Hub, n: number): { links: Link[]; got: number[][] } {
  const links: Link[] = [];
  const got: number[][] = [];
  for (let i = 0; i < n; i++) {
    const l = hub.port();
    const g: number[] = [];
    l.attach((f) => g.push(frameSeq(f)));
    links.push(l);
    got.push(g);
  }
  return { links, got };
}

describe('Hub', () => {
  it('floods broadcast and unknown unicast to every other port', () => {
    const clock = new ManualClock();
    const hub = new Hub({ clock });
    const { links: [a, b, c], got } = ports(hub, 3);
    a!.send(seqFrame(BROADCAST_MAC, a!.mac, 1));
    a!.send(seqFrame(c!.mac, a!.mac, 2)); // c not learnt yet
    clock.advance(0);
    expect(got).toEqual([[], [1, 2], [1, 2]]);
    expect(hub.counters.flooded).toBe(2);
    void b;
  });

  it('learns source MACs and forwards unicast to one port', () => {
    const clock = new ManualClock();
    const hub = new Hub({ clock });
    const { links: [a, b, c], got } = ports(hub, 3);
    c!.send(seqFrame(BROADCAST_MAC, c!.mac, 1)); // hub learns c
    a!.send(seqFrame(c!.mac, a!.mac, 2)); // to c only; hub learns a
    c!.send(seqFrame(a!.mac, c!.mac, 3)); // to a only
    clock.advance(0);
    expect(got).toEqual([[1, 3], [1], [2]]);
    expect(hub.counters).toMatchObject({ forwarded: 2, flooded: 1 });
    expect(hub.macTable()).toEqual(new Map([[formatMac(c!.mac), 2], [formatMac(a!.mac), 0]]));
    void b;
  });

  it('relearns a MAC that moves and filters frames for the sending port', () => {
    const clock = new ManualClock();
    const hub = new Hub({ clock });
    const { links: [a, b, c], got } = ports(hub, 3);
    const roaming = new Uint8Array([2, 0, 0, 0, 0, 0x99]);
    a!.send(seqFrame(BROADCAST_MAC, roaming, 1)); // roaming behind a
    b!.send(seqFrame(roaming, b!.mac, 2)); // -> a
    c!.send(seqFrame(BROADCAST_MAC, roaming, 3)); // roaming moved behind c
    b!.send(seqFrame(roaming, b!.mac, 4)); // -> c
    c!.send(seqFrame(roaming, c!.mac, 5)); // destination on the sending port: filtered
    clock.advance(0);
    expect(got).toEqual([[2, 3], [1, 3], [1, 4]]);
    expect(hub.counters.filtered).toBe(1);
  });

  it('bounds the MAC table, evicting the least recently learnt', () => {
    const clock = new ManualClock();
    const hub = new Hub({ clock, tableLimit: 2 });
    const { links: [a, b], got } = ports(hub, 2);
    const m = (i: number): Uint8Array => new Uint8Array([2, 0, 0, 0, 1, i]);
    a!.send(seqFrame(BROADCAST_MAC, m(1), 1));
    a!.send(seqFrame(BROADCAST_MAC, m(2), 2));
    a!.send(seqFrame(BROADCAST_MAC, m(1), 3)); // refresh m1
    a!.send(seqFrame(BROADCAST_MAC, m(3), 4)); // evicts m2
    expect([...hub.macTable().keys()]).toEqual([formatMac(m(1)), formatMac(m(3))]);
    b!.send(seqFrame(m(2), b!.mac, 5)); // unknown again: flooded (only a besides b)
    clock.advance(0);
    expect(got[0]).toEqual([5]);
    expect(hub.counters.flooded).toBe(5);
  });

  it('bounds each port queue and counts drops', () => {
    const clock = new ManualClock();
    const hub = new Hub({ clock, delay: 1, limit: 3 });
    const { links: [a], got } = ports(hub, 2);
    for (let i = 0; i < 5; i++) a!.send(seqFrame(BROADCAST_MAC, a!.mac, i));
    clock.advance(1);
    expect(got[1]).toEqual([0, 1, 2]);
    expect(hub.counters.dropped).toBe(2);
  });

  it('honours per-port delays', () => {
    const clock = new ManualClock();
    const hub = new Hub({ clock, delay: 1 });
    const a = hub.port();
    const slow = hub.port({ delay: 10 });
    const fast = hub.port();
    const at: Record<string, number> = {};
    slow.attach(() => (at.slow = clock.now()));
    fast.attach(() => (at.fast = clock.now()));
    a.send(seqFrame(BROADCAST_MAC, a.mac, 1));
    clock.advance(20);
    expect(at).toEqual({ slow: 10, fast: 1 });
  });

  it('removes closed ports and forgets their MACs', async () => {
    const clock = new ManualClock();
    const hub = new Hub({ clock });
    const { links: [a, b, c], got } = ports(hub, 3);
    b!.send(seqFrame(BROADCAST_MAC, b!.mac, 1));
    await b!.close();
    expect(hub.size).toBe(2);
    expect(hub.macTable().size).toBe(0);
    a!.send(seqFrame(b!.mac, a!.mac, 2)); // unknown now: flooded to c only
    clock.advance(0);
    expect(got).toEqual([[1], [], [1, 2]]);
    void c;
  });

  it('works without a clock (microtask delivery)', async () => {
    const hub = new Hub();
    const { links: [a], got } = ports(hub, 2);
    a!.send(seqFrame(BROADCAST_MAC, a!.mac, 1));
    expect(got[1]).toEqual([]);
    await Promise.resolve();
    expect(got[1]).toEqual([1]);
  });
});
