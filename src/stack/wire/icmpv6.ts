/**
 * ICMPv6 messages (RFC 4443), Neighbor Discovery messages (RFC 4861 §4)
 * and the MLD messages a host needs for its solicited-node groups (MLDv1
 * RFC 2710 §3, MLDv2 RFC 3810 §5).
 *
 *     type[1] code[1] checksum[2] body...     (checksum over the IPv6 pseudo-header too)
 *
 *       1 destination unreachable, 3 time exceeded:  unused[4] invoking packet
 *       2 packet too big:                            MTU[4] invoking packet
 *       4 parameter problem:                         pointer[4] invoking packet
 *     128 echo request, 129 echo reply:              ident[2] seq[2] data
 *     130 MLD query:        max-response[2] reserved[2] group[16]
 *                           (MLDv2, ≥ 28 bytes: S|QRV[1] QQIC[1] nsources[2] sources)
 *     131 MLDv1 report, 132 MLDv1 done:  max-response[2] reserved[2] group[16]
 *     143 MLDv2 report:     reserved[2] nrecords[2] records:
 *                           type[1] aux-len[1] nsources[2] group[16] sources[16n] aux[4m]
 *     133 router solicitation:     reserved[4] options
 *     134 router advertisement:    cur-hop-limit[1] M|O|flags[1] router-lifetime[2]
 *                                  reachable-time[4] retrans-timer[4] options
 *     135 neighbor solicitation:   reserved[4] target[16] options
 *     136 neighbor advertisement:  R|S|O|reserved[4] target[16] options
 *     137 redirect:                reserved[4] target[16] destination[16] options
 *
 * Reserved fields are kept in the reprs (receivers ignore them, RFC 4861
 * §4), so every message round-trips byte-exactly. A message whose code or
 * length does not fit its type's form (ND and echo messages with a code
 * other than 0, an MLD query of a length RFC 3810 §8.1 ignores) is `other`
 * with its raw fields; ND options are parsed by ndopt.ts, and bad options
 * make the whole message `bad option`.
 */
import { checkRoom, get16, get32, placePayload, put16, put32 } from './bytes.js';
import { checksum, onesSum } from './checksum.js';
import type { Ip6 } from './ipv6addr.js';
import { readIp6 } from './ipv6addr.js';
import { IPV6_HEADER_LEN, IPV6_NH, isIpv6ExtHeader, pseudoHeaderSum6, readIpv6Fragment } from './ipv6.js';
import { ndOptionsLen, parseNdOptions, writeNdOptions } from './ndopt.js';
import type { NdOption } from './ndopt.js';
import { WireError } from './result.js';

/** Bytes in the header every message has (type, code, checksum, 4 more). */
export const ICMPV6_HEADER_LEN = 8;

export const ICMPV6_DEST_UNREACHABLE = 1;
export const ICMPV6_PACKET_TOO_BIG = 2;
export const ICMPV6_TIME_EXCEEDED = 3;
export const ICMPV6_PARAM_PROBLEM = 4;
export const ICMPV6_ECHO_REQUEST = 128;
export const ICMPV6_ECHO_REPLY = 129;
export const ICMPV6_MLD_QUERY = 130;
export const ICMPV6_MLD_REPORT = 131;
export const ICMPV6_MLD_DONE = 132;
export const ICMPV6_ROUTER_SOLICIT = 133;
export const ICMPV6_ROUTER_ADVERT = 134;
export const ICMPV6_NEIGHBOR_SOLICIT = 135;
export const ICMPV6_NEIGHBOR_ADVERT = 136;
export const ICMPV6_REDIRECT = 137;
export const ICMPV6_MLDV2_REPORT = 143;

/** Destination unreachable codes (RFC 4443 §3.1). */
export const UNREACH6_NO_ROUTE = 0;
export const UNREACH6_ADMIN = 1;
export const UNREACH6_BEYOND_SCOPE = 2;
export const UNREACH6_ADDRESS = 3;
export const UNREACH6_PORT = 4;
/** Time exceeded codes (§3.3). */
export const EXCEEDED6_HOP_LIMIT = 0;
export const EXCEEDED6_REASSEMBLY = 1;

