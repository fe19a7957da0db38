/**
 * The seeded mutator of the wire fuzz tests: bit flips, random and edge
 * bytes, truncation, extension, 16-bit field rewrites, random spans and
 * chunks spliced from other goldens.
 */
import type { SeededRng } from '../../../src/lib/rng.js';

/** Interesting byte values for length/offset fields. */
const EDGES = [0, 1, 2, 3, 4, 5, 7, 8, 9, 0x0f, 0x10, 0x14, 0x1f, 0x28, 0x3c, 0x40, 0x45, 0x4f, 0x50, 0x7f, 0x80, 0xf0, 0xfe, 0xff];

/** A mutated copy of `src` (1–4 rounds), placed at a random alignment; `seeds` donate spliced chunks. */
export function mutate(rng: SeededRng, src: Uint8Array, seeds: readonly Uint8Array[]): Uint8Array {
  let b: Uint8Array = src.slice();
  const rounds = 1 + (rng.u32() % 4);
  for (let r = 0; r < rounds; r++) {
    const op = rng.u32() % 8;
    const at = b.length > 0 ? rng.u32() % b.length : 0;
    switch (op) {
      case 0: // bit flip
        if (b.length) b[at]! ^= 1 << (rng.u32() % 8);
        break;
      case 1: // random byte
        if (b.length) b[at] = rng.u32() & 0xff;
        break;
      case 2: // edge value, biased towards header bytes
        if (b.length) b[rng.u32() % Math.min(b.length, 80)] = EDGES[rng.u32() % EDGES.length]!;
        break;
      case 3: // truncate
        b = b.subarray(0, rng.u32() % (b.length + 1));
        break;
      case 4: {
        // extend with random bytes
        const ext = new Uint8Array(b.length + 1 + (rng.u32() % 40));
        ext.set(b);
        for (let i = b.length; i < ext.length; i++) ext[i] = rng.u32() & 0xff;
        b = ext;
        break;
      }
      case 5: {
        // random 16-bit value at an even header offset (length fields, ports, checksums)
        const o = 2 * (rng.u32() % Math.min(40, b.length >>> 1 || 1));
        if (o + 1 < b.length) {
          b[o] = rng.u32() & 0xff;
          b[o + 1] = rng.u32() & 0xff;
        }
        break;
      }
      case 6: {
        // overwrite a random span with random bytes (TCP/IP options area often)
        const len = 1 + (rng.u32() % 12);
        for (let i = at; i < Math.min(b.length, at + len); i++) b[i] = rng.u32() & 0xff;
        break;
      }
      default: {
        // splice in a chunk of another golden
        const other = seeds[rng.u32() % seeds.length]!;
        const from = rng.u32() % other.length;
        const chunk = other.subarray(from, from + 1 + (rng.u32() % 24));
        const end = Math.min(b.length, at + chunk.length);
        b.set(chunk.subarray(0, end - at), at);
        break;
      }
    }
  }
  // Place at a random alignment inside a bigger buffer.
  const shift = rng.u32() % 4;
  const backing = new Uint8Array(b.length + shift + 3);
  backing.set(b, shift);
  return backing.subarray(shift, shift + b.length);
}

