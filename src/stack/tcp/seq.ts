/**
 * Sequence-number arithmetic modulo 2^32 (RFC 9293 §3.4). Sequence numbers
 * are unsigned 32-bit numbers; comparisons use the signed difference, so
 * they are valid while the two numbers are less than 2^31 apart (gVisor
 * `seqnum`). Never compare sequence numbers with `<` directly.
 */

/** a + n mod 2^32. */
export function seqAdd(a: number, n: number): number {
  return (a + n) >>> 0;
}
/** a - b as a signed 32-bit distance. */
export function seqSub(a: number, b: number): number {
  return (a - b) | 0;
}
export function seqLt(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}
export function seqLe(a: number, b: number): boolean {
  return ((a - b) | 0) <= 0;
}
export function seqGt(a: number, b: number): boolean {
  return ((a - b) | 0) > 0;
}
export function seqGe(a: number, b: number): boolean {
  return ((a - b) | 0) >= 0;
}
export function seqMax(a: number, b: number): number {
  return ((a - b) | 0) >= 0 ? a : b;
}
export function seqMin(a: number, b: number): number {
  return ((a - b) | 0) <= 0 ? a : b;
}
/** lo ≤ x < hi (mod 2^32). */
export function seqInRange(x: number, lo: number, hi: number): boolean {
  return ((x - lo) | 0) >= 0 && ((x - hi) | 0) < 0;
}
