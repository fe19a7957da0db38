/**
 * Big-endian (network order) field access over plain `Uint8Array`s, shared by
 * the wire/ modules. Manual shifts, no DataView allocation, no Buffer-only
 * APIs. Callers have already validated lengths (readers do not bounds-check).
 */

/** Reads the big-endian u16 at `o`. */
export function get16(b: Uint8Array, o: number): number {
  return (b[o]! << 8) | b[o + 1]!;
}

/** Reads the big-endian u32 at `o` as an unsigned number. */
export function get32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

/** Reads the big-endian 48-bit value at `o` (a MAC address) as an exact integer number. */
export function get48(b: Uint8Array, o: number): number {
  return ((b[o]! << 8) | b[o + 1]!) * 0x1_0000_0000 + get32(b, o + 2);
}

/** Writes `v` (low 16 bits) big-endian at `o`. */
export function put16(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 8;
  b[o + 1] = v;
}

/** Writes `v` (low 32 bits) big-endian at `o`. */
export function put32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = v >>> 16;
  b[o + 2] = v >>> 8;
  b[o + 3] = v;
}

/** Writes the 48-bit integer `v` (a MAC address) big-endian at `o`. */
export function put48(b: Uint8Array, o: number, v: number): void {
  const hi = Math.floor(v / 0x1_0000_0000);
  b[o] = hi >>> 8;
  b[o + 1] = hi;
  put32(b, o + 2, v >>> 0);
}

/** A shared zero-length view, used for absent options/payloads (never written to). */
export const EMPTY: Uint8Array = new Uint8Array(0);

/**
 * Throws a RangeError unless `out` has `len` bytes from `offset` on.
 * Emitters call this first: a short output buffer is a programmer error.
 */
export function checkRoom(out: Uint8Array, offset: number, len: number, what: string): void {
  if (!(offset >= 0 && offset + len <= out.length)) {
    throw new RangeError(`emit ${what}: need ${len} bytes at offset ${offset}, buffer has ${out.length}`);
  }
}

/**
 * Copies `payload` to `out[pos..]` unless it already is exactly that region
 * (the zero-copy case: the caller built the payload in place, e.g. when a
 * frame is emitted top-down into one allocation).
 */
export function placePayload(out: Uint8Array, pos: number, payload: Uint8Array): void {
  if (payload.length === 0) return;
  // byteOffset first: it rules out most copies without touching .buffer (slower on small arrays).
  if (payload.byteOffset === out.byteOffset + pos && payload.buffer === out.buffer) return;
  out.set(payload, pos);
}
