/**
 * IPv6, its extension headers, ICMPv6, ND options and the address codec:
 * the kernel's own frames decode to the fields we expect and re-encode
 * byte-exactly; every truncated prefix is an error value; the header walk
 * answers each RFC 8200 §4 case as it must.
 */
import { describe, expect, it } from 'vitest';
import {
  formatIpv6,
  ip6CommonPrefixLen,
  ip6FromKey,
  ip6IsLinkLocal,
  ip6IsSolicitedNode,
  ip6Key,
  ip6Masked,
  ip6MulticastMac,
  ip6PrefixMatch,
  ip6SolicitedNode,
  parseIpv6Addr,
  parseIpv6Prefix,
} from '../../../src/stack/wire/ipv6addr.js';
import { emitIcmpv6, parseIcmpv6, parseIcmpv6Quote } from '../../../src/stack/wire/icmpv6.js';
import type { Icmpv6Repr } from '../../../src/stack/wire/icmpv6.js';
import {
  IPV6_HEADER_LEN,
  IPV6_NH,
  pseudoHeaderSum6,
  walkIpv6,
  writeIpv6Fragment,
  writeIpv6Header,
} from '../../../src/stack/wire/ipv6.js';
import { ndLinkAddr, parseNdOptions, writeNdOptions } from '../../../src/stack/wire/ndopt.js';
import { WireError } from '../../../src/stack/wire/result.js';
import { decodeFrame6, encodeFrame6 } from './decode6.js';
import * as G from './goldens6.js';
import { refSum, toHex } from './util.js';

const A = (s: string): Uint8Array => {
  const a = parseIpv6Addr(s);
  if (a === null) throw new Error(`bad address ${s}`);
  return a;
};
const US = A('fe80::5054:ff:fe12:3456');
const PEER = A('fe80::5055:aff:fe00:202');

const FRAMES = Object.entries(G).filter((e): e is [string, Uint8Array] => e[1] instanceof Uint8Array);

function icmpOf(frame: Uint8Array): Icmpv6Repr {
  const d = decodeFrame6(frame);
  if (d instanceof WireError) throw new Error(d.reason);
  if (d.icmp === undefined) throw new Error('no icmp');
  return d.icmp;
}

