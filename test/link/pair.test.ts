// In-memory point-to-point pair: delivery timing (microtask / ManualClock),
// validation, bounds, counters and close.
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/lib/clock.js';
import { SeededRng } from '../../src/lib/rng.js';
import { createPair } from '../../src/link/pair.js';
import { DEFAULT_WIRE_LIMIT } from '../../src/link/wire.js';
import { frameSeq, seqFrame } from './frames.js';

describe('createPair', () => {
  it('delivers on a microtask without a clock, never synchronously', async () => {
    const [a, b] = createPair();
    const got: number[] = [];
    b.attach((f) => got.push(frameSeq(f)));
    a.send(seqFrame(b.mac, a.mac, 1));
    a.sendBatch([seqFrame(b.mac, a.mac, 2), seqFrame(b.mac, a.mac, 3)]);
    expect(got).toEqual([]);
    await Promise.resolve();
    expect(got).toEqual([1, 2, 3]);
    expect(a.stats.txFrames).toBe(3);
    expect(a.stats.txBytes).toBe(180);
    expect(b.stats.rxFrames).toBe(3);
  });

  it('is full duplex and a receiver may answer from its callback', async () => {
    const [a, b] = createPair();
    const atA: number[] = [];
    a.attach((f) => atA.push(frameSeq(f)));
    b.attach((f) => b.send(seqFrame(a.mac, b.mac, frameSeq(f) + 100)));
    a.send(seqFrame(b.mac, a.mac, 7));
    await new Promise((r) => setTimeout(r, 0));
    expect(atA).toEqual([107]);
  });

  it('delivers after the delay on a ManualClock, and only then', () => {
    const clock = new ManualClock();
    const [a, b] = createPair({ clock, delay: 5 });
    const got: [number, number][] = [];
    b.attach((f) => got.push([clock.now(), frameSeq(f)]));
    a.send(seqFrame(b.mac, a.mac, 1));
    clock.advance(2);
    a.send(seqFrame(b.mac, a.mac, 2));
    clock.advance(2);
    expect(got).toEqual([]);
    clock.advance(1);
    expect(got).toEqual([[5, 1]]);
    clock.advance(10);
    expect(got).toEqual([[5, 1], [7, 2]]);
  });

  it('with delay 0 and a clock, delivers at the next clock run', () => {
    const clock = new ManualClock();
    const [a, b] = createPair({ clock });
    let n = 0;
    b.attach(() => n++);
    a.send(seqFrame(b.mac, a.mac, 1));
    expect(n).toBe(0);
    clock.advance(0);
    expect(n).toBe(1);
  });

  it('counts malformed frames and does not deliver them', () => {
    const clock = new ManualClock();
    const [a, b] = createPair({ clock, mtu: 100 });
    let n = 0;
    b.attach(() => n++);
    a.send(new Uint8Array(13));
    a.send(new Uint8Array(115));
    a.send(new Uint8Array(114));
    clock.advance(0);
    expect(a.stats.txErrors).toBe(2);
    expect(n).toBe(1);
  });

  it('bounds frames in flight per direction', () => {
    const clock = new ManualClock();
    const [a, b] = createPair({ clock, delay: 1 });
    let n = 0;
    b.attach(() => n++);
    for (let i = 0; i < DEFAULT_WIRE_LIMIT + 10; i++) a.send(seqFrame(b.mac, a.mac, i));
    expect(a.stats.txDropped).toBe(10);
    clock.advance(1);
    expect(n).toBe(DEFAULT_WIRE_LIMIT);

    const [c, d] = createPair({ clock, delay: 1, limit: 2 });
    for (let i = 0; i < 5; i++) c.send(seqFrame(d.mac, c.mac, i));
    expect(c.stats.txDropped).toBe(3);
  });

  it('counts frames without a receiver as rxDropped', async () => {
    const [a, b] = createPair();
    a.send(seqFrame(b.mac, a.mac, 1));
    await Promise.resolve();
    expect(b.stats.rxDropped).toBe(1);
  });

  it('allows one receiver at a time; dispose detaches', async () => {
    const [a, b] = createPair();
    let n = 0;
    const sub = b.attach(() => n++);
    expect(() => b.attach(() => {})).toThrow(/already has a receiver/);
    sub.dispose();
    a.send(seqFrame(b.mac, a.mac, 1));
    await Promise.resolve();
    expect(n).toBe(0);
    b.attach(() => n++);
    a.send(seqFrame(b.mac, a.mac, 2));
    await Promise.resolve();
    expect(n).toBe(1);
  });

  it('close is idempotent, drops frames in flight and later sends', async () => {
    const clock = new ManualClock();
    const [a, b] = createPair({ clock, delay: 1 });
    let n = 0;
    b.attach(() => n++);
    a.send(seqFrame(b.mac, a.mac, 1));
    await b.close();
    await b.close();
    clock.advance(5);
    expect(n).toBe(0);
    a.send(seqFrame(b.mac, a.mac, 2));
    b.send(seqFrame(a.mac, b.mac, 3));
    expect(a.stats.txDropped).toBe(1);
    expect(b.stats.txDropped).toBe(1);
    expect(() => b.attach(() => {})).toThrow(/closed/);
  });

  it('takes MACs from options or an Rng, deterministically', () => {
    const [a, b] = createPair({ rng: new SeededRng(7) });
    const [c, d] = createPair({ rng: new SeededRng(7) });
    expect(a.mac).toEqual(c.mac);
    expect(b.mac).toEqual(d.mac);
    expect(a.mac[0]! & 3).toBe(2); // locally administered unicast
    const [e] = createPair();
    expect(Array.from(e.mac)).toEqual([2, 0x39, 0x6e, 0, 0, 1]);
    expect(() => createPair({ macs: [new Uint8Array(5), new Uint8Array(6)] })).toThrow(RangeError);
    expect(() => createPair({ delay: 1 })).toThrow(/needs a clock/);
    expect(() => createPair({ limit: 0 })).toThrow(RangeError);
  });
});
