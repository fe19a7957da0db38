// The one ether tap: an EtherPort (link/etherport.ts) owns the link, shows
// every frame received from the wire and every frame the bound stack sends to
// its taps (the /net/etherN slots), and hands frames written for us to the stack.
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/lib/clock.js';
import { SeededRng } from '../../src/lib/rng.js';
import { EtherPort, IP_TYPES } from '../../src/link/etherport.js';
import { Stack } from '../../src/stack/stack.js';
import { ETHERTYPE_ARP, MAC_BROADCAST } from '../../src/stack/wire/ethernet.js';
import { arpFrame, ChannelLink, decode, ethFrame, ip, MAC_PEER, MAC_US, pattern } from './helpers.js';

function bound(): { port: EtherPort; link: ChannelLink; stack: Stack } {
  const link = new ChannelLink(MAC_US);
  const port = new EtherPort('ether0', link);
  const stack = new Stack({ clock: new ManualClock(0), rng: new SeededRng(1) });
  stack.addInterface(port.stackLink(), port.name).addAddress(ip('10.0.0.1'), 24);
  link.take(); // the gratuitous ARP
  return { port, link, stack };
}

const whoHas = arpFrame(MAC_BROADCAST, { op: 'request', senderMac: MAC_PEER, senderIp: ip('10.0.0.2'), targetMac: 0, targetIp: ip('10.0.0.1') });
const typeOf = (f: Uint8Array): number => (f[12]! << 8) | f[13]!;

describe('ether tap (EtherPort)', () => {
  it('sees frames from the wire and frames the stack sends, in order, until disposed', () => {
    const { port, link } = bound();
    const seen: ['in' | 'out', number, number][] = [];
    const d = port.tap((f, dir) => seen.push([dir, typeOf(f), f.length]));
    link.inject(whoHas);
    link.inject(ethFrame(MAC_US, MAC_PEER, 0x88b5, pattern(50)));
    expect(seen).toEqual([
      ['in', ETHERTYPE_ARP, 42],
      ['out', ETHERTYPE_ARP, 42],
      ['in', 0x88b5, 64],
    ]);
    // The reply the tap saw is the one on the wire.
    const out = link.take();
    expect(out).toHaveLength(1);
    expect(decode(out[0]!).arp).toMatchObject({ op: 'reply', targetIp: ip('10.0.0.2') });
    d.dispose();
    link.inject(ethFrame(MAC_US, MAC_PEER, 0x88b5, pattern(50)));
    expect(seen).toHaveLength(3);
  });

  it('hands frames written for us to the stack, which answers on the wire; holds the IP types while bound', () => {
    const { port, link, stack } = bound();
    expect(port.bound).toBe(true);
    expect(port.heldTypes()).toEqual(IP_TYPES);
    port.deliverLocal(whoHas);
    const out = link.take();
    expect(out).toHaveLength(1);
    expect(decode(out[0]!).arp).toMatchObject({ op: 'reply', senderIp: ip('10.0.0.1'), targetMac: MAC_PEER });
    expect(port.stackLink().stats.rxFrames).toBe(1);
    stack.close();
    expect(port.bound).toBe(false);
    expect(port.heldTypes()).toEqual([]);
    port.deliverLocal(whoHas); // nobody bound: nothing happens
    expect(link.take()).toEqual([]);
  });
});
