import { describe, expect, it } from 'vitest';
import {
  emitIpv4,
  formatIpv4,
  fragField,
  IP_PROTO_ICMP,
  IP_PROTO_UDP,
  ipv4BufferLen,
  ipv4Dst,
  ipv4FromBytes,
  ipv4HeaderLen,
  ipv4Mask,
  type Ipv4Repr,
  ipv4ToBytes,
  ipv4Src,
  parseIpv4,
  parseIpv4Addr,
  setIpv4Ttl,
  writeIpv4Header,
} from '../../../src/stack/wire/ipv4.js';
import { WireError } from '../../../src/stack/wire/result.js';
import { parseUdp } from '../../../src/stack/wire/udp.js';
import {
  ICMP_ECHO_REQUEST,
  IPV4_FRAG1,
  IPV4_FRAG2,
  IPV4_FRAG3,
  IPV4_RECORD_ROUTE,
  IPV4_ROUTER_ALERT_PADDED,
  UDP_SMALL_PADDED,
} from './goldens.js';
import { concat, refSum, toHex } from './util.js';

function ok(r: Ipv4Repr | WireError): Ipv4Repr {
  if (r instanceof WireError) throw new Error(`unexpected ${r.reason}`);
  return r;
}

function reemit(ip: Ipv4Repr): Uint8Array {
  const out = new Uint8Array(ipv4BufferLen(ip));
  expect(emitIpv4(ip, out)).toBe(out.length);
  return out;
}

