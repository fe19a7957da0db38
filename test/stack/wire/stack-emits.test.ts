/**
 * The stack writes what it sends with the wire codecs the goldens check: for
 * the golden exchanges it puts the golden on the link byte for byte, except
 * the IPv4 fields that are each sender's own choice (identification, flags,
 * TTL; hence the header checksum) — those are compared through the parsed
 * header, whose checksum must verify.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/lib/clock.js';
import { SeededRng } from '../../../src/lib/rng.js';
import { Stack } from '../../../src/stack/stack.js';
import { parseIpv4 } from '../../../src/stack/wire/ipv4.js';
import { WireError } from '../../../src/stack/wire/result.js';
import { ChannelLink, ip } from '../helpers.js';
import * as G from './goldens.js';
import { toHex } from './util.js';

const US = { ip: ip('10.0.2.15'), mac: 0x525400123456 };
const GW = { ip: ip('10.0.2.2'), mac: 0x52550a000202 };

function host(me: { ip: number; mac: number }): { stack: Stack; link: ChannelLink } {
  const stack = new Stack({ clock: new ManualClock(0), rng: new SeededRng(3) });
  const link = new ChannelLink(me.mac);
  stack.addInterface(link).addAddress(me.ip, 24);
  link.take(); // the gratuitous ARP
  return { stack, link };
}

/** Bytes 18..19 (identification), 20..21 (flags), 22 (TTL), 24..25 (checksum) of the IPv4 header in a frame. */
const SENDERS_OWN = [18, 19, 20, 21, 22, 24, 25];

function sameExceptSendersOwn(got: Uint8Array, golden: Uint8Array): void {
  expect(got.length).toBe(golden.length);
  const mask = (f: Uint8Array): string => toHex(f.map((b, i) => (SENDERS_OWN.includes(i) ? 0 : b)));
  expect(mask(got)).toBe(mask(golden));
  expect(parseIpv4(got.subarray(14))).not.toBeInstanceOf(WireError); // its own header checksum verifies
}

describe('what the stack sends is the golden', () => {
  it('an ARP request for the gateway, and the gateway\'s reply (before Ethernet padding)', () => {
    const a = host(US);
    a.stack.udp.open({ onDatagram: () => {} }).send(new Uint8Array(1), GW.ip, 9);
    expect(toHex(a.link.take()[0]!)).toBe(toHex(G.ARP_REQUEST));
    const gw = host(GW);
    gw.link.inject(G.ARP_REQUEST);
    expect(toHex(gw.link.take()[0]!)).toBe(toHex(G.ARP_REPLY_PADDED.subarray(0, 42)));
  });

  it('an echo reply to the golden echo request', () => {
    const gw = host(GW);
    gw.stack.arp.add(US.ip, US.mac);
    gw.link.inject(G.ICMP_ECHO_REQUEST);
    sameExceptSendersOwn(gw.link.take()[0]!, G.ICMP_ECHO_REPLY);
  });

  it('a UDP datagram (the DNS query)', () => {
    const a = host(US);
    a.stack.arp.add(ip('10.0.2.3'), GW.mac);
    const ep = a.stack.udp.open({ localPort: 0xc822, onDatagram: () => {} });
    ep.send(G.UDP_DNS_QUERY.subarray(42), ip('10.0.2.3'), 53);
    sameExceptSendersOwn(a.link.take()[0]!, G.UDP_DNS_QUERY);
  });
});
