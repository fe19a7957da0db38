/**
 * Randomness for protocol code (ISNs, ephemeral ports, simulated loss).
 * Injected, never Math.random, so tests are reproducible from a seed.
 */
import { randomBytes } from 'node:crypto';

export interface Rng {
  /** A uniformly distributed unsigned 32-bit integer. */
  u32(): number;
}

/** xoshiro128** seeded through splitmix32: fast, reproducible, not cryptographic. */
export class SeededRng implements Rng {
  private s: Uint32Array;
  constructor(seed: number) {
    this.s = new Uint32Array(4);
    let x = seed >>> 0;
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      this.s[i] = (z ^ (z >>> 16)) >>> 0;
    }
  }
  u32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1]!, 5), 7), 9) >>> 0;
    const t = s[1]! << 9;
    s[2]! ^= s[0]!;
    s[3]! ^= s[1]!;
    s[1]! ^= s[2]!;
    s[0]! ^= s[3]!;
    s[2]! ^= t;
    s[3] = rotl(s[3]!, 11);
    return result;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** Randomness from the operating system, for production use. */
export class CryptoRng implements Rng {
  private buf = new Uint32Array(256);
  private i = 256;
  u32(): number {
    if (this.i >= this.buf.length) {
      randomBytes(this.buf.byteLength).copy(Buffer.from(this.buf.buffer));
      this.i = 0;
    }
    return this.buf[this.i++]!;
  }
}

/** A uniformly distributed integer in [lo, hi]. */
export function rngRange(rng: Rng, lo: number, hi: number): number {
  return lo + (rng.u32() % (hi - lo + 1));
}
