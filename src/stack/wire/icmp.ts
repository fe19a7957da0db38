/**
 * ICMPv4 messages (RFC 792; fragmentation-needed MTU from RFC 1191).
 *
 *      0                   1                   2                   3
 *      0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *     |     Type      |     Code      |          Checksum             |
 *     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *     |             rest of header (meaning depends on type)          |
 *     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *     |     data ...
 *     +-+-+-+-+-
 *
 *     echo request (8) / reply (0), code 0:   rest = identifier[2] sequence[2]
 *     destination unreachable (3):            rest = unused[2] next-hop MTU[2]
 *     time exceeded (11):                     rest = unused[4]
 *     (for 3 and 11, data = original IP header + at least 8 bytes of its payload)
 *
 * The checksum covers the whole ICMP message (header and data). A message
 * whose fixed fields do not match the specific forms above (e.g. an echo
 * with a non-zero code, or non-zero "unused" bytes) is reported as `other`
 * with its raw fields, so every valid message round-trips byte-exactly.
 */
import { checkRoom, get16, get32, placePayload, put16, put32 } from './bytes.js';
import { checksum, onesSum } from './checksum.js';
import { WireError } from './result.js';

/** Bytes in the fixed ICMP header (type, code, checksum, rest). */
export const ICMPV4_HEADER_LEN = 8;

/** Type: echo reply. */
export const ICMP_ECHO_REPLY = 0;
/** Type: destination unreachable. */
export const ICMP_DEST_UNREACHABLE = 3;
/** Type: echo request. */
export const ICMP_ECHO_REQUEST = 8;
/** Type: time exceeded. */
export const ICMP_TIME_EXCEEDED = 11;

/** Destination unreachable codes (RFC 792, RFC 1122 §3.2.2.1). */
export const ICMP_UNREACH_NET = 0;
export const ICMP_UNREACH_HOST = 1;
export const ICMP_UNREACH_PROTOCOL = 2;
export const ICMP_UNREACH_PORT = 3;
export const ICMP_UNREACH_FRAG_NEEDED = 4;
/** Time exceeded codes. */
export const ICMP_EXCEEDED_TTL = 0;
export const ICMP_EXCEEDED_REASSEMBLY = 1;

/** Echo request or reply. */
export interface Icmpv4Echo {
  kind: 'echoRequest' | 'echoReply';
  /** Identifier. */
  ident: number;
  /** Sequence number. */
  seq: number;
  /** Echo data, a view. */
  data: Uint8Array;
}

/** Destination unreachable. */
export interface Icmpv4DestUnreachable {
  kind: 'destUnreachable';
  code: number;
  /** Next-hop MTU (code 4, RFC 1191); 0 otherwise. */
  nextHopMtu: number;
  /** The quoted original datagram (IP header + ≥ 8 bytes), a view; see {@link parseIcmpv4Quote}. */
  data: Uint8Array;
}

/** Time exceeded. */
export interface Icmpv4TimeExceeded {
  kind: 'timeExceeded';
  code: number;
  /** The quoted original datagram, a view; see {@link parseIcmpv4Quote}. */
  data: Uint8Array;
}

/** Any other message, with raw fields. */
export interface Icmpv4Other {
  kind: 'other';
  type: number;
  code: number;
  /** Header bytes 4..7 as a u32 (e.g. redirect gateway, parameter-problem pointer). */
  rest: number;
  /** Data after the 8-byte header, a view. */
  data: Uint8Array;
}

/** A parsed or to-be-emitted ICMPv4 message. */
export type Icmpv4Repr = Icmpv4Echo | Icmpv4DestUnreachable | Icmpv4TimeExceeded | Icmpv4Other;

/**
 * Parses an ICMPv4 message (the whole IPv4 payload). Never throws.
 * @returns the repr, `truncated` if shorter than 8 bytes, or `bad checksum`
 *   (unless `verifyChecksum` is false)
 */
export function parseIcmpv4(buf: Uint8Array, verifyChecksum = true): Icmpv4Repr | WireError {
  if (buf.length < ICMPV4_HEADER_LEN) return WireError.truncated;
  if (verifyChecksum && onesSum(buf) !== 0xffff) return WireError.badChecksum;
  const type = buf[0]!;
  const code = buf[1]!;
  const data = buf.subarray(ICMPV4_HEADER_LEN);
  switch (type) {
    case ICMP_ECHO_REQUEST:
    case ICMP_ECHO_REPLY:
      if (code !== 0) break;
      return {
        kind: type === ICMP_ECHO_REQUEST ? 'echoRequest' : 'echoReply',
        ident: get16(buf, 4),
        seq: get16(buf, 6),
        data,
      };
    case ICMP_DEST_UNREACHABLE:
      if (get16(buf, 4) !== 0) break;
      return { kind: 'destUnreachable', code, nextHopMtu: get16(buf, 6), data };
    case ICMP_TIME_EXCEEDED:
      if (get32(buf, 4) !== 0) break;
      return { kind: 'timeExceeded', code, data };
  }
  return { kind: 'other', type, code, rest: get32(buf, 4), data };
}

