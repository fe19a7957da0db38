/**
 * Seeded mutation fuzzing: ≥ 100 000 mutated golden frames through every
 * parser. Parsers must never throw; payloads must be views inside the input;
 * anything that parses (checksums ignored) must re-emit to something that
 * parses (checksums verified) to the same reprs.
 */
import { describe, expect, it } from 'vitest';
import { SeededRng } from '../../../src/lib/rng.js';
import { parseArp } from '../../../src/stack/wire/arp.js';
import { parseEthernet } from '../../../src/stack/wire/ethernet.js';
import { parseIcmpv4, parseIcmpv4Quote } from '../../../src/stack/wire/icmp.js';
import { parseIpv4 } from '../../../src/stack/wire/ipv4.js';
import { WireError } from '../../../src/stack/wire/result.js';
import { parseTcp, tcpHeaderLen } from '../../../src/stack/wire/tcp.js';
import { parseUdp } from '../../../src/stack/wire/udp.js';
import { type Decoded, decodeFrame, encodeFrame } from './decode.js';
import * as G from './goldens.js';
import { mutate as mutateFrom } from './mutate.js';

const SEEDS: Uint8Array[] = Object.values(G).filter((v): v is Uint8Array => v instanceof Uint8Array);
const FRAMED = SEEDS.filter((f) => f.length >= 14 && (f[12] === 0x08 || f[12] === 0x86));
const mutate = (rng: SeededRng, src: Uint8Array): Uint8Array => mutateFrom(rng, src, SEEDS);

/** Every Uint8Array in a decoded frame must be a view inside `frame` (or empty). */
function checkViews(d: Decoded, frame: Uint8Array): void {
  const views: Uint8Array[] = [d.eth.payload];
  if (d.ip) views.push(d.ip.payload, d.ip.options);
  if (d.icmp) views.push(d.icmp.data);
  if (d.udp) views.push(d.udp.payload);
  if (d.tcp) views.push(d.tcp.payload);
  for (const v of views) {
    if (v.length === 0) continue;
    if (v.buffer !== frame.buffer) throw new Error('payload is a copy');
    if (v.byteOffset < frame.byteOffset || v.byteOffset + v.length > frame.byteOffset + frame.length) {
      throw new Error('payload outside the frame');
    }
  }
}

/**
 * A string key of a decoded frame (byte arrays as hex), without the container
 * payloads that legitimately change on re-emission (Ethernet padding, bytes
 * beyond a UDP length). Cheaper than a deep toEqual over 100 000 frames.
 */
function comparable(d: Decoded): string {
  const upper = d.icmp !== undefined || d.udp !== undefined || d.tcp !== undefined;
  return JSON.stringify(
    {
      eth: { ...d.eth, payload: null },
      arp: d.arp,
      ip: d.ip ? { ...d.ip, payload: upper ? null : d.ip.payload } : undefined,
      icmp: d.icmp,
      udp: d.udp,
      tcp: d.tcp,
    },
    (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v.buffer, v.byteOffset, v.length).toString('hex') : v),
  );
}

const FUZZ_FRAMES = 100_000;

describe('fuzz (seeded mutations)', () => {
  it(`${FUZZ_FRAMES} mutated frames through every parser never throw and round-trip`, () => {
    const rng = new SeededRng(0xf022);
    const stats = { parsed: 0, verified: 0, roundTripped: 0, tcpTooLong: 0, errors: new Map<string, number>() };
    for (let n = 0; n < FUZZ_FRAMES; n++) {
      const frame = mutate(rng, FRAMED[n % FRAMED.length]!);
      let d: Decoded | WireError;
      let loose: Decoded | WireError;
      try {
        // Every parser, directly, at every layer offset, whatever the frame claims to be.
        parseEthernet(frame);
        for (const off of [0, 14, 34, 54]) {
          const v = frame.subarray(Math.min(off, frame.length));
          parseArp(v);
          parseIpv4(v);
          parseIpv4(v, false);
          parseIcmpv4(v);
          parseIcmpv4Quote(v);
          parseUdp(v, 0x0a00020f, 0x0a000203);
          parseUdp(v, 1, 2, false);
          parseTcp(v, 0x0a00020f, 0x5db8d822);
          parseTcp(v, 3, 4, false);
        }
        d = decodeFrame(frame);
        loose = decodeFrame(frame, false);
      } catch (e) {
        throw new Error(`frame ${n} threw ${String(e)}: ${Buffer.from(frame).toString('hex')}`);
      }
      if (d instanceof WireError) stats.errors.set(d.reason, (stats.errors.get(d.reason) ?? 0) + 1);
      else {
        stats.verified++;
        checkViews(d, frame);
      }
      if (loose instanceof WireError) {
        stats.errors.set(`loose ${loose.reason}`, (stats.errors.get(`loose ${loose.reason}`) ?? 0) + 1);
        continue;
      }
      stats.parsed++;
      checkViews(loose, frame);
      if (loose.tcp && tcpHeaderLen(loose.tcp) > 60) {
        stats.tcpTooLong++; // options that fit on the wire but not in the canonical layout
        continue;
      }
      const again = decodeFrame(encodeFrame(loose));
      if (again instanceof WireError) throw new Error(`frame ${n} re-emitted to ${again.reason}`);
      const want = comparable(loose);
      const got = comparable(again);
      if (got !== want) expect(got, `frame ${n}`).toBe(want);
      stats.roundTripped++;
    }
    if (process.env['WIRE_FUZZ_STATS']) console.log(stats);
    // The corpus must actually exercise both success and every interesting failure.
    expect(stats.verified).toBeGreaterThan(FUZZ_FRAMES / 10);
    expect(stats.roundTripped).toBeGreaterThan(FUZZ_FRAMES / 4);
    for (const reason of ['truncated', 'bad checksum', 'bad version', 'bad header length', 'bad length', 'bad option']) {
      expect(stats.errors.get(reason) ?? 0, reason).toBeGreaterThan(0);
      if (reason !== 'bad checksum') expect(stats.errors.get(`loose ${reason}`) ?? 0, reason).toBeGreaterThan(0);
    }
  }, 60_000);

  it('parses 20 000 random byte strings without throwing', () => {
    const rng = new SeededRng(99);
    for (let n = 0; n < 20_000; n++) {
      const b = new Uint8Array(rng.u32() % 120);
      for (let i = 0; i < b.length; i++) b[i] = rng.u32() & 0xff;
      if (b.length > 14) {
        b[12] = 0x08;
        b[13] = n & 1 ? 0x06 : 0x00;
      }
      if (b.length > 15 && n % 3 === 0) b[14] = 0x45;
      // A throw fails the test with the offending input in the message.
      try {
        decodeFrame(b);
        decodeFrame(b, false);
        parseIcmpv4Quote(b);
      } catch (e) {
        throw new Error(`input ${n} threw ${String(e)}: ${Buffer.from(b).toString('hex')}`);
      }
    }
  });
});
