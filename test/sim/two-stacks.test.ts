// Two (and more) stacks on the in-memory hub under a ManualClock: ARP,
// ping, UDP, fragmentation, gratuitous ARP, advice, ARP expiry and aging,
// broadcast.
import { describe, expect, it } from 'vitest';
import type { IcmpAdvice } from '../../src/stack/core.js';
import { ARP_LIFETIME_MS } from '../../src/stack/arp.js';
import { get16 } from '../../src/stack/wire/bytes.js';
import { ETHERTYPE_ARP, macToBytes } from '../../src/stack/wire/ethernet.js';
import { parseArp } from '../../src/stack/wire/arp.js';
import { parseIpv4 } from '../../src/stack/wire/ipv4.js';
import { WireError } from '../../src/stack/wire/result.js';
import { etherType, hubNet, ip, pattern } from '../stack/helpers.js';

describe('two stacks on a hub', () => {
  it('resolves ARP with request and reply; both caches end OK', () => {
    const { clock, stacks, ifcs } = hubNet(2);
    const [a, b] = stacks as [(typeof stacks)[0], (typeof stacks)[0]];
    const got: Uint8Array[] = [];
    const rx = b.udp.open({ localPort: 7, onDatagram: (_s, _sp, _d, _dp, p) => got.push(p) });
    const tx = a.udp.open({ onDatagram: () => {} });
    expect(tx.send(new Uint8Array([1, 2, 3]), ip('10.0.0.2'), 7)).toBe('pending');
    expect(a.arp.list()).toMatchObject([{ ip: ip('10.0.0.2'), state: 'WAIT', mac: 0 }]);
    clock.advance(1);
    expect(got).toEqual([new Uint8Array([1, 2, 3])]);
    expect(a.arp.list()).toEqual([
      { ip: ip('10.0.0.2'), mac: ifcs[1]!.mac, state: 'OK', ifc: ifcs[0], ifcAddr: ip('10.0.0.1') },
    ]);
    // b learnt a from the request aimed at it.
    expect(b.arp.list()).toMatchObject([{ ip: ip('10.0.0.1'), mac: ifcs[0]!.mac, state: 'OK' }]);
    rx.close();
  });

  it('pings both ways through ICMP conversations; reads include the 20-byte IP header', () => {
    const { clock, stacks } = hubNet(2);
    for (const [from, to, fromIp, toIp] of [
      [0, 1, '10.0.0.1', '10.0.0.2'],
      [1, 0, '10.0.0.2', '10.0.0.1'],
    ] as const) {
      const pkts: Uint8Array[] = [];
      const ep = stacks[from]!.icmp.open({ remoteAddr: ip(toIp), onPacket: (p) => pkts.push(p) });
      expect(ep.port).toBeGreaterThanOrEqual(32768);
      ep.sendEcho(1, pattern(56));
      ep.sendEcho(2, pattern(56, 1));
      clock.advance(1);
      expect(pkts).toHaveLength(2);
      for (const [i, p] of pkts.entries()) {
        const h = parseIpv4(p);
        if (h instanceof WireError) throw new Error(h.reason);
        expect(h.src).toBe(ip(toIp));
        expect(h.dst).toBe(ip(fromIp));
        expect(h.ttl).toBe(255);
        expect(p[20]).toBe(0); // echo reply
        expect(get16(p, 24)).toBe(ep.port);
        expect(get16(p, 26)).toBe(i + 1);
        expect(p.subarray(28)).toEqual(pattern(56, i));
      }
      expect(stacks[to]!.stats.icmp.inTypes[8]).toBeGreaterThanOrEqual(2);
      expect(stacks[to]!.stats.icmp.outTypes[0]).toBeGreaterThanOrEqual(2);
      ep.close();
    }
  });

  it('exchanges UDP both ways with addresses and ports reported', () => {
    const { clock, stacks } = hubNet(2);
    const [a, b] = stacks as [(typeof stacks)[0], (typeof stacks)[0]];
    const atB: [number, number, number, number, string][] = [];
    const atA: [number, number, number, number, string][] = [];
    const dec = new TextDecoder();
    const server = b.udp.open({
      localPort: 53,
      onDatagram: (s, sp, d, dp, p) => {
        atB.push([s, sp, d, dp, dec.decode(p)]);
        server.send(p.reverse(), s, sp);
      },
    });
    const client = a.udp.open({
      remoteAddr: ip('10.0.0.2'),
      remotePort: 53,
      onDatagram: (s, sp, d, dp, p) => atA.push([s, sp, d, dp, dec.decode(p)]),
    });
    client.send(new TextEncoder().encode('hello'));
    clock.advance(1);
    client.send(new TextEncoder().encode('world'));
    clock.advance(1);
    expect(atB).toEqual([
      [ip('10.0.0.1'), client.localPort, ip('10.0.0.2'), 53, 'hello'],
      [ip('10.0.0.1'), client.localPort, ip('10.0.0.2'), 53, 'world'],
    ]);
    expect(atA).toEqual([
      [ip('10.0.0.2'), 53, ip('10.0.0.1'), client.localPort, 'olleh'],
      [ip('10.0.0.2'), 53, ip('10.0.0.1'), client.localPort, 'dlrow'],
    ]);
    expect(a.stats.udp).toEqual({ InDatagrams: 2, NoPorts: 0, InErrors: 0, OutDatagrams: 2 });
    expect(b.stats.udp).toEqual({ InDatagrams: 2, NoPorts: 0, InErrors: 0, OutDatagrams: 2 });
  });

  it('fragments a datagram larger than the MTU and reassembles it byte-exact', () => {
    const { clock, stacks } = hubNet(2);
    const [a, b] = stacks as [(typeof stacks)[0], (typeof stacks)[0]];
    const data = pattern(9000, 3);
    const got: Uint8Array[] = [];
    b.udp.open({ localPort: 9, onDatagram: (_s, _sp, _d, _dp, p) => got.push(p) });
    const ep = a.udp.open({ onDatagram: () => {} });
    ep.send(data, ip('10.0.0.2'), 9);
    clock.advance(1);
    expect(got).toHaveLength(1);
    expect(got[0]).toEqual(data);
    // 9008 UDP bytes over 1480-byte fragments: 7 fragments.
    expect(a.stats.ip.FragOKs).toBe(1);
    expect(a.stats.ip.FragCreates).toBe(7);
    expect(b.stats.ip.ReasmReqds).toBe(7);
    expect(b.stats.ip.ReasmOKs).toBe(1);
    expect(b.reassemblyBytes).toBe(0);
    // A 60000-byte ping round-trips too (reply fragmented by the stack).
    const replies: Uint8Array[] = [];
    const ping = a.icmp.open({ remoteAddr: ip('10.0.0.2'), onPacket: (p) => replies.push(p) });
    ping.sendEcho(7, pattern(60000, 9));
    clock.advance(1);
    expect(replies).toHaveLength(1);
    expect(replies[0]!.subarray(28)).toEqual(pattern(60000, 9));
    expect(get16(replies[0]!, 2)).toBe(20 + 8 + 60000);
  });

  it('answers a closed UDP port with ICMP port unreachable, delivered as advice', () => {
    const { clock, stacks } = hubNet(2);
    const [a, b] = stacks as [(typeof stacks)[0], (typeof stacks)[0]];
    const advice: IcmpAdvice[] = [];
    const ep = a.udp.open({
      remoteAddr: ip('10.0.0.2'),
      remotePort: 4444,
      onDatagram: () => {},
      onAdvice: (x) => advice.push(x),
    });
    ep.send(new Uint8Array([1]));
    clock.advance(1);
    expect(b.stats.udp.NoPorts).toBe(1);
    expect(b.stats.icmp.outTypes[3]).toBe(1);
    expect(advice).toHaveLength(1);
    expect(advice[0]).toMatchObject({
      reason: 'port unreachable',
      type: 3,
      code: 3,
      from: ip('10.0.0.2'),
      src: ip('10.0.0.1'),
      dst: ip('10.0.0.2'),
      protocol: 17,
      srcPort: ep.localPort,
      dstPort: 4444,
    });
  });

  it('sends a gratuitous ARP when an address is added; a peer that knows it refreshes', () => {
    const { clock, stacks, ifcs, ports } = hubNet(2);
    const [a, b] = stacks as [(typeof stacks)[0], (typeof stacks)[0]];
    const seen: { sender: number; target: number; mac: number }[] = [];
    ports[1]!.tap((f, dir) => {
      if (dir !== 'in' || etherType(f) !== ETHERTYPE_ARP) return;
      const r = parseArp(f.subarray(14));
      if (!(r instanceof WireError)) seen.push({ sender: r.senderIp, target: r.targetIp, mac: r.senderMac });
    });
    // b knows 10.0.0.9 at a stale MAC; a takes over 10.0.0.9.
    b.arp.add(ip('10.0.0.9'), 0x02_de_ad_be_ef_00);
    ifcs[0]!.addAddress(ip('10.0.0.9'), 24);
    clock.advance(1);
    expect(seen).toEqual([{ sender: ip('10.0.0.9'), target: ip('10.0.0.9'), mac: ifcs[0]!.mac }]);
    expect(b.arp.list().find((e) => e.ip === ip('10.0.0.9'))).toMatchObject({ state: 'OK', mac: ifcs[0]!.mac });
    // garp() sends another one on demand.
    expect(a.arp.garp(ip('10.0.0.9'))).toBe(true);
    expect(a.arp.garp(ip('10.0.0.77'))).toBe(false);
    clock.advance(1);
    expect(seen).toHaveLength(2);
  });

  it('drops an unanswered WAIT entry after ~3 s with host unreachable advice to the sender', () => {
    const { clock, stacks, ports } = hubNet(2);
    const a = stacks[0]!;
    const requests: number[] = [];
    ports[1]!.tap((f, dir) => {
      if (dir === 'in' && etherType(f) === ETHERTYPE_ARP) requests.push(clock.now());
    });
    const advice: IcmpAdvice[] = [];
    const ep = a.udp.open({
      remoteAddr: ip('10.0.0.50'),
      remotePort: 9,
      onDatagram: () => {},
      onAdvice: (x) => advice.push(x),
    });
    const pings: IcmpAdvice[] = [];
    const ping = a.icmp.open({ remoteAddr: ip('10.0.0.50'), onPacket: () => {}, onAdvice: (x) => pings.push(x) });
    expect(ep.send(new Uint8Array([1]))).toBe('pending');
    ping.sendEcho(1);
    clock.advance(2999);
    expect(a.arp.list()).toMatchObject([{ ip: ip('10.0.0.50'), state: 'WAIT' }]);
    expect(advice).toEqual([]);
    clock.advance(1);
    expect(a.arp.list()).toEqual([]);
    expect(advice).toHaveLength(1);
    expect(advice[0]).toMatchObject({ reason: 'host unreachable', type: 3, code: 1, dst: ip('10.0.0.50'), dstPort: 9 });
    expect(pings).toHaveLength(1);
    expect(pings[0]!.reason).toBe('host unreachable');
    // Requests at 0, 1000 and 2000 ms.
    expect(requests).toEqual([0, 1000, 2000]);
  });

  it('re-resolves an entry older than 15 minutes', () => {
    const { clock, stacks, ports } = hubNet(2);
    const [a, b] = stacks as [(typeof stacks)[0], (typeof stacks)[0]];
    let got = 0;
    b.udp.open({ localPort: 7, onDatagram: () => got++ });
    const ep = a.udp.open({ remoteAddr: ip('10.0.0.2'), remotePort: 7, onDatagram: () => {} });
    let arps = 0;
    ports[0]!.tap((f, dir) => {
      if (dir === 'out' && etherType(f) === ETHERTYPE_ARP) arps++;
    });
    ep.send(new Uint8Array(1));
    clock.advance(1);
    expect([got, arps]).toEqual([1, 1]);
    clock.advance(ARP_LIFETIME_MS - 10);
    expect(ep.send(new Uint8Array(1))).toBe('sent');
    clock.advance(1);
    expect([got, arps]).toEqual([2, 1]);
    clock.advance(20);
    expect(ep.send(new Uint8Array(1))).toBe('pending');
    expect(a.arp.list()[0]!.state).toBe('WAIT');
    clock.advance(1);
    expect([got, arps]).toEqual([3, 2]);
    expect(a.arp.list()[0]!.state).toBe('OK');
  });

  it('delivers subnet and limited broadcasts to every stack, answers no ICMP for them', () => {
    const { clock, stacks } = hubNet(3);
    const got: number[][] = [[], [], []];
    stacks.forEach((s, i) => s.udp.open({ localPort: 520, onDatagram: (src, _sp, dst) => got[i]!.push(src, dst) }));
    const ep = stacks[0]!.udp.open({ localPort: 520, localAddr: ip('10.0.0.1'), onDatagram: () => {} });
    ep.send(new Uint8Array([1]), ip('10.0.0.255'), 520);
    ep.send(new Uint8Array([2]), ip('255.255.255.255'), 520);
    // To a port nobody has: no ICMP replies for broadcasts.
    ep.send(new Uint8Array([3]), ip('10.0.0.255'), 521);
    clock.advance(1);
    expect(got[1]).toEqual([ip('10.0.0.1'), ip('10.0.0.255'), ip('10.0.0.1'), ip('255.255.255.255')]);
    expect(got[2]).toEqual(got[1]);
    expect(stacks[1]!.stats.udp.NoPorts).toBe(1);
    expect(stacks[1]!.stats.icmp.OutMsgs).toBe(0);
    // Broadcast pings are ignored.
    const ping = stacks[0]!.icmp.open({ remoteAddr: ip('10.0.0.255'), onPacket: () => {} });
    ping.sendEcho(1);
    clock.advance(1);
    expect(stacks[1]!.stats.icmp.OutMsgs).toBe(0);
    expect(stacks[1]!.stats.drops.get('icmp', 'broadcast echo')).toBe(1);
  });

  it('drops frames for other MACs and counts them', () => {
    const { clock, stacks, ifcs, ports } = hubNet(3);
    const c = stacks[2]!;
    // a → b unicast once b's MAC is learnt by the hub does not reach c; the first
    // frames (ARP reply flooded before learning) might. Send raw frames to an unknown MAC.
    const f = new Uint8Array(60);
    f.set([0x02, 0x11, 0x22, 0x33, 0x44, 0x55], 0);
    f.set(macToBytes(ifcs[0]!.mac), 6);
    f[12] = 0x08;
    ports[0]!.transmit(f);
    clock.advance(1);
    expect(c.stats.drops.get('ether', 'not for us')).toBeGreaterThanOrEqual(1);
  });

  it('loops datagrams to our own address without touching the link', () => {
    const { clock, stacks, ifcs } = hubNet(1);
    const s = stacks[0]!;
    const got: number[] = [];
    s.udp.open({ localPort: 5, onDatagram: (src, _sp, _d, _dp, p) => got.push(src, p[0]!) });
    const before = ifcs[0]!.counters.pktout;
    const ep = s.udp.open({ onDatagram: () => {} });
    expect(ep.send(new Uint8Array([42]), ip('10.0.0.1'), 5)).toBe('sent');
    expect(got).toEqual([]); // never synchronously
    clock.advance(0);
    expect(got).toEqual([ip('10.0.0.1'), 42]);
    expect(ifcs[0]!.counters.pktout).toBe(before);
    // Ping ourselves.
    const pk: Uint8Array[] = [];
    const p = s.icmp.open({ remoteAddr: ip('10.0.0.1'), onPacket: (x) => pk.push(x) });
    p.sendEcho(3, pattern(10));
    clock.advance(0);
    expect(pk).toHaveLength(1);
  });
});
