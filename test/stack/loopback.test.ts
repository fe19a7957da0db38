// Item 8: the stack's own loopback interface. 127/8 never leaves a stack
// (RFC 1122 §3.2.1.3 (g)): TCP, UDP and ICMP to 127.0.0.1 and any other
// 127/8 address run inside it with source 127.0.0.1, no frame reaches the
// link, and datagrams to our own ether address are delivered locally too.
// Delivery goes through the bounded loopback queue on the injected clock,
// never synchronously inside the sender's call.
import { describe, expect, it } from 'vitest';
import type { IcmpAdvice } from '../../src/stack/core.js';
import { LOOPBACK_MTU } from '../../src/stack/ifc.js';
import { LOOPBACK_MAX } from '../../src/stack/stack.js';
import { TcpLayer } from '../../src/stack/tcp/tcp.js';
import type { TcpConn } from '../../src/stack/tcp/conn.js';
import { parseIpv4 } from '../../src/stack/wire/ipv4.js';
import { WireError } from '../../src/stack/wire/result.js';
import { channelStack, ip, pattern } from './helpers.js';

const LO = ip('127.0.0.1');

describe('the loopback interface', () => {
  it('is there from the start: 127.0.0.1/8, no link, Plan 9 loopback MTU', () => {
    const { stack } = channelStack();
    const lo = stack.loopback;
    expect(stack.interfaces()[0]).toBe(lo);
    expect(lo).toMatchObject({ loopback: true, link: null, index: 0, name: '/dev/null', hsize: 0, mtu: LOOPBACK_MTU });
    expect(lo.addresses()).toMatchObject([{ ip: LO, prefixLen: 8, bcast: ip('127.255.255.255') }]);
    expect(stack.isLocal(LO)).toBe(true);
    expect(stack.isLocal(ip('127.9.8.7'))).toBe(true); // all of 127/8 is us
    expect(stack.isLocal(ip('127.255.255.255'))).toBe(false);
    expect(stack.sourceFor(ip('127.9.8.7'))).toBe(LO);
    expect(stack.routes.lookup(ip('127.9.8.7'))).toMatchObject({ ifc: lo });
  });

  it('pings 127.0.0.1 and 127.1.2.3 with source 127.0.0.1; nothing reaches the link', () => {
    const { clock, stack, link } = channelStack();
    const got: Uint8Array[] = [];
    const ping = stack.icmp.open({ onPacket: (p) => got.push(p) });
    expect(ping.sendEcho(1, pattern(32), LO)).toBe('sent');
    expect(ping.sendEcho(2, pattern(32), ip('127.1.2.3'))).toBe('sent');
    expect(got).toEqual([]); // never synchronously
    clock.advance(0);
    clock.advance(0);
    const replies = got.map((p) => parseIpv4(p)).filter((r) => !(r instanceof WireError) && r.payload[0] === 0);
    expect(replies.map((r) => [(r as { src: number }).src, (r as { dst: number }).dst])).toEqual([
      [LO, LO],
      [ip('127.1.2.3'), LO],
    ]);
    expect(link.take()).toEqual([]);
    expect(stack.loopback.counters.pktout).toBe(4); // two requests, two replies
    expect(stack.loopback.counters.pktin).toBe(4);
  });

  it('carries UDP to any 127/8 address, with port unreachable advice for a closed port', () => {
    const { clock, stack, link } = channelStack();
    const seen: [number, number, number][] = [];
    const srv = stack.udp.open({
      localPort: 7,
      onDatagram: (src, sport, dst, _dp, p) => {
        seen.push([src, dst, p.length]);
        srv.send(p, src, sport, dst); // echo back from the address it was sent to
      },
    });
    const back: number[] = [];
    const cli = stack.udp.open({ onDatagram: (src) => back.push(src) });
    expect(cli.send(pattern(100), ip('127.0.0.9'), 7)).toBe('sent');
    clock.advance(0);
    clock.advance(0);
    expect(seen).toEqual([[LO, ip('127.0.0.9'), 100]]);
    expect(back).toEqual([ip('127.0.0.9')]);
    const advice: IcmpAdvice[] = [];
    const conn = stack.udp.open({ remoteAddr: LO, remotePort: 9, onDatagram: () => {}, onAdvice: (a) => advice.push(a) });
    conn.send(pattern(4));
    clock.advance(0);
    clock.advance(0);
    expect(advice).toMatchObject([{ reason: 'port unreachable', from: LO, dst: LO, dstPort: 9 }]);
    expect(link.take()).toEqual([]);
  });

  it('runs TCP to 127.0.0.1 inside the stack (source 127.0.0.1, loopback MSS)', () => {
    const { clock, stack, link } = channelStack();
    const tcp = new TcpLayer(stack);
    const server: Uint8Array[] = [];
    let accepted: TcpConn | null = null;
    tcp.listen({
      localPort: 22,
      onAccept: (c) => {
        accepted = c;
        return { onData: (d) => server.push(d.slice()) };
      },
    });
    let open = false;
    const client: Uint8Array[] = [];
    const c = tcp.connect({ remoteAddr: LO, remotePort: 22, handler: { onOpen: () => (open = true), onData: (d) => client.push(d.slice()) } });
    expect(c.localAddr).toBe(LO);
    for (let i = 0; i < 10 && !open; i++) clock.advance(1);
    expect(open).toBe(true);
    expect(c.info().mss).toBe(LOOPBACK_MTU - 40 - 12); // IP, TCP and timestamp option headers
    const big = pattern(100_000, 3);
    c.write(big, clock.now());
    for (let i = 0; i < 200 && server.reduce((n, b) => n + b.length, 0) < big.length; i++) clock.advance(1);
    expect(Buffer.concat(server)).toEqual(Buffer.from(big));
    accepted!.write(pattern(10), clock.now());
    for (let i = 0; i < 50 && client.length === 0; i++) clock.advance(1);
    expect(Buffer.concat(client)).toEqual(Buffer.from(pattern(10)));
    expect(accepted!.localAddr).toBe(LO);
    expect(accepted!.remoteAddr).toBe(LO);
    expect(link.take()).toEqual([]);
    tcp.dispose();
  });

  it('delivers datagrams to our own ether address locally, without touching the link', () => {
    const { clock, stack, link, ifc } = channelStack();
    const got: number[] = [];
    stack.udp.open({ localPort: 5, onDatagram: (src, _sp, dst) => got.push(src, dst) });
    const before = ifc.counters.pktout;
    expect(stack.udp.open({ onDatagram: () => {} }).send(new Uint8Array([1]), ip('10.0.0.1'), 5)).toBe('sent');
    clock.advance(0);
    expect(got).toEqual([ip('10.0.0.1'), ip('10.0.0.1')]);
    expect(ifc.counters.pktout).toBe(before);
    expect(link.take()).toEqual([]);
  });

  it('never puts 127/8 on a link: from 127.0.0.1 to a peer, or 127/8 once the loopback is unbound, is no route', () => {
    const { stack, link } = channelStack();
    stack.routes.add({ target: 0, mask: 0, nexthop: ip('10.0.0.2') });
    const ep = stack.udp.open({ localAddr: LO, onDatagram: () => {} });
    expect(ep.send(pattern(4), ip('10.0.0.2'), 9)).toBe('no route');
    stack.loopback.unbind();
    expect(stack.isLocal(LO)).toBe(false);
    const any = stack.udp.open({ onDatagram: () => {} });
    expect(any.send(pattern(4), LO, 9)).toBe('no route'); // the default route would take it to the wire
    expect(stack.stats.ip.OutNoRoutes).toBe(2);
    expect(link.take()).toEqual([]);
    // Plan 9 `bind loopback DEV`: a new one works again.
    stack.addLoopback('/dev/null').addAddress(LO, 8);
    expect(stack.isLocal(LO)).toBe(true);
    expect(any.send(pattern(4), LO, 9)).toBe('sent');
  });

  it('does not recurse: two endpoints bouncing a datagram advance one hop per timer round, bounded by the queue', () => {
    const { clock, stack } = channelStack();
    let hops = 0;
    const a = stack.udp.open({ localPort: 1000, onDatagram: (_s, _sp, _d, _dp, p) => { hops++; if (hops < 5000) a.send(p, LO, 1001); } });
    stack.udp.open({ localPort: 1001, onDatagram: (_s, _sp, _d, _dp, p) => { hops++; if (hops < 5000) a.send(p, LO, 1000); } });
    a.send(new Uint8Array([7]), LO, 1001);
    expect(hops).toBe(0);
    clock.advance(0); // the whole exchange runs in this advance, one drain per hop
    expect(hops).toBe(5000);
    // The queue is bounded: what does not fit is dropped and counted.
    const results = new Set<string>();
    for (let i = 0; i <= LOOPBACK_MAX; i++) results.add(a.send(new Uint8Array(1), LO, 9));
    expect([...results]).toEqual(['sent', 'dropped']);
    expect(stack.stats.drops.get('loopback', 'queue full')).toBe(1);
    clock.advance(0);
  });
});
