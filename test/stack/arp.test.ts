// ARP (RFC 826, Plan 9 arp.c semantics) against a channel link: requests,
// replies, learning rules, held packets and their bounds, retries, expiry,
// aging, the LRU bound and the /net/arp operations.
import { describe, expect, it } from 'vitest';
import {
  ARP_CACHE_SIZE,
  ARP_LIFETIME_MS,
  ARP_PENDING_PER_ENTRY,
  ARP_RETRY_MS,
  ARP_WAIT_MS,
} from '../../src/stack/arp.js';
import { MAC_BROADCAST } from '../../src/stack/wire/ethernet.js';
import { arpFrame, channelStack, decode, ip, MAC_PEER, MAC_US } from './helpers.js';

function send(s: ReturnType<typeof channelStack>, dst: string, n = 1): void {
  const ep = s.stack.udp.open({ onDatagram: () => {} });
  for (let i = 0; i < n; i++) ep.send(new Uint8Array([i]), ip(dst), 9);
  ep.close();
}

describe('ARP', () => {
  it('broadcasts a request, holds packets, sends them in order on the reply', () => {
    const s = channelStack({ knowPeer: false });
    send(s, '10.0.0.2', 3);
    const out = s.link.take().map(decode);
    expect(out).toHaveLength(1);
    expect(out[0]!.eth.dst).toBe(MAC_BROADCAST);
    expect(out[0]!.arp).toEqual({
      op: 'request',
      senderMac: MAC_US,
      senderIp: ip('10.0.0.1'),
      targetMac: 0,
      targetIp: ip('10.0.0.2'),
    });
    expect(s.stack.arp.pendingFrames).toBe(3);
    s.link.inject(
      arpFrame(MAC_US, { op: 'reply', senderMac: MAC_PEER, senderIp: ip('10.0.0.2'), targetMac: MAC_US, targetIp: ip('10.0.0.1') }),
    );
    const sent = s.link.take().map(decode);
    expect(sent.map((d) => [d.eth.dst, d.udp!.payload[0]])).toEqual([
      [MAC_PEER, 0],
      [MAC_PEER, 1],
      [MAC_PEER, 2],
    ]);
    expect(s.stack.arp.pendingFrames).toBe(0);
    expect(s.stack.arp.list()).toMatchObject([{ ip: ip('10.0.0.2'), mac: MAC_PEER, state: 'OK', ifcAddr: ip('10.0.0.1') }]);
  });

  it('answers requests for our address and learns the requester', () => {
    const s = channelStack({ knowPeer: false });
    s.link.inject(
      arpFrame(MAC_BROADCAST, { op: 'request', senderMac: MAC_PEER, senderIp: ip('10.0.0.2'), targetMac: 0, targetIp: ip('10.0.0.1') }),
    );
    const out = s.link.take().map(decode);
    expect(out).toHaveLength(1);
    expect(out[0]!.eth.dst).toBe(MAC_PEER);
    expect(out[0]!.arp).toEqual({
      op: 'reply',
      senderMac: MAC_US,
      senderIp: ip('10.0.0.1'),
      targetMac: MAC_PEER,
      targetIp: ip('10.0.0.2'),
    });
    expect(s.stack.arp.list()).toMatchObject([{ ip: ip('10.0.0.2'), state: 'OK' }]);
  });

  it('ignores requests for others and unsolicited replies (no new entries), but refreshes known ones', () => {
    const s = channelStack({ knowPeer: false });
    s.link.inject(
      arpFrame(MAC_BROADCAST, { op: 'request', senderMac: MAC_PEER, senderIp: ip('10.0.0.2'), targetMac: 0, targetIp: ip('10.0.0.3') }),
    );
    s.link.inject(
      arpFrame(MAC_US, { op: 'reply', senderMac: MAC_PEER, senderIp: ip('10.0.0.2'), targetMac: MAC_US, targetIp: ip('10.0.0.99') }),
    );
    expect(s.link.take()).toEqual([]);
    expect(s.stack.arp.size).toBe(0);
    s.stack.arp.add(ip('10.0.0.2'), 0x02_00_00_00_00_77);
    s.link.inject(
      arpFrame(MAC_BROADCAST, { op: 'request', senderMac: MAC_PEER, senderIp: ip('10.0.0.2'), targetMac: 0, targetIp: ip('10.0.0.3') }),
    );
    expect(s.stack.arp.list()[0]!.mac).toBe(MAC_PEER);
  });

  it('detects another station claiming our address and does not learn it', () => {
    const s = channelStack({ knowPeer: false });
    s.link.inject(
      arpFrame(MAC_BROADCAST, { op: 'request', senderMac: MAC_PEER, senderIp: ip('10.0.0.1'), targetMac: 0, targetIp: ip('10.0.0.1') }),
    );
    expect(s.stack.stats.drops.get('arp', 'address conflict')).toBe(1);
    expect(s.stack.arp.size).toBe(0);
  });

  it('does not answer before an address is configured; counts malformed packets', () => {
    const s = channelStack({ knowPeer: false });
    s.ifc.removeAddress(ip('10.0.0.1'));
    s.link.inject(
      arpFrame(MAC_BROADCAST, { op: 'request', senderMac: MAC_PEER, senderIp: ip('10.0.0.2'), targetMac: 0, targetIp: ip('10.0.0.1') }),
    );
    expect(s.link.take()).toEqual([]);
    const bad = arpFrame(MAC_BROADCAST, { op: 'request', senderMac: MAC_PEER, senderIp: 1, targetMac: 0, targetIp: 2 });
    s.link.inject(bad.subarray(0, 30));
    bad[15] = 0x86; // ptype 0x0806: unsupported
    s.link.inject(bad);
    expect(s.stack.stats.drops.get('arp', 'truncated')).toBe(1);
    expect(s.stack.stats.drops.get('arp', 'unsupported')).toBe(1);
    expect(s.ifc.counters.errin).toBe(2);
  });

  it('retries every second, gives up after 3 s with ICMP host unreachable to the local sender', () => {
    const s = channelStack({ knowPeer: false });
    const reasons: string[] = [];
    const ep = s.stack.udp.open({
      remoteAddr: ip('10.0.0.2'),
      remotePort: 9,
      onDatagram: () => {},
      onAdvice: (a) => reasons.push(a.reason),
    });
    ep.send(new Uint8Array([1]));
    expect(s.link.take().map((f) => decode(f).arp?.op)).toEqual(['request']);
    const t0 = s.clock.now();
    const times: number[] = [];
    for (let t = 0; t < ARP_WAIT_MS + 100; t += 100) {
      s.clock.advance(100);
      for (const f of s.link.take()) if (decode(f).arp) times.push(s.clock.now() - t0);
    }
    expect(s.link.sent).toEqual([]);
    expect(times).toEqual([ARP_RETRY_MS, 2 * ARP_RETRY_MS]);
    expect(reasons).toEqual(['host unreachable']);
    expect(s.stack.arp.size).toBe(0);
    expect(s.stack.stats.drops.get('arp', 'unresolved')).toBe(1);
  });

  it('bounds the per-entry queue (oldest dropped, OutDiscards)', () => {
    const s = channelStack({ knowPeer: false });
    send(s, '10.0.0.2', ARP_PENDING_PER_ENTRY + 4);
    expect(s.stack.arp.pendingFrames).toBe(ARP_PENDING_PER_ENTRY);
    expect(s.stack.stats.ip.OutDiscards).toBe(4);
    s.link.take();
    s.link.inject(
      arpFrame(MAC_US, { op: 'reply', senderMac: MAC_PEER, senderIp: ip('10.0.0.2'), targetMac: MAC_US, targetIp: ip('10.0.0.1') }),
    );
    const firsts = s.link.take().map((f) => decode(f).udp!.payload[0]);
    expect(firsts[0]).toBe(4);
    expect(firsts).toHaveLength(ARP_PENDING_PER_ENTRY);
  });

  it('keeps at most 256 entries, evicting the least recently used', () => {
    const s = channelStack();
    s.ifc.removeAddress(ip('10.0.0.1'));
    s.ifc.addAddress(ip('10.0.0.1'), 16);
    s.stack.arp.flush();
    for (let i = 0; i < ARP_CACHE_SIZE + 10; i++) {
      s.clock.advance(1);
      s.stack.arp.add(ip('10.0.1.0') + i, 0x020000000100 + i);
      if (i === 200) {
        // Use entry 0 so it survives.
        s.clock.advance(1);
        const ep = s.stack.udp.open({ onDatagram: () => {} });
        ep.send(new Uint8Array(1), ip('10.0.1.0'), 9);
      }
    }
    const ips = new Set(s.stack.arp.list().map((e) => e.ip - ip('10.0.1.0')));
    expect(s.stack.arp.size).toBe(ARP_CACHE_SIZE);
    expect(ips.has(0)).toBe(true);
    expect(ips.has(1)).toBe(false);
    expect(ips.has(10)).toBe(false);
    expect(ips.has(11)).toBe(true);
    expect(ips.has(ARP_CACHE_SIZE + 9)).toBe(true);
  });

  it('ages entries after 15 minutes: next packet re-requests and is held', () => {
    const s = channelStack();
    send(s, '10.0.0.2');
    expect(decode(s.link.take()[0]!).eth.dst).toBe(MAC_PEER);
    s.clock.advance(ARP_LIFETIME_MS);
    send(s, '10.0.0.2');
    const out = s.link.take().map(decode);
    expect(out.map((d) => (d.arp ? 'arp' : 'ip'))).toEqual(['arp']);
    expect(s.stack.arp.list()[0]!.state).toBe('WAIT');
  });

  it('add / del / flush / list / garp', () => {
    const s = channelStack({ knowPeer: false });
    expect(s.stack.arp.add(ip('10.0.0.5'), 0x020000000005)).toBe(true);
    expect(s.stack.arp.add(ip('99.0.0.5'), 0x020000000006)).toBe(false); // no route
    expect(s.stack.arp.lookup(ip('10.0.0.5'))).toBe(0x020000000005);
    expect(s.stack.arp.del(ip('10.0.0.5'))).toBe(true);
    expect(s.stack.arp.del(ip('10.0.0.5'))).toBe(false);
    s.stack.arp.add(ip('10.0.0.6'), 0x020000000006);
    s.stack.arp.flush();
    expect(s.stack.arp.list()).toEqual([]);
    expect(s.stack.arp.garp(ip('10.0.0.1'))).toBe(true);
    const g = decode(s.link.take()[0]!);
    expect(g.arp).toMatchObject({ op: 'request', senderIp: ip('10.0.0.1'), targetIp: ip('10.0.0.1') });
  });
});
