/**
 * Initial sequence numbers, RFC 6528 §3:
 *
 *     ISN = M + F(localip, localport, remoteip, remoteport, secretkey)
 *
 * M is a timer ticking every 4 µs (from the injected clock); F is the first
 * 32 bits of SHA-256 over the secret and the four-tuple. The 128-bit secret
 * is drawn once from the stack's Rng (a CryptoRng in production).
 */
import { createHash } from 'node:crypto';
import type { Rng } from '../../lib/rng.js';

export class IsnGenerator {
  private readonly secret = new Uint8Array(16);
  private readonly tuple = new Uint8Array(12);

  constructor(rng: Rng) {
    const v = new DataView(this.secret.buffer);
    for (let i = 0; i < 4; i++) v.setUint32(4 * i, rng.u32());
  }

  /** The ISN for the four-tuple at time `now` (ms). */
  isn(localAddr: number, localPort: number, remoteAddr: number, remotePort: number, now: number): number {
    const t = new DataView(this.tuple.buffer);
    t.setUint32(0, localAddr >>> 0);
    t.setUint16(4, localPort);
    t.setUint32(6, remoteAddr >>> 0);
    t.setUint16(10, remotePort);
    const h = createHash('sha256').update(this.secret).update(this.tuple).digest();
    const f = h.readUInt32BE(0);
    // RFC 6528 §3: M ticks every 4 microseconds.
    const m = Math.floor(now * 250) % 0x1_0000_0000;
    return (m + f) >>> 0;
  }
}
