/**
 * Loss detection and recovery. With SACK, RFC 6675 (DupAck counting with
 * SACK news, pipe, NextSeg rule 1 with IsLost, then new data, in
 * output.ts); without SACK, NewReno (RFC 6582). Early retransmit (RFC
 * 5827) lowers DupThresh when too few segments are out; retransmissions
 * of a recovery are logged and found lost as RACK does (RFC 8985 §6.2,
 * by sequence: data sent after a retransmission was SACKed by
 * DupThresh), to be sent again without waiting for the RTO.
 */
import type { TcpConn } from './conn.js';
import { sendRange } from './output.js';
import { seqAdd, seqGe, seqGt, seqLe, seqLt, seqMax, seqSub } from './seq.js';

/** RFC 5681 §3.2 DupThresh. */
export const DUPTHRESH = 3;
/** Bound on the retransmissions of one recovery watched for loss (rtxLog entries). */
const RTX_LOG_MAX = 64;

/** Loss detection on duplicate ACKs / SACK (RFC 5681 §3.2, RFC 6675 §5, RFC 6582). */
export function onDupAck(c: TcpConn, now: number): void {
  const st = c.host.stats;
  if (c.inRecovery) {
    if (!c.sackOk) c.cc.cwnd += c.smss; // RFC 6582 §3.2 step 3 (inflation)
    return;
  }
  // RFC 5827 §3: with fewer than DupThresh + 1 segments out and no new
  // data to send (no data, or the windows forbid it), DupThresh drops to
  // the number of outstanding segments - 1.
  let dupThresh = DUPTHRESH;
  const outSegs = Math.ceil(seqSub(c.sndMax, c.sndUna) / c.smss);
  if (outSegs >= 2 && outSegs <= DUPTHRESH && !canSendNew(c)) dupThresh = outSegs - 1;
  const thresh = (dupThresh - 1) * c.smss + 1;
  const lost = c.sackOk && seqGt(c.sb.lostBoundary(c.sndUna, thresh), c.sndUna);
  if (c.dupAcks < dupThresh && !lost) return;
  // RFC 6582 §3.2 step 2: no new recovery before the previous one's point.
  // RFC 6582 §3.2 step 2: only when the cumulative ACK covers more than `recover`.
  if (!c.sackOk && !seqGt(c.sndUna, c.recoverySeq)) {
    st.RecoveryNoSeq++;
    return;
  }
  st.Recovery++;
  c.inRecovery = true;
  c.lossThresh = thresh;
  c.rtxLog.length = 0;
  c.recoverySeq = c.sndMax;
  const flight = c.sackOk ? pipe(c) : seqSub(c.sndMax, c.sndUna);
  c.cc.onLoss(Math.max(flight, seqSub(c.sndMax, c.sndUna) >>> 1), c.smss, now);
  c.highRxt = c.sndUna;
  if (c.sackOk) {
    c.cc.cwnd = c.cc.ssthresh; // RFC 6675 §5 step 4.2
  } else {
    c.cc.cwnd = c.cc.ssthresh + DUPTHRESH * c.smss; // RFC 6582 §3.2 step 2 (as RFC 5681)
  }
  c.rttSeq = -1;
  c.ev?.(now, { kind: 'recovery-enter', una: c.sndUna, recover: c.recoverySeq, cwnd: c.cc.cwnd, ssthresh: c.cc.ssthresh });
  // RFC 6675 §5 step 4.3 / RFC 5681: retransmit the first lost segment now.
  retransmitFirst(c, now);
}

/** RFC 6675 §4 SetPipe (bytes): lost and not (or no longer) retransmitted bytes are not in the pipe. */
export function pipe(c: TcpConn): number {
  const una = c.sndUna;
  const hi = c.sndMax;
  const lostB = c.sb.lostBoundary(una, c.lossThresh);
  const total = c.sb.holesBetween(una, hi);
  const start = seqMax(c.highRxt, una);
  let out = seqLt(start, lostB) ? c.sb.holesBetween(start, lostB) : 0;
  const log = c.rtxLog;
  for (let i = 0; i < log.length; i += 4) {
    if (log[i + 3] === 1) out += c.sb.holesBetween(seqMax(log[i]!, una), log[i + 1]!);
  }
  return total > out ? total - out : 0;
}

/** True when new data could go out now (RFC 5827 §3: else early retransmit applies). */
function canSendNew(c: TcpConn): boolean {
  const unsent = c.sbuf.length - seqSub(c.sndMax, c.bufSeq);
  if (unsent <= 0) return false;
  const seg = Math.min(unsent, c.smss);
  return (
    seqSub(seqAdd(c.sndUna, c.sndWnd), c.sndMax) >= seg &&
    c.cc.cwnd - seqSub(c.sndMax, c.sndUna) >= seg
  );
}

/** Remembers a retransmission sent in recovery (RFC 8985 §6.2 by sequence). */
export function logRtx(c: TcpConn, seq: number, end: number): void {
  const log = c.rtxLog;
  for (let i = 0; i < log.length; i += 4) {
    if (log[i] === seq) {
      log[i + 1] = end;
      log[i + 2] = c.sndMax;
      log[i + 3] = 0;
      return;
    }
  }
  if (log.length < 4 * RTX_LOG_MAX) log.push(seq, end, c.sndMax, 0);
}

/**
 * RFC 8985 §6.2 with sequence order standing in for send time: a
 * retransmission is lost when DupThresh of what was first sent after it
 * (above its `mark`) has been SACKed while it has not.
 */
export function detectLostRtx(c: TcpConn): void {
  const log = c.rtxLog;
  const una = c.sndUna;
  const point = c.sb.pointBelow(una, c.lossThresh);
  let w = 0;
  for (let i = 0; i < log.length; i += 4) {
    const seq = log[i]!;
    const end = log[i + 1]!;
    const from = seqMax(seq, una);
    if (seqLe(end, una) || c.sb.holesBetween(from, end) === 0) continue; // delivered: forget
    log[w] = seq;
    log[w + 1] = end;
    log[w + 2] = log[i + 2]!;
    const wasLost = log[i + 3] === 1;
    log[w + 3] = wasLost || seqGe(point, log[i + 2]!) ? 1 : 0;
    // Only input calls this: its segment's arrival time is lastRecv.
    if (!wasLost && log[w + 3] === 1) c.ev?.(c.lastRecv, { kind: 'lost', seq, end });
    w += 4;
  }
  log.length = w;
}

/** Retransmits one segment at SND.UNA (fast retransmit / partial ACK). */
export function retransmitFirst(c: TcpConn, now: number): void {
  const seq = c.sndUna;
  const n = sendRange(c, seq, c.smss, now);
  if (n > 0) {
    c.highRxt = seqMax(c.highRxt, seqAdd(seq, n));
    c.timer = { kind: 'rtx', at: now + c.rtt.rto };
    c.host.schedule(c.timer.at);
  }
}