/** Router advertisement flag bits (RFC 4861 §4.2; the rest are RFC 4191's preference and others). */
export const RA_MANAGED = 0x80;
export const RA_OTHER = 0x40;
/** Neighbor advertisement flag bits (of the first header word). */
export const NA_ROUTER = 0x80000000;
export const NA_SOLICITED = 0x40000000;
export const NA_OVERRIDE = 0x20000000;

/** MLDv2 multicast address record types (RFC 3810 §5.2.12). */
export const MLD2_MODE_IS_INCLUDE = 1;
export const MLD2_MODE_IS_EXCLUDE = 2;
export const MLD2_CHANGE_TO_INCLUDE = 3;
export const MLD2_CHANGE_TO_EXCLUDE = 4;

/** An MLDv2 multicast address record. */
export interface Mld2Record {
  recordType: number;
  group: Ip6;
  sources: Ip6[];
  /** Auxiliary data (4-byte words), usually empty. */
  aux: Uint8Array;
}

export type Icmpv6Repr =
  | { kind: 'destUnreachable' | 'timeExceeded'; code: number; unused: number; data: Uint8Array }
  | { kind: 'packetTooBig'; code: number; mtu: number; data: Uint8Array }
  | { kind: 'paramProblem'; code: number; pointer: number; data: Uint8Array }
  | { kind: 'echoRequest' | 'echoReply'; ident: number; seq: number; data: Uint8Array }
  | { kind: 'mldQuery'; maxResponse: number; reserved: number; group: Ip6; v2: Mld2QueryExt | null }
  | { kind: 'mldReport' | 'mldDone'; maxResponse: number; reserved: number; group: Ip6 }
  | { kind: 'mld2Report'; reserved: number; records: Mld2Record[] }
  | { kind: 'routerSolicit'; reserved: number; options: NdOption[] }
  | {
      kind: 'routerAdvert';
      curHopLimit: number;
      /** The flags byte: RA_MANAGED, RA_OTHER, and the rest as sent. */
      flags: number;
      /** Seconds; 0: not a default router. */
      routerLifetime: number;
      /** Milliseconds; 0: unspecified. */
      reachableTime: number;
      /** Milliseconds; 0: unspecified. */
      retransTimer: number;
      options: NdOption[];
    }
  | { kind: 'neighborSolicit'; reserved: number; target: Ip6; options: NdOption[] }
  | {
      kind: 'neighborAdvert';
      router: boolean;
      solicited: boolean;
      override: boolean;
      /** The low 29 bits of the first word. */
      reserved: number;
      target: Ip6;
      options: NdOption[];
    }
  | { kind: 'redirect'; reserved: number; target: Ip6; destination: Ip6; options: NdOption[] }
  | { kind: 'other'; type: number; code: number; rest: number; data: Uint8Array };

/** The MLDv2 part of a query (RFC 3810 §5.1). */
export interface Mld2QueryExt {
  /** The byte holding Resv, S and QRV. */
  sqrv: number;
  qqic: number;
  sources: Ip6[];
}

/**
 * Parses an ICMPv6 message (the upper-layer bytes) sent from `src` to
 * `dst`. Never throws. Checks: 8 bytes (`truncated`), the checksum unless
 * `verifyChecksum` is false (`bad checksum`), then the type's layout.
 */
