// Item 9: martians from a link are discarded silently and counted in
// InAddrErrors (RFC 1122 §3.2.1.3, §3.3.6; RFC 1812 §5.3.7): sources 0/8,
// 127/8, class D/E and our own broadcast/network addresses (answering those
// would broadcast the answer: a reflector), and 127/8 destinations. What a
// DHCP client needs keeps working: 0.0.0.0 as a destination (the accept-any
// address) and as our own source.
import { describe, expect, it } from 'vitest';
import { Stack } from '../../src/stack/stack.js';
import { ETHERTYPE_IPV4, MAC_BROADCAST } from '../../src/stack/wire/ethernet.js';
import { ManualClock } from '../../src/lib/clock.js';
import { SeededRng } from '../../src/lib/rng.js';
import { arpFrame, channelStack, ChannelLink, decode, ethFrame, icmpBytes, ip, ipPacket, MAC_PEER, MAC_US, pattern, udpBytes } from './helpers.js';

const US = ip('10.0.0.1');
const PEER = ip('10.0.0.2');

function echoFrom(src: number, dst = US, mac = MAC_US): Uint8Array {
  const echo = icmpBytes({ kind: 'echoRequest', ident: 7, seq: 1, data: pattern(16) });
  return ethFrame(mac, MAC_PEER, ETHERTYPE_IPV4, ipPacket({ src, dst, protocol: 1 }, echo));
}

const MARTIAN_SOURCES: [string, string][] = [
  ['127.0.0.1', 'loopback'],
  ['127.8.9.10', 'loopback net'],
  ['0.0.0.0', 'this host'],
  ['0.1.2.3', 'this network'],
  ['10.0.0.255', 'our subnet broadcast'],
  ['10.0.0.0', 'our network address'],
  ['224.0.0.5', 'multicast'],
  ['240.0.0.1', 'class E'],
  ['255.255.255.255', 'limited broadcast'],
];

describe('martian datagrams from a link', () => {
  it.each(MARTIAN_SOURCES)('an echo request from %s (%s) gets no reply and counts InAddrErrors', (src) => {
    const { stack, link } = channelStack();
    link.inject(echoFrom(ip(src)));
    expect(link.take()).toEqual([]);
    expect(stack.stats.ip.InAddrErrors).toBe(1);
    expect(stack.stats.drops.get('ipv4', 'martian source')).toBe(1);
    expect(stack.stats.icmp.InMsgs).toBe(0);
  });

  it('a normal ping is still answered, as a unicast', () => {
    const { stack, link } = channelStack();
    link.inject(echoFrom(PEER));
    const out = link.take().map(decode);
    expect(out).toHaveLength(1);
    expect(out[0]!.eth.dst).toBe(MAC_PEER);
    expect(out[0]!.ip).toMatchObject({ src: US, dst: PEER });
    expect(out[0]!.icmp).toMatchObject({ kind: 'echoReply', ident: 7 });
    expect(stack.stats.ip.InAddrErrors).toBe(0);
  });

  it('drops 127/8 destinations from the wire, and broadcast-sourced UDP before any endpoint', () => {
    const { stack, link } = channelStack();
    link.inject(echoFrom(PEER, ip('127.0.0.1')));
    expect(stack.stats.drops.get('ipv4', 'martian destination')).toBe(1);
    let got = 0;
    stack.udp.open({ localPort: 53, onDatagram: () => got++ });
    const bcastSrc = ip('10.0.0.255');
    link.inject(ethFrame(MAC_US, MAC_PEER, ETHERTYPE_IPV4, ipPacket({ src: bcastSrc, dst: US, protocol: 17 }, udpBytes(bcastSrc, US, 53, 53, pattern(8)))));
    expect(got).toBe(0);
    expect(link.take()).toEqual([]);
    expect(stack.stats.ip.InAddrErrors).toBe(2);
  });

  it('does not forward martians, even as a router', () => {
    const clock = new ManualClock(0);
    const r = new Stack({ clock, rng: new SeededRng(9), forwarding: true });
    const l1 = new ChannelLink(MAC_US);
    const l2 = new ChannelLink(0x02_00_00_00_00_99);
    r.addInterface(l1).addAddress(US, 24);
    r.addInterface(l2).addAddress(ip('10.1.0.1'), 24);
    r.arp.add(ip('10.1.0.2'), 0x02_00_00_00_00_aa);
    l1.take();
    l2.take();
    for (const src of ['127.0.0.1', '0.0.0.0', '10.0.0.255', '10.1.0.255']) l1.inject(echoFrom(ip(src), ip('10.1.0.2')));
    expect(l2.take()).toEqual([]);
    expect(r.stats.ip.ForwDatagrams).toBe(0);
    expect(r.stats.ip.InAddrErrors).toBe(4);
    l1.inject(echoFrom(PEER, ip('10.1.0.2')));
    expect(l2.take()).toHaveLength(1);
  });

  it('learns no ARP entry for a 127/8 or 0/8 sender', () => {
    const { stack, link } = channelStack({ knowPeer: false });
    for (const sender of ['127.0.0.1', '0.1.2.3']) {
      link.inject(arpFrame(MAC_BROADCAST, { op: 'request', senderMac: MAC_PEER, senderIp: ip(sender), targetMac: 0, targetIp: US }));
    }
    expect(stack.arp.list()).toEqual([]);
  });

  it('keeps DHCP working: sends from 0.0.0.0 to 255.255.255.255 on the wire, receives the reply while accepting any address', () => {
    const clock = new ManualClock(0);
    const stack = new Stack({ clock, rng: new SeededRng(2) });
    const link = new ChannelLink(MAC_US);
    const ifc = stack.addInterface(link);
    ifc.addAddress(0, 0); // Plan 9's accept-any address, as ipconfig does before DHCP
    const got: [number, number][] = [];
    const ep = stack.udp.open({ localPort: 68, onDatagram: (src, _sp, dst) => got.push([src, dst]) });
    expect(ep.send(pattern(300), ip('255.255.255.255'), 67)).toBe('sent');
    const out = link.take().map(decode);
    expect(out).toHaveLength(1);
    expect(out[0]!.eth.dst).toBe(MAC_BROADCAST);
    expect(out[0]!.ip).toMatchObject({ src: 0, dst: ip('255.255.255.255') });
    // The server's offer, to the address it offers and to the limited broadcast.
    const server = ip('10.0.0.254');
    for (const dst of [ip('10.0.0.77'), ip('255.255.255.255')]) {
      const mac = dst === ip('255.255.255.255') ? MAC_BROADCAST : MAC_US;
      link.inject(ethFrame(mac, MAC_PEER, ETHERTYPE_IPV4, ipPacket({ src: server, dst, protocol: 17 }, udpBytes(server, dst, 67, 68, pattern(300)))));
    }
    expect(got).toEqual([
      [server, ip('10.0.0.77')],
      [server, ip('255.255.255.255')],
    ]);
    expect(stack.stats.ip.InAddrErrors).toBe(0);
  });
});
