/**
 * Test helpers for the wire layer: hex fixtures and a deliberately naive
 * byte-loop Internet checksum used as an independent reference.
 */

/** Parses hex digits, ignoring whitespace. */
export function hex(s: string): Uint8Array {
  const clean = s.replace(/\s+/g, '');
  if (clean.length % 2 !== 0 || /[^0-9a-f]/i.test(clean)) throw new Error(`bad hex fixture: ${s}`);
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Lowercase hex of `b`, for readable assertion failures. */
export function toHex(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += x.toString(16).padStart(2, '0');
  return s;
}

/**
 * Reference ones'-complement sum (RFC 1071 §4.1 "C" example, literally):
 * 16-bit big-endian words, odd byte padded, carries folded at the end.
 * Returns the folded sum (not complemented).
 */
export function refSum(bytes: ArrayLike<number>, initial = 0): number {
  let sum = initial;
  let i = 0;
  for (; i + 1 < bytes.length; i += 2) sum += bytes[i]! * 256 + bytes[i + 1]!;
  if (i < bytes.length) sum += bytes[i]! * 256;
  while (sum > 0xffff) sum = (sum % 0x10000) + Math.floor(sum / 0x10000);
  return sum;
}

/** Reference checksum: complement of {@link refSum}. */
export function refChecksum(bytes: ArrayLike<number>, initial = 0): number {
  return 0xffff - refSum(bytes, initial);
}

/** Reference pseudo-header bytes (src, dst, zero, proto, length) for UDP/TCP. */
export function refPseudo(src: number, dst: number, proto: number, length: number): number[] {
  return [
    src >>> 24, (src >>> 16) & 255, (src >>> 8) & 255, src & 255,
    dst >>> 24, (dst >>> 16) & 255, (dst >>> 8) & 255, dst & 255,
    0, proto, length >>> 8, length & 255,
  ];
}

/** Concatenates arrays. */
export function concat(...parts: ArrayLike<number>[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Copy of `b` placed at byte offset `shift` inside a larger ArrayBuffer (alignment tests). */
export function shifted(b: Uint8Array, shift: number): Uint8Array {
  const backing = new Uint8Array(b.length + shift + 8);
  backing.set(b, shift);
  return backing.subarray(shift, shift + b.length);
}