export function parseIcmpv6(buf: Uint8Array, src: Ip6, dst: Ip6, verifyChecksum = true): Icmpv6Repr | WireError {
  const n = buf.length;
  if (n < ICMPV6_HEADER_LEN) return WireError.truncated;
  if (verifyChecksum && onesSum(buf, pseudoHeaderSum6(src, dst, IPV6_NH.ICMPV6, n)) !== 0xffff) return WireError.badChecksum;
  const type = buf[0]!;
  const code = buf[1]!;
  const rest = get32(buf, 4);
  const data = buf.subarray(ICMPV6_HEADER_LEN);
  const nd = (min: number): NdOption[] | WireError | null => {
    if (code !== 0) return null;
    if (n < min) return WireError.truncated;
    return parseNdOptions(buf, min);
  };
  switch (type) {
    case ICMPV6_DEST_UNREACHABLE:
      return { kind: 'destUnreachable', code, unused: rest, data };
    case ICMPV6_TIME_EXCEEDED:
      return { kind: 'timeExceeded', code, unused: rest, data };
    case ICMPV6_PACKET_TOO_BIG:
      return { kind: 'packetTooBig', code, mtu: rest, data };
    case ICMPV6_PARAM_PROBLEM:
      return { kind: 'paramProblem', code, pointer: rest, data };
    case ICMPV6_ECHO_REQUEST:
    case ICMPV6_ECHO_REPLY:
      if (code !== 0) break;
      return { kind: type === ICMPV6_ECHO_REQUEST ? 'echoRequest' : 'echoReply', ident: get16(buf, 4), seq: get16(buf, 6), data };
    case ICMPV6_MLD_QUERY:
    case ICMPV6_MLD_REPORT:
    case ICMPV6_MLD_DONE: {
      if (n < 24) return WireError.truncated;
      const head = { maxResponse: get16(buf, 4), reserved: get16(buf, 6), group: readIp6(buf, 8) };
      if (type === ICMPV6_MLD_REPORT) return n === 24 ? { kind: 'mldReport', ...head } : WireError.badLength;
      if (type === ICMPV6_MLD_DONE) return n === 24 ? { kind: 'mldDone', ...head } : WireError.badLength;
      if (n === 24) return { kind: 'mldQuery', ...head, v2: null };
      if (n < 28) break; // RFC 3810 §8.1: ignored
      const ns = get16(buf, 26);
      if (n !== 28 + 16 * ns) return WireError.badLength;
      const sources: Ip6[] = [];
      for (let i = 0; i < ns; i++) sources.push(readIp6(buf, 28 + 16 * i));
      return { kind: 'mldQuery', ...head, v2: { sqrv: buf[24]!, qqic: buf[25]!, sources } };
    }
    case ICMPV6_MLDV2_REPORT: {
      const nr = get16(buf, 6);
      const records: Mld2Record[] = [];
      let o = 8;
      for (let i = 0; i < nr; i++) {
        if (o + 20 > n) return WireError.truncated;
        const ns = get16(buf, o + 2);
        const end = o + 20 + 16 * ns + 4 * buf[o + 1]!;
        if (end > n) return WireError.truncated;
        const sources: Ip6[] = [];
        for (let k = 0; k < ns; k++) sources.push(readIp6(buf, o + 20 + 16 * k));
        records.push({ recordType: buf[o]!, group: readIp6(buf, o + 4), sources, aux: buf.slice(o + 20 + 16 * ns, end) });
        o = end;
      }
      if (o !== n) return WireError.badLength;
      return { kind: 'mld2Report', reserved: get16(buf, 4), records };
    }
    case ICMPV6_ROUTER_SOLICIT: {
      const options = nd(8);
      if (options === null) break;
      if (options instanceof WireError) return options;
      return { kind: 'routerSolicit', reserved: rest, options };
    }
    case ICMPV6_ROUTER_ADVERT: {
      const options = nd(16);
      if (options === null) break;
      if (options instanceof WireError) return options;
      return {
        kind: 'routerAdvert', curHopLimit: buf[4]!, flags: buf[5]!, routerLifetime: get16(buf, 6),
        reachableTime: get32(buf, 8), retransTimer: get32(buf, 12), options,
      };
    }
    case ICMPV6_NEIGHBOR_SOLICIT: {
      const options = nd(24);
      if (options === null) break;
      if (options instanceof WireError) return options;
      return { kind: 'neighborSolicit', reserved: rest, target: readIp6(buf, 8), options };
    }
    case ICMPV6_NEIGHBOR_ADVERT: {
      const options = nd(24);
      if (options === null) break;
      if (options instanceof WireError) return options;
      return {
        kind: 'neighborAdvert', router: (rest & NA_ROUTER) !== 0, solicited: (rest & NA_SOLICITED) !== 0,
        override: (rest & NA_OVERRIDE) !== 0, reserved: rest & 0x1fffffff, target: readIp6(buf, 8), options,
      };
    }
    case ICMPV6_REDIRECT: {
      const options = nd(40);
      if (options === null) break;
      if (options instanceof WireError) return options;
      return { kind: 'redirect', reserved: rest, target: readIp6(buf, 8), destination: readIp6(buf, 24), options };
    }
  }
  return { kind: 'other', type, code, rest, data };
}

