/**
 * Neighbor Discovery options (RFC 4861 §4.6; RDNSS RFC 8106 §5.1; nonce
 * RFC 3971 §5.3.2 as RFC 7527 uses it for enhanced DAD).
 *
 *     type[1] length[1] (in units of 8 octets, 0 is invalid) value...
 *
 *      1 source / 2 target link-layer address:  MAC[6] (length 1 on Ethernet)
 *      3 prefix information (length 4): prefix-len[1] L|A|res[1]
 *            valid-lifetime[4] preferred-lifetime[4] reserved[4] prefix[16]
 *      4 redirected header: reserved[6] original packet...
 *      5 MTU (length 1): reserved[2] MTU[4]
 *     14 nonce: nonce[6 + 8n]
 *     25 RDNSS (length 3 + 2n): reserved[2] lifetime[4] addresses[16 × n]
 *
 * Options are kept as an ordered list, so a message re-emits byte-exactly;
 * options we do not interpret, and link-layer options of other sizes, are
 * `other` with their value bytes. A zero length, an option running past the
 * message, or a known option of the wrong length is `bad option` (the
 * message must be discarded, RFC 4861 §4.6).
 */
import { get32, put32 } from './bytes.js';
import { macFromBytes, macToBytes } from './ethernet.js';
import type { Ip6 } from './ipv6addr.js';
import { readIp6 } from './ipv6addr.js';
import { WireError } from './result.js';

export const NDOPT_SOURCE_LL = 1;
export const NDOPT_TARGET_LL = 2;
export const NDOPT_PREFIX = 3;
export const NDOPT_REDIRECTED = 4;
export const NDOPT_MTU = 5;
export const NDOPT_NONCE = 14;
export const NDOPT_RDNSS = 25;

/** Infinite lifetime (RFC 4861 §4.6.2). */
export const ND_INFINITE = 0xffffffff;

/** Prefix information (RFC 4861 §4.6.2). */
export interface NdPrefixInfo {
  type: 'prefix';
  prefixLen: number;
  /** L: on-link. */
  onLink: boolean;
  /** A: autonomous address configuration. */
  autonomous: boolean;
  /** The other six flag bits (reserved; kept so messages round-trip). */
  reservedFlags: number;
  /** Seconds, ND_INFINITE for ever. */
  validLifetime: number;
  preferredLifetime: number;
  prefix: Ip6;
}

/** An ND option. */
export type NdOption =
  | { type: 'sourceLinkAddr'; mac: number }
  | { type: 'targetLinkAddr'; mac: number }
  | NdPrefixInfo
  | { type: 'mtu'; mtu: number }
  | { type: 'redirected'; data: Uint8Array }
  | { type: 'nonce'; nonce: Uint8Array }
  | { type: 'rdnss'; lifetime: number; servers: Ip6[] }
  | { type: 'other'; code: number; data: Uint8Array };

/** Parses the options in `b[o..end)`. Never throws. */
export function parseNdOptions(b: Uint8Array, o: number, end = b.length): NdOption[] | WireError {
  const out: NdOption[] = [];
  while (o < end) {
    if (o + 2 > end) return WireError.truncated;
    const type = b[o]!;
    const len = b[o + 1]! * 8;
    if (len === 0) return WireError.badOption;
    if (o + len > end) return WireError.truncated;
    const v = o + 2;
    switch (type) {
      case NDOPT_SOURCE_LL:
      case NDOPT_TARGET_LL:
        if (len === 8) {
          const mac = macFromBytes(b, v);
          out.push(type === NDOPT_SOURCE_LL ? { type: 'sourceLinkAddr', mac } : { type: 'targetLinkAddr', mac });
        } else {
          out.push({ type: 'other', code: type, data: b.slice(v, o + len) });
        }
        break;
      case NDOPT_PREFIX: {
        if (len !== 32) return WireError.badOption;
        const pl = b[v]!;
        const fl = b[v + 1]!;
        if (pl > 128) return WireError.badOption;
        out.push({
          type: 'prefix',
          prefixLen: pl,
          onLink: (fl & 0x80) !== 0,
          autonomous: (fl & 0x40) !== 0,
          reservedFlags: fl & 0x3f,
          validLifetime: get32(b, v + 2),
          preferredLifetime: get32(b, v + 6),
          prefix: readIp6(b, o + 16),
        });
        break;
      }
      case NDOPT_REDIRECTED:
        out.push({ type: 'redirected', data: b.slice(o + 8, o + len) });
        break;
      case NDOPT_MTU:
        if (len !== 8) return WireError.badOption;
        out.push({ type: 'mtu', mtu: get32(b, o + 4) });
        break;
      case NDOPT_NONCE:
        out.push({ type: 'nonce', nonce: b.slice(v, o + len) });
        break;
      case NDOPT_RDNSS: {
        if (len < 24 || (len - 8) % 16 !== 0) return WireError.badOption;
        const servers: Ip6[] = [];
        for (let p = o + 8; p < o + len; p += 16) servers.push(readIp6(b, p));
        out.push({ type: 'rdnss', lifetime: get32(b, o + 4), servers });
        break;
      }
      default:
        out.push({ type: 'other', code: type, data: b.slice(v, o + len) });
    }
    o += len;
  }
  return out;
}

