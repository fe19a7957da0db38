/**
 * MAC address helpers: random locally administered unicast addresses from
 * an injected Rng, formatting/parsing, and the group (multicast/broadcast) bit.
 */
import type { Rng } from '../lib/rng.js';
import { MAC_LEN } from './link.js';

export const BROADCAST_MAC: Readonly<Uint8Array> = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);

/** A random unicast MAC with the locally-administered bit set (x2:, x6:, xA:, xE:). */
export function randomMac(rng: Rng): Uint8Array {
  const a = rng.u32();
  const b = rng.u32();
  const mac = new Uint8Array([a & 0xff, (a >>> 8) & 0xff, (a >>> 16) & 0xff, (a >>> 24) & 0xff, b & 0xff, (b >>> 8) & 0xff]);
  mac[0] = (mac[0]! & 0xfe) | 0x02;
  return mac;
}

/** True for broadcast and multicast destinations (I/G bit of the first octet). */
export function isGroupMac(frame: Uint8Array, offset = 0): boolean {
  return (frame[offset]! & 1) === 1;
}

export function formatMac(mac: Uint8Array, offset = 0): string {
  let s = '';
  for (let i = 0; i < MAC_LEN; i++) s += (i ? ':' : '') + (mac[offset + i] ?? 0).toString(16).padStart(2, '0');
  return s;
}

/** Parses "aa:bb:cc:dd:ee:ff" (or '-' separated); throws on anything else. */
export function parseMac(s: string): Uint8Array {
  const parts = s.split(/[:-]/);
  if (parts.length !== MAC_LEN || !parts.every((p) => /^[0-9a-fA-F]{1,2}$/.test(p))) {
    throw new Error(`invalid MAC address: ${JSON.stringify(s)}`);
  }
  return new Uint8Array(parts.map((p) => parseInt(p, 16)));
}

/** A 48-bit MAC (at `offset` in `buf`) as a number, for use as a Map key. */
export function macKey(buf: Uint8Array, offset = 0): number {
  return (
    buf[offset]! * 0x10000000000 +
    buf[offset + 1]! * 0x100000000 +
    ((buf[offset + 2]! << 24) >>> 0) +
    (buf[offset + 3]! << 16) +
    (buf[offset + 4]! << 8) +
    buf[offset + 5]!
  );
}

export function checkMac(mac: Uint8Array): Uint8Array {
  if (mac.length !== MAC_LEN) throw new RangeError(`a MAC address has ${MAC_LEN} bytes, got ${mac.length}`);
  if (isGroupMac(mac)) throw new RangeError(`${formatMac(mac)} is a group address, not a station MAC`);
  return Uint8Array.from(mac);
}
