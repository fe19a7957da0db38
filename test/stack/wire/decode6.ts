/**
 * Whole-frame decode and top-down re-encode of IPv6 frames with the wire
 * codecs, for the goldens and the fuzz test: Ethernet → fixed header →
 * extension-header walk → ICMPv6 (when the upper layer is ICMPv6 and the
 * datagram is not a fragment). Extension headers are carried as bytes.
 */
import { parseEthernet, writeEthernetHeader } from '../../../src/stack/wire/ethernet.js';
import type { EthernetRepr } from '../../../src/stack/wire/ethernet.js';
import { emitIcmpv6, icmpv6BufferLen, parseIcmpv6 } from '../../../src/stack/wire/icmpv6.js';
import type { Icmpv6Repr } from '../../../src/stack/wire/icmpv6.js';
import { IPV6_HEADER_LEN, IPV6_NH, parseIpv6, walkIpv6, writeIpv6Header } from '../../../src/stack/wire/ipv6.js';
import type { Ipv6Headers, Ipv6Problem, Ipv6Repr } from '../../../src/stack/wire/ipv6.js';
import { WireError } from '../../../src/stack/wire/result.js';

export interface Decoded6 {
  eth: EthernetRepr;
  ip: Ipv6Repr;
  walk: Ipv6Headers | Ipv6Problem;
  /** Extension-header bytes between the fixed header and the upper layer. */
  ext: Uint8Array;
  icmp?: Icmpv6Repr;
}

export function decodeFrame6(frame: Uint8Array, verify = true): Decoded6 | WireError {
  const eth = parseEthernet(frame);
  if (eth instanceof WireError) return eth;
  if (eth.ethertype !== 0x86dd) return WireError.unsupported;
  const ip = parseIpv6(eth.payload);
  if (ip instanceof WireError) return ip;
  const pkt = eth.payload.subarray(0, IPV6_HEADER_LEN + ip.payload.length);
  const walk = walkIpv6(pkt);
  if (walk instanceof WireError) return walk;
  if (walk.kind === 'problem') return { eth, ip, walk, ext: new Uint8Array(0) };
  const ext = pkt.subarray(IPV6_HEADER_LEN, walk.offset);
  const d: Decoded6 = { eth, ip, walk, ext };
  if (walk.protocol === IPV6_NH.ICMPV6) {
    const m = parseIcmpv6(pkt.subarray(walk.offset), ip.src, ip.dst, verify);
    if (m instanceof WireError) return m;
    d.icmp = m;
  }
  return d;
}

/** Re-encodes top-down into one allocation of `minLen` bytes or more (padding zero). */
export function encodeFrame6(d: Decoded6, minLen = 0): Uint8Array {
  const upper = d.icmp !== undefined ? icmpv6BufferLen(d.icmp) : d.ip.payload.length - d.ext.length;
  const plen = d.ext.length + upper;
  const out = new Uint8Array(Math.max(minLen, 14 + IPV6_HEADER_LEN + plen));
  writeEthernetHeader(out, 0, d.eth.dst, d.eth.src, d.eth.ethertype);
  writeIpv6Header(out, 14, d.ip.trafficClass, d.ip.flowLabel, plen, d.ip.nextHeader, d.ip.hopLimit, d.ip.src, d.ip.dst);
  out.set(d.ext, 14 + IPV6_HEADER_LEN);
  const o = 14 + IPV6_HEADER_LEN + d.ext.length;
  if (d.icmp !== undefined) emitIcmpv6(d.icmp, out, o, d.ip.src, d.ip.dst);
  else out.set(d.ip.payload.subarray(d.ext.length), o);
  return out;
}
