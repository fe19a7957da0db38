import { describe, expect, it } from 'vitest';
import { onesSum, pseudoHeaderSum } from '../../../src/stack/wire/checksum.js';
import { IP_PROTO_UDP } from '../../../src/stack/wire/ipv4.js';
import { WireError } from '../../../src/stack/wire/result.js';
import {
  checkUdp,
  emitUdp,
  parseUdp,
  udpBufferLen,
  udpDstPort,
  udpHeaderLen,
  type UdpRepr,
  udpSrcPort,
  writeUdp,
} from '../../../src/stack/wire/udp.js';
import { UDP_DNS_QUERY, UDP_SMALL_PADDED } from './goldens.js';
import { refPseudo, refSum, toHex } from './util.js';

const A = 0x0a00020f; // 10.0.2.15
const DNS = 0x0a000203; // 10.0.2.3
const GW = 0x0a000202; // 10.0.2.2

function ok(r: UdpRepr | WireError): UdpRepr {
  if (r instanceof WireError) throw new Error(`unexpected ${r.reason}`);
  return r;
}

function reemit(r: UdpRepr, src: number, dst: number): Uint8Array {
  const out = new Uint8Array(udpBufferLen(r));
  expect(emitUdp(r, out, 0, src, dst)).toBe(out.length);
  return out;
}

describe('udp (RFC 768)', () => {
  const query = UDP_DNS_QUERY.subarray(34);

  it('golden checksums verify with the naive reference and pseudo-header', () => {
    expect(refSum([...refPseudo(A, DNS, IP_PROTO_UDP, query.length), ...query])).toBe(0xffff);
    const small = UDP_SMALL_PADDED.subarray(34, 44);
    expect(refSum([...refPseudo(GW, A, IP_PROTO_UDP, 10), ...small])).toBe(0xffff);
  });

  it('parses and re-emits a DNS query', () => {
    const r = ok(parseUdp(query, A, DNS));
    expect(r).toEqual({ srcPort: 51234, dstPort: 53, payload: query.subarray(8) });
    expect(r.payload.length).toBe(29);
    expect(r.payload.buffer).toBe(query.buffer);
    expect(udpHeaderLen(r)).toBe(8);
    expect(toHex(reemit(r, A, DNS))).toBe(toHex(query));
  });

  it('cuts the payload at the UDP length, not the IP payload end', () => {
    const withTrailer = new Uint8Array(query.length + 5);
    withTrailer.set(query);
    const r = ok(parseUdp(withTrailer, A, DNS));
    expect(r.payload.length).toBe(29);
    const small = ok(parseUdp(UDP_SMALL_PADDED.subarray(34, 44), GW, A));
    expect(small).toMatchObject({ srcPort: 7, dstPort: 40000 });
    expect(toHex(small.payload)).toBe('6869');
  });

  it('validates lengths', () => {
    for (let n = 0; n < query.length; n++) {
      expect(parseUdp(query.subarray(0, n), A, DNS)).toBe(WireError.truncated);
    }
    const short = query.slice();
    short[4] = 0;
    short[5] = 7;
    expect(parseUdp(short, A, DNS)).toBe(WireError.badLength);
  });

  it('detects corruption of data, header and pseudo-header', () => {
    for (let at = 0; at < query.length; at++) {
      if (at === 4 || at === 5) continue; // length bytes: truncated/bad length, checked above
      const b = query.slice();
      b[at]! ^= 0x08;
      expect(parseUdp(b, A, DNS), `byte ${at}`).toBe(WireError.badChecksum);
      expect(parseUdp(b, A, DNS, false)).not.toBeInstanceOf(WireError);
    }
    expect(parseUdp(query, A, DNS + 1)).toBe(WireError.badChecksum);
    expect(parseUdp(query, A ^ 0x100, DNS)).toBe(WireError.badChecksum);
  });

  it('does not verify a zero checksum (none computed)', () => {
    const b = query.slice();
    b[6] = 0;
    b[7] = 0;
    b[20] = 0x55; // corrupt the data too
    expect(ok(parseUdp(b, A, DNS)).srcPort).toBe(51234);
  });

  it('sends a computed zero checksum as 0xffff, which verifies', () => {
    // Choose two payload bytes so that the sum of everything is 0xffff (checksum 0).
    const payload = new Uint8Array([0, 0, 1, 2, 3]);
    const r: UdpRepr = { srcPort: 1000, dstPort: 2000, payload };
    const pre = onesSum(reemit(r, A, DNS).fill(0, 6, 8), pseudoHeaderSum(A, DNS, IP_PROTO_UDP, 13));
    const w = 0xffff - pre;
    payload[0] = w >>> 8;
    payload[1] = w & 0xff;
    const out = reemit(r, A, DNS);
    expect(toHex(out.subarray(6, 8))).toBe('ffff');
    expect(refSum([...refPseudo(A, DNS, IP_PROTO_UDP, 13), ...out])).toBe(0xffff);
    expect(parseUdp(out, A, DNS)).toEqual(r);
  });

  it('emits at an unaligned offset, in place or copying, and checks room', () => {
    const r = ok(parseUdp(query, A, DNS));
    const out = new Uint8Array(query.length + 3);
    emitUdp(r, out, 3, A, DNS);
    expect(toHex(out.subarray(3))).toBe(toHex(query));
    // In place: the payload already sits after the header in `out`.
    const inPlace = new Uint8Array(query.length + 1);
    inPlace.set(query.subarray(8), 9);
    emitUdp({ ...r, payload: inPlace.subarray(9) }, inPlace, 1, A, DNS);
    expect(toHex(inPlace.subarray(1))).toBe(toHex(query));
    expect(() => emitUdp(r, new Uint8Array(36), 0, A, DNS)).toThrow(RangeError);
    expect(() => emitUdp({ ...r, payload: new Uint8Array(65528) }, new Uint8Array(70000), 0, A, DNS)).toThrow(
      RangeError,
    );
  });

  it('checkUdp, the port accessors and writeUdp (what the stack uses) agree with parseUdp and emitUdp', () => {
    for (const [dgram, src, dst] of [[query, A, DNS], [UDP_SMALL_PADDED.subarray(34), GW, A]] as const) {
      const r = ok(parseUdp(dgram, src, dst));
      expect(checkUdp(dgram, src, dst)).toBe(udpBufferLen(r));
      expect([udpSrcPort(dgram), udpDstPort(dgram)]).toEqual([r.srcPort, r.dstPort]);
      const out = new Uint8Array(udpBufferLen(r) + 1);
      expect(writeUdp(out, 1, r.srcPort, r.dstPort, r.payload, src, dst)).toBe(udpBufferLen(r));
      expect(toHex(out.subarray(1))).toBe(toHex(reemit(r, src, dst)));
    }
    const bad = query.slice();
    bad[9]! ^= 1;
    expect(checkUdp(bad, A, DNS)).toBe(WireError.badChecksum);
    expect(checkUdp(bad, A, DNS, false)).toBe(query.length);
    expect(checkUdp(query.subarray(0, 7), A, DNS)).toBe(WireError.truncated);
  });
});
