/**
 * NewReno congestion control: RFC 5681 slow start and congestion
 * avoidance with appropriate byte counting (RFC 3465, L = 2·SMSS); the
 * recovery phase itself (RFC 6582) is run by the connection.
 */
import type { CongestionControl } from './types.js';
import { initialWindow } from './types.js';

export class NewReno implements CongestionControl {
  readonly name = 'newreno';
  cwnd: number;
  ssthresh = 0x7fffffff;
  /** Bytes acked since the last congestion-avoidance increase. */
  private acc = 0;

  constructor(smss: number) {
    this.cwnd = initialWindow(smss);
  }

  onAck(acked: number, smss: number): void {
    if (this.cwnd < this.ssthresh) {
      // RFC 5681 (2) with RFC 3465 L = 2·SMSS
      this.cwnd += Math.min(acked, 2 * smss);
      return;
    }
    // RFC 5681 (3): about one SMSS per RTT (byte counting)
    this.acc += acked;
    if (this.acc >= this.cwnd) {
      this.acc -= this.cwnd;
      this.cwnd += smss;
    }
  }

  onLoss(flight: number, smss: number): void {
    // RFC 5681 (4)
    this.ssthresh = Math.max(flight >>> 1, 2 * smss);
    this.acc = 0;
  }

  onRto(flight: number, smss: number): void {
    this.ssthresh = Math.max(flight >>> 1, 2 * smss);
    this.cwnd = smss; // loss window, RFC 5681 §3.1
    this.acc = 0;
  }

  onRecoveryEnd(flight: number, smss: number): void {
    this.cwnd = Math.max(Math.min(this.ssthresh, flight + smss), 2 * smss);
  }
}
