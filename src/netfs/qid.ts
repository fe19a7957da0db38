/**
 * devip's qid packing (Plan 9's 9/ip/devip.c QID macros)
 * and the qid spaces of the other /net parts above it.
 */
import { QTDIR, QTFILE, qid } from '../ninep/types.js';
import type { Qid } from '../ninep/types.js';

/** devip qid types (9/ip/devip.c). */
export enum Q {
  topdir = 1, arp = 2, bootp = 3, ndb = 4, iproute = 5, ipselftab = 6, log = 7,
  protodir = 8, clone = 9, stats = 10, convdir = 11, ctl = 12, data = 13, err = 14,
  listen = 15, local = 16, remote = 17, status = 18, snoop = 19,
  /** Ours (no devip counterpart): a conversation's capture and event stream. */
  pcap = 20, events = 21,
}

/** devip's packing: proto<<17 | conv<<5 | type. */
export function ipQid(type: Q, proto = 0, conv = 0): Qid {
  const dir = type === Q.topdir || type === Q.protodir || type === Q.convdir;
  return qid(dir ? QTDIR : QTFILE, (BigInt(proto) << 17n) | (BigInt(conv) << 5n) | BigInt(type));
}

/** Qid spaces of the other /net parts, above devip's. */
export const QSPACE_CS = 1n << 40n;
export const QSPACE_ETHER = 2n << 40n;
export const QSPACE_IPIFC = 3n << 40n;
export const QSPACE_DNS = 4n << 40n;
/** /net/clock. */
export const QSPACE_CLOCK = 5n << 40n;
