/**
 * IPv6 headers (RFC 8200) and the walk over their extension headers.
 *
 *      0                   1                   2                   3
 *      0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *     |Version| Traffic Class |           Flow Label                  |
 *     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *     |         Payload Length        |  Next Header  |   Hop Limit   |
 *     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *     |                 Source Address (16)                           |
 *     |                 Destination Address (16)                      |
 *     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 *     extension headers (§4): next header[1] hdr ext len[1] ... (8-octet units)
 *       0 hop-by-hop options   60 destination options:  TLV options (§4.2)
 *       43 routing: type[1] segments left[1] data
 *       44 fragment (8 bytes): next[1] res[1] offset[13] res[2] M[1] ident[4]
 *
 * parseIpv6 reads the fixed header only; {@link walkIpv6} follows the chain
 * of extension headers to the upper-layer header the way §4 orders a
 * receiver to: hop-by-hop only right after the fixed header, options acted
 * on by the high two bits of their type (§4.2), a routing header with
 * segments left ignored when 0 and refused otherwise (we route no source
 * routes; type 0 is deprecated by RFC 5095), the walk stopping at a
 * fragment header unless it is an atomic fragment (offset 0, M clear:
 * RFC 6946, processed as if unfragmented). What a receiver must answer with
 * an ICMPv6 Parameter Problem comes back as {@link Ipv6Problem}; the walk
 * never throws and is bounded by IPV6_MAX_EXT_HEADERS.
 *
 * Addresses are Ip6 copies (ipv6addr.ts); the payload is a view.
 */
import { checkRoom, get16, get32, placePayload, put16, put32 } from './bytes.js';
import { foldSum } from './checksum.js';
import type { Ip6 } from './ipv6addr.js';
import { readIp6 } from './ipv6addr.js';
import { WireError } from './result.js';

/** Bytes in the fixed header. */
export const IPV6_HEADER_LEN = 40;
/** Bytes in a fragment header. */
export const IPV6_FRAG_HEADER_LEN = 8;
/** The smallest link MTU IPv6 may be sent over (RFC 8200 §5). */
export const IPV6_MIN_MTU = 1280;
/** Bound on extension headers one datagram may carry before we give up on it. */
export const IPV6_MAX_EXT_HEADERS = 8;

/** Next-header values (IANA protocol numbers). */
export const IPV6_NH = {
  HOP_BY_HOP: 0,
  TCP: 6,
  UDP: 17,
  ROUTING: 43,
  FRAGMENT: 44,
  ESP: 50,
  AH: 51,
  ICMPV6: 58,
  NONE: 59,
  DEST_OPTS: 60,
} as const;

/** Hop-by-hop / destination option types (RFC 8200 §4.2, RFC 2711, RFC 2675). */
export const IPV6_OPT_PAD1 = 0;
export const IPV6_OPT_PADN = 1;
export const IPV6_OPT_ROUTER_ALERT = 5;
export const IPV6_OPT_JUMBO = 0xc2;

/** ICMPv6 Parameter Problem codes (RFC 4443 §3.4, RFC 7112). */
export const PARAM_ERRONEOUS_FIELD = 0;
export const PARAM_UNRECOGNIZED_NH = 1;
export const PARAM_UNRECOGNIZED_OPTION = 2;
export const PARAM_INCOMPLETE_CHAIN = 3;

/** A parsed or to-be-emitted fixed header. */
export interface Ipv6Repr {
  src: Ip6;
  dst: Ip6;
  /** The first next-header value. */
  nextHeader: number;
  hopLimit: number;
  /** Traffic class (DSCP and ECN). */
  trafficClass: number;
  /** Flow label (20 bits). */
  flowLabel: number;
  /** Bytes after the fixed header up to the payload length (link padding excluded), a view. */
  payload: Uint8Array;
}

/**
 * Parses the fixed header. Never throws. Checks: 40 bytes (`truncated`),
 * version 6 (`bad version`), payload length within the buffer (`truncated`;
 * bytes after it are link padding). A payload length of 0 is an empty
 * payload: jumbograms (RFC 2675) are not accepted (the walk refuses their
 * option), as our links carry at most 64 KiB.
 */
