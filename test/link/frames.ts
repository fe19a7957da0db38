/**
 * Test helpers: build and inspect the few Ethernet frames the link tests
 * use (plain test frames, ARP, ICMP echo), independent of the stack.
 */
import { BROADCAST_MAC } from '../../src/link/mac.js';

export const ETHERTYPE_ARP = 0x0806;
export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_TEST = 0x88b5;

export function ethFrame(dst: Uint8Array, src: Uint8Array, type: number, payload: Uint8Array | number = 46): Uint8Array {
  const body = typeof payload === 'number' ? new Uint8Array(payload) : payload;
  const f = new Uint8Array(14 + body.length);
  f.set(dst.subarray(0, 6), 0);
  f.set(src.subarray(0, 6), 6);
  f[12] = type >> 8;
  f[13] = type & 0xff;
  f.set(body, 14);
  return f;
}

/** A test frame carrying a sequence number in its first payload bytes. */
export function seqFrame(dst: Uint8Array, src: Uint8Array, seq: number, len = 60): Uint8Array {
  const f = ethFrame(dst, src, ETHERTYPE_TEST, len - 14);
  new DataView(f.buffer).setUint32(14, seq);
  return f;
}

export function frameSeq(f: Uint8Array): number {
  return new DataView(f.buffer, f.byteOffset, f.byteLength).getUint32(14);
}

export function etherType(f: Uint8Array): number {
  return (f[12]! << 8) | f[13]!;
}

export function ip4(s: string): Uint8Array {
  return new Uint8Array(s.split('.').map(Number));
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** ARP request "who has tpa? tell spa" from sha, broadcast. */
export function arpRequest(sha: Uint8Array, spa: Uint8Array, tpa: Uint8Array): Uint8Array {
  return ethFrame(BROADCAST_MAC, sha, ETHERTYPE_ARP, arpBody(1, sha, spa, new Uint8Array(6), tpa));
}

/** ARP reply "spa is at sha" to tha/tpa. */
export function arpReply(sha: Uint8Array, spa: Uint8Array, tha: Uint8Array, tpa: Uint8Array): Uint8Array {
  return ethFrame(tha, sha, ETHERTYPE_ARP, arpBody(2, sha, spa, tha, tpa));
}

function arpBody(op: number, sha: Uint8Array, spa: Uint8Array, tha: Uint8Array, tpa: Uint8Array): Uint8Array {
  const b = new Uint8Array(46); // padded to the 60-byte minimum frame
  b.set([0, 1, 0x08, 0x00, 6, 4, 0, op]);
  b.set(sha, 8);
  b.set(spa, 14);
  b.set(tha, 18);
  b.set(tpa, 24);
  return b;
}

export interface Arp {
  op: number;
  sha: Uint8Array;
  spa: Uint8Array;
  tha: Uint8Array;
  tpa: Uint8Array;
}

export function parseArp(f: Uint8Array): Arp | null {
  if (f.length < 42 || etherType(f) !== ETHERTYPE_ARP) return null;
  return {
    op: (f[20]! << 8) | f[21]!,
    sha: f.slice(22, 28),
    spa: f.slice(28, 32),
    tha: f.slice(32, 38),
    tpa: f.slice(38, 42),
  };
}

/** If f is an IPv4 ICMP echo request, the matching echo reply frame (from `mac`), else null. */
export function icmpEchoReply(f: Uint8Array, mac: Uint8Array): Uint8Array | null {
  if (f.length < 14 + 20 + 8 || etherType(f) !== ETHERTYPE_IPV4) return null;
  const ihl = (f[14]! & 0x0f) * 4;
  if (f[14 + 9] !== 1 || f[14 + ihl] !== 8) return null;
  const r = f.slice();
  r.set(f.subarray(6, 12), 0); // dst = requester
  r.set(mac, 6);
  r.set(f.subarray(14 + 16, 14 + 20), 14 + 12); // swap IPs (header checksum unchanged)
  r.set(f.subarray(14 + 12, 14 + 16), 14 + 16);
  const icmp = 14 + ihl;
  r[icmp] = 0; // echo reply; checksum += 0x0800 (ones' complement)
  let sum = ((r[icmp + 2]! << 8) | r[icmp + 3]!) + 0x0800;
  sum = (sum & 0xffff) + (sum >>> 16);
  r[icmp + 2] = sum >> 8;
  r[icmp + 3] = sum & 0xff;
  return r;
}
