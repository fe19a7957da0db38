/**
 * ARP for IPv4 over Ethernet (RFC 826). Only htype 1 / ptype 0x0800 /
 * hlen 6 / plen 4 with op request (1) or reply (2) is accepted; anything
 * else is `WireError.unsupported`.
 *
 *      0                   1                   2                   3
 *      0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *     |     hardware type (1)         |     protocol type (0x0800)    |
 *     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *     |  hlen (6)     |  plen (4)     |          operation            |
 *     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *     |                 sender hardware address (6) ...               |
 *     +                               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *     |             ...               | sender protocol address ...   |
 *     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *     |             ...               | target hardware address ...   |
 *     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               +
 *     |                              ...                              |
 *     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *     |                   target protocol address                     |
 *     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Addresses use the same representations as the other wire modules: MACs
 * are 48-bit integers (see ethernet.ts), IPv4 addresses u32 numbers (ipv4.ts).
 * Bytes after the 28-byte packet (Ethernet padding) are ignored.
 */
import { checkRoom, get16, get32, get48, put16, put32, put48 } from './bytes.js';
import { WireError } from './result.js';

/** Bytes in an Ethernet/IPv4 ARP packet. */
export const ARP_LEN = 28;
/** Hardware type Ethernet. */
export const ARP_HTYPE_ETHERNET = 1;
/** Operation code of a request. */
export const ARP_OP_REQUEST = 1;
/** Operation code of a reply. */
export const ARP_OP_REPLY = 2;

/** ARP operation. */
export type ArpOp = 'request' | 'reply';

/** An Ethernet/IPv4 ARP packet. */
export interface ArpRepr {
  op: ArpOp;
  /** Sender hardware address (48-bit integer). */
  senderMac: number;
  /** Sender protocol address (u32). */
  senderIp: number;
  /** Target hardware address (48-bit integer; 0 in requests). */
  targetMac: number;
  /** Target protocol address (u32). */
  targetIp: number;
}

/**
 * Parses an ARP packet (the Ethernet payload). Never throws.
 * @returns the repr, `truncated` if shorter than 28 bytes, or `unsupported`
 *   for other hardware/protocol types, address sizes or operations
 */
export function parseArp(buf: Uint8Array): ArpRepr | WireError {
  if (buf.length < ARP_LEN) return WireError.truncated;
  if (get16(buf, 0) !== ARP_HTYPE_ETHERNET || get16(buf, 2) !== 0x0800 || buf[4] !== 6 || buf[5] !== 4) {
    return WireError.unsupported;
  }
  const op = get16(buf, 6);
  if (op !== ARP_OP_REQUEST && op !== ARP_OP_REPLY) return WireError.unsupported;
  return {
    op: op === ARP_OP_REQUEST ? 'request' : 'reply',
    senderMac: get48(buf, 8),
    senderIp: get32(buf, 14),
    targetMac: get48(buf, 18),
    targetIp: get32(buf, 24),
  };
}

/** Always {@link ARP_LEN}. */
export function arpHeaderLen(_repr?: ArpRepr): number {
  return ARP_LEN;
}

/** Always {@link ARP_LEN} (ARP has no payload). */
export function arpBufferLen(_repr?: ArpRepr): number {
  return ARP_LEN;
}

/**
 * Writes the 28-byte packet at `out[offset..]`. Throws RangeError if `out`
 * is too small. @returns bytes written ({@link ARP_LEN})
 */
export function emitArp(repr: ArpRepr, out: Uint8Array, offset = 0): number {
  checkRoom(out, offset, ARP_LEN, 'arp');
  put16(out, offset, ARP_HTYPE_ETHERNET);
  put16(out, offset + 2, 0x0800);
  out[offset + 4] = 6;
  out[offset + 5] = 4;
  put16(out, offset + 6, repr.op === 'request' ? ARP_OP_REQUEST : ARP_OP_REPLY);
  put48(out, offset + 8, repr.senderMac);
  put32(out, offset + 14, repr.senderIp);
  put48(out, offset + 18, repr.targetMac);
  put32(out, offset + 24, repr.targetIp);
  return ARP_LEN;
}