describe('ipv4 (RFC 791)', () => {
  it('parses the header of a Linux ping', () => {
    const dgram = ICMP_ECHO_REQUEST.subarray(14);
    expect(refSum(dgram.subarray(0, 20))).toBe(0xffff); // independent check of the golden
    const ip = ok(parseIpv4(dgram));
    expect(ip).toEqual({
      src: 0x0a00020f,
      dst: 0x0a000202,
      protocol: IP_PROTO_ICMP,
      ttl: 64,
      tos: 0,
      ident: 0x3f5a,
      dontFrag: true,
      moreFrags: false,
      fragOffset: 0,
      options: new Uint8Array(0),
      payload: dgram.subarray(20),
    });
    expect(ip.payload.buffer).toBe(dgram.buffer);
    expect(ipv4Dst(dgram)).toBe(0x0a000202);
    expect(ipv4HeaderLen(ip)).toBe(20);
    expect(toHex(reemit(ip))).toBe(toHex(dgram));
  });

  it('honours IHL 15 with a record-route option (ping -R)', () => {
    const dgram = IPV4_RECORD_ROUTE.subarray(14);
    expect(refSum(dgram.subarray(0, 60))).toBe(0xffff);
    const ip = ok(parseIpv4(dgram));
    expect(ip.options.length).toBe(40);
    expect(toHex(ip.options.subarray(0, 4))).toBe('01072704'); // NOP, RR len 39 ptr 4
    expect(ip.options.buffer).toBe(dgram.buffer);
    expect(ip.payload.length).toBe(64);
    expect(ip.payload[0]).toBe(8); // the ICMP echo request starts after the options
    expect(ipv4HeaderLen(ip)).toBe(60);
    expect(toHex(reemit(ip))).toBe(toHex(dgram));
  });

  it('excludes Ethernet padding from the payload (router alert option, IHL 6)', () => {
    const dgram = IPV4_ROUTER_ALERT_PADDED.subarray(14);
    expect(dgram.length).toBe(46);
    const ip = ok(parseIpv4(dgram));
    expect(ip).toMatchObject({ protocol: 2, ttl: 1, tos: 0xc0, dst: 0xe00000fb, dontFrag: true });
    expect(toHex(ip.options)).toBe('94040000');
    expect(ip.payload.length).toBe(8);
    expect(toHex(reemit(ip))).toBe(toHex(dgram.subarray(0, 32)));

    const small = ok(parseIpv4(UDP_SMALL_PADDED.subarray(14)));
    expect(small.payload.length).toBe(10);
    expect(small.dontFrag).toBe(false);
  });

  it('parses fragments (MF, offsets) and the reassembled datagram checks out', () => {
    const f1 = ok(parseIpv4(IPV4_FRAG1));
    const f2 = ok(parseIpv4(IPV4_FRAG2));
    const f3 = ok(parseIpv4(IPV4_FRAG3));
    expect([f1.moreFrags, f1.fragOffset, f1.payload.length]).toEqual([true, 0, 16]);
    expect([f2.moreFrags, f2.fragOffset, f2.payload.length]).toEqual([true, 16, 16]);
    expect([f3.moreFrags, f3.fragOffset, f3.payload.length]).toEqual([false, 32, 8]);
    for (const f of [f1, f2, f3]) {
      expect(f.ident).toBe(0xbeef);
      expect(f.dontFrag).toBe(false);
      expect(f.protocol).toBe(IP_PROTO_UDP);
    }
    expect(toHex(reemit(f2))).toBe(toHex(IPV4_FRAG2));
    expect(toHex(reemit(f3))).toBe(toHex(IPV4_FRAG3));
    const whole = concat(f1.payload, f2.payload, f3.payload);
    const udp = parseUdp(whole, f1.src, f1.dst);
    if (udp instanceof WireError) throw new Error(udp.reason);
    expect(udp).toMatchObject({ srcPort: 5000, dstPort: 6000 });
    expect(udp.payload.length).toBe(32);
  });

  it('detects header corruption by checksum, and can skip the check', () => {
    const dgram = ICMP_ECHO_REQUEST.slice(14);
    for (const at of [1, 4, 8, 10, 11, 12, 19]) {
      const b = dgram.slice();
      b[at]! ^= 0x01;
      expect(parseIpv4(b), `byte ${at}`).toBe(WireError.badChecksum);
      expect(parseIpv4(b, false)).not.toBeInstanceOf(WireError);
    }
    // Payload corruption is not the IP layer's business.
    const b = dgram.slice();
    b[30]! ^= 0xff;
    expect(parseIpv4(b)).not.toBeInstanceOf(WireError);
  });

  it('validates version, IHL and total length', () => {
    const dgram = ICMP_ECHO_REQUEST.slice(14);
    const v6 = dgram.slice();
    v6[0] = 0x65;
    expect(parseIpv4(v6)).toBe(WireError.badVersion);
    const ihl4 = dgram.slice();
    ihl4[0] = 0x44;
    expect(parseIpv4(ihl4)).toBe(WireError.badHeaderLength);
    const ihlBig = dgram.slice(0, 40);
    ihlBig[0] = 0x4f; // 60-byte header in a 40-byte buffer
    expect(parseIpv4(ihlBig)).toBe(WireError.truncated);
    const shortTotal = dgram.slice();
    shortTotal[2] = 0;
    shortTotal[3] = 19;
    expect(parseIpv4(shortTotal)).toBe(WireError.badLength);
    const longTotal = dgram.slice();
    longTotal[3] = longTotal[3]! + 1;
    expect(parseIpv4(longTotal)).toBe(WireError.truncated);
    for (let n = 0; n < dgram.length; n++) {
      expect(parseIpv4(dgram.subarray(0, n))).toBe(WireError.truncated);
    }
  });

  it('pads options to 4 bytes with EOL on emit', () => {
    const repr: Ipv4Repr = {
      src: 0xc0a80001,
      dst: 0xc0a80002,
      protocol: 253,
      ttl: 3,
      tos: 0x10,
      ident: 7,
      dontFrag: false,
      moreFrags: true,
      fragOffset: 1480,
      options: new Uint8Array([0x07, 0x07, 0x04, 0, 0, 0, 0]), // record route, 1 slot
      payload: new Uint8Array([1, 2, 3]),
    };
    expect(ipv4HeaderLen(repr)).toBe(28);
    const out = new Uint8Array(ipv4BufferLen(repr) + 5).fill(0xee);
    expect(emitIpv4(repr, out, 5)).toBe(31);
    const b = out.subarray(5);
    expect(b[0]).toBe(0x47);
    expect(toHex(b.subarray(6, 8))).toBe('20b9'); // MF | 1480/8
    expect(toHex(b.subarray(20, 28))).toBe('0707040000000000');
    expect(refSum(b.subarray(0, 28))).toBe(0xffff);
    const back = ok(parseIpv4(b));
    expect(back).toMatchObject({ moreFrags: true, fragOffset: 1480, ttl: 3, tos: 0x10, protocol: 253 });
    expect(toHex(back.options)).toBe('0707040000000000');
    expect(toHex(back.payload)).toBe('010203');
  });

  it('rejects impossible emits with RangeError', () => {
    const base = ok(parseIpv4(ICMP_ECHO_REQUEST.subarray(14)));
    expect(() => emitIpv4({ ...base, options: new Uint8Array(41) }, new Uint8Array(200))).toThrow(RangeError);
    expect(() => emitIpv4({ ...base, payload: new Uint8Array(65516) }, new Uint8Array(70000))).toThrow(RangeError);
    expect(() => emitIpv4(base, new Uint8Array(83))).toThrow(RangeError);
  });

  it('formats and parses dotted quads', () => {
    expect(formatIpv4(0x0a00020f)).toBe('10.0.2.15');
    expect(formatIpv4(0xffffffff)).toBe('255.255.255.255');
    expect(formatIpv4(0)).toBe('0.0.0.0');
    expect(parseIpv4Addr('10.0.2.15')).toBe(0x0a00020f);
    expect(parseIpv4Addr('255.255.255.255')).toBe(0xffffffff);
    expect(parseIpv4Addr('93.184.216.34')).toBe(0x5db8d822);
    for (const bad of ['256.0.0.1', '1.2.3', '1.2.3.4.5', '01.2.3.4', '1.2.3.-4', ' 1.2.3.4', '1.2.3.4 ', 'a.b.c.d', '']) {
      expect(parseIpv4Addr(bad), bad).toBeNull();
    }
    expect(toHex(ipv4ToBytes(0xc0a80101))).toBe('c0a80101');
    expect(ipv4FromBytes(new Uint8Array([9, 192, 168, 1, 1]), 1)).toBe(0xc0a80101);
    expect(ipv4Mask(0)).toBe(0);
    expect(ipv4Mask(24)).toBe(0xffffff00);
    expect(ipv4Mask(32)).toBe(0xffffffff);
    expect(ipv4Mask(1)).toBe(0x80000000);
  });

  it('the positional writer the stack uses is emitIpv4\'s: same bytes for every golden header', () => {
    for (const g of [ICMP_ECHO_REQUEST.subarray(14), IPV4_RECORD_ROUTE.subarray(14), IPV4_ROUTER_ALERT_PADDED.subarray(14), IPV4_FRAG2]) {
      const r = ok(parseIpv4(g));
      const hlen = ipv4HeaderLen(r);
      const out = new Uint8Array(hlen + 3).fill(0xee);
      const frag = fragField(r.dontFrag, r.moreFrags, r.fragOffset);
      expect(writeIpv4Header(out, 3, r.tos, ipv4BufferLen(r), r.ident, frag, r.ttl, r.protocol, r.src, r.dst, r.options)).toBe(hlen);
      expect(toHex(out.subarray(3))).toBe(toHex(g.subarray(0, hlen)));
      expect(ipv4Src(g)).toBe(r.src);
      expect(ipv4Dst(g)).toBe(r.dst);
    }
  });

  it('setIpv4Ttl rewrites the TTL and the header checksum (options included)', () => {
    for (const g of [ICMP_ECHO_REQUEST.subarray(14), IPV4_RECORD_ROUTE.subarray(14)]) {
      const r = ok(parseIpv4(g));
      const f = new Uint8Array(g.length + 1);
      f.set(g, 1);
      setIpv4Ttl(f, 1, r.ttl - 1);
      expect(refSum(f.subarray(1, 1 + ipv4HeaderLen(r)))).toBe(0xffff);
      expect(toHex(f.subarray(1))).toBe(toHex(reemit({ ...r, ttl: r.ttl - 1 })));
    }
  });
});
