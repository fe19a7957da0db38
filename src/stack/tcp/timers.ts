/**
 * A connection's timers (RFC 6298, RFC 8985 §7, RFC 9293 §3.8.4 and
 * §3.8.6.1; 9front tcp.c tcptimeout, tcpkeepalive, tcpacktimer): one main
 * timer (TcpTimer in state.ts: retransmission, tail loss probe, persist,
 * Time_wait/Finwait2, keep-alive) and the delayed-ACK deadline beside it.
 * They hold deadlines only; the layer's poll runs what is due.
 */
import { TCP_ACK } from '../wire/tcp.js';
import type { TcpConn } from './conn.js';
import { Etimedout } from './conn.js';
import { header, output, sendAck, sendData, sendRange, sendRst, sendSyn } from './output.js';
import { RTO_MAX_MS } from './rtt.js';
import { seqAdd, seqGe, seqGt, seqLe, seqSub } from './seq.js';

/** RFC 8985 §7.2: the PTO's allowance beyond 2·SRTT (Linux TCP_TIMEOUT_MIN, 2 ms). */
const TLP_MIN_MS = 2;
/** RFC 8985 §7.2 WCDelAckT: the peer's worst-case delayed ACK when one segment is out. */
const TLP_DELACK_MS = 200;
/** Keep-alive gives up after roughly 12 minutes, and at least 3 probes (9front). */
const KA_GIVEUP_MS = 12 * 60_000;

/** Re-derives the main timer after input/output (RFC 6298 §5.1–5.3). */
export function updateTimer(c: TcpConn, now: number): void {
  const s = c.state;
  if (s === 'Closed' || s === 'Time_wait' || s === 'Finwait2') return;
  const outstanding = c.sndMax !== c.sndUna;
  if (outstanding) {
    if (c.timer.kind !== 'rtx' && c.timer.kind !== 'tlp') {
      let at = now + c.rtt.rto;
      if (s === 'Syn_sent') at = Math.min(at, c.openedAt + c.host.cfg.synTimeoutMs);
      const pto = probeTimeout(c);
      if (pto >= 0 && now + pto < at) {
        c.timer = { kind: 'tlp', at: now + pto };
        c.host.schedule(now + pto);
        return;
      }
      c.timer = { kind: 'rtx', at };
      c.host.schedule(at);
    }
    return;
  }
  const pending = c.sbuf.length > 0 || (c.finQueued && seqLe(c.sndNxt, c.finSeq));
  if (pending && c.synchronized()) {
    if (c.timer.kind !== 'zwp') {
      const at = now + Math.min(RTO_MAX_MS, c.rtt.rto * 2 ** c.zwpBackoff);
      c.timer = { kind: 'zwp', at };
      c.host.schedule(at);
    }
    return;
  }
  if (c.kaInterval > 0 && (s === 'Established' || s === 'Close_wait')) {
    const at = c.lastRecv + c.kaInterval;
    const next = at > now ? at : now + c.kaInterval;
    if (c.timer.kind !== 'idle' || c.timer.at !== next) {
      c.timer = { kind: 'idle', at: next };
      c.host.schedule(next);
    }
    return;
  }
  c.timer = { kind: 'idle', at: null };
}

/** @internal Earliest deadline, or null. */
export function nextDeadline(c: TcpConn): number | null {
  const t = c.timer.at;
  const a = c.ackAt;
  if (t === null) return a;
  if (a === null) return t;
  return a < t ? a : t;
}

/** @internal Runs what is due at `now`. */
export function runTimers(c: TcpConn, now: number): void {
  if (c.ackAt !== null && c.ackAt <= now) {
    c.ackAt = null;
    if (c.ackPending > 0) sendAck(c, now);
  }
  const t = c.timer;
  if (t.at === null || t.at > now) return;
  switch (t.kind) {
    case 'timewait':
      c.setState('Closed', 'timewait', now);
      return;
    case 'rtx':
      onRto(c, now);
      break;
    case 'tlp':
      onProbeTimeout(c, now);
      break;
    case 'zwp':
      onPersist(c, now);
      break;
    case 'idle':
      onKeepalive(c, now);
      break;
  }
}

/**
 * RFC 8985 §7.2: the probe timeout, or -1 when no probe may be armed
 * (no SACK, no RTT sample, in recovery or after an RTO, a probe already
 * out, or not established).
 */
function probeTimeout(c: TcpConn): number {
  if (!c.sackOk || c.tlpOut || c.inRecovery || c.rtoCount > 0 || !c.rtt.hasSample) return -1;
  const s = c.state;
  if (s !== 'Established' && s !== 'Close_wait' && s !== 'Finwait1' && s !== 'Closing' && s !== 'Last_ack') return -1;
  const flight = seqSub(c.sndMax, c.sndUna);
  // One segment out: the peer may hold its ACK for a delayed-ACK time.
  return 2 * c.rtt.srtt + (flight <= c.smss ? TLP_DELACK_MS : TLP_MIN_MS);
}

/**
 * RFC 8985 §7.3: the probe: new data if the peer's window allows (cwnd
 * notwithstanding), else the last segment sent again; then the RTO.
 */
