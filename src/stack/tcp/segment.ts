/**
 * The one segment a TCP layer is sending, reused for every segment: its
 * header fields (wire/tcp.ts TcpHeaderFields) and where its payload is in
 * the connection's send ring. As an IpPayloadWriter it puts the segment
 * straight into the outgoing frame: the payload copied from the ring, then
 * header, options and checksum by wire/tcp.ts's emitTcpHeader, the
 * emitter emitTcp uses and the goldens and fuzz tests check. Nothing is
 * allocated per segment.
 */
import type { IpPayloadWriter } from '../core.js';
import { emitTcpHeader, TCP_HEADER_LEN, tcpOptionsLen } from '../wire/tcp.js';
import type { TcpHeaderFields } from '../wire/tcp.js';
import type { SendBuffer } from './sendbuf.js';

export class SegmentWriter implements TcpHeaderFields, IpPayloadWriter {
  length = 0;
  srcPort = 0;
  dstPort = 0;
  seq = 0;
  ack = 0;
  flags = 0;
  window = 0;
  urgent = 0;
  mss = -1;
  windowScale = -1;
  sackPermitted = false;
  timestamps = false;
  tsVal = 0;
  tsEcr = 0;
  /** SACK edges to send (flat), filled in place; the first `sackEdges` count. */
  readonly sack: number[] = [];
  sackEdges = 0;
  /** Payload: `n` bytes at offset `off` of `buf`. */
  buf: SendBuffer | null = null;
  off = 0;
  n = 0;
  /** Header length of the current segment. */
  private hlen = 0;

  /** Clears options and payload for the next segment. */
  reset(): void {
    this.urgent = 0;
    this.mss = -1;
    this.windowScale = -1;
    this.sackPermitted = false;
    this.timestamps = false;
    this.sackEdges = 0;
    this.buf = null;
    this.n = 0;
    this.off = 0;
  }

  /** Computes `length` from the fields set; call before sending. */
  prepare(): number {
    this.hlen = TCP_HEADER_LEN + tcpOptionsLen(this);
    this.length = this.hlen + this.n;
    return this.length;
  }

  write(out: Uint8Array, off: number, src: number, dst: number): void {
    if (this.n > 0) this.buf!.copyOut(this.off, this.n, out, off + this.hlen);
    emitTcpHeader(this, this.n, out, off, src, dst);
    this.buf = null;
  }
}
