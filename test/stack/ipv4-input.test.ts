// IPv4 input checks (header errors, address acceptance, TTL, broadcast
// rules) and forwarding between two channel links (TTL decrement,
// fragmentation with option copying).
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/lib/clock.js';
import { SeededRng } from '../../src/lib/rng.js';
import { Stack } from '../../src/stack/stack.js';
import { put16 } from '../../src/stack/wire/bytes.js';
import { ETHERTYPE_IPV4, MAC_BROADCAST } from '../../src/stack/wire/ethernet.js';
import { ChannelLink, channelStack, decode, ethFrame, ip, ipPacket, MAC_PEER, MAC_US, pattern, udpBytes } from './helpers.js';

const US = ip('10.0.0.1');
const PEER = ip('10.0.0.2');

function udpTo(dst: number, opts: { ttl?: number; src?: number } = {}): Uint8Array {
  const src = opts.src ?? PEER;
  return ipPacket({ src, dst, protocol: 17, ttl: opts.ttl ?? 64 }, udpBytes(src, dst, 1, 9, pattern(8)));
}

describe('IPv4 input', () => {
  it('counts header errors by reason (InHdrErrors) and never throws', () => {
    const s = channelStack();
    const good = udpTo(US);
    const variants: [string, (b: Uint8Array) => Uint8Array][] = [
      ['truncated', (b) => b.subarray(0, 19)],
      ['bad version', (b) => ((b[0] = 0x65), b)],
      ['bad header length', (b) => ((b[0] = 0x44), b)],
      ['bad length', (b) => (put16(b, 2, 10), b)],
      ['truncated', (b) => (put16(b, 2, 200), b)],
      ['bad checksum', (b) => ((b[8] = 1), b)],
    ];
    for (const [, f] of variants) s.link.inject(ethFrame(MAC_US, MAC_PEER, ETHERTYPE_IPV4, f(good.slice())));
    expect(s.stack.stats.ip.InHdrErrors).toBe(6);
    expect(s.stack.stats.ip.InReceives).toBe(6);
    expect(s.stack.stats.drops.get('ipv4', 'truncated')).toBe(2);
    expect(s.stack.stats.drops.get('ipv4', 'bad checksum')).toBe(1);
    expect(s.ifc.counters.errin).toBe(6);
    // Ethernet: short frame and an unhandled type.
    s.link.inject(new Uint8Array(10));
    s.link.inject(ethFrame(MAC_US, MAC_PEER, 0x86dd, pattern(40)));
    expect(s.stack.stats.drops.get('ether', 'truncated')).toBe(1);
    expect(s.stack.stats.drops.get('ether', 'unhandled type')).toBe(1);
  });

  it('accepts our unicast and broadcast addresses, ignores the rest (InAddrErrors)', () => {
    const s = channelStack();
    let n = 0;
    s.stack.udp.open({ localPort: 9, onDatagram: () => n++ });
    s.link.inject(ethFrame(MAC_US, MAC_PEER, ETHERTYPE_IPV4, udpTo(US, { ttl: 0 }))); // TTL 0 is fine for us
    s.link.inject(ethFrame(MAC_BROADCAST, MAC_PEER, ETHERTYPE_IPV4, udpTo(ip('10.0.0.255'))));
    s.link.inject(ethFrame(MAC_BROADCAST, MAC_PEER, ETHERTYPE_IPV4, udpTo(ip('10.0.0.0'))));
    s.link.inject(ethFrame(MAC_BROADCAST, MAC_PEER, ETHERTYPE_IPV4, udpTo(ip('255.255.255.255'))));
    expect(n).toBe(4);
    s.link.inject(ethFrame(MAC_US, MAC_PEER, ETHERTYPE_IPV4, udpTo(ip('10.0.0.7'))));
    s.link.inject(ethFrame(MAC_BROADCAST, MAC_PEER, ETHERTYPE_IPV4, udpTo(US))); // unicast IP in link broadcast
    s.link.inject(ethFrame(MAC_US, MAC_PEER, ETHERTYPE_IPV4, udpTo(US, { src: ip('224.0.0.5') })));
    s.link.inject(ethFrame(0x02_99_99_99_99_99, MAC_PEER, ETHERTYPE_IPV4, udpTo(US))); // other MAC
    expect(n).toBe(4);
    expect(s.stack.stats.ip.InAddrErrors).toBe(3);
    expect(s.stack.stats.drops.get('ipv4', 'not for us')).toBe(1);
    expect(s.stack.stats.drops.get('ipv4', 'unicast in link broadcast')).toBe(1);
    expect(s.stack.stats.drops.get('ipv4', 'martian source')).toBe(1);
    expect(s.stack.stats.drops.get('ether', 'not for us')).toBe(1);
    expect(s.stack.stats.ip.InDelivers).toBe(4);
  });

  it('an interface with address 0.0.0.0 accepts any destination', () => {
    const s = channelStack();
    let n = 0;
    s.stack.udp.open({ localPort: 9, onDatagram: () => n++ });
    s.ifc.addAddress(0, 0);
    expect(s.ifc.acceptAny).toBe(true);
    s.link.inject(ethFrame(MAC_US, MAC_PEER, ETHERTYPE_IPV4, udpTo(ip('10.0.0.7'))));
    expect(n).toBe(1);
    s.ifc.removeAddress(0);
    s.link.inject(ethFrame(MAC_US, MAC_PEER, ETHERTYPE_IPV4, udpTo(ip('10.0.0.7'))));
    expect(n).toBe(1);
  });
});