/** The type byte of a message. */
export function icmpv6Type(r: Icmpv6Repr): number {
  switch (r.kind) {
    case 'destUnreachable': return ICMPV6_DEST_UNREACHABLE;
    case 'packetTooBig': return ICMPV6_PACKET_TOO_BIG;
    case 'timeExceeded': return ICMPV6_TIME_EXCEEDED;
    case 'paramProblem': return ICMPV6_PARAM_PROBLEM;
    case 'echoRequest': return ICMPV6_ECHO_REQUEST;
    case 'echoReply': return ICMPV6_ECHO_REPLY;
    case 'mldQuery': return ICMPV6_MLD_QUERY;
    case 'mldReport': return ICMPV6_MLD_REPORT;
    case 'mldDone': return ICMPV6_MLD_DONE;
    case 'mld2Report': return ICMPV6_MLDV2_REPORT;
    case 'routerSolicit': return ICMPV6_ROUTER_SOLICIT;
    case 'routerAdvert': return ICMPV6_ROUTER_ADVERT;
    case 'neighborSolicit': return ICMPV6_NEIGHBOR_SOLICIT;
    case 'neighborAdvert': return ICMPV6_NEIGHBOR_ADVERT;
    case 'redirect': return ICMPV6_REDIRECT;
    case 'other': return r.type;
  }
}

/** Bytes {@link emitIcmpv6} writes. */
export function icmpv6BufferLen(r: Icmpv6Repr): number {
  switch (r.kind) {
    case 'mldQuery':
      return r.v2 === null ? 24 : 28 + 16 * r.v2.sources.length;
    case 'mldReport':
    case 'mldDone':
      return 24;
    case 'mld2Report': {
      let n = 8;
      for (const rec of r.records) n += 20 + 16 * rec.sources.length + rec.aux.length;
      return n;
    }
    case 'routerSolicit':
      return 8 + ndOptionsLen(r.options);
    case 'routerAdvert':
      return 16 + ndOptionsLen(r.options);
    case 'neighborSolicit':
    case 'neighborAdvert':
      return 24 + ndOptionsLen(r.options);
    case 'redirect':
      return 40 + ndOptionsLen(r.options);
    default:
      return ICMPV6_HEADER_LEN + r.data.length;
  }
}

/**
 * Writes the message at `out[offset..]` with its checksum for `src` →
 * `dst`. Throws RangeError if `out` is too small or an MLD record's aux
 * data is not whole 4-byte words. @returns bytes written
 */
