/**
 * Passive opens: listeners and the "limbo" of half-open connections
 * (9front ip/tcp.c `limbo()`, `tcpincoming`). A SYN for a listener creates
 * a small LimboEntry, not a connection: SYN floods cannot exhaust the
 * connection table. The entry answers with SYN-ACK (retransmitted with
 * backoff, RFC 6298 timing), and only the ACK that completes the handshake
 * turns it into a TcpConn that is handed to the listener.
 *
 * Bounds: `limboSize` entries in all (layer option) and `backlog` per
 * listener. On overflow the OLDEST half-open entry (of the listener when
 * its backlog is full, else of the whole limbo) is dropped silently, as
 * 9front does; no SYN cookies. Under a flood a legitimate client may need
 * to retransmit its SYN, but established connections are never affected.
 */
import type { TcpHandler } from './types.js';
import type { TcpConn } from './conn.js';

/** SYN-ACK retransmissions before a half-open entry is dropped (Linux tcp_synack_retries). */
export const SYNACK_RETRIES = 5;

export class TcpListener {
  /** Half-open entries of this listener. */
  limboCount = 0;
  open = true;

  /** @internal use TcpLayer.listen */
  constructor(
    readonly localAddr: number,
    readonly localPort: number,
    readonly backlog: number,
    readonly onAccept: (conn: TcpConn) => TcpHandler | null,
    readonly autoConsume: boolean,
    private readonly closeFn: (l: TcpListener) => void,
  ) {}

  /** Stops listening; half-open connections are forgotten (their ACK will get a RST). */
  close(): void {
    if (!this.open) return;
    this.open = false;
    this.closeFn(this);
  }
}

/** A half-open passive connection (RFC 9293 SYN-RECEIVED, kept outside the table). */
export interface LimboEntry {
  listener: TcpListener;
  localAddr: number;
  localPort: number;
  remoteAddr: number;
  remotePort: number;
  iss: number;
  irs: number;
  peerMss: number;
  peerWscale: number;
  sackOk: boolean;
  tsOk: boolean;
  tsRecent: number;
  tsOffset: number;
  peerWindow: number;
  mtu: number;
  createdAt: number;
  /** Next SYN-ACK retransmission. */
  rtxAt: number;
  retries: number;
}