describe('forwarding', () => {
  function router() {
    const clock = new ManualClock();
    const stack = new Stack({ clock, rng: new SeededRng(3), forwarding: true });
    const l1 = new ChannelLink(MAC_US);
    const l2 = new ChannelLink(0x02_00_00_00_01_01, 576);
    const i1 = stack.addInterface(l1);
    const i2 = stack.addInterface(l2);
    i1.addAddress(ip('10.0.0.1'), 24);
    i2.addAddress(ip('10.1.0.1'), 24);
    stack.arp.add(ip('10.1.0.2'), 0x02_00_00_00_01_02);
    stack.arp.add(PEER, MAC_PEER);
    l1.take();
    l2.take();
    return { clock, stack, l1, l2 };
  }

  it('decrements TTL, recomputes the checksum and forwards', () => {
    const { stack, l1, l2 } = router();
    l1.inject(ethFrame(MAC_US, MAC_PEER, ETHERTYPE_IPV4, udpTo(ip('10.1.0.2'), { ttl: 9 })));
    const out = l2.take().map(decode);
    expect(out).toHaveLength(1);
    expect(out[0]!.eth.dst).toBe(0x02_00_00_00_01_02);
    expect(out[0]!.ip).toMatchObject({ ttl: 8, src: PEER, dst: ip('10.1.0.2') });
    expect(out[0]!.udp!.payload).toEqual(pattern(8));
    expect(stack.stats.ip.ForwDatagrams).toBe(1);
  });

  it('fragments to the outgoing MTU, copying only copied options', () => {
    const { stack, l1, l2 } = router();
    // Options: security (copied) 4 bytes + record route (not copied) 7 bytes + EOL.
    const options = Uint8Array.from([0x82, 4, 0xaa, 0xbb, 7, 7, 4, 0, 0, 0, 0, 0]);
    const big = ipPacket({ src: PEER, dst: ip('10.1.0.2'), protocol: 17, ttl: 5, options }, udpBytes(PEER, ip('10.1.0.2'), 1, 9, pattern(1200)));
    l1.inject(ethFrame(MAC_US, MAC_PEER, ETHERTYPE_IPV4, big));
    const out = l2.take().map(decode);
    expect(out.length).toBe(3);
    expect(Array.from(out[0]!.ip!.options)).toEqual(Array.from(options));
    expect(Array.from(out[1]!.ip!.options)).toEqual([0x82, 4, 0xaa, 0xbb]);
    for (const d of out) {
      expect(d.ip!.ttl).toBe(4);
      expect(20 + d.ip!.options.length + d.ip!.payload.length).toBeLessThanOrEqual(576);
    }
    const whole = new Uint8Array(1208);
    for (const d of out) whole.set(d.ip!.payload, d.ip!.fragOffset);
    expect(whole).toEqual(udpBytes(PEER, ip('10.1.0.2'), 1, 9, pattern(1200)));
    expect(stack.stats.ip).toMatchObject({ FragOKs: 1, FragCreates: 3 });
  });

  it('answers TTL 1 with time exceeded and never forwards link broadcasts', () => {
    const { stack, l1, l2 } = router();
    l1.inject(ethFrame(MAC_US, MAC_PEER, ETHERTYPE_IPV4, udpTo(ip('10.1.0.2'), { ttl: 1 })));
    const back = l1.take().map(decode);
    expect(back[0]!.icmp).toMatchObject({ kind: 'timeExceeded', code: 0 });
    expect(back[0]!.ip!.src).toBe(ip('10.0.0.1'));
    l1.inject(ethFrame(MAC_BROADCAST, MAC_PEER, ETHERTYPE_IPV4, udpTo(ip('10.1.0.2'))));
    expect(l2.take()).toEqual([]);
    expect(stack.stats.ip.ForwDatagrams).toBe(0);
  });
});
