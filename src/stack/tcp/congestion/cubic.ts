/**
 * CUBIC (RFC 9438). Window arithmetic in segments (floating point), cwnd
 * kept in bytes. Slow start as NewReno; in congestion avoidance the window
 * follows W_cubic(t) = C·(t − K)³ + W_max (§4.2), never below the
 * Reno-friendly estimate W_est (§4.3), with fast convergence (§4.7).
 */
import type { CongestionControl } from './types.js';
import { initialWindow } from './types.js';

/** RFC 9438 §4.6 β_cubic. */
const BETA = 0.7;
/** RFC 9438 §5 C. */
const C = 0.4;
/** RFC 9438 §4.3 α_cubic = 3(1 − β)/(1 + β). */
const ALPHA = (3 * (1 - BETA)) / (1 + BETA);

export class Cubic implements CongestionControl {
  readonly name = 'cubic';
  cwnd: number;
  ssthresh = 0x7fffffff;
  /** W_max in segments. */
  private wMax = 0;
  /** W_lastmax for fast convergence. */
  private wLastMax = 0;
  private k = 0;
  /** Start of the current congestion-avoidance epoch (ms), -1 = none. */
  private epoch = -1;
  /** W_est in segments (§4.3). */
  private wEst = 0;
  /** Fractional cwnd growth carried between ACKs (bytes). */
  private acc = 0;

  constructor(smss: number) {
    this.cwnd = initialWindow(smss);
  }

  onAck(acked: number, smss: number, now: number, rtt: number): void {
    if (this.cwnd < this.ssthresh) {
      this.cwnd += Math.min(acked, 2 * smss); // slow start, as RFC 5681 / 3465
      return;
    }
    const cwndSeg = this.cwnd / smss;
    if (this.epoch < 0) {
      // §4.2: a new epoch starts with the first ACK in congestion avoidance.
      this.epoch = now;
      if (this.wMax < cwndSeg) {
        this.wMax = cwndSeg;
        this.k = 0;
      } else this.k = Math.cbrt((this.wMax - cwndSeg) / C);
      this.wEst = cwndSeg;
    }
    const t = (now - this.epoch + rtt) / 1000;
    // §4.2 Figure 1, evaluated at t + RTT; target clamped to [cwnd, 1.5·cwnd] (§4.4)
    let target = C * (t - this.k) ** 3 + this.wMax;
    if (target < cwndSeg) target = cwndSeg;
    else if (target > 1.5 * cwndSeg) target = 1.5 * cwndSeg;
    // §4.3 Reno-friendly region
    this.wEst += (ALPHA * (acked / smss)) / cwndSeg;
    let inc: number;
    if (this.wEst > target) inc = ((this.wEst - cwndSeg) * acked) / smss / cwndSeg;
    else inc = ((target - cwndSeg) * acked) / smss / cwndSeg; // §4.4/4.5 (target − cwnd)/cwnd per segment
    this.acc += inc * smss;
    if (this.acc >= 1) {
      const add = Math.floor(this.acc);
      this.cwnd += add;
      this.acc -= add;
    }
  }

  private reduce(flight: number, smss: number): void {
    const cwndSeg = Math.max(this.cwnd, flight) / smss;
    // §4.7 fast convergence
    if (cwndSeg < this.wLastMax) {
      this.wLastMax = cwndSeg;
      this.wMax = (cwndSeg * (1 + BETA)) / 2;
    } else {
      this.wLastMax = cwndSeg;
      this.wMax = cwndSeg;
    }
    // §4.6 multiplicative decrease
    this.ssthresh = Math.max(Math.floor(flight * BETA), 2 * smss);
    this.epoch = -1;
    this.acc = 0;
  }

  onLoss(flight: number, smss: number): void {
    this.reduce(flight, smss);
  }

  onRto(flight: number, smss: number): void {
    // §4.8: on RTO, ssthresh as on loss, cwnd to 1 segment; W_max reset epoch.
    this.reduce(flight, smss);
    this.cwnd = smss;
  }

  onRecoveryEnd(flight: number, smss: number): void {
    this.cwnd = Math.max(Math.min(this.ssthresh, flight + smss), 2 * smss);
  }
}