describe('IPv6 goldens', () => {
  it.each(FRAMES)('%s decodes (checksums verified) and re-encodes to the same bytes', (_n, frame) => {
    const d = decodeFrame6(frame);
    if (d instanceof WireError) throw new Error(d.reason);
    expect(d.walk.kind).toBe('headers');
    expect(toHex(encodeFrame6(d, frame.length))).toBe(toHex(frame));
  });

  it.each(FRAMES)('%s: every truncated prefix is an error value, never a throw', (_n, frame) => {
    const plen = (frame[18]! << 8) | frame[19]!;
    for (let n = 0; n < 14 + IPV6_HEADER_LEN + plen; n++) {
      expect(decodeFrame6(frame.subarray(0, n)), `prefix ${n}`).toBeInstanceOf(WireError);
    }
  });

  it.each(FRAMES.filter(([n]) => !n.startsWith('FRAG')))('%s: the ICMPv6 checksum verifies with the naive reference', (_n, frame) => {
    const ip = frame.subarray(14);
    const plen = (ip[4]! << 8) | ip[5]!;
    const walk = walkIpv6(ip.subarray(0, 40 + plen));
    if (walk instanceof WireError || walk.kind !== 'headers') throw new Error('walk');
    const upper = ip.subarray(walk.offset, 40 + plen);
    const pseudo = [...ip.subarray(8, 40), 0, 0, upper.length >>> 8, upper.length & 255, 0, 0, 0, 58];
    expect(refSum([...pseudo, ...upper])).toBe(0xffff);
    expect(pseudoHeaderSum6(ip.subarray(8, 24), ip.subarray(24, 40), 58, upper.length)).toBe(refSum(pseudo));
  });

  it('MLDv2 report: hop-by-hop Router Alert 0, one CHANGE_TO_EXCLUDE record for the solicited-node group', () => {
    const d = decodeFrame6(G.MLD2_REPORT_UNSPEC);
    if (d instanceof WireError || d.walk.kind !== 'headers') throw new Error('decode');
    expect(d.walk.routerAlert).toBe(0);
    expect(d.ip.hopLimit).toBe(1);
    expect(d.icmp).toMatchObject({ kind: 'mld2Report', records: [{ recordType: 4, sources: [] }] });
    if (d.icmp?.kind !== 'mld2Report') throw new Error('kind');
    expect(formatIpv6(d.icmp.records[0]!.group)).toBe('ff02::1:ff00:202');
  });

  it('DAD NS: from ::, target our tentative address, a nonce, no SLLA', () => {
    const m = icmpOf(G.NS_DAD_NONCE);
    if (m.kind !== 'neighborSolicit') throw new Error(m.kind);
    expect(formatIpv6(m.target)).toBe('fe80::5054:ff:fe12:3456');
    expect(m.options).toEqual([{ type: 'nonce', nonce: Uint8Array.from([0x5a, 0x11, 0x7c, 0x2b, 0xb0, 0x3f]) }]);
    expect(ndLinkAddr(m.options, 'sourceLinkAddr')).toBe(-1);
  });

  it('RS, NS and NA carry the link-layer address options', () => {
    const rs = icmpOf(G.RS_SLLA);
    expect(rs).toEqual({ kind: 'routerSolicit', reserved: 0, options: [{ type: 'sourceLinkAddr', mac: 0x525400123456 }] });
    const na = icmpOf(G.NA_SOLICITED_TLLA);
    expect(na).toMatchObject({ kind: 'neighborAdvert', router: false, solicited: true, override: true, reserved: 0 });
    if (na.kind !== 'neighborAdvert') throw new Error('kind');
    expect(ndLinkAddr(na.options, 'targetLinkAddr')).toBe(0x525400123456);
    expect(icmpOf(G.NA_SOLICITED_NO_TLLA)).toMatchObject({ kind: 'neighborAdvert', solicited: true, override: false, options: [] });
    expect(icmpOf(G.NS_UNICAST_PROBE)).toMatchObject({ kind: 'neighborSolicit', options: [{ type: 'sourceLinkAddr', mac: 0x525400123456 }] });
  });

  it('RA: hop limit, lifetimes, MTU, prefix information and RDNSS', () => {
    const m = icmpOf(G.RA_PREFIX_MTU_RDNSS);
    if (m.kind !== 'routerAdvert') throw new Error(m.kind);
    expect(m).toMatchObject({ curHopLimit: 64, flags: 0, routerLifetime: 1800, reachableTime: 30000, retransTimer: 1000 });
    expect(m.options.map((o) => o.type)).toEqual(['sourceLinkAddr', 'mtu', 'prefix', 'rdnss']);
    expect(m.options[1]).toEqual({ type: 'mtu', mtu: 1480 });
    const p = m.options[2]!;
    if (p.type !== 'prefix') throw new Error('prefix');
    expect(p).toMatchObject({ prefixLen: 64, onLink: true, autonomous: true, validLifetime: 86400, preferredLifetime: 14400 });
    expect(formatIpv6(p.prefix)).toBe('fd00:9::');
    const r = m.options[3]!;
    if (r.type !== 'rdnss') throw new Error('rdnss');
    expect(r.lifetime).toBe(600);
    expect(r.servers.map(formatIpv6)).toEqual(['fd00:9::1']);
  });

  it('Packet Too Big: the MTU and the quoted echo request', () => {
    const m = icmpOf(G.PTB_1400);
    if (m.kind !== 'packetTooBig') throw new Error(m.kind);
    expect(m.mtu).toBe(1400);
    const q = parseIcmpv6Quote(m.data);
    if (q instanceof WireError) throw new Error(q.reason);
    expect(formatIpv6(q.src)).toBe('fe80::5054:ff:fe12:3456');
    expect(formatIpv6(q.dst)).toBe('fd00:9::99');
    expect(q.protocol).toBe(58);
    expect([...q.payload.subarray(0, 6)]).toEqual([0x80, 0, 0, 0, 0x03, 0x79]);
  });

  it('echo request and reply', () => {
    expect(icmpOf(G.ECHO6_REQUEST)).toMatchObject({ kind: 'echoRequest', ident: 0x378, seq: 1 });
    expect(icmpOf(G.ECHO6_REPLY)).toMatchObject({ kind: 'echoReply', ident: 0x378, seq: 1 });
  });

  it('fragments stop the walk at the fragment header with its fields', () => {
    const first = decodeFrame6(G.FRAG6_FIRST);
    const last = decodeFrame6(G.FRAG6_LAST);
    if (first instanceof WireError || last instanceof WireError) throw new Error('decode');
    if (first.walk.kind !== 'headers' || last.walk.kind !== 'headers') throw new Error('walk');
    expect(first.walk.fragment).toEqual({ nextHeader: 58, offset: 0, more: true, ident: 0xd84149a8 });
    expect(first.walk.fragmentAt).toBe(40);
    expect(first.walk.offset).toBe(48);
    expect(last.walk.fragment).toEqual({ nextHeader: 58, offset: 1448, more: false, ident: 0xd84149a8 });
    expect(first.icmp).toBeUndefined();
  });

  it('a corrupted checksum is `bad checksum`; ND with a code is `other`; a zero-length option is `bad option`', () => {
    const f = G.NS_MULTICAST_SLLA.slice();
    f[14 + 40 + 2]! ^= 1;
    expect(decodeFrame6(f)).toBe(WireError.badChecksum);
    const ns = G.NS_MULTICAST_SLLA.subarray(14 + 40).slice();
    ns[1] = 1;
    expect(parseIcmpv6(ns, PEER, US, false)).toMatchObject({ kind: 'other', type: 135, code: 1 });
    ns[1] = 0;
    ns[25] = 0;
    expect(parseIcmpv6(ns, PEER, US, false)).toBe(WireError.badOption);
  });
});

