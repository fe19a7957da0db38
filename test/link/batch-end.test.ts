// The Link contract's end of a batch: in-memory wires end a batch after
// each drain, FaultLink after its inner link's batch and after each frame
// it releases late, EtherPort's stack link passes its link's batches on
// and makes each local delivery a batch.
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/lib/clock.js';
import { SeededRng } from '../../src/lib/rng.js';
import { EtherPort } from '../../src/link/etherport.js';
import { FaultLink } from '../../src/link/fault.js';
import { Hub } from '../../src/link/hub.js';
import type { Link } from '../../src/link/link.js';
import { createPair } from '../../src/link/pair.js';

const frame = (dst: Uint8Array, src: Uint8Array, n: number): Uint8Array => {
  const f = new Uint8Array(60);
  f.set(dst, 0);
  f.set(src, 6);
  f[12] = 0x88;
  f[13] = 0xb5;
  f[14] = n;
  return f;
};

/** Records what a receiver sees: frame numbers, and '|' for each end of a batch. */
function recorder(l: Link): string[] {
  const seen: string[] = [];
  l.attach((f) => seen.push(String(f[14])), () => seen.push('|'));
  return seen;
}

describe('end of a received batch', () => {
  it('a pair ends the batch after the frames one drain delivers', () => {
    const clock = new ManualClock(0);
    const [a, b] = createPair({ clock, delay: 1 });
    const seen = recorder(b);
    for (let i = 1; i <= 3; i++) a.send(frame(b.mac, a.mac, i));
    clock.advance(1);
    a.send(frame(b.mac, a.mac, 4));
    clock.advance(1);
    expect(seen).toEqual(['1', '2', '3', '|', '4', '|']);
  });

  it('a hub port does the same', () => {
    const clock = new ManualClock(0);
    const hub = new Hub({ clock });
    const a = hub.port();
    const b = hub.port();
    const seen = recorder(b);
    a.send(frame(b.mac, a.mac, 1));
    a.send(frame(b.mac, a.mac, 2));
    clock.advance(0);
    expect(seen).toEqual(['1', '2', '|']);
  });

  it('a FaultLink passes its inner batches on and ends one after each late frame', () => {
    const clock = new ManualClock(0);
    const [a, b] = createPair({ clock });
    const fb = new FaultLink(b, { rng: new SeededRng(1), clock, rx: { delay: 5 } });
    const seen = recorder(fb);
    a.send(frame(b.mac, a.mac, 1));
    a.send(frame(b.mac, a.mac, 2));
    clock.advance(0);
    expect(seen).toEqual([]); // held for the delay
    clock.advance(5);
    expect(seen).toEqual(['1', '|', '2', '|']);
    const [c, d] = createPair({ clock });
    const fd = new FaultLink(d, { rng: new SeededRng(1), clock });
    const seen2 = recorder(fd);
    c.send(frame(d.mac, c.mac, 7));
    c.send(frame(d.mac, c.mac, 8));
    clock.advance(0);
    expect(seen2).toEqual(['7', '8', '|']);
  });

  it("an EtherPort's stack link ends batches with its link, and each local delivery is one", () => {
    const clock = new ManualClock(0);
    const [a, b] = createPair({ clock });
    const port = new EtherPort('ether0', b);
    const seen = recorder(port.stackLink());
    a.send(frame(b.mac, a.mac, 1));
    a.send(frame(b.mac, a.mac, 2));
    clock.advance(0);
    port.deliverLocal(frame(b.mac, a.mac, 3));
    expect(seen).toEqual(['1', '2', '|', '3', '|']);
  });
});
