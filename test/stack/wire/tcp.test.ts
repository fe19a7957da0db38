import { describe, expect, it } from 'vitest';
import { IP_PROTO_TCP } from '../../../src/stack/wire/ipv4.js';
import { WireError } from '../../../src/stack/wire/result.js';
import {
  emitTcp,
  NO_SACK,
  parseTcp,
  TCP_ACK,
  TCP_AE,
  TCP_CWR,
  TCP_ECE,
  TCP_FIN,
  TCP_PSH,
  TCP_RST,
  TCP_SYN,
  tcpBufferLen,
  tcpHeaderLen,
  tcpPorts,
  type TcpRepr,
  tcpSeqLen,
} from '../../../src/stack/wire/tcp.js';
import * as G from './goldens.js';
import { concat, hex, refChecksum, refPseudo, refSum, toHex } from './util.js';

const A = 0x0a00020f; // 10.0.2.15
const R = 0x5db8d822; // 93.184.216.34

/** The TCP segment of a golden frame: after Ethernet (14) and IPv4 (20), cut at the IP total length. */
function segOf(frame: Uint8Array): Uint8Array {
  const total = (frame[16]! << 8) | frame[17]!;
  return frame.subarray(34, 14 + total);
}

function ok(r: TcpRepr | WireError): TcpRepr {
  if (r instanceof WireError) throw new Error(`unexpected ${r.reason}`);
  return r;
}

function reemit(r: TcpRepr, src: number, dst: number): Uint8Array {
  const out = new Uint8Array(tcpBufferLen(r));
  expect(emitTcp(r, out, 0, src, dst)).toBe(out.length);
  return out;
}

/** Fills in the checksum of a hand-built segment with the naive reference. */
function seal(seg: Uint8Array, src: number, dst: number): Uint8Array {
  seg[16] = 0;
  seg[17] = 0;
  const c = refChecksum([...refPseudo(src, dst, IP_PROTO_TCP, seg.length), ...seg]);
  seg[16] = c >>> 8;
  seg[17] = c & 0xff;
  return seg;
}

/** A segment from A to R with the given options bytes (data offset derived from their length). */
function withOptions(opts: Uint8Array, flags = TCP_SYN): Uint8Array {
  const hdr = hex('b26e 0050 8a3c1f25 00000000 0000 faf0 0000 0000');
  hdr[12] = ((20 + opts.length) >>> 2) << 4;
  hdr[13] = flags;
  return seal(concat(hdr, opts), A, R);
}

const BASE: TcpRepr = {
  srcPort: 45678,
  dstPort: 80,
  seq: 0x8a3c1f25,
  ack: 0,
  flags: TCP_SYN,
  window: 64240,
  urgent: 0,
  mss: null,
  windowScale: null,
  sackPermitted: false,
  sackBlocks: NO_SACK,
  tsVal: null,
  tsEcr: null,
  payload: new Uint8Array(0),
};

