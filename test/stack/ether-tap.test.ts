// The /net/ether0 tap: onFrame sees frames in and out with their type;
// sendRaw injects frames with Plan 9's loopback rules.
import { describe, expect, it } from 'vitest';
import type { FrameDirection } from '../../src/stack/ifc.js';
import { ETHERTYPE_ARP, ETHERTYPE_IPV4, MAC_BROADCAST, macFromBytes } from '../../src/stack/wire/ethernet.js';
import { arpFrame, channelStack, ethFrame, ip, MAC_PEER, MAC_US, pattern } from './helpers.js';

describe('ether tap', () => {
  it('sees received and sent frames with direction and type', () => {
    const s = channelStack();
    const seen: [FrameDirection, number, number][] = [];
    const d = s.ifc.onFrame((f, dir, type) => seen.push([dir, type, f.length]));
    s.link.inject(
      arpFrame(MAC_BROADCAST, { op: 'request', senderMac: MAC_PEER, senderIp: ip('10.0.0.2'), targetMac: 0, targetIp: ip('10.0.0.1') }),
    );
    s.link.inject(ethFrame(MAC_US, MAC_PEER, 0x88b5, pattern(50)));
    expect(seen).toEqual([
      ['in', ETHERTYPE_ARP, 42],
      ['out', ETHERTYPE_ARP, 42],
      ['in', 0x88b5, 64],
    ]);
    d.dispose();
    s.link.inject(ethFrame(MAC_US, MAC_PEER, 0x88b5, pattern(50)));
    expect(seen).toHaveLength(3);
  });

  it('sendRaw fills the source MAC, loops frames to us back, and loops+sends broadcasts', () => {
    const s = channelStack();
    const seen: [FrameDirection, number][] = [];
    s.ifc.onFrame((_f, dir, type) => seen.push([dir, type]));
    // To our own MAC: delivered as input, not transmitted.
    s.ifc.sendRaw(ethFrame(MAC_US, 0, 0x88b5, pattern(46)));
    expect(s.link.take()).toEqual([]);
    expect(seen).toEqual([['in', 0x88b5]]);
    // Broadcast: looped back and transmitted with our source MAC.
    s.ifc.sendRaw(ethFrame(MAC_BROADCAST, 0x02_12_34_56_78_9a, 0x88b5, pattern(46)));
    const out = s.link.take();
    expect(out).toHaveLength(1);
    expect(macFromBytes(out[0]!, 6)).toBe(MAC_US);
    // Bridge mode keeps the source.
    s.ifc.sendRaw(ethFrame(MAC_PEER, 0x02_12_34_56_78_9a, ETHERTYPE_IPV4, pattern(46)), true);
    expect(macFromBytes(s.link.take()[0]!, 6)).toBe(0x02_12_34_56_78_9a);
    expect(seen.map((x) => x[0])).toEqual(['in', 'in', 'out', 'out']);
    // A raw ARP request for us written to the ether is answered by the stack.
    s.ifc.sendRaw(
      arpFrame(MAC_BROADCAST, { op: 'request', senderMac: MAC_PEER, senderIp: ip('10.0.0.2'), targetMac: 0, targetIp: ip('10.0.0.1') }),
      true,
    );
    expect(s.link.take()).toHaveLength(2); // the request itself and our reply
    s.ifc.sendRaw(new Uint8Array(5));
    expect(s.ifc.counters.errout).toBe(1);
  });
});
