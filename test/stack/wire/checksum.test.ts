import { describe, expect, it } from 'vitest';
import { SeededRng } from '../../../src/lib/rng.js';
import {
  checksum,
  combineSums,
  foldSum,
  onesSum,
  pseudoHeaderSum,
} from '../../../src/stack/wire/checksum.js';
import { refChecksum, refPseudo, refSum, shifted } from './util.js';

function randomBytes(rng: SeededRng, n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = rng.u32() & 0xff;
  return b;
}

describe('Internet checksum (RFC 1071)', () => {
  it('matches the RFC 1071 §3 worked example', () => {
    // 00 01 f2 03 f4 f5 f6 f7 sums to 0xddf2 (RFC 1071 §3, "Numerical Examples").
    const b = new Uint8Array([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]);
    expect(onesSum(b)).toBe(0xddf2);
    expect(checksum(b)).toBe(0x220d);
    expect(refSum(b)).toBe(0xddf2);
  });

  it('handles empty, zero and one-byte inputs', () => {
    expect(onesSum(new Uint8Array(0))).toBe(0);
    expect(checksum(new Uint8Array(0))).toBe(0xffff);
    expect(onesSum(new Uint8Array(100))).toBe(0);
    expect(onesSum(new Uint8Array([0xab]))).toBe(0xab00);
    expect(onesSum(new Uint8Array(0), 0x1234)).toBe(0x1234);
  });

  it('sums all-0xff data correctly at every length and alignment', () => {
    for (let len = 1; len <= 300; len++) {
      for (let shift = 0; shift < 4; shift++) {
        const b = shifted(new Uint8Array(len).fill(0xff), shift);
        // Even lengths: n × 0xffff ≡ 0xffff; odd: plus a trailing 0xff00 → 0xff00.
        expect(onesSum(b)).toBe(len % 2 === 0 ? 0xffff : 0xff00);
        expect(onesSum(b)).toBe(refSum(b));
      }
    }
  });

  it('agrees with the naive reference at every length 0..400 and byteOffset 0..7', () => {
    const rng = new SeededRng(1071);
    for (let len = 0; len <= 400; len++) {
      const data = randomBytes(rng, len);
      const want = refSum(data);
      for (let shift = 0; shift < 8; shift++) {
        expect(onesSum(shifted(data, shift)), `len ${len} shift ${shift}`).toBe(want);
      }
    }
  });

  it('agrees with the naive reference on 3000 seeded random buffers (random length, offset, range, initial)', () => {
    const rng = new SeededRng(0x9e7);
    for (let n = 0; n < 3000; n++) {
      const len = rng.u32() % 4000;
      const data = randomBytes(rng, len);
      const b = shifted(data, rng.u32() % 8);
      const start = len > 0 ? rng.u32() % (len + 1) : 0;
      const end = start + (rng.u32() % (len - start + 1));
      const initial = rng.u32() & 0xffff;
      expect(onesSum(b, initial, start, end)).toBe(refSum(data.subarray(start, end), initial));
      expect(checksum(b, initial, start, end)).toBe(refChecksum(data.subarray(start, end), initial));
    }
  });

  it('handles a buffer large enough to need several accumulator chunks', () => {
    const rng = new SeededRng(7);
    const big = randomBytes(rng, (1 << 22) * 2 + 13); // > 2 chunks of 2^20 words
    expect(onesSum(shifted(big, 3))).toBe(refSum(big));
    const ff = new Uint8Array(9_000_001).fill(0xff);
    expect(onesSum(ff)).toBe(refSum(ff));
  });

  it('clamps start/end into the buffer', () => {
    const b = new Uint8Array([1, 2, 3, 4]);
    expect(onesSum(b, 0, -5, 99)).toBe(refSum(b));
    expect(onesSum(b, 0, 3, 2)).toBe(0);
  });

  it('verifies to zero once the checksum is stored', () => {
    const rng = new SeededRng(42);
    for (let n = 0; n < 200; n++) {
      const b = randomBytes(rng, 2 + 2 * (rng.u32() % 800));
      b[0] = 0;
      b[1] = 0;
      const c = checksum(b);
      b[0] = c >>> 8;
      b[1] = c & 0xff;
      expect(checksum(b)).toBe(0);
      expect(onesSum(b)).toBe(0xffff);
    }
  });

  it('computes the IPv4 pseudo-header sum like the reference', () => {
    const rng = new SeededRng(768);
    for (let n = 0; n < 500; n++) {
      const src = rng.u32();
      const dst = rng.u32();
      const proto = rng.u32() & 0xff;
      const len = rng.u32() & 0xffff;
      expect(pseudoHeaderSum(src, dst, proto, len)).toBe(refSum(refPseudo(src, dst, proto, len)));
    }
  });

  it('combines partial sums, including ranges that start at odd offsets', () => {
    const rng = new SeededRng(2);
    for (let n = 0; n < 500; n++) {
      const data = randomBytes(rng, 1 + (rng.u32() % 600));
      const cut = rng.u32() % (data.length + 1);
      const a = onesSum(data.subarray(0, cut));
      const b = onesSum(data.subarray(cut));
      expect(combineSums(a, b, cut)).toBe(refSum(data));
    }
    expect(combineSums(0xffff, 0xffff)).toBe(0xffff);
    expect(combineSums(0, 0)).toBe(0);
  });

  it('folds large accumulators exactly', () => {
    expect(foldSum(0)).toBe(0);
    expect(foldSum(0xffff)).toBe(0xffff);
    expect(foldSum(0x1_0000)).toBe(1);
    expect(foldSum(0xffff_ffff)).toBe(0xffff);
    expect(foldSum(2 ** 52 - 1)).toBe(refSum([], 2 ** 52 - 1));
    expect(foldSum(123_456_789_012_345)).toBe(refSum([], 123_456_789_012_345));
  });
});
