/**
 * Whole-frame checks over every golden: independent checksum verification,
 * decode → top-down encode into one allocation → identical bytes, and every
 * truncated prefix decoding to an error value (never throwing).
 */
import { describe, expect, it } from 'vitest';
import { WireError } from '../../../src/stack/wire/result.js';
import { decodeFrame, decodeIp, encodeFrame } from './decode.js';
import * as G from './goldens.js';
import { refSum, toHex } from './util.js';

/** Ethernet-framed goldens. */
const FRAMES: Record<string, Uint8Array> = {
  ARP_REQUEST: G.ARP_REQUEST,
  ARP_REPLY_PADDED: G.ARP_REPLY_PADDED,
  ICMP_ECHO_REQUEST: G.ICMP_ECHO_REQUEST,
  ICMP_ECHO_REPLY: G.ICMP_ECHO_REPLY,
  UDP_DNS_QUERY: G.UDP_DNS_QUERY,
  UDP_SMALL_PADDED: G.UDP_SMALL_PADDED,
  TCP_SYN: G.TCP_SYN,
  TCP_SYN_ACK: G.TCP_SYN_ACK,
  TCP_DATA_SACK: G.TCP_DATA_SACK,
  TCP_FIN_ACK: G.TCP_FIN_ACK,
  TCP_RST_PADDED: G.TCP_RST_PADDED,
  ICMP_PORT_UNREACHABLE: G.ICMP_PORT_UNREACHABLE,
  ICMP_TIME_EXCEEDED: G.ICMP_TIME_EXCEEDED,
  IPV4_RECORD_ROUTE: G.IPV4_RECORD_ROUTE,
  IPV4_ROUTER_ALERT_PADDED: G.IPV4_ROUTER_ALERT_PADDED,
};

/** Bare IPv4 goldens (fragments). */
const DATAGRAMS: Record<string, Uint8Array> = {
  IPV4_FRAG1: G.IPV4_FRAG1,
  IPV4_FRAG2: G.IPV4_FRAG2,
  IPV4_FRAG3: G.IPV4_FRAG3,
};

/** Bytes that carry meaning (the rest is Ethernet padding). */
function meaningfulLen(frame: Uint8Array): number {
  const ethertype = (frame[12]! << 8) | frame[13]!;
  if (ethertype === 0x0806) return 14 + 28;
  return 14 + ((frame[16]! << 8) | frame[17]!);
}

describe('golden frames', () => {
  it.each(Object.entries(FRAMES))('%s: IPv4 header checksum verifies with the naive reference', (_name, frame) => {
    if (frame[12] !== 0x08 || frame[13] !== 0x00) return;
    const hlen = (frame[14]! & 0x0f) * 4;
    expect(refSum(frame.subarray(14, 14 + hlen))).toBe(0xffff);
  });

  it.each(Object.entries(FRAMES))('%s: decodes and re-encodes top-down to the same bytes', (name, frame) => {
    const d = decodeFrame(frame);
    if (d instanceof WireError) throw new Error(`${name}: ${d.reason}`);
    if (d.ip && d.ip.protocol !== 2) expect(d.icmp ?? d.udp ?? d.tcp).toBeDefined(); // IGMP (2) stops at IP
    expect(toHex(encodeFrame(d, frame.length))).toBe(toHex(frame));
  });

  it.each(Object.entries(FRAMES))('%s: every truncated prefix is an error value', (_name, frame) => {
    const need = meaningfulLen(frame);
    for (let n = 0; n <= frame.length; n++) {
      const r = decodeFrame(frame.subarray(0, n));
      if (n < need) expect(r, `prefix ${n}`).toBeInstanceOf(WireError);
      else expect(r, `prefix ${n}`).not.toBeInstanceOf(WireError);
      // Also through a copy at an odd byteOffset (exercises unaligned checksum paths).
      const odd = new Uint8Array(n + 1);
      odd.set(frame.subarray(0, n), 1);
      const r2 = decodeFrame(odd.subarray(1));
      expect(r2 instanceof WireError).toBe(r instanceof WireError);
    }
  });

  it.each(Object.entries(DATAGRAMS))('%s: checksum, truncation and re-encoding', (_name, dgram) => {
    expect(refSum(dgram.subarray(0, 20))).toBe(0xffff);
    for (let n = 0; n < dgram.length; n++) expect(decodeIp(dgram.subarray(0, n))).toBe(WireError.truncated);
    const d = decodeIp(dgram);
    if (d instanceof WireError || !d.ip) throw new Error('decode');
    const eth = { dst: 1, src: 2, ethertype: 0x0800, payload: dgram };
    expect(toHex(encodeFrame({ eth, ip: d.ip }).subarray(14))).toBe(toHex(dgram));
  });
});