/** A datagram: fixed header, `ext` bytes, then `upper` bytes, `first` the first next header. */
function datagram(first: number, ext: number[], upper: number[] = [0, 0, 0, 0, 0, 0, 0, 0]): Uint8Array {
  const out = new Uint8Array(IPV6_HEADER_LEN + ext.length + upper.length);
  writeIpv6Header(out, 0, 0, 0, ext.length + upper.length, first, 64, PEER, US);
  out.set(ext, IPV6_HEADER_LEN);
  out.set(upper, IPV6_HEADER_LEN + ext.length);
  return out;
}

describe('the extension-header walk (RFC 8200 §4)', () => {
  it('skips PadN and options whose type starts 00; 01 discards silently, 10 always answers, 11 only unicast', () => {
    const opt = (t: number): number[] => [IPV6_NH.UDP, 0, t, 2, 0, 0, 1, 0]; // one option, then PadN(0)... one 8-byte header
    expect(walkIpv6(datagram(IPV6_NH.DEST_OPTS, opt(0x1e)))).toMatchObject({ kind: 'headers', protocol: 17, offset: 48, protocolAt: 40 });
    expect(walkIpv6(datagram(IPV6_NH.DEST_OPTS, opt(0x5e)))).toEqual({ kind: 'problem', code: 2, pointer: 42, icmp: 'never' });
    expect(walkIpv6(datagram(IPV6_NH.DEST_OPTS, opt(0x9e)))).toEqual({ kind: 'problem', code: 2, pointer: 42, icmp: 'always' });
    expect(walkIpv6(datagram(IPV6_NH.HOP_BY_HOP, opt(0xde)))).toEqual({ kind: 'problem', code: 2, pointer: 42, icmp: 'unicast' });
    // a jumbo payload option is not taken (RFC 2675: we accept no jumbograms)
    expect(walkIpv6(datagram(IPV6_NH.HOP_BY_HOP, [17, 0, 0xc2, 4, 0, 1, 0, 0]))).toMatchObject({ kind: 'problem', code: 2, pointer: 42 });
  });

  it('an option running past its header is a malformed header, discarded', () => {
    expect(walkIpv6(datagram(IPV6_NH.DEST_OPTS, [17, 0, 0x1e, 9, 0, 0, 0, 0]))).toEqual({ kind: 'problem', code: 0, pointer: 43, icmp: 'never' });
  });

  it('hop-by-hop anywhere but first is an unrecognised next header (code 1 at the byte naming it)', () => {
    const d = datagram(IPV6_NH.DEST_OPTS, [0, 0, 1, 4, 0, 0, 0, 0, 17, 0, 1, 4, 0, 0, 0, 0]);
    expect(walkIpv6(d)).toEqual({ kind: 'problem', code: 1, pointer: 40, icmp: 'always' });
  });

  it('a routing header with segments left 0 is ignored; with segments left (type 0 or any) it is refused at its type field', () => {
    const rh = (type: number, left: number): number[] => [17, 2, type, left, 0, 0, 0, 0, ...new Array<number>(16).fill(0)];
    expect(walkIpv6(datagram(IPV6_NH.ROUTING, rh(0, 0)))).toMatchObject({ kind: 'headers', protocol: 17, offset: 64 });
    expect(walkIpv6(datagram(IPV6_NH.ROUTING, rh(0, 1)))).toEqual({ kind: 'problem', code: 0, pointer: 42, icmp: 'always' });
    expect(walkIpv6(datagram(IPV6_NH.ROUTING, rh(4, 1)))).toEqual({ kind: 'problem', code: 0, pointer: 42, icmp: 'always' });
  });

  it('an atomic fragment is walked through (RFC 6946); a first fragment without its upper header is code 3 (RFC 7112)', () => {
    const fh = (off: number, more: boolean, nh = 17): number[] => {
      const b = new Uint8Array(8);
      writeIpv6Fragment(b, 0, nh, off, more, 0x1234);
      return [...b];
    };
    expect(walkIpv6(datagram(IPV6_NH.FRAGMENT, fh(0, false)))).toMatchObject({ kind: 'headers', protocol: 17, offset: 48, atomic: true, fragment: null });
    expect(walkIpv6(datagram(IPV6_NH.FRAGMENT, fh(0, true), [1, 2, 3]))).toEqual({ kind: 'problem', code: 3, pointer: 0, icmp: 'always' });
    expect(walkIpv6(datagram(IPV6_NH.FRAGMENT, fh(0, true, 60), [17, 0, 1, 4, 0, 0]))).toMatchObject({ kind: 'problem', code: 3 });
    expect(walkIpv6(datagram(IPV6_NH.FRAGMENT, fh(8, true), [1, 2, 3]))).toMatchObject({
      kind: 'headers', protocol: 44, fragment: { offset: 8, more: true, ident: 0x1234 },
    });
  });

  it('a header running past the datagram is `truncated`; a chain of more than 8 extension headers is refused', () => {
    expect(walkIpv6(datagram(IPV6_NH.DEST_OPTS, [17, 1, 1, 4, 0, 0, 0, 0], []))).toBe(WireError.truncated);
    const nine: number[] = [];
    for (let i = 0; i < 9; i++) nine.push(i < 8 ? 60 : 17, 0, 1, 4, 0, 0, 0, 0);
    expect(walkIpv6(datagram(IPV6_NH.DEST_OPTS, nine))).toMatchObject({ kind: 'problem', code: 0, icmp: 'never' });
  });
});

