/**
 * IPv4 headers (RFC 791; checksum RFC 1071).
 *
 *      0                   1                   2                   3
 *      0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *     |Version|  IHL  |   DSCP/ECN    |          Total Length         |
 *     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *     |         Identification        |0|D|M|      Fragment Offset    |
 *     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *     |  Time to Live |    Protocol   |         Header Checksum       |
 *     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *     |                       Source Address                          |
 *     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *     |                    Destination Address                        |
 *     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *     |                    Options (IHL > 5)          |    Padding    |
 *     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Addresses are u32 numbers (always non-negative, `>>> 0`), e.g. 10.0.2.15
 * is 0x0a00020f: cheap to compare, mask and use as Map keys in routing and
 * ARP tables. {@link formatIpv4} / {@link parseIpv4Addr} convert dotted quads.
 *
 * Options are not interpreted: the header length is honoured and the option
 * bytes are exposed as a view. Fragments are not reassembled here; the
 * fragment fields are reported and the payload is the fragment's bytes.
 */
import { checkRoom, EMPTY, get16, get32, placePayload, put16, put32 } from './bytes.js';
import { checksum, onesSum } from './checksum.js';
import { WireError } from './result.js';

/** Bytes in an IPv4 header without options. */
export const IPV4_HEADER_LEN = 20;
/** Largest IPv4 header (IHL 15). */
export const IPV4_MAX_HEADER_LEN = 60;

/** IP protocol number of ICMP. */
export const IP_PROTO_ICMP = 1;
/** IP protocol number of TCP. */
export const IP_PROTO_TCP = 6;
/** IP protocol number of UDP. */
export const IP_PROTO_UDP = 17;

/** 255.255.255.255 */
export const IPV4_BROADCAST = 0xffffffff;
/** 0.0.0.0 */
export const IPV4_UNSPECIFIED = 0;

/** A parsed or to-be-emitted IPv4 header. */
export interface Ipv4Repr {
  /** Source address (u32). */
  src: number;
  /** Destination address (u32). */
  dst: number;
  /** Upper-layer protocol (see `IP_PROTO_*`). */
  protocol: number;
  /** Time to live. */
  ttl: number;
  /** The whole second byte: DSCP (high 6 bits) and ECN (low 2 bits). */
  tos: number;
  /** Identification. */
  ident: number;
  /** DF flag. */
  dontFrag: boolean;
  /** MF flag. */
  moreFrags: boolean;
  /** Fragment offset in BYTES (the wire field × 8); a multiple of 8 when emitting. */
  fragOffset: number;
  /**
   * Option bytes (header bytes 20..IHL*4), a view; zero-length when IHL is 5.
   * On emit they are copied and zero-padded (EOL) to a 4-byte boundary.
   */
  options: Uint8Array;
  /** The payload: a view of bytes IHL*4..total length (Ethernet padding excluded). */
  payload: Uint8Array;
}

/**
 * Parses an IPv4 header. Never throws. Checks, in order: at least 20 bytes
 * (`truncated`), version 4 (`bad version`), IHL ≥ 5 (`bad header length`),
 * header within the buffer (`truncated`), total length ≥ header length
 * (`bad length`), total length within the buffer (`truncated`; bytes beyond
 * it, e.g. Ethernet padding, are allowed and excluded from the payload), then
 * the header checksum (`bad checksum`) unless `verifyChecksum` is false
 * (for checksum-offloading links).
 */
export function parseIpv4(buf: Uint8Array, verifyChecksum = true): Ipv4Repr | WireError {
  if (buf.length < IPV4_HEADER_LEN) return WireError.truncated;
  const vihl = buf[0]!;
  if (vihl >>> 4 !== 4) return WireError.badVersion;
  const hlen = (vihl & 0x0f) << 2;
  if (hlen < IPV4_HEADER_LEN) return WireError.badHeaderLength;
  if (hlen > buf.length) return WireError.truncated;
  const total = get16(buf, 2);
  if (total < hlen) return WireError.badLength;
  if (total > buf.length) return WireError.truncated;
  if (verifyChecksum && onesSum(buf, 0, 0, hlen) !== 0xffff) return WireError.badChecksum;
  const frag = get16(buf, 6);
  return {
    src: get32(buf, 12),
    dst: get32(buf, 16),
    protocol: buf[9]!,
    ttl: buf[8]!,
    tos: buf[1]!,
    ident: get16(buf, 4),
    dontFrag: (frag & 0x4000) !== 0,
    moreFrags: (frag & 0x2000) !== 0,
    fragOffset: (frag & 0x1fff) << 3,
    options: hlen === IPV4_HEADER_LEN ? EMPTY : buf.subarray(IPV4_HEADER_LEN, hlen),
    payload: buf.subarray(hlen, total),
  };
}

/** Flags/fragment-offset field value. `offset` is in bytes (multiple of 8). */
export function fragField(dontFrag: boolean, moreFrags: boolean, offset: number): number {
  return (dontFrag ? 0x4000 : 0) | (moreFrags ? 0x2000 : 0) | ((offset >>> 3) & 0x1fff);
}

/**
 * Writes a header with its checksum at `out[o..]`: the allocation-free form
 * of {@link emitIpv4} the stack's output path uses. `frag` is the
 * flags/offset field ({@link fragField}); `options` (none by default) are
 * copied and zero-padded to a 4-byte boundary. The caller guarantees room,
 * field ranges and at most 40 option bytes. @returns the header length
 */
