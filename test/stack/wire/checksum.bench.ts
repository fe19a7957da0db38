/**
 * Hand-run micro-benchmarks for the wire layer (not part of `vitest run`):
 *
 *     npx vitest bench --run test/stack/wire/checksum.bench.ts
 *
 * Each iteration handles BATCH buffers, so divide the reported times by BATCH
 * (the group names say "×64") to get ns per buffer. On a busy machine read
 * the `min` column: the mean includes time stolen by other processes.
 */
import { bench, describe } from 'vitest';
import { onesSum } from '../../../src/stack/wire/checksum.js';
import { WireError } from '../../../src/stack/wire/result.js';
import { decodeFrame } from './decode.js';
import { TCP_DATA_SACK, UDP_DNS_QUERY } from './goldens.js';
import { refSum } from './util.js';

const BATCH = 64;

function buffers(len: number, misalign: number): Uint8Array[] {
  const backing = new Uint8Array(BATCH * (len + 16));
  for (let i = 0; i < backing.length; i++) backing[i] = (Math.imul(i, 2654435761) >>> 13) & 0xff;
  const out: Uint8Array[] = [];
  for (let j = 0; j < BATCH; j++) {
    const start = j * (len + 16) + misalign;
    out.push(backing.subarray(start, start + len));
  }
  return out;
}

const mtuAligned = buffers(1500, 0);
const mtuOdd = buffers(1500, 1);
const mtuOdd3 = buffers(1500, 3);
const header = buffers(20, 2);
const jumbo = buffers(9000, 0);
let sink = 0;

describe('checksum ×64', () => {
  bench('onesSum 1500 B, aligned', () => {
    for (const b of mtuAligned) sink ^= onesSum(b);
  });
  bench('onesSum 1500 B, byteOffset ≡ 1 (mod 4)', () => {
    for (const b of mtuOdd) sink ^= onesSum(b);
  });
  bench('onesSum 1500 B, byteOffset ≡ 3 (mod 4)', () => {
    for (const b of mtuOdd3) sink ^= onesSum(b);
  });
  bench('onesSum 20 B (IPv4 header)', () => {
    for (const b of header) sink ^= onesSum(b);
  });
  bench('onesSum 9000 B', () => {
    for (const b of jumbo) sink ^= onesSum(b);
  });
  bench('naive byte-loop reference 1500 B', () => {
    for (const b of mtuAligned) sink ^= refSum(b);
  });
});

const frames = [TCP_DATA_SACK, UDP_DNS_QUERY];
describe('decode ×64', () => {
  bench('Ethernet+IPv4+TCP (SACK, TS) and Ethernet+IPv4+UDP, checksums verified', () => {
    for (let i = 0; i < BATCH; i++) {
      const d = decodeFrame(frames[i & 1]!);
      sink ^= d instanceof WireError ? 1 : 0;
    }
  });
});

export { sink };