describe('ND options', () => {
  it('round-trips every kind, rejects bad lengths', () => {
    const opts = [
      { type: 'sourceLinkAddr' as const, mac: 0x020000000001 },
      { type: 'prefix' as const, prefixLen: 64, onLink: true, autonomous: false, reservedFlags: 0x20, validLifetime: 7200, preferredLifetime: 1800, prefix: A('2001:db8::') },
      { type: 'mtu' as const, mtu: 9000 },
      { type: 'rdnss' as const, lifetime: 300, servers: [A('2001:db8::53'), A('2001:db8::54')] },
      { type: 'other' as const, code: 31, data: new Uint8Array(14).fill(7) },
    ];
    const b = new Uint8Array(8 + 32 + 8 + 40 + 16);
    expect(writeNdOptions(b, 0, opts)).toBe(b.length);
    expect(parseNdOptions(b, 0)).toEqual(opts);
    expect(parseNdOptions(Uint8Array.of(5, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), 0)).toBe(WireError.badOption);
    expect(parseNdOptions(Uint8Array.of(25, 2, ...new Array<number>(14).fill(0)), 0)).toBe(WireError.badOption);
    expect(parseNdOptions(Uint8Array.of(1, 2, 0, 0, 0, 0, 0, 0), 0)).toBe(WireError.truncated);
    expect(parseNdOptions(Uint8Array.of(1), 0)).toBe(WireError.truncated);
  });

  it('emits an MLDv2 query and MLDv1 messages that parse back', () => {
    for (const m of [
      { kind: 'mldQuery' as const, maxResponse: 10000, reserved: 0, group: A('::'), v2: { sqrv: 2, qqic: 125, sources: [A('fe80::1')] } },
      { kind: 'mldQuery' as const, maxResponse: 1000, reserved: 0, group: A('ff02::1:ff00:1'), v2: null },
      { kind: 'mldReport' as const, maxResponse: 0, reserved: 0, group: A('ff02::1:ff00:1') },
      { kind: 'redirect' as const, reserved: 0, target: A('fe80::1'), destination: A('2001:db8::9'), options: [] },
    ]) {
      const b = new Uint8Array(64);
      const n = emitIcmpv6(m, b, 0, PEER, US);
      expect(parseIcmpv6(b.subarray(0, n), PEER, US)).toEqual(m);
    }
  });
});

