// FaultLink: each fault alone, bounds, and bit-for-bit determinism of a
// seeded run under ManualClock.
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/lib/clock.js';
import { SeededRng } from '../../src/lib/rng.js';
import { FaultLink } from '../../src/link/fault.js';
import type { FaultOptions } from '../../src/link/fault.js';
import { createPair } from '../../src/link/pair.js';
import { frameSeq, sameBytes, seqFrame } from './frames.js';

function setup(opts: Omit<FaultOptions, 'rng' | 'clock'>, seed = 1) {
  const clock = new ManualClock();
  const [a0, b] = createPair({ clock });
  const a = new FaultLink(a0, { rng: new SeededRng(seed), clock, ...opts });
  const atB: Uint8Array[] = [];
  const atA: Uint8Array[] = [];
  b.attach((f) => atB.push(f.slice()));
  a.attach((f) => atA.push(f.slice()));
  return { clock, a, b, atA, atB };
}

describe('FaultLink', () => {
  it('passes everything through with no faults configured', () => {
    const { clock, a, b, atA, atB } = setup({});
    for (let i = 0; i < 10; i++) a.send(seqFrame(b.mac, a.mac, i));
    b.send(seqFrame(a.mac, b.mac, 99));
    clock.advance(0);
    expect(atB.map(frameSeq)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(atA.map(frameSeq)).toEqual([99]);
    expect(a.mtu).toBe(1500);
    expect(a.stats.txFrames).toBe(10);
  });

  it('drops about the configured fraction', () => {
    const { clock, a, b, atB } = setup({ tx: { drop: 0.3 } });
    for (let i = 0; i < 1000; i++) a.send(seqFrame(b.mac, a.mac, i));
    clock.advance(0);
    expect(atB.length + a.counters.dropped).toBe(1000);
    expect(a.counters.dropped).toBeGreaterThan(250);
    expect(a.counters.dropped).toBeLessThan(350);
  });

  it('duplicates', () => {
    const { clock, a, b, atB } = setup({ tx: { duplicate: 1 } });
    a.send(seqFrame(b.mac, a.mac, 1));
    clock.advance(0);
    expect(atB.map(frameSeq)).toEqual([1, 1]);
  });

  it('corrupts exactly one bit of a copy, leaving the original alone', () => {
    const { clock, a, b, atB } = setup({ tx: { corrupt: 1 } });
    const f = seqFrame(b.mac, a.mac, 1);
    const orig = f.slice();
    a.send(f);
    clock.advance(0);
    expect(sameBytes(f, orig)).toBe(true);
    let bits = 0;
    for (let i = 0; i < f.length; i++) for (let x = atB[0]![i]! ^ f[i]!; x; x >>= 1) bits += x & 1;
    expect(bits).toBe(1);
  });

  it('reorders a held frame behind the next one', () => {
    const clock = new ManualClock();
    const [a0, b] = createPair({ clock });
    // An Rng that says "reorder" for the first frame only.
    let calls = 0;
    const rng = { u32: () => (calls++ === 0 ? 0 : 0xffffffff) };
    const a = new FaultLink(a0, { rng, clock, tx: { reorder: 0.5 } });
    const got: number[] = [];
    b.attach((f) => got.push(frameSeq(f)));
    a.sendBatch([seqFrame(b.mac, a.mac, 1), seqFrame(b.mac, a.mac, 2), seqFrame(b.mac, a.mac, 3)]);
    clock.advance(0);
    expect(got).toEqual([2, 1, 3]);
    expect(a.counters.reordered).toBe(1);
  });

  it('releases a held frame when nothing follows it', async () => {
    const [a0, b] = createPair();
    const a = new FaultLink(a0, { rng: new SeededRng(1), tx: { reorder: 1 } });
    const got: number[] = [];
    b.attach((f) => got.push(frameSeq(f)));
    a.send(seqFrame(b.mac, a.mac, 1));
    await new Promise((r) => setTimeout(r, 0));
    expect(got).toEqual([1]);
    expect(a.held).toBe(0);
  });

  it('delays within [min, max] and copies held rx frames', () => {
    const { clock, a, b, atA } = setup({ rx: { delay: { min: 5, max: 10 } } });
    const sent = seqFrame(a.mac, b.mac, 1);
    b.send(sent);
    clock.advance(4);
    expect(atA).toEqual([]);
    clock.advance(6);
    expect(atA.map(frameSeq)).toEqual([1]);
    expect(a.counters.delayed).toBe(1);
  });

  it('bounds held frames', () => {
    const { clock, a, b, atB } = setup({ tx: { delay: 1 }, limit: 4 });
    for (let i = 0; i < 6; i++) a.send(seqFrame(b.mac, a.mac, i));
    expect(a.held).toBe(4);
    expect(a.counters.overflow).toBe(2);
    clock.advance(1);
    expect(atB.map(frameSeq)).toEqual([0, 1, 2, 3]);
    expect(a.held).toBe(0);
  });

  it('is deterministic for a seed (ManualClock), and differs across seeds', () => {
    const run = (seed: number): string => {
      const spec = { drop: 0.1, duplicate: 0.1, corrupt: 0.1, reorder: 0.2, delay: { min: 0, max: 3 } };
      const { clock, a, b, atA, atB } = setup({ tx: spec, rx: spec }, seed);
      for (let i = 0; i < 200; i++) {
        a.send(seqFrame(b.mac, a.mac, i));
        b.send(seqFrame(a.mac, b.mac, 1000 + i));
        if (i % 7 === 0) clock.advance(1);
      }
      clock.advance(10);
      const hex = (fs: Uint8Array[]): string => fs.map((f) => Buffer.from(f).toString('hex')).join(',');
      return `${hex(atB)}|${hex(atA)}|${JSON.stringify(a.counters)}`;
    };
    expect(run(42)).toBe(run(42));
    expect(run(42)).not.toBe(run(43));
  });

  it('validates options and closes the inner link', async () => {
    const [a0] = createPair();
    expect(() => new FaultLink(a0, { rng: new SeededRng(1), tx: { drop: 2 } })).toThrow(RangeError);
    expect(() => new FaultLink(a0, { rng: new SeededRng(1), rx: { delay: 1 } })).toThrow(/needs a clock/);
    const clock = new ManualClock();
    const [x, y] = createPair({ clock });
    const f = new FaultLink(x, { rng: new SeededRng(1), clock, tx: { delay: 5 } });
    let n = 0;
    y.attach(() => n++);
    f.send(seqFrame(y.mac, x.mac, 1));
    await f.close();
    await f.close();
    clock.advance(10);
    expect(n).toBe(0);
    f.send(seqFrame(y.mac, x.mac, 2));
    expect(x.stats.txDropped).toBe(1);
  });
});
