/**
 * Retransmission timeout estimation, RFC 6298, in milliseconds.
 */

/** RFC 6298 §2.1: initial RTO of 1 second. */
export const RTO_INITIAL_MS = 1000;
/**
 * Lower bound on the RTO. RFC 6298 §2.4 says SHOULD round up to 1 s; like
 * Linux (TCP_RTO_MIN) we use 200 ms, which the RFC permits (it is a SHOULD)
 * and which matters for throughput under loss. Configurable per layer.
 */
export const RTO_MIN_MS = 200;
/** RFC 6298 §2.5: a maximum of at least 60 s may be placed on the RTO. */
export const RTO_MAX_MS = 60_000;
/** Clock granularity G (RFC 6298 §2): our timestamps tick in ms. */
const G = 1;

export class RttEstimator {
  /** Smoothed RTT (ms), 0 before the first sample. */
  srtt = 0;
  /** RTT variation (ms). */
  rttvar = 0;
  /** The RTO before backoff. */
  private base: number;
  /** Exponential backoff shift (RFC 6298 §5.5). */
  backoff = 0;
  hasSample = false;

  constructor(
    private readonly minRto = RTO_MIN_MS,
    private readonly maxRto = RTO_MAX_MS,
  ) {
    this.base = RTO_INITIAL_MS;
  }

  /** The current RTO including backoff. */
  get rto(): number {
    const r = this.base * 2 ** this.backoff;
    return r > this.maxRto ? this.maxRto : r;
  }

  /** Takes one RTT measurement `r` (ms), valid per Karn's rule (caller's job). */
  sample(r: number): void {
    if (r < 0) return;
    if (!this.hasSample) {
      // RFC 6298 §2.2
      this.srtt = r;
      this.rttvar = r / 2;
      this.hasSample = true;
    } else {
      // RFC 6298 §2.3, alpha = 1/8, beta = 1/4
      this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - r);
      this.srtt = 0.875 * this.srtt + 0.125 * r;
    }
    const rto = this.srtt + Math.max(G, 4 * this.rttvar);
    // RFC 6298 §2.4 (minimum) and §2.5 (maximum)
    this.base = Math.min(this.maxRto, Math.max(this.minRto, rto));
    this.backoff = 0;
  }

  /** RFC 6298 §5.5: back off the timer after an expiry. */
  backOff(): void {
    if (this.rto < this.maxRto) this.backoff++;
  }
}
