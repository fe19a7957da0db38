/**
 * Test-only whole-frame decoder and top-down encoder built from the wire
 * modules, the way the interface layer will chain them.
 */
import { type ArpRepr, arpBufferLen, emitArp, parseArp } from '../../../src/stack/wire/arp.js';
import {
  emitEthernet,
  ETHERNET_HEADER_LEN,
  type EthernetRepr,
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  parseEthernet,
} from '../../../src/stack/wire/ethernet.js';
import { emitIcmpv4, icmpv4BufferLen, type Icmpv4Repr, parseIcmpv4 } from '../../../src/stack/wire/icmp.js';
import {
  emitIpv4,
  IP_PROTO_ICMP,
  IP_PROTO_TCP,
  IP_PROTO_UDP,
  ipv4HeaderLen,
  type Ipv4Repr,
  parseIpv4,
} from '../../../src/stack/wire/ipv4.js';
import { WireError } from '../../../src/stack/wire/result.js';
import { emitTcp, parseTcp, tcpBufferLen, type TcpRepr } from '../../../src/stack/wire/tcp.js';
import { emitUdp, parseUdp, udpBufferLen, type UdpRepr } from '../../../src/stack/wire/udp.js';

export interface Decoded {
  eth: EthernetRepr;
  arp?: ArpRepr;
  ip?: Ipv4Repr;
  icmp?: Icmpv4Repr;
  udp?: UdpRepr;
  tcp?: TcpRepr;
}

/** Parses every layer it knows; the first error wins. Fragments stop at IP. */
export function decodeFrame(frame: Uint8Array, verify = true): Decoded | WireError {
  const eth = parseEthernet(frame);
  if (eth instanceof WireError) return eth;
  if (eth.ethertype === ETHERTYPE_ARP) {
    const arp = parseArp(eth.payload);
    return arp instanceof WireError ? arp : { eth, arp };
  }
  if (eth.ethertype !== ETHERTYPE_IPV4) return { eth };
  const r = decodeIp(eth.payload, verify);
  return r instanceof WireError ? r : { eth, ...r };
}

/** Parses an IPv4 datagram and its transport layer. */
export function decodeIp(buf: Uint8Array, verify = true): Omit<Decoded, 'eth'> | WireError {
  const ip = parseIpv4(buf, verify);
  if (ip instanceof WireError) return ip;
  if (ip.moreFrags || ip.fragOffset !== 0) return { ip };
  switch (ip.protocol) {
    case IP_PROTO_ICMP: {
      const icmp = parseIcmpv4(ip.payload, verify);
      return icmp instanceof WireError ? icmp : { ip, icmp };
    }
    case IP_PROTO_UDP: {
      const udp = parseUdp(ip.payload, ip.src, ip.dst, verify);
      return udp instanceof WireError ? udp : { ip, udp };
    }
    case IP_PROTO_TCP: {
      const tcp = parseTcp(ip.payload, ip.src, ip.dst, verify);
      return tcp instanceof WireError ? tcp : { ip, tcp };
    }
    default:
      return { ip };
  }
}

/**
 * Builds a frame top-down into ONE zeroed allocation of at least `minLen`
 * bytes. Lower layers get payload views into the output itself, so only the
 * innermost payload is copied.
 */
export function encodeFrame(d: Decoded, minLen = 0): Uint8Array {
  let inner: number;
  if (d.arp) inner = arpBufferLen(d.arp);
  else if (d.ip) {
    const hl = ipv4HeaderLen(d.ip);
    const upper = d.icmp
      ? icmpv4BufferLen(d.icmp)
      : d.udp
        ? udpBufferLen(d.udp)
        : d.tcp
          ? tcpBufferLen(d.tcp)
          : d.ip.payload.length;
    inner = hl + upper;
  } else inner = d.eth.payload.length;
  const total = ETHERNET_HEADER_LEN + inner;
  const frame = new Uint8Array(Math.max(total, minLen));
  emitEthernet({ ...d.eth, payload: frame.subarray(ETHERNET_HEADER_LEN, total) }, frame, 0);
  if (d.arp) emitArp(d.arp, frame, ETHERNET_HEADER_LEN);
  else if (d.ip) {
    const ipOff = ETHERNET_HEADER_LEN;
    const upOff = ipOff + ipv4HeaderLen(d.ip);
    const hasUpper = d.icmp !== undefined || d.udp !== undefined || d.tcp !== undefined;
    emitIpv4({ ...d.ip, payload: hasUpper ? frame.subarray(upOff, total) : d.ip.payload }, frame, ipOff);
    if (d.icmp) emitIcmpv4(d.icmp, frame, upOff);
    if (d.udp) emitUdp(d.udp, frame, upOff, d.ip.src, d.ip.dst);
    if (d.tcp) emitTcp(d.tcp, frame, upOff, d.ip.src, d.ip.dst);
  } else {
    frame.set(d.eth.payload, ETHERNET_HEADER_LEN);
  }
  return frame;
}