export function emitIcmpv6(r: Icmpv6Repr, out: Uint8Array, offset: number, src: Ip6, dst: Ip6): number {
  const len = icmpv6BufferLen(r);
  checkRoom(out, offset, len, 'icmpv6');
  const o = offset;
  let code = 0;
  switch (r.kind) {
    case 'destUnreachable':
    case 'timeExceeded':
    case 'packetTooBig':
    case 'paramProblem':
    case 'other':
      code = r.code;
      put32(out, o + 4, r.kind === 'packetTooBig' ? r.mtu : r.kind === 'paramProblem' ? r.pointer : r.kind === 'other' ? r.rest : r.unused);
      placePayload(out, o + 8, r.data);
      break;
    case 'echoRequest':
    case 'echoReply':
      put16(out, o + 4, r.ident);
      put16(out, o + 6, r.seq);
      placePayload(out, o + 8, r.data);
      break;
    case 'mldQuery':
    case 'mldReport':
    case 'mldDone':
      put16(out, o + 4, r.maxResponse);
      put16(out, o + 6, r.reserved);
      out.set(r.group, o + 8);
      if (r.kind === 'mldQuery' && r.v2 !== null) {
        out[o + 24] = r.v2.sqrv;
        out[o + 25] = r.v2.qqic;
        put16(out, o + 26, r.v2.sources.length);
        r.v2.sources.forEach((s, i) => out.set(s, o + 28 + 16 * i));
      }
      break;
    case 'mld2Report': {
      put16(out, o + 4, r.reserved);
      put16(out, o + 6, r.records.length);
      let p = o + 8;
      for (const rec of r.records) {
        if ((rec.aux.length & 3) !== 0) throw new RangeError('emit mld2 record: aux data not in words');
        out[p] = rec.recordType;
        out[p + 1] = rec.aux.length >>> 2;
        put16(out, p + 2, rec.sources.length);
        out.set(rec.group, p + 4);
        rec.sources.forEach((s, i) => out.set(s, p + 20 + 16 * i));
        out.set(rec.aux, p + 20 + 16 * rec.sources.length);
        p += 20 + 16 * rec.sources.length + rec.aux.length;
      }
      break;
    }
    case 'routerSolicit':
      put32(out, o + 4, r.reserved);
      writeNdOptions(out, o + 8, r.options);
      break;
    case 'routerAdvert':
      out[o + 4] = r.curHopLimit;
      out[o + 5] = r.flags;
      put16(out, o + 6, r.routerLifetime);
      put32(out, o + 8, r.reachableTime);
      put32(out, o + 12, r.retransTimer);
      writeNdOptions(out, o + 16, r.options);
      break;
    case 'neighborSolicit':
      put32(out, o + 4, r.reserved);
      out.set(r.target, o + 8);
      writeNdOptions(out, o + 24, r.options);
      break;
    case 'neighborAdvert':
      put32(out, o + 4, ((r.router ? NA_ROUTER : 0) | (r.solicited ? NA_SOLICITED : 0) | (r.override ? NA_OVERRIDE : 0) | (r.reserved & 0x1fffffff)) >>> 0);
      out.set(r.target, o + 8);
      writeNdOptions(out, o + 24, r.options);
      break;
    case 'redirect':
      put32(out, o + 4, r.reserved);
      out.set(r.target, o + 8);
      out.set(r.destination, o + 24);
      writeNdOptions(out, o + 40, r.options);
      break;
  }
  out[o] = icmpv6Type(r);
  out[o + 1] = code;
  finishIcmpv6(out, o, len, src, dst);
  return len;
}

/** Writes the checksum of the `len`-byte message at `out[o..]` (every other byte already written). */
export function finishIcmpv6(out: Uint8Array, o: number, len: number, src: Ip6, dst: Ip6): void {
  put16(out, o + 2, 0);
  put16(out, o + 2, checksum(out, pseudoHeaderSum6(src, dst, IPV6_NH.ICMPV6, len), o, o + len));
}

/** The datagram quoted in an ICMPv6 error (RFC 4443 §2.4 (c)): enough to find what it concerns. */
export interface Icmpv6Quote {
  src: Ip6;
  dst: Ip6;
  /** The upper-layer protocol, or -1 when the quote does not reach it (cut, or a non-first fragment). */
  protocol: number;
  /** Upper-layer bytes quoted (ports, TCP sequence, ICMPv6 ident), a view; empty when protocol is -1. */
  payload: Uint8Array;
}

/**
 * Parses the invoking packet in an error message. Never throws. Extension
 * headers are skipped by their lengths as far as the quote reaches.
 */
export function parseIcmpv6Quote(data: Uint8Array): Icmpv6Quote | WireError {
  if (data.length < IPV6_HEADER_LEN) return WireError.truncated;
  if (data[0]! >>> 4 !== 6) return WireError.badVersion;
  const src = readIp6(data, 8);
  const dst = readIp6(data, 24);
  let nh = data[6]!;
  let o = IPV6_HEADER_LEN;
  for (let i = 0; isIpv6ExtHeader(nh); i++) {
    if (i >= 8 || o + 8 > data.length) return { src, dst, protocol: -1, payload: data.subarray(0, 0) };
    if (nh === IPV6_NH.FRAGMENT) {
      const f = readIpv6Fragment(data, o);
      if (f.offset !== 0) return { src, dst, protocol: -1, payload: data.subarray(0, 0) };
      nh = f.nextHeader;
      o += 8;
      continue;
    }
    const next = data[o]!;
    o += (data[o + 1]! + 1) * 8;
    nh = next;
  }
  if (o > data.length) return { src, dst, protocol: -1, payload: data.subarray(0, 0) };
  return { src, dst, protocol: nh, payload: data.subarray(o) };
}