/** The type byte of a message. */
export function icmpv4Type(repr: Icmpv4Repr): number {
  switch (repr.kind) {
    case 'echoRequest':
      return ICMP_ECHO_REQUEST;
    case 'echoReply':
      return ICMP_ECHO_REPLY;
    case 'destUnreachable':
      return ICMP_DEST_UNREACHABLE;
    case 'timeExceeded':
      return ICMP_TIME_EXCEEDED;
    case 'other':
      return repr.type;
  }
}

/** Header bytes 4..5 (the identifier of echoes and other queries; 0 in the error forms). */
export function icmpv4Ident(repr: Icmpv4Repr): number {
  switch (repr.kind) {
    case 'echoRequest':
    case 'echoReply':
      return repr.ident;
    case 'other':
      return repr.rest >>> 16;
    default:
      return 0;
  }
}

/** Always {@link ICMPV4_HEADER_LEN}. */
export function icmpv4HeaderLen(_repr?: Icmpv4Repr): number {
  return ICMPV4_HEADER_LEN;
}

/** Header plus data length. */
export function icmpv4BufferLen(repr: Icmpv4Repr): number {
  return ICMPV4_HEADER_LEN + repr.data.length;
}

/**
 * Writes the message at `out[offset..]`: header, data (skipped when
 * `repr.data` already views `out` after the header), then the checksum over
 * both. Throws RangeError if `out` is too small.
 * @returns bytes written: {@link icmpv4BufferLen}
 */
export function emitIcmpv4(repr: Icmpv4Repr, out: Uint8Array, offset = 0): number {
  const len = ICMPV4_HEADER_LEN + repr.data.length;
  checkRoom(out, offset, len, 'icmpv4');
  placePayload(out, offset + ICMPV4_HEADER_LEN, repr.data);
  let code: number;
  let rest: number;
  switch (repr.kind) {
    case 'echoRequest':
    case 'echoReply':
      code = 0;
      rest = ((repr.ident << 16) | (repr.seq & 0xffff)) >>> 0;
      break;
    case 'destUnreachable':
      code = repr.code;
      rest = repr.nextHopMtu & 0xffff;
      break;
    case 'timeExceeded':
      code = repr.code;
      rest = 0;
      break;
    case 'other':
      code = repr.code;
      rest = repr.rest;
      break;
  }
  return writeIcmpv4Header(out, offset, icmpv4Type(repr), code, rest, len);
}

/**
 * The allocation-free form of {@link emitIcmpv4} the stack's output path
 * uses, from the raw fields (the `other` form: type, code, header bytes 4..7
 * as a u32): copies `data` after the header and writes the header. The
 * caller guarantees room. @returns bytes written
 */
export function writeIcmpv4(out: Uint8Array, o: number, type: number, code: number, rest: number, data: Uint8Array): number {
  out.set(data, o + ICMPV4_HEADER_LEN);
  return writeIcmpv4Header(out, o, type, code, rest, ICMPV4_HEADER_LEN + data.length);
}

/** Writes the header of the `len`-byte message whose data is already at `out[o + 8..]`, checksum included. */
function writeIcmpv4Header(out: Uint8Array, o: number, type: number, code: number, rest: number, len: number): number {
  out[o] = type;
  out[o + 1] = code;
  put16(out, o + 2, 0);
  put32(out, o + 4, rest);
  put16(out, o + 2, checksum(out, 0, o, o + len));
  return len;
}

/** The datagram quoted in an ICMP error, enough to find the socket it concerns. */
export interface Icmpv4Quote {
  /** Source of the original datagram (us, for errors about our packets). */
  src: number;
  /** Destination of the original datagram. */
  dst: number;
  /** Its protocol. */
  protocol: number;
  /** The quoted IPv4 header (including options), a view. */
  header: Uint8Array;
  /**
   * The quoted upper-layer bytes (≥ 8: ports for UDP/TCP, plus the TCP
   * sequence number), a view, cut at the original total length.
   */
  payload: Uint8Array;
}

/**
 * Parses the original-datagram quote in a destination-unreachable or
 * time-exceeded message. Never throws. The quoted header's total length
 * exceeds the quote by design, so only version, IHL and the presence of 8
 * upper-layer bytes are checked; its checksum is not verified.
 */
export function parseIcmpv4Quote(data: Uint8Array): Icmpv4Quote | WireError {
  if (data.length < 20) return WireError.truncated;
  const vihl = data[0]!;
  if (vihl >>> 4 !== 4) return WireError.badVersion;
  const hlen = (vihl & 0x0f) << 2;
  if (hlen < 20) return WireError.badHeaderLength;
  const total = get16(data, 2);
  if (total < hlen + 8) return WireError.badLength;
  if (data.length < hlen + 8) return WireError.truncated;
  const end = total < data.length ? total : data.length;
  return {
    src: get32(data, 12),
    dst: get32(data, 16),
    protocol: data[9]!,
    header: data.subarray(0, hlen),
    payload: data.subarray(hlen, end),
  };
}
