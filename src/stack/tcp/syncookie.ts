/**
 * SYN cookies (RFC 4987 §3.6), encoded as Linux encodes them
 * (net/ipv4/syncookies.c): when a listener's half-open entries are full,
 * its SYN-ACK carries the connection in its sequence number instead of a
 * limbo entry, and the ACK that comes back recreates it.
 *
 *     ISS = H1(4-tuple) + ISN_peer + (count << 24)
 *           + ((H2(4-tuple, count) + mssIndex) mod 2^24)
 *
 * `count` is a minute counter (a cookie is good for MAX_AGE minutes), H1
 * and H2 keyed hashes over the four-tuple with a secret drawn once from
 * the stack's Rng, and mssIndex picks the peer's MSS from MSS_TABLE. The
 * options a cookie cannot hold in 32 bits ride, as on Linux, in the low
 * six bits of our timestamp: window scale (4 bits, 0xf for none) and
 * SACK-permitted (bit 4); a peer without timestamps gets neither.
 */
import { createHash } from 'node:crypto';
import type { Rng } from '../../lib/rng.js';

/** Linux's MSS table for IPv4 cookies (msstab). */
export const MSS_TABLE = [536, 1300, 1440, 1460] as const;
/** Minutes a cookie stays valid (Linux MAX_SYNCOOKIE_AGE). */
export const MAX_AGE = 2;
/** Milliseconds per cookie count. */
const TICK_MS = 60_000;
const COOKIE_BITS = 24;
const COOKIE_MASK = (1 << COOKIE_BITS) - 1;
/** Low timestamp bits holding the options, and their fields (Linux TSMASK, TS_OPT_*). */
export const TS_MASK = 0x3f;
const TS_WSCALE_NONE = 0xf;
const TS_SACK = 1 << 4;

/** What a valid cookie gives back. */
export interface CookieParams {
  mss: number;
  /** -1: no window scaling. */
  wscale: number;
  sackOk: boolean;
  tsOk: boolean;
}

export class SynCookies {
  private readonly secret = new Uint8Array(16);
  private readonly buf = new Uint8Array(17);

  constructor(rng: Rng) {
    const v = new DataView(this.secret.buffer);
    for (let i = 0; i < 4; i++) v.setUint32(4 * i, rng.u32());
  }

  private hash(la: number, lp: number, ra: number, rp: number, count: number, which: number): number {
    const v = new DataView(this.buf.buffer);
    v.setUint32(0, ra >>> 0);
    v.setUint32(4, la >>> 0);
    v.setUint16(8, rp);
    v.setUint16(10, lp);
    v.setUint32(12, count >>> 0);
    this.buf[16] = which;
    return createHash('sha256').update(this.secret).update(this.buf).digest().readUInt32BE(0);
  }

  private count(now: number): number {
    return Math.floor(now / TICK_MS) & 0xff;
  }

  /** The ISS for a SYN with sequence number `peerIsn` and MSS option `peerMss`. */
  iss(la: number, lp: number, ra: number, rp: number, peerIsn: number, peerMss: number, now: number): number {
    let idx = 0;
    for (let i = MSS_TABLE.length - 1; i >= 0; i--) {
      if (peerMss >= MSS_TABLE[i]!) {
        idx = i;
        break;
      }
    }
    const count = this.count(now);
    const low = (this.hash(la, lp, ra, rp, count, 1) + idx) & COOKIE_MASK;
    return (this.hash(la, lp, ra, rp, 0, 0) + peerIsn + count * (1 << COOKIE_BITS) + low) >>> 0;
  }

  /**
   * Checks the ACK of a cookie SYN-ACK: `ack` acknowledges ISS+1, `seq` is
   * the peer's ISN+1, `tsEcr` the timestamp it echoes (null without
   * timestamps). The parameters, or null when the cookie is not ours or
   * too old.
   */
  check(la: number, lp: number, ra: number, rp: number, seq: number, ack: number, tsEcr: number | null, now: number): CookieParams | null {
    const iss = (ack - 1) >>> 0;
    const peerIsn = (seq - 1) >>> 0;
    const c = (iss - this.hash(la, lp, ra, rp, 0, 0) - peerIsn) >>> 0;
    const count = this.count(now);
    const sent = c >>> COOKIE_BITS;
    const age = (count - sent) & 0xff;
    if (age >= MAX_AGE) return null;
    const idx = ((c - this.hash(la, lp, ra, rp, sent, 1)) >>> 0) & COOKIE_MASK;
    if (idx >= MSS_TABLE.length) return null;
    const p: CookieParams = { mss: MSS_TABLE[idx]!, wscale: -1, sackOk: false, tsOk: false };
    if (tsEcr !== null) {
      const opts = tsEcr & TS_MASK;
      const ws = opts & 0xf;
      p.tsOk = true;
      p.wscale = ws === TS_WSCALE_NONE ? -1 : ws;
      p.sackOk = (opts & TS_SACK) !== 0;
    }
    return p;
  }

  /** Our timestamp value for a cookie SYN-ACK: `tsNow` with the options in its low bits, never ahead of it. */
  static timestamp(tsNow: number, wscale: number, sackOk: boolean): number {
    let opts = wscale >= 0 ? wscale & 0xf : TS_WSCALE_NONE;
    if (sackOk) opts |= TS_SACK;
    let ts = ((tsNow & ~TS_MASK) | opts) >>> 0;
    if (ts > tsNow >>> 0) ts = (ts - (TS_MASK + 1)) >>> 0;
    return ts;
  }
}