export function writeIpv4Header(
  out: Uint8Array,
  o: number,
  tos: number,
  total: number,
  ident: number,
  frag: number,
  ttl: number,
  protocol: number,
  src: number,
  dst: number,
  options: Uint8Array = EMPTY,
): number {
  const olen = options.length;
  const hlen = olen === 0 ? IPV4_HEADER_LEN : IPV4_HEADER_LEN + ((olen + 3) & ~3);
  out[o] = 0x40 | (hlen >>> 2);
  out[o + 1] = tos;
  put16(out, o + 2, total);
  put16(out, o + 4, ident);
  put16(out, o + 6, frag);
  out[o + 8] = ttl;
  out[o + 9] = protocol;
  out[o + 10] = 0;
  out[o + 11] = 0;
  put32(out, o + 12, src);
  put32(out, o + 16, dst);
  if (olen !== 0) {
    out.set(options, o + IPV4_HEADER_LEN);
    out.fill(0, o + IPV4_HEADER_LEN + olen, o + hlen);
  }
  put16(out, o + 10, checksum(out, 0, o, o + hlen));
  return hlen;
}

/** Header length {@link writeIpv4Header} produces for `options`. */
export function ipv4HeaderLenFor(options: Uint8Array): number {
  return IPV4_HEADER_LEN + ((options.length + 3) & ~3);
}

/**
 * Sets the TTL of the header at `buf[o..]` (header length from its IHL) and
 * recomputes the header checksum, as forwarding does (RFC 1812 §5.3.1).
 */
export function setIpv4Ttl(buf: Uint8Array, o: number, ttl: number): void {
  const hlen = (buf[o]! & 0x0f) << 2;
  buf[o + 8] = ttl;
  put16(buf, o + 10, 0);
  put16(buf, o + 10, checksum(buf, 0, o, o + hlen));
}

/** Hot-path accessor: source address of a datagram (caller checked ≥ 20 bytes). */
export function ipv4Src(buf: Uint8Array): number {
  return get32(buf, 12);
}

/** Hot-path accessor: destination address of a datagram (caller checked ≥ 20 bytes). */
export function ipv4Dst(buf: Uint8Array): number {
  return get32(buf, 16);
}

/** Header length including options padded to 4 bytes: 20..60. */
export function ipv4HeaderLen(repr: Ipv4Repr): number {
  return ipv4HeaderLenFor(repr.options);
}

/** Header plus payload length: the total length field. */
export function ipv4BufferLen(repr: Ipv4Repr): number {
  return ipv4HeaderLen(repr) + repr.payload.length;
}

/**
 * Writes the header (computing its checksum) at `out[offset..]`, then the
 * payload unless `repr.payload` already views `out` right after the header
 * (zero-copy top-down emission; the payload's own checksum, if any, is the
 * upper layer's job). Throws RangeError if `out` is too small, the options
 * exceed 40 bytes or the total length exceeds 65535.
 * @returns bytes written: {@link ipv4BufferLen}
 */
export function emitIpv4(repr: Ipv4Repr, out: Uint8Array, offset = 0): number {
  const hlen = ipv4HeaderLen(repr);
  const total = hlen + repr.payload.length;
  if (hlen > IPV4_MAX_HEADER_LEN) throw new RangeError(`emit ipv4: ${repr.options.length} option bytes`);
  if (total > 0xffff) throw new RangeError(`emit ipv4: total length ${total}`);
  checkRoom(out, offset, total, 'ipv4');
  const frag = fragField(repr.dontFrag, repr.moreFrags, repr.fragOffset);
  writeIpv4Header(out, offset, repr.tos, total, repr.ident, frag, repr.ttl, repr.protocol, repr.src, repr.dst, repr.options);
  placePayload(out, offset + hlen, repr.payload);
  return total;
}

/** Reads an IPv4 address from 4 bytes at `offset` as a u32 (caller checks length). */
export function ipv4FromBytes(b: Uint8Array, offset = 0): number {
  return get32(b, offset);
}

/** Writes `addr` as 4 bytes into `out` at `offset` (a new array when `out` is omitted). */
export function ipv4ToBytes(addr: number, out: Uint8Array = new Uint8Array(4), offset = 0): Uint8Array {
  put32(out, offset, addr);
  return out;
}

/** Formats a u32 address as a dotted quad, e.g. `10.0.2.15`. */
export function formatIpv4(addr: number): string {
  return `${addr >>> 24}.${(addr >>> 16) & 0xff}.${(addr >>> 8) & 0xff}.${addr & 0xff}`;
}

/**
 * Parses a strict dotted quad (four decimal octets 0..255, no leading `+`,
 * no leading zeros beyond a single `0`). @returns the u32, or null if malformed
 */
export function parseIpv4Addr(s: string): number | null {
  const m = /^(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})$/.exec(s);
  if (m === null) return null;
  let v = 0;
  for (let i = 1; i <= 4; i++) {
    const o = Number(m[i]);
    if (o > 255) return null;
    v = v * 256 + o;
  }
  return v;
}

/** A u32 netmask with `prefix` leading ones (0..32). */
export function ipv4Mask(prefix: number): number {
  return prefix <= 0 ? 0 : prefix >= 32 ? 0xffffffff : (0xffffffff << (32 - prefix)) >>> 0;
}
