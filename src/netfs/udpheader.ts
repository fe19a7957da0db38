/**
 * The 52-byte header of /net/udp `headers` mode (9/ip/udp.c):
 * raddr[16] laddr[16] ifcaddr[16] rport[2] lport[2], addresses in Plan 9's
 * 16-byte form (IPv4 v4-mapped), ports big-endian. Every backend reads and
 * writes datagrams in it.
 */
import type { Ip } from './ipaddr.js';

export const UDP_HEADER = 52;

export interface UdpHeader {
  raddr: Ip;
  laddr: Ip;
  ifcaddr: Ip;
  rport: number;
  lport: number;
  payload: Uint8Array;
}

/** A datagram as a headers-mode read returns it: header, then payload. */
export function withUdpHeader(raddr: Ip, laddr: Ip, ifcaddr: Ip, rport: number, lport: number, payload: Uint8Array): Uint8Array {
  const h = new Uint8Array(UDP_HEADER + payload.length);
  h.set(raddr, 0);
  h.set(laddr, 16);
  h.set(ifcaddr, 32);
  h[48] = rport >> 8;
  h[49] = rport & 0xff;
  h[50] = lport >> 8;
  h[51] = lport & 0xff;
  h.set(payload, UDP_HEADER);
  return h;
}

/** A headers-mode write; null when shorter than the header (such writes vanish). Fields are views. */
export function parseUdpHeader(data: Uint8Array): UdpHeader | null {
  if (data.length < UDP_HEADER) return null;
  return {
    raddr: data.subarray(0, 16),
    laddr: data.subarray(16, 32),
    ifcaddr: data.subarray(32, 48),
    rport: (data[48]! << 8) | data[49]!,
    lport: (data[50]! << 8) | data[51]!,
    payload: data.subarray(UDP_HEADER),
  };
}
