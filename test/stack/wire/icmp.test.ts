import { describe, expect, it } from 'vitest';
import {
  emitIcmpv4,
  ICMP_EXCEEDED_TTL,
  ICMP_UNREACH_FRAG_NEEDED,
  ICMP_UNREACH_PORT,
  icmpv4BufferLen,
  icmpv4HeaderLen,
  icmpv4Ident,
  type Icmpv4Repr,
  icmpv4Type,
  parseIcmpv4,
  parseIcmpv4Quote,
  writeIcmpv4,
} from '../../../src/stack/wire/icmp.js';
import { IP_PROTO_UDP } from '../../../src/stack/wire/ipv4.js';
import { WireError } from '../../../src/stack/wire/result.js';
import {
  ICMP_ECHO_REPLY,
  ICMP_ECHO_REQUEST,
  ICMP_PORT_UNREACHABLE,
  ICMP_TIME_EXCEEDED,
  UDP_DNS_QUERY,
} from './goldens.js';
import { refChecksum, refSum, toHex } from './util.js';

/** The ICMP message inside a golden frame (Ethernet 14 + IPv4 20). */
function icmpOf(frame: Uint8Array): Uint8Array {
  return frame.subarray(34);
}

function ok(r: Icmpv4Repr | WireError): Icmpv4Repr {
  if (r instanceof WireError) throw new Error(`unexpected ${r.reason}`);
  return r;
}

function reemit(r: Icmpv4Repr): Uint8Array {
  const out = new Uint8Array(icmpv4BufferLen(r));
  expect(emitIcmpv4(r, out)).toBe(out.length);
  return out;
}

