/**
 * IPv6 fragmentation, bounded reassembly (RFC 8200 §4.5, RFC 5722), path
 * MTU from Packet Too Big (RFC 8201), Parameter Problems for what the
 * header walk refuses, and the rate limit on the errors we send.
 */
import { describe, expect, it } from 'vitest';
import { PMTU_AGE_MS } from '../../../src/stack/pmtu.js';
import { REASM6_MAX_BYTES, REASM6_MAX_DATAGRAMS, REASM6_TIMEOUT_MS, Reassembler6 } from '../../../src/stack/reasm6.js';
import type { Reasm6Host } from '../../../src/stack/reasm6.js';
import { SeededRng } from '../../../src/lib/rng.js';
import { ICMP6_RATE_BURST } from '../../../src/stack/icmpv6.js';
import { emitIcmpv6, icmpv6BufferLen } from '../../../src/stack/wire/icmpv6.js';
import { ip6SolicitedNode } from '../../../src/stack/wire/ipv6addr.js';
import type { Ip6 } from '../../../src/stack/wire/ipv6addr.js';
import { IPV6_HEADER_LEN, IPV6_NH, walkIpv6, writeIpv6Fragment, writeIpv6Header } from '../../../src/stack/wire/ipv6.js';
import { WireError } from '../../../src/stack/wire/result.js';
import { pattern } from '../helpers.js';
import * as G from '../wire/goldens6.js';
import type { Host6 } from './harness.js';
import { A, formatIpv6, host6, injectPacket, MAC_PEER, PEER_LL } from './harness.js';

/** A datagram from PEER_LL to `dst` with `ext` extension bytes before `upper`. */
function dgram(dst: Ip6, first: number, ext: number[], upper: Uint8Array, src: Ip6 = PEER_LL): Uint8Array {
  const p = new Uint8Array(IPV6_HEADER_LEN + ext.length + upper.length);
  writeIpv6Header(p, 0, 0, 0, ext.length + upper.length, first, 64, src, dst);
  p.set(ext, IPV6_HEADER_LEN);
  p.set(upper, IPV6_HEADER_LEN + ext.length);
  return p;
}

/** A fragment carrying `data` at `off` of datagram `ident` (next header ICMPv6). */
function frag(dst: Ip6, ident: number, off: number, more: boolean, data: Uint8Array, src: Ip6 = PEER_LL): Uint8Array {
  const fh = new Uint8Array(8);
  writeIpv6Fragment(fh, 0, IPV6_NH.ICMPV6, off, more, ident);
  return dgram(dst, IPV6_NH.FRAGMENT, [...fh], data, src);
}

/** An echo request message with checksum for PEER_LL → dst. */
function echo(dst: Ip6, seq: number, data: Uint8Array): Uint8Array {
  const m = { kind: 'echoRequest' as const, ident: 0x99, seq, data };
  const b = new Uint8Array(icmpv6BufferLen(m));
  emitIcmpv6(m, b, 0, PEER_LL, dst);
  return b;
}

/** A host whose link-local address is ready and that knows the peer's MAC. */
function ready(opts: { mtu?: number } = {}): Host6 & { ll: Ip6 } {
  const h = host6(opts);
  const ll = h.linkLocal();
  h.clock.advance(20_000); // router solicitations are over
  h.inject({ kind: 'neighborSolicit', reserved: 0, target: ll, options: [{ type: 'sourceLinkAddr', mac: MAC_PEER }] }, PEER_LL, ip6SolicitedNode(ll));
  h.inject({ kind: 'neighborAdvert', router: false, solicited: true, override: true, reserved: 0, target: PEER_LL, options: [] }, PEER_LL, ll);
  h.sent();
  return Object.assign(h, { ll });
}

/** Reassembles what the host sent (our own Reassembler6 as the peer). */
function peerReassemble(frames: { ip: { payload: Uint8Array } }[], now = 0): Uint8Array[] {
  const host: Reasm6Host = { reasm6Drop: () => {}, reasm6Problem: () => {}, reasm6TimedOut: () => {}, schedule: () => {} };
  const r = new Reassembler6(host);
  const out: Uint8Array[] = [];
  for (const f of frames) {
    const ipPayload = f.ip.payload;
    const pkt = new Uint8Array(ipPayload.buffer, ipPayload.byteOffset - IPV6_HEADER_LEN, IPV6_HEADER_LEN + ipPayload.length);
    const w = walkIpv6(pkt);
    if (w instanceof WireError || w.kind !== 'headers') throw new Error('walk');
    if (w.fragment === null) out.push(pkt);
    else {
      const whole = r.add(pkt, w, now);
      if (whole !== null) out.push(whole);
    }
  }
  return out;
}

