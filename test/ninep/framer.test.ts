/**
 * Tests of the 9P stream framer (src/ninep/framer.ts): frames split at every
 * byte offset, in 1-byte and random chunks; size checks before allocation;
 * a 1 MiB frame in 1000 chunks; maxSize changed from inside onFrame.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { FrameReader } from '../../src/ninep/framer.js';
import { encode } from '../../src/ninep/codec.js';
import { SeededRng } from '../../src/lib/rng.js';
import { MsgType, NOTAG } from '../../src/ninep/types.js';

function frame(size: number, type = MsgType.Rread, tag = 1): Buffer {
  const b = Buffer.alloc(size);
  b.writeUInt32LE(size, 0);
  b[4] = type;
  b.writeUInt16LE(tag, 5);
  for (let i = 7; i < size; i++) b[i] = (i * 31 + size) & 0xff;
  return b;
}

/** Several frames of assorted sizes, including the minimum (7) and a large one. */
const frames: Buffer[] = [
  encode({ type: MsgType.Tversion, tag: NOTAG, msize: 8192, version: '9P2000' }, '9P2000'),
  frame(7, MsgType.Rclunk, 2),
  frame(8, MsgType.Rread, 3),
  encode({ type: MsgType.Twalk, tag: 4, fid: 0, newfid: 1, wnames: ['a', 'bc', 'déf'] }, '9P2000'),
  frame(7, MsgType.Rflush, 5),
  frame(3000, MsgType.Twrite, 6),
  frame(11, MsgType.Tclunk, 7),
];
const stream = Buffer.concat(frames);

function collect(fr: FrameReader, chunks: Buffer[]): Buffer[] {
  const out: Buffer[] = [];
  for (const c of chunks) {
    const err = fr.push(c, (f) => out.push(f));
    expect(err).toBeNull();
  }
  expect(fr.pending).toBe(0);
  return out;
}