function onProbeTimeout(c: TcpConn, now: number): void {
  c.timer = { kind: 'idle', at: null };
  c.tlpOut = true;
  c.ev?.(now, { kind: 'tlp', una: c.sndUna, nxt: c.sndMax });
  const unsent = c.sbuf.length - seqSub(c.sndMax, c.bufSeq);
  const wndRoom = seqSub(seqAdd(c.sndUna, c.sndWnd), c.sndMax);
  let sent = false;
  if (unsent > 0 && wndRoom >= Math.min(unsent, c.smss) && seqGe(c.sndNxt, c.sndMax)) {
    const cwnd = c.cc.cwnd;
    c.cc.cwnd = seqSub(c.sndMax, c.sndUna) + c.smss;
    const before = c.sndMax;
    sendData(c, now);
    c.cc.cwnd = cwnd;
    sent = c.sndMax !== before;
  }
  if (!sent) {
    const flight = seqSub(c.sndMax, c.sndUna);
    const fin = c.finQueued && seqGt(c.sndMax, c.finSeq) ? 1 : 0;
    const len = Math.min(c.smss, flight - fin);
    if (len > 0 || fin) sendRange(c, seqSub(c.sndMax, len + fin) >>> 0, len, now);
  }
  c.timer = { kind: 'rtx', at: now + c.rtt.rto };
  c.host.schedule(c.timer.at);
}

/** Retransmission timeout (RFC 6298 §5.4–5.7; RFC 5681 §3.1). */
function onRto(c: TcpConn, now: number): void {
  const st = c.host.stats;
  c.timer = { kind: 'idle', at: null };
  const cfg = c.host.cfg;
  if (c.state === 'Syn_sent' || (c.state === 'Syn_received' && !c.passive)) {
    if (now - c.openedAt >= cfg.synTimeoutMs) {
      c.fail(Etimedout, now);
      return;
    }
    c.rtt.backOff();
    st.RetransTimeouts++;
    c.ev?.(now, { kind: 'rto', backoff: c.rtt.backoff, rto: c.rtt.rto, una: c.sndUna, syn: true });
    c.sndNxt = c.iss;
    sendSyn(c, now);
    updateTimer(c, now);
    return;
  }
  if (c.state === 'Syn_received') {
    if (now - c.openedAt >= cfg.synTimeoutMs) {
      c.setState('Closed', 'syn-ack timeout', now);
      return;
    }
  }
  if (c.rtxStart < 0) c.rtxStart = now;
  else if (now - c.rtxStart >= cfg.rtxTimeoutMs) {
    sendRst(c, c.sndMax, now);
    c.fail(Etimedout, now);
    return;
  }
  st.RetransTimeouts++;
  c.rtoCount++;
  if (c.inRecovery) {
    st.RecoveryRTO++;
    c.inRecovery = false;
    c.ev?.(now, { kind: 'recovery-leave', why: 'rto', una: c.sndUna });
  }
  c.rtxLog.length = 0;
  c.tlpOut = false;
  // RFC 5681 §3.1 (4): ssthresh = max(FlightSize/2, 2·SMSS); cwnd = 1 SMSS.
  c.cc.onRto(seqSub(c.sndMax, c.sndUna), c.smss, now);
  c.recoverySeq = c.sndMax; // RFC 6582 §3.2 step 1 after a timeout
  c.rtt.backOff(); // RFC 6298 §5.5
  c.ev?.(now, { kind: 'rto', backoff: c.rtt.backoff, rto: c.rtt.rto, una: c.sndUna, syn: false });
  c.rttSeq = -1; // Karn
  c.dupAcks = 0;
  // Forget SACK information on a second timeout in a row (the peer may have reneged).
  if (c.rtoCount > 1) c.sb.clear();
  // Go back: resend from SND.UNA (SACKed ranges are skipped).
  c.sndNxt = c.sndUna;
  if (c.state === 'Syn_received') {
    sendSyn(c, now);
  } else {
    const n = sendRange(c, c.sndUna, c.smss, now);
    if (n > 0) c.sndNxt = seqAdd(c.sndUna, n);
  }
  c.timer = { kind: 'rtx', at: now + c.rtt.rto };
  c.host.schedule(c.timer.at);
}

/** Zero-window probe (RFC 9293 §3.8.6.1): a segment the peer must answer. */
function onPersist(c: TcpConn, now: number): void {
  c.timer = { kind: 'idle', at: null };
  if (c.rtxStart < 0) c.rtxStart = now;
  if (now - c.lastRecv >= c.host.cfg.rtxTimeoutMs) {
    c.fail(Etimedout, now);
    return;
  }
  if (c.zwpBackoff < 16) c.zwpBackoff++;
  c.ev?.(now, { kind: 'zwp', seq: seqSub(c.sndUna, 1) >>> 0, backoff: c.zwpBackoff });
  // Probe with SEQ = SND.UNA - 1 and no data (as Linux): always unacceptable,
  // so the peer replies with its current window.
  const w = header(c, seqSub(c.sndUna, 1) >>> 0, TCP_ACK, now);
  w.prepare();
  c.host.emit(c, now);
  // If the window opened meanwhile, send data.
  output(c, now);
  if (c.timer.kind === 'idle' && c.state !== 'Closed') updateTimer(c, now);
}

/** Keep-alive (RFC 9293 §3.8.4, RFC 1122 §4.2.3.6). */
function onKeepalive(c: TcpConn, now: number): void {
  c.timer = { kind: 'idle', at: null };
  if (c.kaInterval <= 0) return;
  if (now - c.lastRecv >= c.kaInterval) {
    const maxProbes = Math.max(3, Math.ceil(KA_GIVEUP_MS / c.kaInterval));
    if (c.kaProbes >= maxProbes) {
      sendRst(c, c.sndMax, now);
      c.fail(Etimedout, now);
      return;
    }
    c.kaProbes++;
    c.ev?.(now, { kind: 'keepalive', probe: c.kaProbes });
    const w = header(c, seqSub(c.sndUna, 1) >>> 0, TCP_ACK, now);
    w.prepare();
    c.host.emit(c, now);
    const at = now + c.kaInterval;
    c.timer = { kind: 'idle', at };
    c.host.schedule(at);
    return;
  }
  updateTimer(c, now);
}
