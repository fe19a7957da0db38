// ICMP: echo replies by the stack, conversations (whole-packet reads,
// identifier = local port), error generation rules and rate limiting,
// advice parsing and reason strings.
import { describe, expect, it } from 'vitest';
import type { IcmpAdvice } from '../../src/stack/core.js';
import { StackError } from '../../src/stack/error.js';
import { ICMP_RATE_BURST, icmpReason, RateLimiter } from '../../src/stack/icmp.js';
import { get16 } from '../../src/stack/wire/bytes.js';
import { ETHERTYPE_IPV4, MAC_BROADCAST } from '../../src/stack/wire/ethernet.js';
import { parseIpv4 } from '../../src/stack/wire/ipv4.js';
import { WireError } from '../../src/stack/wire/result.js';
import {
  channelStack,
  decode,
  ethFrame,
  icmpBytes,
  ip,
  ipPacket,
  MAC_PEER,
  MAC_US,
  pattern,
  udpBytes,
} from './helpers.js';

const US = ip('10.0.0.1');
const PEER = ip('10.0.0.2');

function inject(s: ReturnType<typeof channelStack>, pkt: Uint8Array, dstMac = MAC_US): void {
  s.link.inject(ethFrame(dstMac, MAC_PEER, ETHERTYPE_IPV4, pkt));
}

describe('ICMP echo', () => {
  it('answers echo requests from the address they were sent to', () => {
    const s = channelStack();
    const req = icmpBytes({ kind: 'echoRequest', ident: 0x1234, seq: 7, data: pattern(56) });
    inject(s, ipPacket({ src: PEER, dst: US, protocol: 1 }, req));
    const out = s.link.take().map(decode);
    expect(out).toHaveLength(1);
    expect(out[0]!.eth.dst).toBe(MAC_PEER);
    expect(out[0]!.ip).toMatchObject({ src: US, dst: PEER, ttl: 255, protocol: 1 });
    expect(out[0]!.icmp).toEqual({ kind: 'echoReply', ident: 0x1234, seq: 7, data: pattern(56) });
    expect(s.stack.stats.icmp).toMatchObject({ InMsgs: 1, OutMsgs: 1, InErrors: 0 });
    expect(s.stack.stats.icmp.inTypes[8]).toBe(1);
    expect(s.stack.stats.icmp.outTypes[0]).toBe(1);
  });

  it('counts bad checksums and short messages', () => {
    const s = channelStack();
    const req = icmpBytes({ kind: 'echoRequest', ident: 1, seq: 1, data: pattern(8) });
    req[10]! ^= 0xff;
    inject(s, ipPacket({ src: PEER, dst: US, protocol: 1 }, req));
    inject(s, ipPacket({ src: PEER, dst: US, protocol: 1 }, new Uint8Array(5)));
    expect(s.link.take()).toEqual([]);
    expect(s.stack.stats.icmp).toMatchObject({ InMsgs: 2, InErrors: 2, CsumErrs: 1, HlenErrs: 1 });
    expect(s.stack.stats.drops.get('icmp', 'bad checksum')).toBe(1);
  });
});

