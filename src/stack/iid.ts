/**
 * Stable, semantically opaque interface identifiers (RFC 7217 §5) for
 * SLAAC and link-local addresses:
 *
 *     RID = F(Prefix, Net_Iface, Network_ID, DAD_Counter, secret_key)
 *
 * with F = SHA-256 over the concatenation, its first 64 bits taken. The
 * same prefix on the same interface gives the same address every time
 * (while the secret is kept), a different prefix a different one, and the
 * MAC is not revealed (unlike modified EUI-64, RFC 4291 Appendix A). The
 * secret is 16 bytes drawn from the stack's injected Rng (or given by the
 * caller, to keep addresses across restarts). No Network_ID is used.
 * Identifiers RFC 5453 reserves are skipped by counting DAD_Counter on.
 */
import { createHash } from 'node:crypto';
import type { Rng } from '../lib/rng.js';
import type { Ip6 } from './wire/ipv6addr.js';

/** Bytes of secret key (RFC 7217 §5: at least 128 bits). */
export const IID_SECRET_LEN = 16;
/** Attempts after a DAD failure before an address is given up (RFC 7217 §6 IDGEN_RETRIES). */
export const IDGEN_RETRIES = 3;

/** A fresh secret key from `rng`. */
export function iidSecret(rng: Rng): Uint8Array {
  const s = new Uint8Array(IID_SECRET_LEN);
  for (let i = 0; i < IID_SECRET_LEN; i += 4) {
    const x = rng.u32();
    s[i] = x >>> 24;
    s[i + 1] = x >>> 16;
    s[i + 2] = x >>> 8;
    s[i + 3] = x;
  }
  return s;
}

/** True for interface identifiers RFC 5453 §3 reserves. */
export function iidReserved(iid: Uint8Array): boolean {
  if (iid.every((b) => b === 0)) return true; // subnet-router anycast (RFC 4291 §2.6.1)
  // 0200:5efe... is ISATAP-like, not reserved; 0200:5eff:fe00:0000–5213 is (RFC 5453).
  if (iid[0] === 0x02 && iid[1] === 0x00 && iid[2] === 0x5e && iid[3] === 0xff && iid[4] === 0xfe && iid[5] === 0x00) {
    return ((iid[6]! << 8) | iid[7]!) <= 0x5213;
  }
  // fdff:ffff:ffff:ff80–ffff: subnet anycast (RFC 2526).
  return iid[0] === 0xfd && iid.subarray(1, 7).every((b) => b === 0xff) && iid[7]! >= 0x80;
}

/**
 * The 8-byte interface identifier for `prefix` (its first 64 bits) on the
 * interface named by `netIface` (its MAC bytes), for attempt `dadCounter`.
 * Reserved results move on to the next counter value.
 */
export function stableIid(secret: Uint8Array, prefix: Ip6, netIface: Uint8Array, dadCounter: number): Uint8Array {
  for (let c = dadCounter; ; c++) {
    const h = createHash('sha256');
    h.update(prefix.subarray(0, 8));
    h.update(netIface);
    h.update(Uint8Array.of(c >>> 24, c >>> 16, c >>> 8, c & 0xff));
    h.update(secret);
    const iid = new Uint8Array(h.digest().subarray(0, 8));
    if (!iidReserved(iid)) return iid;
  }
}
