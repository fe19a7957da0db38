/**
 * What a connection sends (9front tcp.c tcpoutput): new data within the
 * send window, the congestion window, Nagle (RFC 9293 §3.7.4) and sender
 * SWS avoidance (§3.8.6.2.1); in SACK recovery the lost holes first
 * (RFC 6675 §5 step C); retransmissions of one range; the SYN and
 * SYN-ACK with their options; pure ACKs, RSTs and probes. Every segment
 * is described in the layer's SegmentWriter and emitted through the
 * host, which hands it to IP with the connection's ttl and tos.
 */
import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN } from '../wire/tcp.js';
import type { TcpConn } from './conn.js';
import { logRtx, pipe } from './recovery.js';
import type { SegmentWriter } from './segment.js';
import { seqAdd, seqGe, seqGt, seqLe, seqLt, seqMax, seqSub } from './seq.js';
import { updateTimer } from './timers.js';

/** Fills the common header fields: ports, ACK, window, timestamps, SACK. */
export function header(c: TcpConn, seq: number, flags: number, now: number): SegmentWriter {
  const w = c.host.writer;
  w.reset();
  w.srcPort = c.localPort;
  w.dstPort = c.remotePort;
  w.seq = seq;
  w.flags = flags;
  if (flags & TCP_ACK) {
    w.ack = c.rcvNxt;
    w.window = windowField(c);
    c.lastAckSent = c.rcvNxt;
    c.ackPending = 0;
    c.ackNow = false;
    c.ackAt = null;
    if (c.sackOk && !c.asm.empty) {
      c.asm.sackBlocks(w.sack, c.tsOk ? 3 : 4);
      w.sackEdges = w.sack.length;
    }
  } else {
    w.ack = 0;
    w.window = flags & TCP_SYN ? Math.min(0xffff, c.rcvWnd) : windowField(c);
  }
  if (c.tsOk) {
    w.timestamps = true;
    w.tsVal = c.tsNow(now);
    w.tsEcr = flags & TCP_ACK ? c.tsRecent : 0;
  }
  return w;
}

/** The window field, never moving the right edge left (RFC 9293 §3.8.6.2.2, RFC 7323 §2.4). */
function windowField(c: TcpConn): number {
  const avail = c.windowAvail();
  let right = seqAdd(c.rcvNxt, avail);
  if (seqLt(right, c.rcvAdv)) right = c.rcvAdv;
  else if (seqGt(right, c.rcvAdv)) {
    // Receiver SWS avoidance: move the edge only by a useful amount.
    const inc = seqSub(right, c.rcvAdv);
    if (inc < Math.min(c.rcvWnd >>> 1, c.ourMss) && seqGt(c.rcvAdv, c.rcvNxt)) right = c.rcvAdv;
  }
  let wnd = seqSub(right, c.rcvNxt);
  let field = Math.ceil(wnd / 2 ** c.rcvShift);
  if (field > 0xffff) field = 0xffff;
  wnd = field * 2 ** c.rcvShift;
  const edge = seqAdd(c.rcvNxt, wnd);
  if (seqGt(edge, c.rcvAdv)) c.rcvAdv = edge;
  return field;
}

export function sendSyn(c: TcpConn, now: number): void {
  const cfg = c.host.cfg;
  const active = c.state === 'Syn_sent';
  const w = header(c, c.iss, active ? TCP_SYN : TCP_SYN | TCP_ACK, now);
  w.mss = c.ourMss;
  if (active) {
    w.windowScale = c.offerWscale();
    w.sackPermitted = cfg.sack;
    w.timestamps = cfg.timestamps;
    w.tsVal = c.tsNow(now);
    w.tsEcr = 0;
  } else {
    w.windowScale = c.wsOk ? c.rcvShift : -1;
    w.sackPermitted = c.sackOk;
  }
  w.prepare();
  c.host.emit(c, now);
  if (seqLt(c.sndNxt, seqAdd(c.iss, 1))) c.sndNxt = seqAdd(c.iss, 1);
  if (seqLt(c.sndMax, c.sndNxt)) c.sndMax = c.sndNxt;
}

/** RST for an unacceptable ACK: <SEQ=SEG.ACK><CTL=RST>. */
export function sendRstFor(c: TcpConn, ack: number, now: number): void {
  const w = header(c, ack, TCP_RST, now);
  w.window = 0;
  w.timestamps = false;
  w.prepare();
  c.host.stats.OutRsts++;
  c.host.emit(c, now);
}

export function sendRst(c: TcpConn, seq: number, now: number): void {
  const w = header(c, seq, TCP_RST | TCP_ACK, now);
  w.timestamps = false;
  w.sackEdges = 0;
  w.prepare();
  c.host.stats.OutRsts++;
  c.host.emit(c, now);
}

/** A pure ACK: <SEQ=SND.MAX><ACK=RCV.NXT> (SND.MAX, not a rewound SND.NXT, so the peer accepts it). */
export function sendAck(c: TcpConn, now: number): void {
  const w = header(c, c.sndMax, TCP_ACK, now);
  w.prepare();
  c.host.emit(c, now);
}

/**
 * Sends up to `max` bytes at `seq` (≥ SND.UNA, < SND.MAX): a
 * retransmission. Returns the sequence space sent.
 */