function expectFrames(got: Buffer[]): void {
  expect(got.length).toBe(frames.length);
  got.forEach((f, i) => expect(f.equals(frames[i]!), `frame ${i}`).toBe(true));
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('FrameReader', () => {
  it('delivers whole frames from one chunk as views of it', () => {
    const got = collect(new FrameReader(8192), [stream]);
    expectFrames(got);
    for (const f of got) expect(f.buffer).toBe(stream.buffer);
  });

  it('yields identical frames when the stream is split at every byte offset', () => {
    for (let k = 0; k <= stream.length; k++) {
      // Copy each piece so no frame can be right by accident of sharing memory.
      const got = collect(new FrameReader(8192), [Buffer.from(stream.subarray(0, k)), Buffer.from(stream.subarray(k))]);
      expectFrames(got);
    }
  });

  it('yields identical frames from 1-byte chunks, reporting pending bytes', () => {
    const fr = new FrameReader(8192);
    const out: Buffer[] = [];
    let inFrame = 0;
    let next = 0;
    for (let i = 0; i < stream.length; i++) {
      expect(fr.push(Buffer.from([stream[i]!]), (f) => out.push(f))).toBeNull();
      inFrame++;
      if (inFrame === frames[next]!.length) {
        inFrame = 0;
        next++;
      }
      expect(fr.pending).toBe(inFrame);
    }
    expectFrames(out);
  });

  it('yields identical frames for random chunkings (seeded), including empty chunks', () => {
    const rng = new SeededRng(42);
    for (let trial = 0; trial < 300; trial++) {
      const chunks: Buffer[] = [];
      let at = 0;
      while (at < stream.length) {
        const n = rng.u32() % (rng.u32() % 2 ? 12 : 4000);
        chunks.push(Buffer.from(stream.subarray(at, at + n)));
        at += n;
      }
      expectFrames(collect(new FrameReader(8192), chunks));
    }
  });

  it('accepts a frame of exactly maxSize', () => {
    const fr = new FrameReader(3000);
    expectFrames(collect(fr, [stream]));
  });

  it('reports size < 7 as an error without allocating, then stays broken', () => {
    for (const size of [0, 1, 6]) {
      const bad = Buffer.alloc(10);
      bad.writeUInt32LE(size, 0);
      const fr = new FrameReader(8192);
      const out: Buffer[] = [];
      const spies = [vi.spyOn(Buffer, 'allocUnsafe'), vi.spyOn(Buffer, 'alloc'), vi.spyOn(Buffer, 'allocUnsafeSlow')];
      // Header split over single bytes: the error comes with the 4th byte.
      for (let i = 0; i < 3; i++) expect(fr.push(bad.subarray(i, i + 1), (f) => out.push(f))).toBeNull();
      const err = fr.push(bad.subarray(3), (f) => out.push(f));
      expect(err).toMatch(new RegExp(`size ${size} < 7`));
      expect(out).toHaveLength(0);
      expect(fr.pending).toBe(0);
      for (const s of spies) expect(s).not.toHaveBeenCalled();
      vi.restoreAllMocks();
      expect(fr.push(frames[0]!, (f) => out.push(f))).toBe(err);
      expect(out).toHaveLength(0);
    }
  });

  it('reports size > maxSize as soon as the size field is complete, without allocating', () => {
    const fr = new FrameReader(8192);
    const out: Buffer[] = [];
    // Two good frames, then a header announcing 4 GiB, split mid-header.
    const huge = Buffer.from([0xff, 0xff, 0xff, 0xff, 0x75, 0, 0]);
    const good = Buffer.concat([frames[1]!, frames[2]!, huge.subarray(0, 2)]);
    const tooBig = frame(101);
    const spy = vi.spyOn(Buffer, 'allocUnsafe');
    expect(fr.push(good, (f) => out.push(f))).toBeNull();
    expect(out).toHaveLength(2);
    const err = fr.push(huge.subarray(2), (f) => out.push(f));
    expect(err).toMatch(/4294967295 > maximum 8192/);
    expect(spy).not.toHaveBeenCalled();
    expect(out).toHaveLength(2);
    // maxSize + 1 in one chunk.
    const fr2 = new FrameReader(100);
    expect(fr2.push(tooBig, () => undefined)).toMatch(/101 > maximum 100/);
    expect(spy).not.toHaveBeenCalled();
  });

  it('assembles a 1 MiB frame pushed in 1000 chunks with a single allocation', () => {
    const size = 1 << 20;
    const big = frame(size, MsgType.Twrite, 9);
    const withNext = Buffer.concat([big, frames[1]!]);
    const fr = new FrameReader(size);
    const spy = vi.spyOn(Buffer, 'allocUnsafe');
    const out: Buffer[] = [];
    const step = Math.ceil(withNext.length / 1000);
    let pushes = 0;
    for (let at = 0; at < withNext.length; at += step) {
      expect(fr.push(withNext.subarray(at, at + step), (f) => out.push(f))).toBeNull();
      pushes++;
      if (out.length === 0) expect(fr.pending).toBe(Math.min(at + step, size));
    }
    expect(pushes).toBe(1000);
    expect(out).toHaveLength(2);
    expect(out[0]!.equals(big)).toBe(true);
    expect(out[1]!.equals(frames[1]!)).toBe(true);
    expect(spy).toHaveBeenCalledTimes(1);
    expect(spy).toHaveBeenCalledWith(size);
  });

  it('applies a maxSize changed inside onFrame to the next frame (same chunk)', () => {
    // Before negotiation a small bound; Tversion raises it.
    const fr = new FrameReader(64);
    const out: Buffer[] = [];
    const err = fr.push(Buffer.concat([frames[0]!, frame(3000)]), (f) => {
      out.push(f);
      if (f[4] === MsgType.Tversion) fr.maxSize = 8192;
    });
    expect(err).toBeNull();
    expect(out.map((f) => f.length)).toEqual([frames[0]!.length, 3000]);

    // Lowering it rejects the next frame, also when that frame arrives in later chunks.
    for (const split of [false, true]) {
      const fr2 = new FrameReader(8192);
      const seen: number[] = [];
      const data = Buffer.concat([frame(20), frame(200)]);
      const chunks = split ? [data.subarray(0, 10), data.subarray(10, 22), data.subarray(22)] : [data];
      let e: string | null = null;
      for (const c of chunks) {
        e = fr2.push(c, (f) => { seen.push(f.length); fr2.maxSize = 100; });
        if (e) break;
      }
      expect(e).toMatch(/200 > maximum 100/);
      expect(seen).toEqual([20]);
    }
  });

  it('frames spanning chunks are fresh buffers the caller may keep', () => {
    const a = Buffer.from(stream.subarray(0, 10));
    const b = Buffer.from(stream.subarray(10));
    const got = collect(new FrameReader(8192), [a, b]);
    a.fill(0);
    b.fill(0);
    expect(got[0]!.equals(frames[0]!)).toBe(true);
  });

  it('marks the reader broken if onFrame throws', () => {
    const fr = new FrameReader(8192);
    expect(() => fr.push(stream, () => { throw new Error('boom'); })).toThrow('boom');
    expect(fr.push(stream, () => undefined)).toMatch(/threw/);
  });

  it('holds a frame trickled in small chunks in its own compact buffers, not in the chunks it came in', () => {
    const fr = new FrameReader(1 << 21);
    const size = 200_000;
    const frame = Buffer.alloc(size, 7);
    frame.writeUInt32LE(size, 0);
    frame[4] = 118;
    const out: Buffer[] = [];
    // Every piece a 100-byte view of its own 64 KiB buffer, as socket reads are.
    for (let off = 0; off < size - 100; off += 100) {
      const chunk = Buffer.allocUnsafeSlow(64 * 1024);
      frame.copy(chunk, 0, off, off + 100);
      expect(fr.push(chunk.subarray(0, 100), (f) => out.push(f))).toBeNull();
    }
    expect(fr.pending).toBe(size - 100);
    expect(fr.retained).toBeLessThan(2 * size);
    const last = Buffer.from(frame.subarray(size - 100));
    expect(fr.push(last, (f) => out.push(f))).toBeNull();
    expect(out).toHaveLength(1);
    expect(out[0]!.equals(frame)).toBe(true);
    expect(fr.retained).toBe(0);
  });
});