describe('tcp (RFC 9293) headers and options', () => {
  it('golden checksums verify with the naive reference and pseudo-header', () => {
    const cases: Array<[Uint8Array, number, number]> = [
      [G.TCP_SYN, A, R],
      [G.TCP_SYN_ACK, R, A],
      [G.TCP_DATA_SACK, A, R],
      [G.TCP_FIN_ACK, A, R],
      [G.TCP_RST_PADDED, R, A],
    ];
    for (const [frame, src, dst] of cases) {
      const seg = segOf(frame);
      expect(refSum([...refPseudo(src, dst, IP_PROTO_TCP, seg.length), ...seg])).toBe(0xffff);
    }
  });

  it('parses a Linux SYN (MSS, SACK-permitted, timestamps, NOP, window scale) and re-emits it', () => {
    const seg = segOf(G.TCP_SYN);
    const r = ok(parseTcp(seg, A, R));
    expect(r).toEqual({
      ...BASE,
      mss: 1460,
      windowScale: 7,
      sackPermitted: true,
      tsVal: 0x0009a3f2,
      tsEcr: 0,
    });
    expect(tcpHeaderLen(r)).toBe(40);
    expect(tcpSeqLen(r)).toBe(1);
    expect(tcpPorts(seg)).toBe(45678 * 65536 + 80);
    expect(toHex(reemit(r, A, R))).toBe(toHex(seg));
  });

  it('parses the SYN-ACK', () => {
    const seg = segOf(G.TCP_SYN_ACK);
    const r = ok(parseTcp(seg, R, A));
    expect(r).toEqual({
      ...BASE,
      srcPort: 80,
      dstPort: 45678,
      seq: 0x3e9d6b10,
      ack: 0x8a3c1f26,
      flags: TCP_SYN | TCP_ACK,
      window: 65160,
      mss: 1460,
      windowScale: 7,
      sackPermitted: true,
      tsVal: 0x5c7a1e09,
      tsEcr: 0x0009a3f2,
    });
    expect(toHex(reemit(r, R, A))).toBe(toHex(seg));
  });

  it('parses a data segment with timestamps and two SACK blocks', () => {
    const seg = segOf(G.TCP_DATA_SACK);
    const r = ok(parseTcp(seg, A, R));
    expect(r).toEqual({
      ...BASE,
      seq: 0x8a3c1f26,
      ack: 0x3e9d6b11,
      flags: TCP_PSH | TCP_ACK,
      window: 502,
      tsVal: 0x0009a41c,
      tsEcr: 0x5c7a1e0b,
      sackBlocks: [0x3e9d7000, 0x3e9d75a8, 0x3e9d8000, 0x3e9d8b50],
      payload: new TextEncoder().encode('GET / HTTP/1.1\r\nHost: example.com\r\n\r\n'),
    });
    expect(r.payload.buffer).toBe(seg.buffer);
    expect(tcpHeaderLen(r)).toBe(52);
    expect(tcpSeqLen(r)).toBe(37);
    expect(toHex(reemit(r, A, R))).toBe(toHex(seg));
  });

  it('parses FIN-ACK and a (padded) RST-ACK', () => {
    const fin = ok(parseTcp(segOf(G.TCP_FIN_ACK), A, R));
    expect(fin).toMatchObject({ flags: TCP_FIN | TCP_ACK, seq: 0x8a3c1f4b, ack: 0x3e9d6c20, tsVal: 0x0009a5e0 });
    expect(tcpSeqLen(fin)).toBe(1);
    expect(toHex(reemit(fin, A, R))).toBe(toHex(segOf(G.TCP_FIN_ACK)));
    const rstSeg = segOf(G.TCP_RST_PADDED);
    expect(rstSeg.length).toBe(20); // padding excluded by the IP total length
    const rst = ok(parseTcp(rstSeg, R, A));
    expect(rst).toEqual({ ...BASE, srcPort: 80, dstPort: 45678, seq: 0x3e9d6c20, ack: 0x8a3c1f4c, flags: TCP_RST | TCP_ACK, window: 0 });
    expect(toHex(reemit(rst, R, A))).toBe(toHex(rstSeg));
  });

  it('detects corruption of any byte and of the pseudo-header', () => {
    const seg = segOf(G.TCP_DATA_SACK);
    for (let at = 0; at < seg.length; at++) {
      const b = seg.slice();
      b[at]! ^= 0x20;
      const r = parseTcp(b, A, R);
      expect(r, `byte ${at}`).toBeInstanceOf(WireError);
      if (at !== 12) expect(r, `byte ${at}`).toBe(WireError.badChecksum); // byte 12 may fail on data offset first
    }
    expect(parseTcp(seg, A, R + 1)).toBe(WireError.badChecksum);
    expect(parseTcp(seg, R, A)).not.toBeInstanceOf(WireError); // pseudo-header sum is symmetric in src/dst
  });

  it('validates the data offset', () => {
    const seg = segOf(G.TCP_SYN);
    for (let n = 0; n < seg.length; n++) expect(parseTcp(seg.subarray(0, n), A, R)).toBeInstanceOf(WireError);
    const small = seg.slice();
    small[12] = 0x40;
    expect(parseTcp(small, A, R, false)).toBe(WireError.badHeaderLength);
    const big = seg.slice();
    big[12] = 0xf0; // 60-byte header in a 40-byte segment
    expect(parseTcp(big, A, R, false)).toBe(WireError.truncated);
  });

  it('accepts other layouts (macOS-style SYN) and re-emits them canonically', () => {
    // MSS, NOP WS, NOP NOP TS, SACKOK, EOL EOL
    const seg = withOptions(hex('020405b4 01030306 0101080a 11223344 00000000 04020000'));
    const r = ok(parseTcp(seg, A, R));
    expect(r).toEqual({ ...BASE, mss: 1460, windowScale: 6, sackPermitted: true, tsVal: 0x11223344, tsEcr: 0 });
    const out = reemit(r, A, R);
    expect(toHex(out.subarray(20))).toBe('020405b40402080a112233440000000001030306');
    expect(ok(parseTcp(out, A, R))).toEqual(r);
  });

  it('skips unknown options by length and stops at EOL', () => {
    // MSS, TFO cookie (kind 34, len 10), NOP, NOP, EOL then garbage that must not be parsed.
    const seg = withOptions(hex('020405b4 220a0102030405060708 0101 00 ff 01 02'));
    expect(ok(parseTcp(seg, A, R))).toEqual({ ...BASE, mss: 1460 });
    // Unknown option right at the end of the option space.
    expect(ok(parseTcp(withOptions(hex('01 01 fe 02')), A, R))).toEqual(BASE);
  });

  it('rejects malformed option lengths', () => {
    const bad = [
      '02 00 0000', // length 0
      '01 01 01 fe', // kind at the last byte, no length byte
      '01 fe 01 00', // length 1
      '1e 0c 000000', // unknown option (length 12) running past the data offset (8 bytes after padding)
      '02 03 05 01', // MSS length 3
      '02 05 05b4 00 000000', // MSS length 5
      '01 03 04 07', // window scale length 4
      '04 03 00 01', // SACK-permitted length 3
      '05 09 00000000 00000000 000000', // SACK length 9
      '05 02 0000', // SACK with no blocks
      '05 0b 00000000 00000000 000000', // SACK length 11
      '08 08 00000000 00000000 0000', // timestamps length 8
      '01 01 01 01 01 01 080a 00000000', // timestamps cut by the data offset (needs 10, 6 left)
    ];
    for (const h of bad) {
      let opts = hex(h);
      if (opts.length % 4 !== 0) opts = concat(opts, new Uint8Array(4 - (opts.length % 4)));
      expect(parseTcp(withOptions(opts), A, R), h).toBe(WireError.badOption);
    }
  });

  it('emits every option combination in 4-byte-aligned canonical form', () => {
    const seqs = [0x11111111, 0x22222222, 0x33333333, 0x44444444, 0x55555555, 0x66666666, 0x77777777, 0x88888888];
    for (let mask = 0; mask < 32; mask++) {
      const r: TcpRepr = {
        ...BASE,
        flags: TCP_ACK | TCP_ECE | TCP_CWR,
        mss: mask & 1 ? 536 : null,
        windowScale: mask & 2 ? 14 : null,
        sackPermitted: (mask & 4) !== 0,
        tsVal: mask & 8 ? 0xfffffffe : null,
        tsEcr: mask & 8 ? 0x80000000 : null,
        sackBlocks: NO_SACK,
        payload: new Uint8Array([mask]),
      };
      if (mask & 16) {
        // As many SACK blocks (1..4) as fit in the 40 option bytes left by the others.
        const room = 40 - (tcpHeaderLen(r) - 20) - 4;
        r.sackBlocks = seqs.slice(0, 2 * Math.min(4, Math.floor(room / 8)));
        expect(r.sackBlocks.length).toBeGreaterThan(0);
      }
      const out = reemit(r, A, R);
      expect(tcpHeaderLen(r) % 4).toBe(0);
      expect(out[12]! >>> 4).toBe(tcpHeaderLen(r) / 4);
      expect(refSum([...refPseudo(A, R, IP_PROTO_TCP, out.length), ...out])).toBe(0xffff);
      expect(ok(parseTcp(out, A, R)), `mask ${mask}`).toEqual(r);
    }
    expect(toHex(reemit({ ...BASE, sackPermitted: true }, A, R).subarray(20))).toBe('01010402');
  });

  it('keeps reserved flag bits, the urgent pointer and u32 extremes', () => {
    const r: TcpRepr = { ...BASE, flags: 0xfff, seq: 0xffffffff, ack: 0xfffffffe, urgent: 0xabcd, window: 0xffff };
    const out = reemit(r, A, R);
    expect(toHex(out.subarray(12, 14))).toBe('5fff');
    expect(ok(parseTcp(out, A, R))).toEqual(r);
    expect(ok(parseTcp(out, A, R)).flags & TCP_AE).toBe(TCP_AE);
    expect(tcpSeqLen(r)).toBe(2);
  });

  it('throws RangeError for impossible emits', () => {
    const tooMany: TcpRepr = { ...BASE, tsVal: 1, tsEcr: 2, sackBlocks: [1, 2, 3, 4, 5, 6, 7, 8] };
    expect(() => emitTcp(tooMany, new Uint8Array(100), 0, A, R)).toThrow(RangeError);
    expect(() => emitTcp(BASE, new Uint8Array(19), 0, A, R)).toThrow(RangeError);
    expect(() => emitTcp({ ...BASE, payload: new Uint8Array(65516) }, new Uint8Array(70000), 0, A, R)).toThrow(
      RangeError,
    );
  });

  it('emits in place at an unaligned offset without copying the payload', () => {
    const seg = segOf(G.TCP_DATA_SACK);
    const r = ok(parseTcp(seg, A, R));
    const out = new Uint8Array(seg.length + 5);
    out.set(r.payload, 5 + 52);
    const view = out.subarray(5 + 52);
    emitTcp({ ...r, payload: view }, out, 5, A, R);
    expect(toHex(out.subarray(5))).toBe(toHex(seg));
  });
});
