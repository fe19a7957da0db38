// Three stacks, two segments: A (10.0.0.1/24) — hub1 — R (10.0.0.254 and
// 10.1.0.254, forwarding) — hub2 — B (10.1.0.2/24). A and B reach each other
// through default routes via R; A only ever resolves R's MAC.
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/lib/clock.js';
import { SeededRng } from '../../src/lib/rng.js';
import { EtherPort } from '../../src/link/etherport.js';
import { Hub } from '../../src/link/hub.js';
import type { IcmpAdvice } from '../../src/stack/core.js';
import type { Ifc } from '../../src/stack/ifc.js';
import { Stack } from '../../src/stack/stack.js';
import { ETHERTYPE_IPV4 } from '../../src/stack/wire/ethernet.js';
import { parseIpv4 } from '../../src/stack/wire/ipv4.js';
import { WireError } from '../../src/stack/wire/result.js';
import { etherType, ip, pattern } from '../stack/helpers.js';

function net(opts: { mtu2?: number } = {}) {
  const clock = new ManualClock(0);
  const hub1 = new Hub({ clock });
  const hub2 = new Hub({ clock, mtu: opts.mtu2 ?? 1500 });
  const a = new Stack({ clock, rng: new SeededRng(1) });
  const r = new Stack({ clock, rng: new SeededRng(2), forwarding: true });
  const b = new Stack({ clock, rng: new SeededRng(3) });
  const pa = new EtherPort('ether0', hub1.port());
  const ia = a.addInterface(pa.stackLink(), pa.name);
  const r1 = r.addInterface(hub1.port());
  const r2 = r.addInterface(hub2.port());
  const ib = b.addInterface(hub2.port());
  ia.addAddress(ip('10.0.0.1'), 24);
  r1.addAddress(ip('10.0.0.254'), 24);
  r2.addAddress(ip('10.1.0.254'), 24);
  ib.addAddress(ip('10.1.0.2'), 24);
  a.routes.add({ target: 0, mask: 0, nexthop: ip('10.0.0.254') });
  b.routes.add({ target: 0, mask: 0, nexthop: ip('10.1.0.254') });
  clock.advance(1);
  return { clock, a, r, b, ia, r1, r2, ib, pa };
}

