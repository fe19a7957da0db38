/**
 * Between the /net layer's 16-byte Plan 9 addresses and the stack's IPv4
 * u32s. Our stack is IPv4 only: an IPv6 address is "bad ip address syntax".
 */
import { NinepError } from '../../ninep/error.js';
import { StackError } from '../../stack/error.js';
import { isUnspecified, isV4, u32ToV4, v4ToU32 } from '../../netfs/ipaddr.js';
import type { Ip } from '../../netfs/ipaddr.js';

export function toV4(ip: Ip): number {
  if (isUnspecified(ip)) return 0;
  if (!isV4(ip)) throw new NinepError('bad ip address syntax');
  return v4ToU32(ip);
}

export function fromV4(n: number): Ip {
  return u32ToV4(n >>> 0);
}

/** A v4 mask from a 16-byte mask (its last four bytes). */
export function maskToV4(m: Ip): number {
  return ((m[12]! << 24) | (m[13]! << 16) | (m[14]! << 8) | m[15]!) >>> 0;
}

/** The 16-byte mask of a v4 mask: ones over the v4-mapped prefix. */
export function maskFromV4(m: number): Ip {
  const ip = u32ToV4(m >>> 0);
  for (let i = 0; i < 12; i++) ip[i] = 0xff;
  return ip;
}

/** Run a stack call; its StackError becomes the client's error text. */
export function stackCall<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof StackError) throw new NinepError(e.message);
    throw e;
  }
}