describe('IPv6 address text and classes', () => {
  it('formats RFC 5952 canonical text', () => {
    const cases: [string, string][] = [
      ['2001:0db8:0000:0000:0000:ff00:0042:8329', '2001:db8::ff00:42:8329'],
      ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // one zero group is not compressed
      ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'], // the longest run
      ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // the first of equal runs
      ['::', '::'],
      ['::1', '::1'],
      ['FE80::5054:FF:FE12:3456', 'fe80::5054:ff:fe12:3456'],
      ['::ffff:10.0.0.1', '::ffff:a00:1'],
    ];
    for (const [i, o] of cases) expect(formatIpv6(A(i))).toBe(o);
  });

  it('refuses malformed text', () => {
    for (const s of ['', ':', '1::2::3', '12345::', '1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8:9', '::g', '1.2.3.4', '::1.2.3', '::256.0.0.1', 'fe80::1%eth0', '::01.2.3.4']) {
      expect(parseIpv6Addr(s), s).toBeNull();
    }
    expect(parseIpv6Prefix('fd00:9::2/64')).toEqual({ prefix: A('fd00:9::'), len: 64 });
    expect(parseIpv6Prefix('fd00:9::2/129')).toBeNull();
  });

  it('solicited-node groups, multicast MACs, keys, prefixes', () => {
    const sn = ip6SolicitedNode(US);
    expect(formatIpv6(sn)).toBe('ff02::1:ff12:3456');
    expect(ip6IsSolicitedNode(sn)).toBe(true);
    expect(ip6MulticastMac(sn)).toBe(0x3333ff123456);
    expect(ip6FromKey(ip6Key(US))).toEqual(US);
    expect(ip6Key(PEER)).not.toBe(ip6Key(US));
    expect(ip6IsLinkLocal(US)).toBe(true);
    expect(ip6IsLinkLocal(A('fec0::1'))).toBe(false);
    expect(ip6PrefixMatch(A('2001:db8:1::1'), A('2001:db8:1:ff::'), 56)).toBe(true);
    expect(ip6PrefixMatch(A('2001:db8:1::1'), A('2001:db8:1:ff::'), 57)).toBe(false);
    expect(ip6CommonPrefixLen(A('2001:db8::1'), A('2001:db8::3'))).toBe(126);
    expect(formatIpv6(ip6Masked(A('2001:db8:1:ff::1'), 57))).toBe('2001:db8:1:80::');
  });
});
