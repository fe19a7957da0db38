/**
 * Public types of the TCP layer: the callbacks a connection's user (the
 * /net layer) provides, layer options and the status snapshot.
 */
import type { CongestionName } from './congestion/types.js';
import type { TcpState } from './state.js';

/**
 * What a connection reports to its user. All methods are optional and are
 * called synchronously from packet input or timers; they may call back
 * into the connection (write, close, …). After the user calls close() or
 * abort(), no method is called any more.
 */
export interface TcpHandler {
  /** Active open completed (Established). */
  onOpen?(): void;
  /**
   * In-order bytes from the peer. `data` is a view valid only during the
   * call: copy it. Unless the connection auto-consumes, the bytes count
   * against the receive window until the user calls `consumed(n)`.
   */
  onData?(data: Uint8Array): void;
  /** The peer sent FIN after the last byte delivered (reads now return EOF). */
  onEnd?(): void;
  /** The send buffer has room again after a short write(). */
  onWritable?(): void;
  /** A RST from the peer ended the connection (onClosed follows). */
  onReset?(): void;
  /**
   * The connection is finished for its user: `reason` is null after an
   * orderly close by the peer and us, else a Plan 9 error text
   * (`connection refused`, `connection timed out`, an ICMP reason, …).
   */
  onClosed?(reason: string | null): void;
}

export interface TcpLayerOptions {
  /** Bound on connections, Time_wait included (MaxConn; default 4096). */
  maxConnections?: number;
  /** Bound on half-open passive connections in limbo, all listeners (default 1024). */
  limboSize?: number;
  /** Send buffer per connection, bytes (default 4 MiB). */
  sendBuffer?: number;
  /** Largest receive window per connection, bytes (default 4 MiB; the window grows to it). */
  recvBuffer?: number;
  /** Time_wait duration = 2·MSL (default 60 s, as Linux). */
  timeWaitMs?: number;
  /** Give up an active open after this long (default 127 s, as Linux: 6 SYN retries). */
  synTimeoutMs?: number;
  /** Give up when data stays unacknowledged this long (default 540 s, about 9front's 9 min). */
  rtxTimeoutMs?: number;
  /** Delayed-ACK timeout (default 40 ms; RFC 9293 §3.8.6.3: < 0.5 s). */
  delayedAckMs?: number;
  /** Lower bound on the RTO (default 200 ms, see rtt.ts). */
  minRtoMs?: number;
  /** Default congestion control of new connections (default `cubic`). */
  congestion?: CongestionName;
  /** Offer/accept window scaling (RFC 7323; default true). */
  windowScaling?: boolean;
  /** Offer/accept timestamps (RFC 7323; default true). */
  timestamps?: boolean;
  /** Offer/accept SACK (RFC 2018; default true). */
  sack?: boolean;
  /**
   * Flush a connection once per batch of received frames (when the link
   * says the batch is over: Stack.onInputBatchEnd) instead of after every
   * segment: fewer ACKs and larger sends, as GRO gives the kernel (default
   * false: segment tests see every reply at once).
   */
  batchInput?: boolean;
  /** Challenge ACKs per second, RFC 5961 §7 (default 1000). */
  challengeAckLimit?: number;
  /** Answer SYNs with SYN cookies (syncookie.ts) when a listener's half-open entries are full, instead of evicting the oldest (default true). */
  synCookies?: boolean;
}

export interface TcpConnectOptions {
  /** Local address (default: chosen by routing). */
  localAddr?: number;
  /** Local port (default: random ephemeral). */
  localPort?: number;
  /** Without a local port: the first free restricted one, 600–1023 (Plan 9's `!r`). */
  restricted?: boolean;
  remoteAddr: number;
  /** 0 is sent as any other port (Plan 9 does; the peer answers RST). */
  remotePort: number;
  handler: TcpHandler;
  /** Deliver-and-forget: bytes do not count against the window after onData (default true). */
  autoConsume?: boolean;
  /** TTL of every segment, the SYN included (default 255, Plan 9's MAXTTL). */
  ttl?: number;
  /** TOS byte of every segment (default 0). */
  tos?: number;
  /** ICMP errors do not fail the connect (Plan 9 `ignoreadvice`). */
  ignoreAdvice?: boolean;
  /** Called with the new connection before its SYN goes out (to attach events, capture, impairment). */
  setup?(conn: import('./conn.js').TcpConn): void;
}

export interface TcpListenOptions {
  /** Local address (default any of ours). */
  localAddr?: number;
  /** Local port (0: random ephemeral). */
  localPort: number;
  /** Bound on this listener's half-open connections in limbo (default 128, at most limboSize). */
  backlog?: number;
  /** TTL and TOS of the SYN-ACKs and of the accepted connections (default 255 and 0; settable later on the listener). */
  ttl?: number;
  tos?: number;
  /**
   * Asked when a SYN arrives and when a handshake completes: may a new call
   * be queued now? While false, SYNs are dropped (the client retransmits)
   * and a completing handshake's ACK is dropped, its half-open entry kept
   * (it retransmits its SYN-ACK; TcpListener.roomReturned hurries that).
   * Absent: always.
   */
  admit?(): boolean;
  /**
   * A handshake completed. Return the handler for the new Established
   * connection, or null to refuse it (it is reset).
   */
  onAccept(conn: import('./conn.js').TcpConn): TcpHandler | null;
  /** See TcpConnectOptions.autoConsume. */
  autoConsume?: boolean;
}

/** What /net/tcp/N/status prints (plan9-net.md §4.4). */
export interface TcpInfo {
  state: TcpState;
  /** Bytes delivered to the user and not yet consumed. */
  qin: number;
  /** Bytes in the send buffer (unacknowledged or unsent). */
  qout: number;
  /** Out-of-order queue: segments and bytes. */
  rqSegs: number;
  rqBytes: number;
  srtt: number;
  mdev: number;
  sst: number;
  cwin: number;
  swin: number;
  sscale: number;
  rwin: number;
  rscale: number;
  /** Receive window scale (9front `qscale`). */
  qscale: number;
  /** Retransmission timer: its period (ms) and backoff count. */
  timerStart: number;
  timerCount: number;
  /** Duplicate/out-of-window segments received (9front `rerecv`). */
  rerecv: number;
  katimerStart: number;
  katimerCount: number;
  congestion: CongestionName;
  noDelay: boolean;
  mss: number;
}
