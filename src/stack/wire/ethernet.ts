/**
 * Ethernet II frames (IEEE 802.3 with an EtherType; no FCS, no 802.1Q tag).
 *
 *      0                   1                   2                   3
 *      0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *     |                 destination MAC (6 bytes) ...                 |
 *     +                               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *     |             ...               |   source MAC (6 bytes) ...    |
 *     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               +
 *     |                              ...                              |
 *     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *     |           EtherType           |   payload ...
 *     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * MAC addresses are represented as 48-bit integers held in a `number`
 * (exact: < 2^53), e.g. 52:54:00:12:34:56 is 0x525400123456. This makes them
 * cheap to compare and usable as Map keys, and parsing allocates no views;
 * {@link macFromBytes} / {@link macToBytes} convert to and from 6-byte arrays.
 *
 * Frames shorter than 60 bytes are padded by the sender; Ethernet has no
 * length field, so the payload view includes any padding and the upper layer
 * (IPv4 total length, fixed ARP size) trims it.
 */
import { checkRoom, get16, get48, placePayload, put16, put48 } from './bytes.js';
import { WireError } from './result.js';

/** Bytes in an Ethernet II header. */
export const ETHERNET_HEADER_LEN = 14;
/** Minimum frame length on the wire excluding the FCS; shorter frames are zero-padded. */
export const ETHERNET_MIN_FRAME_LEN = 60;

/** EtherType of IPv4 (RFC 894). */
export const ETHERTYPE_IPV4 = 0x0800;
/** EtherType of ARP (RFC 826). */
export const ETHERTYPE_ARP = 0x0806;
/** EtherType of IPv6 (RFC 2464). */
export const ETHERTYPE_IPV6 = 0x86dd;

/** ff:ff:ff:ff:ff:ff as a 48-bit integer. */
export const MAC_BROADCAST = 0xffff_ffff_ffff;

/** A parsed or to-be-emitted Ethernet II frame. */
export interface EthernetRepr {
  /** Destination MAC as a 48-bit integer. */
  dst: number;
  /** Source MAC as a 48-bit integer. */
  src: number;
  /** EtherType (values < 0x0600 are 802.3 lengths; passed through unchanged). */
  ethertype: number;
  /** Everything after the header: a view into the parsed buffer (includes padding). */
  payload: Uint8Array;
}

/**
 * Parses an Ethernet II header. Never throws.
 * @returns the repr (payload is a `subarray` view of `buf`), or `WireError.truncated`
 */
export function parseEthernet(buf: Uint8Array): EthernetRepr | WireError {
  const ethertype = ethernetType(buf);
  if (ethertype < 0) return WireError.truncated;
  return {
    dst: ethernetDst(buf),
    src: get48(buf, 6),
    ethertype,
    payload: buf.subarray(ETHERNET_HEADER_LEN),
  };
}

/**
 * Writes the 14-byte header at `out[o..]` (the caller guarantees room): the
 * allocation-free form of {@link emitEthernet} the stack's output path uses.
 */
export function writeEthernetHeader(out: Uint8Array, o: number, dst: number, src: number, ethertype: number): void {
  put48(out, o, dst);
  put48(out, o + 6, src);
  put16(out, o + 12, ethertype);
}

/** Sets the destination MAC of the frame at `out[o..]` (ARP fills it in once resolved). */
export function writeEthernetDst(out: Uint8Array, o: number, dst: number): void {
  put48(out, o, dst);
}

/**
 * Hot-path accessor, the allocation-free form of {@link parseEthernet}'s
 * check: the EtherType of a frame, or -1 if it is shorter than the header.
 * The stack's input path reads frames through this and the two below.
 */
export function ethernetType(buf: Uint8Array): number {
  return buf.length < ETHERNET_HEADER_LEN ? -1 : get16(buf, 12);
}

/** Hot-path accessor: the destination MAC (caller checked the header is there). */
export function ethernetDst(buf: Uint8Array): number {
  return get48(buf, 0);
}

/** Hot-path accessor: the destination is a group (multicast/broadcast) address (I/G bit; header checked). */
export function ethernetDstIsGroup(buf: Uint8Array): boolean {
  return (buf[0]! & 1) !== 0;
}

/** Header length: always {@link ETHERNET_HEADER_LEN}. */
export function ethernetHeaderLen(_repr?: EthernetRepr): number {
  return ETHERNET_HEADER_LEN;
}

/** Header plus payload length (no padding to the 60-byte minimum). */
export function ethernetBufferLen(repr: EthernetRepr): number {
  return ETHERNET_HEADER_LEN + repr.payload.length;
}

/**
 * Writes the header at `out[offset..]` and then the payload, unless
 * `repr.payload` already views `out` at `offset + 14` (zero-copy top-down
 * emission). Throws RangeError if `out` is too small.
 * @returns bytes written: {@link ethernetBufferLen}
 */
export function emitEthernet(repr: EthernetRepr, out: Uint8Array, offset = 0): number {
  const len = ETHERNET_HEADER_LEN + repr.payload.length;
  checkRoom(out, offset, len, 'ethernet');
  writeEthernetHeader(out, offset, repr.dst, repr.src, repr.ethertype);
  placePayload(out, offset + ETHERNET_HEADER_LEN, repr.payload);
  return len;
}

/** Reads a MAC address from 6 bytes at `offset` as a 48-bit integer (caller checks length). */
export function macFromBytes(b: Uint8Array, offset = 0): number {
  return get48(b, offset);
}

/** Writes `mac` as 6 bytes into `out` at `offset` (a new array when `out` is omitted). */
export function macToBytes(mac: number, out: Uint8Array = new Uint8Array(6), offset = 0): Uint8Array {
  put48(out, offset, mac);
  return out;
}

/** True for group (multicast or broadcast) addresses: I/G bit of the first octet. */
export function isMulticastMac(mac: number): boolean {
  return (Math.floor(mac / 0x100_0000_0000) & 1) === 1;
}

const HEX = '0123456789abcdef';

/** Formats a MAC as lowercase colon-separated hex, e.g. `52:54:00:12:34:56`. */
export function formatMac(mac: number): string {
  let s = '';
  for (let i = 5; i >= 0; i--) {
    const byte = Math.floor(mac / 2 ** (8 * i)) & 0xff;
    s += HEX[byte >>> 4]! + HEX[byte & 15]!;
    if (i > 0) s += ':';
  }
  return s;
}

/**
 * Parses `aa:bb:cc:dd:ee:ff`, `aa-bb-...` or 12 bare hex digits (Plan 9 style,
 * e.g. `525400123456`). @returns the 48-bit integer, or null if malformed
 */
export function parseMac(s: string): number | null {
  const m =
    /^([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})$/i.exec(s) ??
    /^([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(s);
  if (m === null) return null;
  let v = 0;
  for (let i = 1; i <= 6; i++) v = v * 256 + parseInt(m[i]!, 16);
  return v;
}