describe('icmpv4 (RFC 792)', () => {
  it('golden checksums verify with the naive reference', () => {
    for (const f of [ICMP_ECHO_REQUEST, ICMP_ECHO_REPLY, ICMP_PORT_UNREACHABLE, ICMP_TIME_EXCEEDED]) {
      expect(refSum(icmpOf(f))).toBe(0xffff);
    }
  });

  it('parses and re-emits a Linux echo request and its reply', () => {
    const req = icmpOf(ICMP_ECHO_REQUEST);
    const r = ok(parseIcmpv4(req));
    expect(r).toEqual({ kind: 'echoRequest', ident: 0x0d2a, seq: 1, data: req.subarray(8) });
    if (r.kind !== 'echoRequest') throw new Error('kind');
    expect(r.data.length).toBe(56);
    expect(r.data.buffer).toBe(req.buffer);
    expect(toHex(reemit(r))).toBe(toHex(req));

    const rep = icmpOf(ICMP_ECHO_REPLY);
    const p = ok(parseIcmpv4(rep));
    expect(p).toEqual({ kind: 'echoReply', ident: 0x0d2a, seq: 1, data: rep.subarray(8) });
    expect(toHex(reemit(p))).toBe(toHex(rep));
    // The reply to a request is the request with the kind changed.
    expect(toHex(reemit({ ...r, kind: 'echoReply' }))).toBe(toHex(rep));
  });

  it('parses destination unreachable and its quoted datagram', () => {
    const msg = icmpOf(ICMP_PORT_UNREACHABLE);
    const r = ok(parseIcmpv4(msg));
    expect(r).toMatchObject({ kind: 'destUnreachable', code: ICMP_UNREACH_PORT, nextHopMtu: 0 });
    if (r.kind !== 'destUnreachable') throw new Error('kind');
    expect(toHex(r.data)).toBe(toHex(UDP_DNS_QUERY.subarray(14)));
    expect(toHex(reemit(r))).toBe(toHex(msg));

    const q = parseIcmpv4Quote(r.data);
    if (q instanceof WireError) throw new Error(q.reason);
    expect(q).toMatchObject({ src: 0x0a00020f, dst: 0x0a000203, protocol: IP_PROTO_UDP });
    expect(q.header.length).toBe(20);
    expect(q.payload.length).toBe(37); // the whole UDP datagram was quoted
    expect(toHex(q.payload.subarray(0, 4))).toBe('c8220035'); // ports 51234 → 53
  });

  it('parses time exceeded quoting header + 8 bytes', () => {
    const msg = icmpOf(ICMP_TIME_EXCEEDED);
    const r = ok(parseIcmpv4(msg));
    expect(r).toMatchObject({ kind: 'timeExceeded', code: ICMP_EXCEEDED_TTL });
    if (r.kind !== 'timeExceeded') throw new Error('kind');
    expect(r.data.length).toBe(28);
    expect(toHex(reemit(r))).toBe(toHex(msg));
    const q = parseIcmpv4Quote(r.data);
    if (q instanceof WireError) throw new Error(q.reason);
    expect(q).toMatchObject({ src: 0x0a00020f, dst: 0x5db8d822, protocol: IP_PROTO_UDP });
    expect(toHex(q.payload)).toBe('9c40829a00289ed9'); // 40000 → 33434, the probe's UDP header
  });

  it('rejects short or malformed quotes', () => {
    const msg = icmpOf(ICMP_TIME_EXCEEDED);
    const quote = msg.subarray(8);
    for (let n = 0; n < 28; n++) expect(parseIcmpv4Quote(quote.subarray(0, n))).toBeInstanceOf(WireError);
    const v6 = quote.slice();
    v6[0] = 0x60;
    expect(parseIcmpv4Quote(v6)).toBe(WireError.badVersion);
    const ihl = quote.slice();
    ihl[0] = 0x43;
    expect(parseIcmpv4Quote(ihl)).toBe(WireError.badHeaderLength);
    const tot = quote.slice();
    tot[2] = 0;
    tot[3] = 24;
    expect(parseIcmpv4Quote(tot)).toBe(WireError.badLength);
  });

  it('emits fragmentation-needed with the next-hop MTU (RFC 1191)', () => {
    const quote = UDP_DNS_QUERY.subarray(14, 14 + 28);
    const r: Icmpv4Repr = { kind: 'destUnreachable', code: ICMP_UNREACH_FRAG_NEEDED, nextHopMtu: 1400, data: quote };
    const out = reemit(r);
    expect(toHex(out.subarray(0, 8))).toBe(`0304${refChecksum([3, 4, 0, 0, 0, 0, 0x05, 0x78, ...quote]).toString(16).padStart(4, '0')}00000578`);
    expect(parseIcmpv4(out)).toEqual(r);
  });

  it('keeps other types and irregular fixed fields as "other", round-tripping exactly', () => {
    const redirect: Icmpv4Repr = { kind: 'other', type: 5, code: 1, rest: 0x0a000201, data: new Uint8Array([0x45, 0, 0, 28]) };
    const out = reemit(redirect);
    expect(refSum(out)).toBe(0xffff);
    expect(parseIcmpv4(out)).toEqual(redirect);

    const weird: Array<[number, number, number]> = [
      [8, 1, 0x00010002], // echo request, code 1
      [0, 9, 0x00010002], // echo reply, code 9
      [3, 3, 0x00010000], // dest unreachable with non-zero unused bytes
      [11, 0, 0x00000001], // time exceeded with non-zero unused bytes
    ];
    for (const [type, code, rest] of weird) {
      const r: Icmpv4Repr = { kind: 'other', type, code, rest, data: new Uint8Array(0) };
      const b = reemit(r);
      expect(parseIcmpv4(b)).toEqual(r);
    }
  });

  it('detects corruption anywhere in the message', () => {
    const msg = icmpOf(ICMP_ECHO_REQUEST);
    for (let at = 0; at < msg.length; at += 7) {
      const b = msg.slice();
      b[at]! ^= 0x40;
      expect(parseIcmpv4(b), `byte ${at}`).toBe(WireError.badChecksum);
      expect(parseIcmpv4(b, false)).not.toBeInstanceOf(WireError);
    }
  });

  it('rejects messages shorter than 8 bytes; emit checks room', () => {
    const msg = icmpOf(ICMP_ECHO_REQUEST);
    for (let n = 0; n < 8; n++) expect(parseIcmpv4(msg.subarray(0, n))).toBe(WireError.truncated);
    expect(icmpv4HeaderLen()).toBe(8);
    const r = ok(parseIcmpv4(msg));
    expect(() => emitIcmpv4(r, new Uint8Array(63))).toThrow(RangeError);
  });

  it('icmpv4Type and icmpv4Ident read back the type byte and bytes 4..5 of every form', () => {
    const forms: Icmpv4Repr[] = [
      { kind: 'echoRequest', ident: 0x1234, seq: 1, data: new Uint8Array(3) },
      { kind: 'echoReply', ident: 0xfedc, seq: 2, data: new Uint8Array(0) },
      { kind: 'destUnreachable', code: ICMP_UNREACH_FRAG_NEEDED, nextHopMtu: 1400, data: new Uint8Array(28) },
      { kind: 'timeExceeded', code: ICMP_EXCEEDED_TTL, data: new Uint8Array(28) },
      { kind: 'other', type: 13, code: 0, rest: 0xabcd0007, data: new Uint8Array(12) },
    ];
    for (const m of forms) {
      const b = new Uint8Array(icmpv4BufferLen(m));
      emitIcmpv4(m, b);
      expect(icmpv4Type(m)).toBe(b[0]);
      expect(icmpv4Ident(m)).toBe((b[4]! << 8) | b[5]!);
      // writeIcmpv4 (the stack's writer) from the raw fields gives the same bytes.
      const w = new Uint8Array(b.length + 2);
      const rest = ((b[4]! << 24) | (b[5]! << 16) | (b[6]! << 8) | b[7]!) >>> 0;
      expect(writeIcmpv4(w, 2, b[0]!, b[1]!, rest, m.data)).toBe(b.length);
      expect([...w.subarray(2)]).toEqual([...b]);
    }
  });
});
