import { describe, expect, it } from 'vitest';
import {
  emitEthernet,
  ETHERNET_HEADER_LEN,
  ethernetBufferLen,
  ethernetDst,
  ethernetDstIsGroup,
  ethernetHeaderLen,
  ethernetType,
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  formatMac,
  isMulticastMac,
  MAC_BROADCAST,
  macFromBytes,
  macToBytes,
  parseEthernet,
  parseMac,
  writeEthernetDst,
  writeEthernetHeader,
} from '../../../src/stack/wire/ethernet.js';
import { WireError } from '../../../src/stack/wire/result.js';
import { ARP_REQUEST, ICMP_ECHO_REQUEST } from './goldens.js';
import { toHex } from './util.js';

describe('ethernet', () => {
  it('parses a broadcast ARP frame', () => {
    const eth = parseEthernet(ARP_REQUEST);
    expect(eth).toEqual({
      dst: MAC_BROADCAST,
      src: 0x525400123456,
      ethertype: ETHERTYPE_ARP,
      payload: ARP_REQUEST.subarray(14),
    });
  });

  it('exposes the payload as a view, not a copy', () => {
    const eth = parseEthernet(ICMP_ECHO_REQUEST);
    if (eth instanceof WireError) throw new Error(eth.reason);
    expect(eth.ethertype).toBe(ETHERTYPE_IPV4);
    expect(eth.dst).toBe(0x52550a000202);
    expect(eth.payload.buffer).toBe(ICMP_ECHO_REQUEST.buffer);
    expect(eth.payload.byteOffset).toBe(ICMP_ECHO_REQUEST.byteOffset + 14);
    expect(eth.payload.length).toBe(ICMP_ECHO_REQUEST.length - 14);
  });

  it('rejects frames shorter than the header', () => {
    for (let n = 0; n < ETHERNET_HEADER_LEN; n++) {
      expect(parseEthernet(ARP_REQUEST.subarray(0, n))).toBe(WireError.truncated);
      expect(ethernetType(ARP_REQUEST.subarray(0, n))).toBe(-1);
    }
    expect(parseEthernet(ARP_REQUEST.subarray(0, 14))).toMatchObject({ payload: new Uint8Array(0) });
    expect(ethernetType(ARP_REQUEST)).toBe(ETHERTYPE_ARP);
  });

  it('emits the same bytes (copying and in place, at any offset)', () => {
    const eth = parseEthernet(ARP_REQUEST);
    if (eth instanceof WireError) throw new Error(eth.reason);
    expect(ethernetHeaderLen(eth)).toBe(14);
    expect(ethernetBufferLen(eth)).toBe(ARP_REQUEST.length);
    const out = new Uint8Array(ARP_REQUEST.length);
    expect(emitEthernet(eth, out)).toBe(ARP_REQUEST.length);
    expect(toHex(out)).toBe(toHex(ARP_REQUEST));

    const big = new Uint8Array(ARP_REQUEST.length + 7);
    expect(emitEthernet(eth, big, 7)).toBe(ARP_REQUEST.length);
    expect(toHex(big.subarray(7))).toBe(toHex(ARP_REQUEST));

    // In place: payload already at the right spot is not copied (and stays intact).
    const frame = ARP_REQUEST.slice();
    const again = parseEthernet(frame);
    if (again instanceof WireError) throw new Error(again.reason);
    emitEthernet({ ...again, dst: 0x010203040506 }, frame);
    expect(toHex(frame.subarray(0, 6))).toBe('010203040506');
    expect(toHex(frame.subarray(14))).toBe(toHex(ARP_REQUEST.subarray(14)));
  });

  it('throws RangeError when the output buffer is too small', () => {
    const eth = parseEthernet(ARP_REQUEST);
    if (eth instanceof WireError) throw new Error(eth.reason);
    expect(() => emitEthernet(eth, new Uint8Array(ARP_REQUEST.length - 1))).toThrow(RangeError);
    expect(() => emitEthernet(eth, new Uint8Array(ARP_REQUEST.length), 1)).toThrow(RangeError);
  });

  it('converts MAC addresses', () => {
    expect(formatMac(0x525400123456)).toBe('52:54:00:12:34:56');
    expect(formatMac(MAC_BROADCAST)).toBe('ff:ff:ff:ff:ff:ff');
    expect(formatMac(0)).toBe('00:00:00:00:00:00');
    expect(parseMac('52:54:00:12:34:56')).toBe(0x525400123456);
    expect(parseMac('52-54-00-12-34-5A')).toBe(0x52540012345a);
    expect(parseMac('525400123456')).toBe(0x525400123456);
    expect(parseMac('52:54:00:12:34')).toBeNull();
    expect(parseMac('52:54:00:12:34:5g')).toBeNull();
    expect(toHex(macToBytes(0xfedcba987654))).toBe('fedcba987654');
    expect(macFromBytes(new Uint8Array([0, 0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54]), 1)).toBe(0xfedcba987654);
    expect(isMulticastMac(MAC_BROADCAST)).toBe(true);
    expect(isMulticastMac(0x01005e0000fb)).toBe(true);
    expect(isMulticastMac(0x525400123456)).toBe(false);
  });

  it('the accessors and writers the stack uses agree with parseEthernet and emitEthernet', () => {
    for (const g of [ARP_REQUEST, ICMP_ECHO_REQUEST]) {
      const r = parseEthernet(g);
      if (r instanceof WireError) throw new Error(r.reason);
      expect(ethernetType(g)).toBe(r.ethertype);
      expect(ethernetDst(g)).toBe(r.dst);
      expect(ethernetDstIsGroup(g)).toBe(isMulticastMac(r.dst));
      const out = new Uint8Array(16);
      writeEthernetHeader(out, 2, 0, r.src, r.ethertype);
      writeEthernetDst(out, 2, r.dst);
      expect(toHex(out.subarray(2))).toBe(toHex(g.subarray(0, 14)));
    }
    expect(ethernetType(new Uint8Array(13))).toBe(-1);
  });
});