describe('ICMP conversations', () => {
  it('send fills the identifier and checksum; replies arrive as whole IPv4 packets', () => {
    const s = channelStack();
    const pkts: Uint8Array[] = [];
    const ep = s.stack.icmp.open({ remoteAddr: PEER, onPacket: (p) => pkts.push(p) });
    const msg = new Uint8Array(8 + 4);
    msg[0] = 8;
    msg[4] = 0xde; // identifier: overwritten
    msg[6] = 0;
    msg[7] = 9;
    msg.set([1, 2, 3, 4], 8);
    expect(ep.send(msg)).toBe('sent');
    const out = decode(s.link.take()[0]!);
    expect(out.icmp).toEqual({ kind: 'echoRequest', ident: ep.port, seq: 9, data: Uint8Array.from([1, 2, 3, 4]) });
    // A reply with IP options: delivered with a 20-byte header.
    const rep = icmpBytes({ kind: 'echoReply', ident: ep.port, seq: 9, data: Uint8Array.from([1, 2, 3, 4]) });
    inject(s, ipPacket({ src: PEER, dst: US, protocol: 1, ttl: 33, options: Uint8Array.from([1, 1, 1, 0]) }, rep));
    // Another identifier: not ours.
    inject(s, ipPacket({ src: PEER, dst: US, protocol: 1 }, icmpBytes({ kind: 'echoReply', ident: ep.port ^ 1, seq: 9, data: pattern(4) })));
    expect(pkts).toHaveLength(1);
    const p = pkts[0]!;
    expect(p.length).toBe(20 + 12);
    const h = parseIpv4(p);
    if (h instanceof WireError) throw new Error(h.reason);
    expect(h).toMatchObject({ src: PEER, dst: US, ttl: 33, protocol: 1 });
    expect(p.subarray(20)).toEqual(rep);
    expect(s.stack.stats.drops.get('icmp', 'no conversation')).toBe(1);
    expect(() => s.stack.icmp.open({ port: ep.port, onPacket: () => {} })).toThrow(new StackError('address in use'));
    expect(() => s.stack.icmp.open({ localAddr: ip('1.2.3.4'), onPacket: () => {} })).toThrow(
      new StackError('not a local IP address'),
    );
    ep.close();
    expect(s.stack.icmp.size).toBe(0);
    expect(ep.send(msg)).toBe('dropped');
  });

  it('drops messages shorter than the ICMP header', () => {
    const s = channelStack();
    const ep = s.stack.icmp.open({ remoteAddr: PEER, onPacket: () => {} });
    expect(ep.send(new Uint8Array(7))).toBe('dropped');
    expect(s.link.take()).toEqual([]);
  });
});

describe('ICMP errors we send', () => {
  it('port unreachable quotes the IP header and 8 bytes', () => {
    const s = channelStack();
    const pkt = ipPacket({ src: PEER, dst: US, protocol: 17, ident: 99 }, udpBytes(PEER, US, 5000, 6000, pattern(100)));
    inject(s, pkt);
    const out = s.link.take().map(decode);
    expect(out).toHaveLength(1);
    expect(out[0]!.ip).toMatchObject({ src: US, dst: PEER });
    expect(out[0]!.icmp).toMatchObject({ kind: 'destUnreachable', code: 3 });
    const data = out[0]!.icmp!.data;
    expect(data).toEqual(pkt.subarray(0, 28));
    expect(s.stack.stats.udp.NoPorts).toBe(1);
  });

  it('protocol unreachable for unknown protocols (InUnknownProtos)', () => {
    const s = channelStack();
    inject(s, ipPacket({ src: PEER, dst: US, protocol: 99 }, pattern(20)));
    const out = s.link.take().map(decode);
    expect(out[0]!.icmp).toMatchObject({ kind: 'destUnreachable', code: 2 });
    expect(s.stack.stats.ip.InUnknownProtos).toBe(1);
  });

  it('never answers errors, broadcasts, link broadcasts or bogus sources', () => {
    const s = channelStack();
    const udp = (src: number, dst: number) => ipPacket({ src, dst, protocol: 17 }, udpBytes(src, dst, 1, 2, pattern(4)));
    inject(s, udp(0, US)); // source 0.0.0.0
    inject(s, udp(PEER, ip('10.0.0.255'))); // directed broadcast
    inject(s, udp(PEER, ip('255.255.255.255')), MAC_BROADCAST);
    inject(s, udp(ip('127.0.0.1'), US));
    inject(s, udp(ip('10.0.0.255'), US)); // our broadcast as source
    // An ICMP error is advice, never answered with another error.
    const unreach = icmpBytes({ kind: 'destUnreachable', code: 3, nextHopMtu: 0, data: udp(US, PEER).subarray(0, 28) });
    inject(s, ipPacket({ src: PEER, dst: US, protocol: 1 }, unreach));
    expect(s.link.take()).toEqual([]);
    // The two broadcasts reach UDP (no port, no error); the bogus sources never get past IP.
    expect(s.stack.stats.udp.NoPorts).toBe(2);
    expect(s.stack.stats.ip.InAddrErrors).toBe(3);
    expect(s.stack.stats.drops.get('ipv4', 'martian source')).toBe(3);
  });

  it('rate limits errors with a token bucket on simulated time', () => {
    const s = channelStack();
    const flood = () => {
      for (let i = 0; i < 200; i++) inject(s, ipPacket({ src: PEER, dst: US, protocol: 17 }, udpBytes(PEER, US, 1, 2, pattern(4))));
    };
    flood();
    expect(s.link.take()).toHaveLength(ICMP_RATE_BURST);
    expect(s.stack.stats.drops.get('icmp', 'rate limited')).toBe(200 - ICMP_RATE_BURST);
    s.clock.advance(100); // 10 tokens at 100/s
    flood();
    expect(s.link.take()).toHaveLength(10);
    const rl = new RateLimiter(2, 1);
    expect([rl.allow(0), rl.allow(0), rl.allow(0), rl.allow(999), rl.allow(1000), rl.allow(5000), rl.allow(5000), rl.allow(5000)]).toEqual([
      true, true, false, false, true, true, true, false,
    ]);
  });
});