/** Bytes one option takes on the wire. */
function optionLen(opt: NdOption): number {
  switch (opt.type) {
    case 'sourceLinkAddr':
    case 'targetLinkAddr':
    case 'mtu':
      return 8;
    case 'prefix':
      return 32;
    case 'redirected':
      return (8 + opt.data.length + 7) & ~7;
    case 'nonce':
      return (2 + opt.nonce.length + 7) & ~7;
    case 'other':
      return (2 + opt.data.length + 7) & ~7;
    case 'rdnss':
      return 8 + 16 * opt.servers.length;
  }
}

/** Bytes {@link writeNdOptions} writes for `opts`. */
export function ndOptionsLen(opts: readonly NdOption[]): number {
  let n = 0;
  for (const o of opts) n += optionLen(o);
  return n;
}

/**
 * Writes `opts` at `out[o..]` (zero padding to 8-byte units). Throws
 * RangeError for an option over 2040 bytes or an RDNSS option without
 * servers (caller errors). @returns bytes written
 */
export function writeNdOptions(out: Uint8Array, o: number, opts: readonly NdOption[]): number {
  const start = o;
  for (const opt of opts) {
    const len = optionLen(opt);
    if (len > 255 * 8) throw new RangeError(`emit nd option ${opt.type}: ${len} bytes`);
    out.fill(0, o, o + len);
    out[o + 1] = len / 8;
    switch (opt.type) {
      case 'sourceLinkAddr':
      case 'targetLinkAddr':
        out[o] = opt.type === 'sourceLinkAddr' ? NDOPT_SOURCE_LL : NDOPT_TARGET_LL;
        macToBytes(opt.mac, out, o + 2);
        break;
      case 'prefix':
        out[o] = NDOPT_PREFIX;
        out[o + 2] = opt.prefixLen;
        out[o + 3] = (opt.onLink ? 0x80 : 0) | (opt.autonomous ? 0x40 : 0) | (opt.reservedFlags & 0x3f);
        put32(out, o + 4, opt.validLifetime);
        put32(out, o + 8, opt.preferredLifetime);
        out.set(opt.prefix, o + 16);
        break;
      case 'mtu':
        out[o] = NDOPT_MTU;
        put32(out, o + 4, opt.mtu);
        break;
      case 'redirected':
        out[o] = NDOPT_REDIRECTED;
        out.set(opt.data, o + 8);
        break;
      case 'nonce':
        out[o] = NDOPT_NONCE;
        out.set(opt.nonce, o + 2);
        break;
      case 'rdnss':
        if (opt.servers.length === 0) throw new RangeError('emit nd option rdnss: no servers');
        out[o] = NDOPT_RDNSS;
        put32(out, o + 4, opt.lifetime);
        opt.servers.forEach((s, i) => out.set(s, o + 8 + 16 * i));
        break;
      case 'other':
        out[o] = opt.code;
        out.set(opt.data, o + 2);
        break;
    }
    o += len;
  }
  return o - start;
}

/** The MAC of the first option of `type`, or -1. */
export function ndLinkAddr(opts: readonly NdOption[], type: 'sourceLinkAddr' | 'targetLinkAddr'): number {
  for (const o of opts) if (o.type === type) return o.mac;
  return -1;
}