export function sendRange(c: TcpConn, seq: number, max: number, now: number): number {
  const off = seqSub(seq, c.bufSeq);
  if (off < 0) {
    // SYN not acknowledged: retransmit the SYN.
    if (c.state === 'Syn_received' || c.state === 'Syn_sent') {
      const keep = c.sndNxt;
      sendSyn(c, now);
      c.sndNxt = keep;
      return 1;
    }
    return 0;
  }
  let n = Math.min(max, c.sbuf.length - off);
  if (n < 0) n = 0;
  const end = seqAdd(seq, n);
  let flags = TCP_ACK;
  const fin = c.finQueued && end === c.finSeq && seqLt(end, c.sndMax);
  if (fin) flags |= TCP_FIN;
  if (n === 0 && !fin) return 0;
  if (n > 0 && off + n === c.sbuf.length) flags |= TCP_PSH;
  const w = header(c, seq, flags, now);
  w.buf = c.sbuf;
  w.off = off;
  w.n = n;
  w.prepare();
  c.host.emit(c, now);
  const st = c.host.stats;
  st.RetransSegs++;
  st.RetransSegsSent++;
  c.rttSeq = -1; // Karn
  if (c.inRecovery && c.sackOk && n > 0) logRtx(c, seq, end);
  return n + (fin ? 1 : 0);
}

/** Sends what may be sent, then a pure ACK if one is due; re-arms timers. */
export function output(c: TcpConn, now: number): void {
  if (c.state === 'Closed') return;
  if (c.state === 'Syn_sent' || c.state === 'Syn_received') {
    if (c.ackNow) sendAck(c, now);
    updateTimer(c, now);
    return;
  }
  if (c.state !== 'Time_wait') sendData(c, now);
  if (c.ackNow) sendAck(c, now);
  else if (c.ackPending > 0 && c.ackAt === null) {
    c.ackAt = now + c.host.cfg.delayedAckMs;
    c.host.stats.Delayack++;
    c.host.schedule(c.ackAt);
  }
  updateTimer(c, now);
}

export function sendData(c: TcpConn, now: number): void {
  const smss = c.smss;
  const st = c.host.stats;
  // RFC 6675 §5 step (C): NextSeg rule 1, retransmit lost holes while cwnd - pipe ≥ SMSS.
  if (c.inRecovery && c.sackOk) {
    const lostB = c.sb.lostBoundary(c.sndUna, c.lossThresh);
    let inPipe = pipe(c);
    let guard = 0;
    // Lost retransmissions first (they are the oldest holes).
    const log = c.rtxLog;
    for (let i = 0; i < log.length && c.cc.cwnd - inPipe >= smss; i += 4) {
      if (log[i + 3] !== 1) continue;
      const s = c.sb.skip(seqMax(log[i]!, c.sndUna));
      const end = log[i + 1]!;
      if (!seqLt(s, end)) {
        log[i + 3] = 0;
        continue;
      }
      const n = sendRange(c, s, Math.min(smss, seqSub(c.sb.nextSacked(s, end), s)), now);
      if (n <= 0) break;
      inPipe += n;
    }
    while (c.cc.cwnd - inPipe >= smss && guard++ < 64) {
      let s = c.sb.skip(seqMax(c.highRxt, c.sndUna));
      if (!seqLt(s, lostB)) break;
      const lim = c.sb.nextSacked(s, lostB);
      const n = sendRange(c, s, Math.min(smss, seqSub(lim, s)), now);
      if (n <= 0) break;
      s = seqAdd(s, n);
      c.highRxt = s;
      inPipe += n;
    }
  }
  for (;;) {
    let seq = c.sndNxt;
    if (seqLt(seq, c.sndMax) && !c.sb.empty) {
      const skip = c.sb.skip(seq);
      if (skip !== seq) {
        c.sndNxt = skip;
        continue;
      }
    }
    const off = seqSub(seq, c.bufSeq);
    if (off < 0) break;
    const avail = c.sbuf.length - off;
    const finPending = c.finQueued && seqLe(seq, c.finSeq);
    if (avail <= 0 && !finPending) break;
    const wndRoom = seqSub(seqAdd(c.sndUna, c.sndWnd), seq);
    const inflight = c.inRecovery && c.sackOk ? pipe(c) : seqSub(c.sndNxt, c.sndUna);
    const cwndRoom = c.cc.cwnd - inflight;
    let n = Math.min(avail, smss, wndRoom, cwndRoom);
    if (n < 0) n = 0;
    if (n < avail) {
      // Limited by window, cwnd or MSS: sender SWS avoidance (RFC 9293 §3.8.6.2.1).
      if (n < smss && !(n > 0 && n >= c.maxSndWnd >>> 1)) {
        if (n < avail || !finPending) break;
      }
    } else if (n > 0 && n < smss && !c.noDelay && !finPending && c.sndMax !== c.sndUna) {
      // Nagle (RFC 9293 §3.7.4): hold a small tail while data is unacknowledged.
      if (seqGe(seq, c.sndMax)) break;
    }
    const fin = finPending && off + n >= c.sbuf.length;
    if (n === 0 && !fin) break;
    if (n === 0 && fin && cwndRoom <= 0 && c.sndMax !== c.sndUna && seqGe(seq, c.sndMax)) break;
    let flags = TCP_ACK;
    if (fin) flags |= TCP_FIN;
    if (n > 0 && off + n === c.sbuf.length) flags |= TCP_PSH;
    const w = header(c, seq, flags, now);
    if (n > 0) {
      w.buf = c.sbuf;
      w.off = off;
      w.n = n;
    }
    w.prepare();
    c.host.emit(c, now);
    const isRtx = seqLt(seq, c.sndMax);
    if (isRtx) {
      st.RetransSegs++;
      st.RetransSegsSent++;
    } else if (!c.tsOk && c.rttSeq === -1 && n > 0) {
      c.rttSeq = seqAdd(seq, n);
      c.rttAt = now;
    }
    seq = seqAdd(seq, n + (fin ? 1 : 0));
    c.sndNxt = seq;
    if (seqGt(seq, c.sndMax)) c.sndMax = seq;
    if (fin) break;
  }
}