describe('routing through a gateway', () => {
  it('uses the default route; only the gateway is resolved by ARP', () => {
    const { clock, a, r, b, ia, r1, pa } = net();
    const dsts = new Set<number>();
    pa.tap((f, dir) => {
      if (dir === 'out' && etherType(f) === ETHERTYPE_IPV4) {
        const h = parseIpv4(f.subarray(14));
        if (!(h instanceof WireError)) dsts.add(h.dst);
      }
    });
    const replies: Uint8Array[] = [];
    const ping = a.icmp.open({ remoteAddr: ip('10.1.0.2'), onPacket: (p) => replies.push(p) });
    expect(a.sourceFor(ip('10.1.0.2'))).toBe(ip('10.0.0.1'));
    ping.sendEcho(1, pattern(100));
    clock.advance(1);
    expect(replies).toHaveLength(1);
    const h = parseIpv4(replies[0]!);
    if (h instanceof WireError) throw new Error(h.reason);
    expect(h.src).toBe(ip('10.1.0.2'));
    expect(h.ttl).toBe(254); // one hop
    expect(a.arp.list()).toEqual([
      { ip: ip('10.0.0.254'), mac: r1.mac, state: 'OK', ifc: ia, ifcAddr: ip('10.0.0.1') },
    ]);
    expect([...dsts]).toEqual([ip('10.1.0.2')]);
    expect(r.stats.ip.ForwDatagrams).toBe(2);
    expect(r.stats.ip.Forwarding).toBe(1);
    expect(b.stats.icmp.inTypes[8]).toBe(1);
    expect(a.routes.lookup(ip('10.1.0.2'))).toMatchObject({ ifc: ia, nexthop: ip('10.0.0.254') });
  });

  it('UDP both ways across the router', () => {
    const { clock, a, b } = net();
    const got: string[] = [];
    const dec = new TextDecoder();
    const srv = b.udp.open({
      localPort: 7,
      onDatagram: (s, sp, _d, _dp, p) => {
        got.push(`b<-${dec.decode(p)}`);
        srv.send(p, s, sp);
      },
    });
    const cli = a.udp.open({
      remoteAddr: ip('10.1.0.2'),
      remotePort: 7,
      onDatagram: (_s, _sp, _d, _dp, p) => got.push(`a<-${dec.decode(p)}`),
    });
    cli.send(new TextEncoder().encode('x'));
    clock.advance(1);
    expect(got).toEqual(['b<-x', 'a<-x']);
  });

  it('TTL exhausted at the router comes back as "ttl exceeded at <router>"', () => {
    const { clock, a, r } = net();
    const adv: IcmpAdvice[] = [];
    const ep = a.udp.open({
      remoteAddr: ip('10.1.0.2'),
      remotePort: 7,
      onDatagram: () => {},
      onAdvice: (x) => adv.push(x),
    });
    ep.ttl = 1;
    ep.send(new Uint8Array([1]));
    clock.advance(1);
    expect(adv).toHaveLength(1);
    expect(adv[0]).toMatchObject({ reason: 'ttl exceeded at 10.0.0.254', type: 11, code: 0, from: ip('10.0.0.254') });
    expect(r.stats.ip.InHdrErrors).toBe(1);
    expect(r.stats.ip.ForwDatagrams).toBe(0);
    // TTL 2 gets through.
    ep.ttl = 2;
    ep.send(new Uint8Array([1]));
    clock.advance(1);
    expect(r.stats.ip.ForwDatagrams).toBe(2); // datagram + port unreachable back
    expect(adv.map((x) => x.reason)).toEqual(['ttl exceeded at 10.0.0.254', 'port unreachable']);
  });

  it('no route: OutNoRoutes locally; net unreachable from the router', () => {
    const { clock, a, r } = net();
    const lone = new Stack({ clock, rng: new SeededRng(9) });
    const ep0 = lone.udp.open({ onDatagram: () => {} });
    expect(ep0.send(new Uint8Array(1), ip('8.8.8.8'), 53)).toBe('no route');
    expect(lone.stats.ip.OutNoRoutes).toBe(1);
    // The router has no default route.
    const adv: IcmpAdvice[] = [];
    const ep = a.udp.open({
      remoteAddr: ip('192.168.7.7'),
      remotePort: 7,
      onDatagram: () => {},
      onAdvice: (x) => adv.push(x),
    });
    ep.send(new Uint8Array(1));
    clock.advance(1);
    expect(r.stats.ip.OutNoRoutes).toBe(1);
    expect(adv.map((x) => x.reason)).toEqual(['net unreachable']);
  });

  it('the router fragments to a smaller MTU; DF gets "fragmentation needed" with the MTU', () => {
    const { clock, a, r, b } = net({ mtu2: 576 });
    const got: Uint8Array[] = [];
    b.udp.open({ localPort: 9, onDatagram: (_s, _sp, _d, _dp, p) => got.push(p) });
    const ep = a.udp.open({ onDatagram: () => {} });
    ep.send(pattern(1400), ip('10.1.0.2'), 9);
    clock.advance(1);
    expect(got).toEqual([pattern(1400)]);
    expect(r.stats.ip.FragOKs).toBe(1);
    expect(r.stats.ip.FragCreates).toBe(3);
    expect(b.stats.ip.ReasmOKs).toBe(1);
    // DF through sendIp: the router answers code 4 with next-hop MTU 576.
    const adv: IcmpAdvice[] = [];
    const handler = { input: () => {}, advise: (x: IcmpAdvice) => adv.push(x) };
    a.registerProtocol(253, handler);
    expect(a.sendIp(ip('10.1.0.2'), 253, pattern(1000), { dontFrag: true })).toBe('sent');
    clock.advance(1);
    expect(adv).toHaveLength(1);
    expect(adv[0]).toMatchObject({ reason: 'fragmentation needed and DF set', mtu: 576, protocol: 253 });
    expect(r.stats.ip.FragFails).toBe(1);
    // Locally, DF over the interface MTU is refused.
    expect(a.sendIp(ip('10.1.0.2'), 253, pattern(2000), { dontFrag: true })).toBe('too big');
  });

  it('a host that does not forward drops transit traffic (InAddrErrors)', () => {
    const { clock, a, r, ia } = net();
    r.forwarding = false;
    const ep = a.udp.open({ onDatagram: () => {} });
    ep.send(new Uint8Array(1), ip('10.1.0.2'), 7);
    clock.advance(1);
    expect(r.stats.ip.InAddrErrors).toBe(1);
    expect(r.stats.drops.get('ipv4', 'not for us')).toBe(1);
    void ia;
  });

  it('unbind removes addresses, interface routes and ARP entries', () => {
    const { clock, a, ia } = net();
    const ping = a.icmp.open({ remoteAddr: ip('10.1.0.2'), onPacket: () => {} });
    ping.sendEcho(1);
    clock.advance(1);
    expect(a.arp.size).toBe(1);
    const ifcOf = (x: Ifc) => x.index;
    expect(ifcOf(ia)).toBe(1); // 0 is the loopback
    ia.unbind();
    expect(a.interfaces()).toEqual([a.loopback]);
    expect(a.arp.size).toBe(0);
    expect(a.routes.list().filter((x) => x.tag === 'ifc' && x.ifc === ia)).toEqual([]);
    expect(a.isLocal(ip('10.0.0.1'))).toBe(false);
    expect(ping.send(new Uint8Array(8))).toBe('no route'); // default route has no interface now
  });
});