describe('IPv6 fragments and path MTU', () => {
  it('reassembles the kernel\'s fragmented ping and answers with fragments that reassemble to the reply', () => {
    const h = ready();
    const kernelUs = A('fe80::5054:ff:fe12:3456');
    h.ip6.addAddress(h.ifc, kernelUs, 64);
    h.clock.advance(2000);
    h.sent();
    for (const g of [G.FRAG6_FIRST, G.FRAG6_LAST]) injectPacket(h, g.subarray(14));
    const frames = h.sent();
    expect(frames).toHaveLength(2);
    for (const f of frames) {
      expect(f.ip.payload.length + 40).toBeLessThanOrEqual(1500);
      expect(f.walk.kind === 'headers' && f.walk.fragment?.nextHeader).toBe(58);
    }
    const [reply] = peerReassemble(frames);
    expect(reply!.length).toBe(40 + 8 + 1600);
    expect(reply![40]).toBe(129);
    expect(formatIpv6(reply!.subarray(8, 24))).toBe('fe80::5054:ff:fe12:3456');
    expect(h.ip6.stats.ReasmOKs).toBe(1);
  });

  it('Packet Too Big lowers the path MTU (never below 1280, never raised), and the estimate ages out after 10 minutes', () => {
    const h = ready();
    const big = pattern(1400);
    const ptb = (mtu: number, quoteSrc: Ip6 = h.ll): void => {
      const quote = dgram(PEER_LL, IPV6_NH.ICMPV6, [], echo(PEER_LL, 1, big), quoteSrc).subarray(0, 1232);
      h.inject({ kind: 'packetTooBig', code: 0, mtu, data: quote }, PEER_LL, h.ll, { hopLimit: 64 });
    };
    expect(h.ip6.pathMtu(PEER_LL)).toBe(1500);
    ptb(1300, A('fe80::1234')); // not about a datagram of ours: ignored
    expect(h.ip6.pathMtu(PEER_LL)).toBe(1500);
    ptb(1300);
    expect(h.ip6.pathMtu(PEER_LL)).toBe(1300);
    injectPacket(h, dgram(h.ll, IPV6_NH.ICMPV6, [], echo(h.ll, 2, big)));
    const frames = h.sent();
    expect(frames).toHaveLength(2);
    for (const f of frames) expect(40 + f.ip.payload.length).toBeLessThanOrEqual(1300);
    expect(peerReassemble(frames)[0]!.subarray(48)).toEqual(big);
    ptb(1400);
    expect(h.ip6.pathMtu(PEER_LL)).toBe(1300);
    ptb(600);
    expect(h.ip6.pathMtu(PEER_LL)).toBe(1280);
    h.clock.advance(PMTU_AGE_MS);
    expect(h.ip6.pathMtu(PEER_LL)).toBe(1500);
  });

  it('an overlap discards the whole datagram and its later fragments (RFC 5722); a complete one still goes through', () => {
    const h = ready();
    const data = echo(h.ll, 3, pattern(200));
    injectPacket(h, frag(h.ll, 7, 0, true, data.subarray(0, 96)));
    injectPacket(h, frag(h.ll, 7, 88, true, data.subarray(88, 160)));
    injectPacket(h, frag(h.ll, 7, 96, false, data.subarray(96)));
    injectPacket(h, frag(h.ll, 7, 0, true, data.subarray(0, 96)));
    expect(h.sent()).toEqual([]);
    expect(h.stack.stats.drops.get('reasm6', 'overlap')).toBe(3);
    injectPacket(h, frag(h.ll, 8, 96, false, data.subarray(96)));
    injectPacket(h, frag(h.ll, 8, 0, true, data.subarray(0, 96)));
    expect(h.sent().map((d) => d.icmp?.kind)).toEqual(['echoReply']);
  });

  it('processes an atomic fragment (offset 0, M clear) as the datagram it holds (RFC 6946)', () => {
    const h = ready();
    injectPacket(h, frag(h.ll, 12, 0, false, echo(h.ll, 4, pattern(10))));
    expect(h.sent().map((d) => d.icmp)).toMatchObject([{ kind: 'echoReply', seq: 4 }]);
    expect(h.ip6.reassemblyDatagrams).toBe(0);
  });

  it('answers a bad fragment length or an end past 65535 with Parameter Problem, an unfinished datagram after 60 s with Time Exceeded', () => {
    const h = ready();
    injectPacket(h, frag(h.ll, 9, 0, true, pattern(20)));
    expect(h.sent().map((d) => d.icmp)).toMatchObject([{ kind: 'paramProblem', code: 0, pointer: 4 }]);
    injectPacket(h, frag(h.ll, 9, 65528, false, pattern(16)));
    expect(h.sent().map((d) => d.icmp)).toMatchObject([{ kind: 'paramProblem', code: 0, pointer: 42 }]);
    injectPacket(h, frag(h.ll, 10, 0, true, echo(h.ll, 1, pattern(40))));
    injectPacket(h, frag(h.ll, 11, 8, false, pattern(8))); // no first fragment: no error at timeout
    h.clock.advance(REASM6_TIMEOUT_MS);
    const te = h.sent();
    expect(te.map((d) => d.icmp)).toMatchObject([{ kind: 'timeExceeded', code: 1 }]);
    expect(h.ip6.reassemblyDatagrams).toBe(0);
  });

  it('stays within its bounds under a flood of fragments that never complete', () => {
    const h = ready();
    const rng = new SeededRng(5);
    for (let i = 0; i < 4000; i++) injectPacket(h, frag(h.ll, rng.u32() % 500, (rng.u32() % 64) * 8, true, pattern(1200 & ~7)));
    expect(h.ip6.reassemblyBytes).toBeLessThanOrEqual(REASM6_MAX_BYTES);
    expect(h.ip6.reassemblyDatagrams).toBeLessThanOrEqual(REASM6_MAX_DATAGRAMS);
    h.clock.advance(REASM6_TIMEOUT_MS);
    expect(h.ip6.reassemblyBytes).toBe(0);
  });
});