export function parseIpv6(buf: Uint8Array): Ipv6Repr | WireError {
  if (buf.length < IPV6_HEADER_LEN) return WireError.truncated;
  const w0 = get32(buf, 0);
  if (w0 >>> 28 !== 6) return WireError.badVersion;
  const plen = get16(buf, 4);
  if (IPV6_HEADER_LEN + plen > buf.length) return WireError.truncated;
  return {
    src: readIp6(buf, 8),
    dst: readIp6(buf, 24),
    nextHeader: buf[6]!,
    hopLimit: buf[7]!,
    trafficClass: (w0 >>> 20) & 0xff,
    flowLabel: w0 & 0xfffff,
    payload: buf.subarray(IPV6_HEADER_LEN, IPV6_HEADER_LEN + plen),
  };
}

/**
 * Writes a fixed header at `out[o..]` (the allocation-free form the stack's
 * output path uses). The caller guarantees room and field ranges.
 */
export function writeIpv6Header(
  out: Uint8Array,
  o: number,
  trafficClass: number,
  flowLabel: number,
  payloadLen: number,
  nextHeader: number,
  hopLimit: number,
  src: Ip6,
  dst: Ip6,
): void {
  put32(out, o, ((6 << 28) | ((trafficClass & 0xff) << 20) | (flowLabel & 0xfffff)) >>> 0);
  put16(out, o + 4, payloadLen);
  out[o + 6] = nextHeader;
  out[o + 7] = hopLimit;
  out.set(src, o + 8);
  out.set(dst, o + 24);
}

/** Header plus payload length. */
export function ipv6BufferLen(repr: Ipv6Repr): number {
  return IPV6_HEADER_LEN + repr.payload.length;
}

/**
 * Writes the fixed header and the payload (skipped when it already views
 * `out` after the header). Throws RangeError if `out` is too small or the
 * payload exceeds 65535 bytes. @returns bytes written
 */
export function emitIpv6(repr: Ipv6Repr, out: Uint8Array, offset = 0): number {
  const n = repr.payload.length;
  if (n > 0xffff) throw new RangeError(`emit ipv6: payload length ${n}`);
  checkRoom(out, offset, IPV6_HEADER_LEN + n, 'ipv6');
  writeIpv6Header(out, offset, repr.trafficClass, repr.flowLabel, n, repr.nextHeader, repr.hopLimit, repr.src, repr.dst);
  placePayload(out, offset + IPV6_HEADER_LEN, repr.payload);
  return IPV6_HEADER_LEN + n;
}

/**
 * Partial sum of the IPv6 pseudo-header for upper-layer checksums
 * (RFC 8200 §8.1): source, destination, 32-bit upper-layer length, three
 * zero bytes, next header.
 */
export function pseudoHeaderSum6(src: Ip6, dst: Ip6, nextHeader: number, length: number): number {
  let s = 0;
  for (let i = 0; i < 16; i += 2) s += ((src[i]! << 8) | src[i + 1]!) + ((dst[i]! << 8) | dst[i + 1]!);
  return foldSum(s + (length >>> 16) + (length & 0xffff) + (nextHeader & 0xff));
}

// ------------------------------------------------------------------
// Fragment header

/** A fragment header (RFC 8200 §4.5). */
export interface Ipv6Fragment {
  /** Next header of the fragmentable part. */
  nextHeader: number;
  /** Offset in bytes (the wire field × 8). */
  offset: number;
  /** M flag. */
  more: boolean;
  /** Identification (u32). */
  ident: number;
}

/** Reads the fragment header at `b[o..]` (caller checked 8 bytes). */
export function readIpv6Fragment(b: Uint8Array, o: number): Ipv6Fragment {
  const f = get16(b, o + 2);
  return { nextHeader: b[o]!, offset: f & 0xfff8, more: (f & 1) !== 0, ident: get32(b, o + 4) };
}

/** Writes a fragment header at `out[o..]`; `offset` in bytes, a multiple of 8. */
export function writeIpv6Fragment(out: Uint8Array, o: number, nextHeader: number, offset: number, more: boolean, ident: number): void {
  out[o] = nextHeader;
  out[o + 1] = 0;
  put16(out, o + 2, (offset & 0xfff8) | (more ? 1 : 0));
  put32(out, o + 4, ident);
}

