/**
 * Serializes one TCP segment straight into the outgoing frame (an
 * IpPayloadWriter reused for every segment of the layer: no TcpRepr, no
 * closure and no intermediate buffer per segment). The payload is copied
 * from the connection's send ring; the option layout is the canonical
 * Linux one of wire/tcp.ts (emitTcp), so the two agree byte for byte.
 */
import type { IpPayloadWriter } from '../core.js';
import { put16, put32 } from '../wire/bytes.js';
import { checksum, pseudoHeaderSum } from '../wire/checksum.js';
import { IP_PROTO_TCP } from '../wire/ipv4.js';
import { TCP_HEADER_LEN, writeTcpOptions } from '../wire/tcp.js';
import type { SendBuffer } from './sendbuf.js';

export class SegmentWriter implements IpPayloadWriter {
  length = 0;
  sport = 0;
  dport = 0;
  seq = 0;
  ack = 0;
  flags = 0;
  window = 0;
  /** MSS option value, -1 = none. */
  mss = -1;
  /** Window-scale option, -1 = none. */
  wscale = -1;
  sackOk = false;
  ts = false;
  tsVal = 0;
  tsEcr = 0;
  /** SACK edges to send (flat), count = sackEdges. */
  readonly sack: number[] = [];
  sackEdges = 0;
  /** Payload: `n` bytes at offset `off` of `buf`. */
  buf: SendBuffer | null = null;
  off = 0;
  n = 0;
  /** Header length of the current segment. */
  hlen = 0;

  /** Clears options and payload for the next segment. */
  reset(): void {
    this.mss = -1;
    this.wscale = -1;
    this.sackOk = false;
    this.ts = false;
    this.sackEdges = 0;
    this.buf = null;
    this.n = 0;
    this.off = 0;
  }

  /** Computes `length` from the fields set; call before sending. */
  prepare(): number {
    let o = 0;
    if (this.mss >= 0) o += 4;
    if (this.ts) o += 12;
    else if (this.sackOk) o += 4;
    if (this.wscale >= 0) o += 4;
    if (this.sackEdges > 0) o += 4 + 4 * this.sackEdges;
    this.hlen = TCP_HEADER_LEN + o;
    this.length = this.hlen + this.n;
    return this.length;
  }

  write(out: Uint8Array, off: number, src: number, dst: number): void {
    const hlen = this.hlen;
    put16(out, off, this.sport);
    put16(out, off + 2, this.dport);
    put32(out, off + 4, this.seq);
    put32(out, off + 8, this.ack);
    out[off + 12] = ((hlen >>> 2) << 4) | ((this.flags >>> 8) & 0x0f);
    out[off + 13] = this.flags & 0xff;
    put16(out, off + 14, this.window);
    put16(out, off + 16, 0);
    put16(out, off + 18, 0);
    writeTcpOptions(out, off + TCP_HEADER_LEN, this.mss, this.sackOk, this.ts, this.tsVal, this.tsEcr, this.wscale, this.sack, this.sackEdges);
    if (this.n > 0) this.buf!.copyOut(this.off, this.n, out, off + hlen);
    const len = this.length;
    put16(out, off + 16, checksum(out, pseudoHeaderSum(src, dst, IP_PROTO_TCP, len), off, off + len));
    this.buf = null;
  }
}
