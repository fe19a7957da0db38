/**
 * Passive opens: listeners and the "limbo" of half-open connections
 * (9front ip/tcp.c `limbo()`, `tcpincoming`). A SYN for a listener creates
 * a small LimboEntry, not a connection: SYN floods cannot exhaust the
 * connection table. The entry answers with SYN-ACK (retransmitted with
 * backoff, RFC 6298 timing), and only the ACK that completes the handshake
 * turns it into a TcpConn that is handed to the listener.
 *
 * Bounds: `limboSize` entries in all (layer option) and `backlog` per
 * listener. When they are full (a SYN flood), a SYN is answered with a SYN
 * cookie (syncookie.ts, RFC 4987 §3.6) and nothing is kept: the ACK that
 * comes back recreates the connection, so legitimate clients complete
 * during a flood. With cookies off (TcpLayerOptions.synCookies) the
 * OLDEST half-open entry is dropped silently instead, as 9front does.
 *
 * The queue of calls waiting for the user (netfs's incall, Plan 9's
 * Maxincall) is the user's: `admit()` says whether it has room. While it
 * has none, a SYN is dropped without an answer (the client retransmits
 * it; Linux does the same when its accept queue is full), and the ACK
 * that would complete a handshake is dropped too, its entry kept in limbo
 * marked `ackDropped` (as Linux does with tcp_abort_on_overflow off): the
 * client believes it is connected, our SYN-ACK retransmissions make it
 * ACK again, and roomReturned() sends one at once when a call is taken.
 * Nothing is refused or reset for want of room; a call whose entry runs
 * out of SYN-ACK retransmissions is forgotten, and the client's next
 * segment then gets a RST.
 */
import type { TcpHandler } from './types.js';
import type { TcpConn } from './conn.js';

/** SYN-ACK retransmissions before a half-open entry is dropped (Linux tcp_synack_retries). */
export const SYNACK_RETRIES = 5;

/** What a listener needs from its layer. @internal */
export interface ListenerHost {
  unlisten(l: TcpListener): void;
  /** Hurry one handshake whose ACK was dropped for want of room. */
  roomReturned(l: TcpListener, now: number): void;
}

export class TcpListener {
  /** Half-open entries of this listener. */
  limboCount = 0;
  open = true;
  /** TTL and TOS of our SYN-ACKs, and what accepted connections start with (Plan 9 `ttl`, `tos`). */
  ttl = 255;
  tos = 0;

  /** @internal use TcpLayer.listen */
  constructor(
    readonly localAddr: number,
    readonly localPort: number,
    readonly backlog: number,
    readonly onAccept: (conn: TcpConn) => TcpHandler | null,
    readonly autoConsume: boolean,
    /** May a call be queued now (TcpListenOptions.admit)? */
    readonly admit: () => boolean,
    private readonly host: ListenerHost,
  ) {}

  /**
   * The user took a call: there is room again. One handshake held for
   * want of room gets its SYN-ACK again now, so its client ACKs again
   * without waiting for the retransmission timer.
   */
  roomReturned(now: number): void {
    if (this.open) this.host.roomReturned(this, now);
  }

  /** Stops listening; half-open connections are forgotten (their ACK will get a RST). */
  close(): void {
    if (!this.open) return;
    this.open = false;
    this.host.unlisten(this);
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
  /** The handshake's ACK came and was dropped: the listener had no room (see the module comment). */
  ackDropped: boolean;
}
