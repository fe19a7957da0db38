/**
 * UDP datagrams over IPv4 (RFC 768).
 *
 *      0                   1                   2                   3
 *      0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *     |          Source Port          |       Destination Port        |
 *     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *     |            Length             |           Checksum            |
 *     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *     |     data ...
 *     +-+-+-+-+-
 *
 *     checksum pseudo-header: src[4] dst[4] zero[1] proto=17[1] udp-length[2]
 *
 * The checksum covers the pseudo-header, header and data. A received
 * checksum of 0 means "none computed" and is not verified; an emitted
 * checksum that computes to 0 is sent as 0xffff (RFC 768).
 */
import { checkRoom, get16, placePayload, put16 } from './bytes.js';
import { checksum, onesSum, pseudoHeaderSum } from './checksum.js';
import { IP_PROTO_UDP } from './ipv4.js';
import { WireError } from './result.js';

/** Bytes in a UDP header. */
export const UDP_HEADER_LEN = 8;

/** A parsed or to-be-emitted UDP datagram. */
export interface UdpRepr {
  srcPort: number;
  dstPort: number;
  /** The data, a view cut at the UDP length (trailing IP payload bytes excluded). */
  payload: Uint8Array;
}

/**
 * Parses a UDP datagram (`buf` is the whole IPv4 payload). Never throws.
 * Checks: ≥ 8 bytes (`truncated`), length field ≥ 8 (`bad length`),
 * length ≤ IP payload (`truncated`), then the checksum over
 * `buf[0..length)` with the pseudo-header for `src`/`dst` (`bad checksum`)
 * unless it is 0 or `verifyChecksum` is false.
 */
export function parseUdp(buf: Uint8Array, src: number, dst: number, verifyChecksum = true): UdpRepr | WireError {
  const len = checkUdp(buf, src, dst, verifyChecksum);
  if (len instanceof WireError) return len;
  return {
    srcPort: udpSrcPort(buf),
    dstPort: udpDstPort(buf),
    payload: buf.subarray(UDP_HEADER_LEN, len),
  };
}

/**
 * The checks of {@link parseUdp}, without allocating: the stack's input path
 * validates with this and reads the fields with the accessors below.
 * @returns the UDP length field (header + data, ≤ `buf.length`), or the error
 */
export function checkUdp(buf: Uint8Array, src: number, dst: number, verifyChecksum = true): number | WireError {
  if (buf.length < UDP_HEADER_LEN) return WireError.truncated;
  const len = get16(buf, 4);
  if (len < UDP_HEADER_LEN) return WireError.badLength;
  if (len > buf.length) return WireError.truncated;
  if (verifyChecksum && get16(buf, 6) !== 0) {
    if (onesSum(buf, pseudoHeaderSum(src, dst, IP_PROTO_UDP, len), 0, len) !== 0xffff) {
      return WireError.badChecksum;
    }
  }
  return len;
}

/** Hot-path accessor: the source port (caller checked the header is there). */
export function udpSrcPort(buf: Uint8Array): number {
  return get16(buf, 0);
}

/** Hot-path accessor: the destination port (caller checked the header is there). */
export function udpDstPort(buf: Uint8Array): number {
  return get16(buf, 2);
}

/** Always {@link UDP_HEADER_LEN}. */
export function udpHeaderLen(_repr?: UdpRepr): number {
  return UDP_HEADER_LEN;
}

/** Header plus payload length: the UDP length field. */
export function udpBufferLen(repr: UdpRepr): number {
  return UDP_HEADER_LEN + repr.payload.length;
}

/**
 * Writes the datagram at `out[offset..]`: header, payload (skipped when
 * `repr.payload` already views `out` after the header), then the checksum
 * with the pseudo-header for `src`/`dst`. Throws RangeError if `out` is too
 * small or the length exceeds 65535.
 * @returns bytes written: {@link udpBufferLen}
 */
export function emitUdp(repr: UdpRepr, out: Uint8Array, offset: number, src: number, dst: number): number {
  const len = UDP_HEADER_LEN + repr.payload.length;
  if (len > 0xffff) throw new RangeError(`emit udp: length ${len}`);
  checkRoom(out, offset, len, 'udp');
  placePayload(out, offset + UDP_HEADER_LEN, repr.payload);
  return writeUdpHeader(out, offset, repr.srcPort, repr.dstPort, len, src, dst);
}

/**
 * The allocation-free form of {@link emitUdp} the stack's output path uses:
 * copies `payload` after the header and writes the header. The caller
 * guarantees room and a length ≤ 65535. @returns bytes written
 */
export function writeUdp(out: Uint8Array, o: number, srcPort: number, dstPort: number, payload: Uint8Array, src: number, dst: number): number {
  out.set(payload, o + UDP_HEADER_LEN);
  return writeUdpHeader(out, o, srcPort, dstPort, UDP_HEADER_LEN + payload.length, src, dst);
}

/** Writes the header of the `len`-byte datagram whose data is already at `out[o + 8..]`, checksum included. */
function writeUdpHeader(out: Uint8Array, o: number, srcPort: number, dstPort: number, len: number, src: number, dst: number): number {
  put16(out, o, srcPort);
  put16(out, o + 2, dstPort);
  put16(out, o + 4, len);
  put16(out, o + 6, 0);
  const sum = checksum(out, pseudoHeaderSum(src, dst, IP_PROTO_UDP, len), o, o + len);
  put16(out, o + 6, sum === 0 ? 0xffff : sum);
  return len;
}