describe('advice', () => {
  it('reason strings follow Plan 9', () => {
    expect(icmpReason(3, 0, 1, 2)).toBe('net unreachable');
    expect(icmpReason(3, 1, 1, 2)).toBe('host unreachable');
    expect(icmpReason(3, 3, 1, 2)).toBe('port unreachable');
    expect(icmpReason(3, 4, 1, 2)).toBe('fragmentation needed and DF set');
    expect(icmpReason(3, 15, 1, 2)).toBe('precedence cutoff in effect');
    expect(icmpReason(3, 20, ip('10.0.0.2'), ip('10.0.0.1'))).toBe('unreachable 10.0.0.2 -> 10.0.0.1 code 20');
    expect(icmpReason(11, 0, ip('10.9.9.9'), 0)).toBe('ttl exceeded at 10.9.9.9');
    expect(icmpReason(11, 1, 1, 2)).toBeNull();
    expect(icmpReason(5, 0, 1, 2)).toBeNull();
  });

  it('reaches a registered protocol with its ports; errors not about us are ignored', () => {
    const s = channelStack();
    const adv: IcmpAdvice[] = [];
    const inputs: number[] = [];
    const reg = s.stack.registerProtocol(6, {
      input: (ipr, payload) => inputs.push(ipr.src, payload.length),
      advise: (a) => adv.push(a),
    });
    expect(() => s.stack.registerProtocol(6, { input: () => {} })).toThrow();
    expect(() => s.stack.registerProtocol(17, { input: () => {} })).toThrow();
    const seg = new Uint8Array(20);
    seg.set([0x12, 0x34, 0x00, 0x50, 1, 2, 3, 4]);
    const quoted = ipPacket({ src: US, dst: PEER, protocol: 6 }, seg);
    const err = icmpBytes({ kind: 'destUnreachable', code: 1, nextHopMtu: 0, data: quoted.subarray(0, 28) });
    inject(s, ipPacket({ src: ip('10.0.0.254'), dst: US, protocol: 1 }, err));
    expect(adv).toHaveLength(1);
    expect(adv[0]).toMatchObject({
      reason: 'host unreachable',
      from: ip('10.0.0.254'),
      src: US,
      dst: PEER,
      protocol: 6,
      srcPort: 0x1234,
      dstPort: 80,
    });
    expect(get16(adv[0]!.quote, 0)).toBe(0x1234);
    // About a datagram from someone else.
    const other = ipPacket({ src: ip('10.0.0.3'), dst: PEER, protocol: 6 }, seg);
    inject(s, ipPacket({ src: PEER, dst: US, protocol: 1 }, icmpBytes({ kind: 'destUnreachable', code: 1, nextHopMtu: 0, data: other.subarray(0, 28) })));
    expect(adv).toHaveLength(1);
    expect(s.stack.stats.drops.get('icmp', 'advice not about us')).toBe(1);
    // A malformed quote counts LenErrs.
    inject(s, ipPacket({ src: PEER, dst: US, protocol: 1 }, icmpBytes({ kind: 'destUnreachable', code: 1, nextHopMtu: 0, data: pattern(10) })));
    expect(s.stack.stats.icmp.LenErrs).toBe(1);
    // The handler sees its protocol's input.
    inject(s, ipPacket({ src: PEER, dst: US, protocol: 6 }, seg));
    expect(inputs).toEqual([PEER, 20]);
    reg.dispose();
    inject(s, ipPacket({ src: PEER, dst: US, protocol: 6 }, seg));
    expect(s.stack.stats.ip.InUnknownProtos).toBe(1);
  });
});
