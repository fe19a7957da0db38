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
  if (buf.length < UDP_HEADER_LEN) return WireError.truncated;
  const len = get16(buf, 4);
  if (len < UDP_HEADER_LEN) return WireError.badLength;
  if (len > buf.length) return WireError.truncated;
  if (verifyChecksum && get16(buf, 6) !== 0) {
    if (onesSum(buf, pseudoHeaderSum(src, dst, IP_PROTO_UDP, len), 0, len) !== 0xffff) {
      return WireError.badChecksum;
    }
  }
  return {
    srcPort: get16(buf, 0),
    dstPort: get16(buf, 2),
    payload: buf.subarray(UDP_HEADER_LEN, len),
  };
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
  put16(out, offset, repr.srcPort);
  put16(out, offset + 2, repr.dstPort);
  put16(out, offset + 4, len);
  put16(out, offset + 6, 0);
  placePayload(out, offset + UDP_HEADER_LEN, repr.payload);
  const sum = checksum(out, pseudoHeaderSum(src, dst, IP_PROTO_UDP, len), offset, offset + len);
  put16(out, offset + 6, sum === 0 ? 0xffff : sum);
  return len;
}