// ------------------------------------------------------------------
// The extension-header walk

/**
 * What a receiver must do about a datagram it cannot process (RFC 8200
 * §4, RFC 4443 §3.4): discard it, and send a Parameter Problem with `code`
 * and `pointer` (offset from the start of the IPv6 header) when `icmp` says
 * so: `always`, `unicast` (only if the destination was not multicast,
 * option type bits 11) or `never` (bits 01, or a malformed header).
 */
export interface Ipv6Problem {
  kind: 'problem';
  code: number;
  pointer: number;
  icmp: 'always' | 'unicast' | 'never';
}

/** The result of a successful walk. */
export interface Ipv6Headers {
  kind: 'headers';
  /** The upper-layer protocol (or IPV6_NH.FRAGMENT when {@link fragment} is set, IPV6_NH.NONE for no next header). */
  protocol: number;
  /** Offset of the upper-layer header (or of the fragmentable part) from the start of the IPv6 header. */
  offset: number;
  /** Offset of the byte holding `protocol` (for Parameter Problem code 1). */
  protocolAt: number;
  /** Router Alert value from the hop-by-hop header (0 MLD, RFC 2711), or -1. */
  routerAlert: number;
  /** Set when the walk stopped at a fragment header that is not atomic. */
  fragment: Ipv6Fragment | null;
  /** Offset of that fragment header (= end of the unfragmentable part), or -1. */
  fragmentAt: number;
  /** An atomic fragment header (offset 0, M clear) was skipped (RFC 6946). */
  atomic: boolean;
}

function problem(code: number, pointer: number, icmp: Ipv6Problem['icmp']): Ipv6Problem {
  return { kind: 'problem', code, pointer, icmp };
}

/** Walks TLV options in `b[start..end)`; returns the Router Alert value (-1 if none) or a problem. */
function walkOptions(b: Uint8Array, start: number, end: number, hopByHop: boolean): number | Ipv6Problem {
  let alert = -1;
  let i = start;
  while (i < end) {
    const t = b[i]!;
    if (t === IPV6_OPT_PAD1) {
      i++;
      continue;
    }
    if (i + 2 > end) return problem(PARAM_ERRONEOUS_FIELD, i, 'never');
    const len = b[i + 1]!;
    if (i + 2 + len > end) return problem(PARAM_ERRONEOUS_FIELD, i + 1, 'never');
    if (t === IPV6_OPT_PADN) {
      // nothing
    } else if (t === IPV6_OPT_ROUTER_ALERT && hopByHop) {
      if (len !== 2) return problem(PARAM_ERRONEOUS_FIELD, i + 1, 'always');
      alert = get16(b, i + 2);
    } else {
      // §4.2: unrecognised (a jumbo payload option too: we take no jumbograms).
      switch (t >>> 6) {
        case 0:
          break;
        case 1:
          return problem(PARAM_UNRECOGNIZED_OPTION, i, 'never');
        case 2:
          return problem(PARAM_UNRECOGNIZED_OPTION, i, 'always');
        default:
          return problem(PARAM_UNRECOGNIZED_OPTION, i, 'unicast');
      }
    }
    i += 2 + len;
  }
  return alert;
}

/** True for the next-header values the walk treats as extension headers. */
export function isIpv6ExtHeader(nh: number): boolean {
  return nh === IPV6_NH.HOP_BY_HOP || nh === IPV6_NH.ROUTING || nh === IPV6_NH.FRAGMENT || nh === IPV6_NH.DEST_OPTS;
}

/**
 * Follows the extension headers of the datagram `pkt` (fixed header
 * included, cut at its payload length). Never throws.
 * @returns the upper-layer position, a Parameter Problem to answer, or
 *   `truncated` when a header runs past the datagram (a first fragment
 *   cut inside its header chain comes back as problem code 3, RFC 7112)
 */
