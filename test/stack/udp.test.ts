// UDP endpoints: ephemeral ports, binding rules, demultiplexing by
// specificity, malformed datagrams, advice routing.
import { describe, expect, it } from 'vitest';
import { SeededRng } from '../../src/lib/rng.js';
import type { IcmpAdvice } from '../../src/stack/core.js';
import { StackError } from '../../src/stack/error.js';
import { allocEphemeral, EPHEMERAL_HI, EPHEMERAL_LO } from '../../src/stack/ports.js';
import { ETHERTYPE_IPV4 } from '../../src/stack/wire/ethernet.js';
import { channelStack, decode, ethFrame, icmpBytes, ip, ipPacket, MAC_PEER, MAC_US, pattern, udpBytes } from './helpers.js';

const US = ip('10.0.0.1');
const PEER = ip('10.0.0.2');

function injectUdp(s: ReturnType<typeof channelStack>, src: number, sport: number, dport: number, data: Uint8Array, dst = US): void {
  s.link.inject(ethFrame(MAC_US, MAC_PEER, ETHERTYPE_IPV4, ipPacket({ src, dst, protocol: 17 }, udpBytes(src, dst, sport, dport, data))));
}

describe('UDP endpoints', () => {
  it('allocates random ephemeral ports in 32768–65535, reproducibly from the seed', () => {
    const ports = (seed: number) => {
      const s = channelStack({ seed });
      return Array.from({ length: 20 }, () => s.stack.udp.open({ onDatagram: () => {} }).localPort);
    };
    const a = ports(7);
    expect(ports(7)).toEqual(a);
    expect(new Set(a).size).toBe(20);
    for (const p of a) expect(p >= EPHEMERAL_LO && p <= EPHEMERAL_HI).toBe(true);
    expect(allocEphemeral(new SeededRng(1), (p) => p !== 40000)).toBe(40000);
    expect(allocEphemeral(new SeededRng(1), () => true)).toBe(-1);
  });

  it('refuses duplicate four-tuples and foreign local addresses', () => {
    const s = channelStack();
    const a = s.stack.udp.open({ localPort: 53, onDatagram: () => {} });
    expect(() => s.stack.udp.open({ localPort: 53, onDatagram: () => {} })).toThrow(new StackError('address in use'));
    // Same port, other local address or connected to a peer: allowed.
    s.stack.udp.open({ localPort: 53, localAddr: US, onDatagram: () => {} });
    const c = s.stack.udp.open({ localPort: 53, remoteAddr: PEER, remotePort: 1000, onDatagram: () => {} });
    expect(() => s.stack.udp.open({ localPort: 53, remoteAddr: PEER, remotePort: 1000, onDatagram: () => {} })).toThrow(StackError);
    expect(() => s.stack.udp.open({ localAddr: ip('10.0.0.9'), onDatagram: () => {} })).toThrow(new StackError('not a local IP address'));
    expect(() => s.stack.udp.open({ localPort: 70000, onDatagram: () => {} })).toThrow(new StackError('bad numeric port'));
    c.close();
    s.stack.udp.open({ localPort: 53, remoteAddr: PEER, remotePort: 1000, onDatagram: () => {} });
    a.close();
    a.close();
    expect(s.stack.udp.size).toBe(2);
  });

  it('delivers to the most specific endpoint: connected > bound address > wildcard', () => {
    const s = channelStack();
    const hits: string[] = [];
    s.stack.udp.open({ localPort: 53, onDatagram: () => hits.push('any') });
    s.stack.udp.open({ localPort: 53, localAddr: US, onDatagram: () => hits.push('bound') });
    s.stack.udp.open({ localPort: 53, localAddr: US, remoteAddr: PEER, remotePort: 1000, onDatagram: () => hits.push('conn') });
    injectUdp(s, PEER, 1000, 53, pattern(1));
    injectUdp(s, PEER, 1001, 53, pattern(1));
    injectUdp(s, ip('10.0.0.3'), 1000, 53, pattern(1));
    injectUdp(s, PEER, 1000, 53, pattern(1), ip('10.0.0.255'));
    expect(hits).toEqual(['conn', 'bound', 'bound', 'any']);
  });

  it('copies payloads; counts malformed datagrams as InErrors', () => {
    const s = channelStack();
    const got: Uint8Array[] = [];
    s.stack.udp.open({ localPort: 9, onDatagram: (_a, _b, _c, _d, p) => got.push(p) });
    const frame = ethFrame(MAC_US, MAC_PEER, ETHERTYPE_IPV4, ipPacket({ src: PEER, dst: US, protocol: 17 }, udpBytes(PEER, US, 1, 9, pattern(10))));
    s.link.inject(frame);
    frame.fill(0xee, 42);
    expect(got[0]).toEqual(pattern(10)); // not a view of the frame
    // Zero checksum: accepted unverified.
    const z = udpBytes(PEER, US, 1, 9, pattern(3));
    z[6] = 0;
    z[7] = 0;
    s.link.inject(ethFrame(MAC_US, MAC_PEER, ETHERTYPE_IPV4, ipPacket({ src: PEER, dst: US, protocol: 17 }, z)));
    expect(got).toHaveLength(2);
    const bad = udpBytes(PEER, US, 1, 9, pattern(10));
    bad[9]! ^= 1;
    const shortLen = udpBytes(PEER, US, 1, 9, pattern(10));
    shortLen[5] = 4;
    const longLen = udpBytes(PEER, US, 1, 9, pattern(10));
    longLen[5] = 200;
    for (const b of [bad, shortLen, longLen, pattern(5)]) {
      s.link.inject(ethFrame(MAC_US, MAC_PEER, ETHERTYPE_IPV4, ipPacket({ src: PEER, dst: US, protocol: 17 }, b)));
    }
    expect(got).toHaveLength(2);
    expect(s.stack.stats.udp).toMatchObject({ InDatagrams: 2, InErrors: 4 });
    expect(s.stack.stats.drops.get('udp', 'bad checksum')).toBe(1);
    expect(s.stack.stats.drops.get('udp', 'bad length')).toBe(1);
    expect(s.stack.stats.drops.get('udp', 'truncated')).toBe(2);
  });

  it('sends with the bound or route-chosen source, TTL and TOS; needs a destination', () => {
    const s = channelStack();
    const ep = s.stack.udp.open({ onDatagram: () => {} });
    ep.ttl = 7;
    ep.tos = 0x10;
    expect(ep.send(pattern(4))).toBe('no route');
    expect(ep.send(pattern(4), PEER, 99)).toBe('sent');
    const d = decode(s.link.take()[0]!);
    expect(d.ip).toMatchObject({ src: US, dst: PEER, ttl: 7, tos: 0x10 });
    expect(d.udp).toMatchObject({ srcPort: ep.localPort, dstPort: 99, payload: pattern(4) });
    ep.connect(PEER, 100, US);
    expect(ep.connected).toBe(true);
    ep.send(pattern(1));
    expect(decode(s.link.take()[0]!).udp!.dstPort).toBe(100);
    expect(s.stack.stats.udp.OutDatagrams).toBe(2);
  });

  it('routes advice to the connected endpoint, else the bound one', () => {
    const s = channelStack();
    const adv: string[] = [];
    const conn = s.stack.udp.open({
      localPort: 5000,
      remoteAddr: PEER,
      remotePort: 53,
      onDatagram: () => {},
      onAdvice: (a: IcmpAdvice) => adv.push(`conn ${a.reason}`),
    });
    s.stack.udp.open({ localPort: 5000, onDatagram: () => {}, onAdvice: (a) => adv.push(`any ${a.reason}`) });
    const unreach = (dport: number) => {
      const q = ipPacket({ src: US, dst: PEER, protocol: 17 }, udpBytes(US, PEER, 5000, dport, pattern(4)));
      const m = icmpBytes({ kind: 'destUnreachable', code: 3, nextHopMtu: 0, data: q.subarray(0, 28) });
      s.link.inject(ethFrame(MAC_US, MAC_PEER, ETHERTYPE_IPV4, ipPacket({ src: PEER, dst: US, protocol: 1 }, m)));
    };
    unreach(53);
    unreach(54);
    expect(adv).toEqual(['conn port unreachable', 'any port unreachable']);
    void conn;
  });
});