describe('Parameter Problems and the error rate limit', () => {
  it('answers an unknown next header with code 1 at the byte naming it, and options by their high bits', () => {
    const h = ready();
    injectPacket(h, dgram(h.ll, 253, [], pattern(8)));
    expect(h.sent().map((d) => d.icmp)).toMatchObject([{ kind: 'paramProblem', code: 1, pointer: 6 }]);
    const opt = (t: number): number[] => [IPV6_NH.NONE, 0, t, 2, 0, 0, 1, 0];
    injectPacket(h, dgram(h.ll, IPV6_NH.DEST_OPTS, opt(0x5e), new Uint8Array(0)));
    expect(h.sent()).toEqual([]);
    injectPacket(h, dgram(A('ff02::1'), IPV6_NH.DEST_OPTS, opt(0x9e), new Uint8Array(0)), 0x333300000001);
    expect(h.sent().map((d) => d.icmp)).toMatchObject([{ kind: 'paramProblem', code: 2, pointer: 42 }]);
    injectPacket(h, dgram(A('ff02::1'), IPV6_NH.DEST_OPTS, opt(0xde), new Uint8Array(0)), 0x333300000001);
    expect(h.sent()).toEqual([]);
    injectPacket(h, dgram(h.ll, IPV6_NH.DEST_OPTS, opt(0xde), new Uint8Array(0)));
    expect(h.sent().map((d) => d.icmp)).toMatchObject([{ kind: 'paramProblem', code: 2 }]);
    // A routing header with segments left is refused at its type field.
    injectPacket(h, dgram(h.ll, IPV6_NH.ROUTING, [IPV6_NH.NONE, 2, 0, 1, 0, 0, 0, 0, ...new Array<number>(16).fill(0)], new Uint8Array(0)));
    expect(h.sent().map((d) => d.icmp)).toMatchObject([{ kind: 'paramProblem', code: 0, pointer: 42 }]);
  });

  it('sends no more errors than the token bucket allows, then more as it refills', () => {
    const h = ready();
    for (let i = 0; i < 200; i++) injectPacket(h, dgram(h.ll, 253, [], pattern(8)));
    expect(h.sent()).toHaveLength(ICMP6_RATE_BURST);
    h.clock.advance(100); // 100 a second: ten more
    for (let i = 0; i < 200; i++) injectPacket(h, dgram(h.ll, 253, [], pattern(8)));
    expect(h.sent()).toHaveLength(10);
    expect(h.stack.stats.drops.get('icmp6', 'rate limited')).toBe(340);
  });

  it('drops martians and datagrams not for us, and says nothing about them', () => {
    const h = ready();
    for (const src of ['ff02::1', '::1', '::ffff:10.0.0.1']) injectPacket(h, dgram(h.ll, 253, [], pattern(8), A(src)));
    injectPacket(h, dgram(A('fe80::4321'), 253, [], pattern(8)));
    injectPacket(h, dgram(A('ff02::1:ff99:9999'), 253, [], pattern(8)), 0x3333ff999999);
    expect(h.sent()).toEqual([]);
    expect(h.ip6.stats.InAddrErrors).toBe(5);
  });
});
