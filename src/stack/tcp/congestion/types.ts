/**
 * The congestion-control interface (smoltcp `socket/tcp/congestion`). The
 * connection owns loss detection and recovery (RFC 6675 / RFC 6582); the
 * controller owns cwnd and ssthresh growth and reduction. All sizes are
 * bytes; `now` is the connection's clock in ms.
 */
export type CongestionName = 'newreno' | 'cubic';

export interface CongestionControl {
  readonly name: CongestionName;
  /** Congestion window (bytes). */
  cwnd: number;
  /** Slow-start threshold (bytes). */
  ssthresh: number;
  /**
   * `acked` new bytes were cumulatively acknowledged outside recovery.
   * `rtt` is the smoothed RTT (ms, 0 if unknown).
   */
  onAck(acked: number, smss: number, now: number, rtt: number): void;
  /** Loss detected by duplicate ACKs/SACK: sets ssthresh (RFC 5681 (4)); the caller sets cwnd. */
  onLoss(flight: number, smss: number, now: number): void;
  /** Retransmission timeout (RFC 5681 (4), cwnd to the loss window). */
  onRto(flight: number, smss: number, now: number): void;
  /** Recovery finished (full ACK): cwnd = min(ssthresh, flight + smss) (RFC 6582 §3.2 step 3). */
  onRecoveryEnd(flight: number, smss: number, now: number): void;
}

/** RFC 5681 §3.1 / RFC 6928: initial window min(10·SMSS, max(2·SMSS, 14600)). */
export function initialWindow(smss: number): number {
  return Math.min(10 * smss, Math.max(2 * smss, 14600));
}
