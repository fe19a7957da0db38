/**
 * Seeded mutation fuzzing of the IPv6 codecs: 100 000 mutated IPv6 goldens
 * through the fixed-header parser, the extension-header walk, ICMPv6 (ND,
 * MLD, errors), ND options and the quote parser, at every layer offset.
 * Nothing may throw; payload views stay inside the input; whatever parses
 * (checksums ignored) re-emits to bytes that parse (checksums verified) to
 * the same reprs.
 */
import { describe, expect, it } from 'vitest';
import { SeededRng } from '../../../src/lib/rng.js';
import { parseIcmpv6, parseIcmpv6Quote } from '../../../src/stack/wire/icmpv6.js';
import { parseIpv6, walkIpv6 } from '../../../src/stack/wire/ipv6.js';
import { parseNdOptions } from '../../../src/stack/wire/ndopt.js';
import { WireError } from '../../../src/stack/wire/result.js';
import { decodeFrame6, encodeFrame6 } from './decode6.js';
import type { Decoded6 } from './decode6.js';
import * as G from './goldens6.js';
import { mutate } from './mutate.js';

const SEEDS: Uint8Array[] = Object.values(G).filter((v): v is Uint8Array => v instanceof Uint8Array);
const FUZZ_FRAMES = 100_000;
const SRC = G.ECHO6_REQUEST.slice(22, 38);
const DST = G.ECHO6_REQUEST.slice(38, 54);

function inside(v: Uint8Array, frame: Uint8Array): boolean {
  return v.length === 0 || (v.buffer === frame.buffer && v.byteOffset >= frame.byteOffset && v.byteOffset + v.length <= frame.byteOffset + frame.length);
}

function comparable(d: Decoded6): string {
  return JSON.stringify(
    { eth: { ...d.eth, payload: null }, ip: { ...d.ip, payload: d.icmp ? null : d.ip.payload }, walk: d.walk, ext: d.ext, icmp: d.icmp },
    (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v.buffer, v.byteOffset, v.length).toString('hex') : v),
  );
}

describe('IPv6 fuzz (seeded mutations)', () => {
  it(`${FUZZ_FRAMES} mutated IPv6 frames never throw and round-trip`, () => {
    const rng = new SeededRng(0x6f22);
    const errors = new Map<string, number>();
    const kinds = new Set<string>();
    let verified = 0;
    let roundTripped = 0;
    let problems = 0;
    for (let n = 0; n < FUZZ_FRAMES; n++) {
      const frame = mutate(rng, SEEDS[n % SEEDS.length]!, SEEDS);
      let d: Decoded6 | WireError;
      let loose: Decoded6 | WireError;
      try {
        for (const off of [0, 14, 54, 62, 78]) {
          const v = frame.subarray(Math.min(off, frame.length));
          parseIpv6(v);
          walkIpv6(v);
          parseIcmpv6(v, SRC, DST);
          parseIcmpv6(v, SRC, DST, false);
          parseIcmpv6Quote(v);
          parseNdOptions(v, 0);
          parseNdOptions(v, v.length >>> 1);
        }
        d = decodeFrame6(frame);
        loose = decodeFrame6(frame, false);
      } catch (e) {
        throw new Error(`frame ${n} threw ${String(e)}: ${Buffer.from(frame).toString('hex')}`);
      }
      if (d instanceof WireError) errors.set(d.reason, (errors.get(d.reason) ?? 0) + 1);
      else verified++;
      if (loose instanceof WireError) {
        errors.set(`loose ${loose.reason}`, (errors.get(`loose ${loose.reason}`) ?? 0) + 1);
        continue;
      }
      if (!inside(loose.ip.payload, frame) || !inside(loose.ext, frame)) throw new Error(`frame ${n}: a view outside the frame`);
      if (loose.walk.kind === 'problem') {
        problems++;
        continue;
      }
      if (loose.icmp) kinds.add(loose.icmp.kind);
      const again = decodeFrame6(encodeFrame6(loose));
      if (again instanceof WireError) throw new Error(`frame ${n} re-emitted to ${again.reason}: ${Buffer.from(frame).toString('hex')}`);
      const want = comparable(loose);
      const got = comparable(again);
      if (got !== want) expect(got, `frame ${n}`).toBe(want);
      roundTripped++;
    }
    expect(verified).toBeGreaterThan(FUZZ_FRAMES / 10);
    expect(roundTripped).toBeGreaterThan(FUZZ_FRAMES / 4);
    expect(problems).toBeGreaterThan(100);
    for (const reason of ['truncated', 'bad checksum', 'bad version', 'loose bad option', 'loose bad length']) expect(errors.get(reason) ?? 0, reason).toBeGreaterThan(0);
    for (const k of ['neighborSolicit', 'neighborAdvert', 'routerSolicit', 'routerAdvert', 'mld2Report', 'packetTooBig', 'echoRequest', 'other']) {
      expect(kinds.has(k), k).toBe(true);
    }
  }, 120_000);
});