export function walkIpv6(pkt: Uint8Array): Ipv6Headers | Ipv6Problem | WireError {
  if (pkt.length < IPV6_HEADER_LEN) return WireError.truncated;
  let nh = pkt[6]!;
  let at = 6;
  let o = IPV6_HEADER_LEN;
  let alert = -1;
  let atomic = false;
  let inFirstFragment = false;
  for (let count = 0; ; count++) {
    if (!isIpv6ExtHeader(nh)) {
      return { kind: 'headers', protocol: nh, offset: o, protocolAt: at, routerAlert: alert, fragment: null, fragmentAt: -1, atomic };
    }
    if (count >= IPV6_MAX_EXT_HEADERS) return problem(PARAM_ERRONEOUS_FIELD, at, 'never');
    const truncated = (): Ipv6Problem | WireError =>
      inFirstFragment ? problem(PARAM_INCOMPLETE_CHAIN, 0, 'always') : WireError.truncated;
    if (nh === IPV6_NH.FRAGMENT) {
      if (o + IPV6_FRAG_HEADER_LEN > pkt.length) return truncated();
      const f = readIpv6Fragment(pkt, o);
      if (f.offset === 0 && !f.more) {
        atomic = true;
        at = o;
        nh = f.nextHeader;
        o += IPV6_FRAG_HEADER_LEN;
        continue;
      }
      if (f.offset !== 0) {
        return { kind: 'headers', protocol: IPV6_NH.FRAGMENT, offset: o + IPV6_FRAG_HEADER_LEN, protocolAt: at, routerAlert: alert, fragment: f, fragmentAt: o, atomic };
      }
      // A first fragment: the rest of its chain must be here (RFC 8200 §4.5, RFC 7112).
      const rest = walkFirstFragmentChain(pkt, f.nextHeader, o, o + IPV6_FRAG_HEADER_LEN, count + 1);
      if (rest !== null) return rest;
      return { kind: 'headers', protocol: IPV6_NH.FRAGMENT, offset: o + IPV6_FRAG_HEADER_LEN, protocolAt: at, routerAlert: alert, fragment: f, fragmentAt: o, atomic };
    }
    if (o + 8 > pkt.length) return truncated();
    const len = (pkt[o + 1]! + 1) * 8;
    if (o + len > pkt.length) return truncated();
    if (nh === IPV6_NH.HOP_BY_HOP) {
      // §4.3: only right after the fixed header; elsewhere an unrecognised next header.
      if (o !== IPV6_HEADER_LEN) return problem(PARAM_UNRECOGNIZED_NH, at, 'always');
      const r = walkOptions(pkt, o + 2, o + len, true);
      if (typeof r !== 'number') return r;
      alert = r;
    } else if (nh === IPV6_NH.DEST_OPTS) {
      const r = walkOptions(pkt, o + 2, o + len, false);
      if (typeof r !== 'number') return r;
    } else {
      // Routing (§4.4): segments left 0 means "ignore"; else we cannot route it (type 0: RFC 5095).
      if (pkt[o + 3] !== 0) return problem(PARAM_ERRONEOUS_FIELD, o + 2, 'always');
    }
    at = o;
    nh = pkt[o]!;
    o += len;
  }
}

/** Checks that a first fragment holds the rest of its header chain; a problem, or null when it does. */
function walkFirstFragmentChain(pkt: Uint8Array, nh: number, at: number, o: number, count: number): Ipv6Problem | null {
  for (; isIpv6ExtHeader(nh); count++) {
    if (count >= IPV6_MAX_EXT_HEADERS) return problem(PARAM_ERRONEOUS_FIELD, at, 'never');
    if (nh === IPV6_NH.FRAGMENT || nh === IPV6_NH.HOP_BY_HOP) return problem(PARAM_UNRECOGNIZED_NH, at, 'always');
    if (o + 8 > pkt.length) return problem(PARAM_INCOMPLETE_CHAIN, 0, 'always');
    const len = (pkt[o + 1]! + 1) * 8;
    if (o + len > pkt.length) return problem(PARAM_INCOMPLETE_CHAIN, 0, 'always');
    at = o;
    nh = pkt[o]!;
    o += len;
  }
  // The upper-layer header's first bytes (ports, ICMP type) must be here too.
  const need = nh === IPV6_NH.TCP ? 20 : nh === IPV6_NH.UDP || nh === IPV6_NH.ICMPV6 ? 8 : 0;
  return o + need > pkt.length ? problem(PARAM_INCOMPLETE_CHAIN, 0, 'always') : null;
}
