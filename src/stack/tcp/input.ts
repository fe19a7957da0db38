/**
 * Segment arrival (RFC 9293 §3.10.7, 9front tcp.c tcpiput): the SYN-SENT
 * rules, then for synchronized states the sequence check with PAWS
 * (RFC 7323 §5), RST and SYN (RFC 5961), the ACK field (send window,
 * RTT samples, the send buffer, recovery's ACK side), the text and the
 * FIN. What to send in answer is left to output.ts: the flush follows the
 * segment, or the end of the input batch with batchInput.
 */
import type { TcpRepr } from '../wire/tcp.js';
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN } from '../wire/tcp.js';
import type { TcpConn } from './conn.js';
import { DEFAULT_MSS, Econrefused, TS_OPT_LEN } from './conn.js';
import { output, sendRstFor, sendSyn } from './output.js';
import { detectLostRtx, onDupAck, retransmitFirst } from './recovery.js';
import { seqAdd, seqGe, seqGt, seqInRange, seqLe, seqLt, seqMax, seqSub } from './seq.js';
import type { TcpState } from './state.js';
import { updateTimer } from './timers.js';

/** @internal One segment for this connection. */
export function segmentArrives(c: TcpConn, seg: TcpRepr, now: number): void {
  c.lastRecv = now;
  c.kaProbes = 0;
  if (c.state === 'Syn_sent') inputSynSent(c, seg, now);
  else inputSynchronized(c, seg, now);
  if (c.state !== 'Closed') {
    // Batched input: one flush (one ACK, one round of sending) per batch of
    // received frames, as GRO gives the kernel; else flush per segment.
    if (c.host.cfg.batchInput) c.host.deferFlush(c);
    else output(c, now);
  }
}

/** RFC 9293 §3.10.7.3 SYN-SENT. */
function inputSynSent(c: TcpConn, seg: TcpRepr, now: number): void {
  const f = seg.flags;
  // first: check the ACK bit
  if (f & TCP_ACK) {
    if (seqLe(seg.ack, c.iss) || seqGt(seg.ack, c.sndMax)) {
      if (!(f & TCP_RST)) sendRstFor(c, seg.ack, now);
      return;
    }
  }
  // second: the RST bit
  if (f & TCP_RST) {
    if (f & TCP_ACK) {
      c.handler.onReset?.();
      c.fail(Econrefused, now);
    }
    return;
  }
  // fourth: the SYN bit
  if (!(f & TCP_SYN)) return;
  c.irs = seg.seq;
  c.rcvNxt = seqAdd(seg.seq, 1);
  c.applyPeerOptions(seg.mss ?? DEFAULT_MSS, seg.windowScale ?? -1, seg.sackPermitted, seg.tsVal !== null);
  if (c.tsOk) c.tsRecent = seg.tsVal!;
  c.rcvAdv = c.rcvNxt;
  if (f & TCP_ACK) {
    c.sndUna = seg.ack;
    if (!c.tsOk && c.rttSeq === -1 && c.rtt.backoff === 0) c.rtt.sample(now - c.openedAt);
    else if (c.tsOk && seg.tsEcr !== null && seg.tsEcr !== 0) c.rtt.sample(c.tsNow(now) - seg.tsEcr);
    c.rtoCount = 0;
    c.rtt.backoff = 0;
    // RFC 7323 §2.2: window in SYN segments is not scaled.
    c.sndWnd = seg.window;
    c.maxSndWnd = seg.window;
    c.sndWl1 = seg.seq;
    c.sndWl2 = seg.ack;
    c.setState('Established', 'syn-ack', now);
    c.ackNow = true;
    c.handler.onOpen?.();
    if (c.userClosed && c.state === 'Established') {
      c.queueFin();
      c.setState('Finwait1', 'close', now);
    }
    // data in the SYN-ACK (rare) is processed like any other text.
    if (seg.payload.length > 0 || f & TCP_FIN) processText(c, seg, seqAdd(seg.seq, 1), seg.payload, now);
  } else {
    // Simultaneous open (RFC 9293 §3.5 figure 8): SYN-ACK from Syn_received.
    c.sndWnd = seg.window;
    c.maxSndWnd = seg.window;
    c.sndWl1 = seg.seq;
    c.sndWl2 = c.iss;
    c.setState('Syn_received', 'simultaneous open', now);
    c.sndNxt = c.iss;
    sendSyn(c, now);
  }
  updateTimer(c, now);
}

function inputSynchronized(c: TcpConn, seg: TcpRepr, now: number): void {
  const f = seg.flags;
  const st = c.host.stats;
  let seq = seg.seq;
  let payload = seg.payload;
  const segLen = payload.length + (f & TCP_SYN ? 1 : 0) + (f & TCP_FIN ? 1 : 0);

  // RFC 7323 §5.3 PAWS: drop old duplicates by their timestamp.
  if (c.tsOk && seg.tsVal !== null && !(f & TCP_RST) && seqLt(seg.tsVal, c.tsRecent)) {
    c.rerecv++;
    c.ackNow = true;
    return;
  }

  // first: sequence number check (RFC 9293 §3.10.7.4 table)
  const wnd = Math.max(0, seqSub(c.rcvAdv, c.rcvNxt));
  let ok: boolean;
  if (segLen === 0) ok = wnd === 0 ? seq === c.rcvNxt : seqInRange(seq, c.rcvNxt, seqAdd(c.rcvNxt, wnd));
  else if (wnd === 0) ok = false;
  else
    ok =
      seqInRange(seq, c.rcvNxt, seqAdd(c.rcvNxt, wnd)) ||
      seqInRange(seqAdd(seq, segLen - 1), c.rcvNxt, seqAdd(c.rcvNxt, wnd));
  let textAllowed = true;
  if (!ok) {
    // Zero window: still process ACKs (and RSTs) of a segment at RCV.NXT.
    if (wnd === 0 && seq === c.rcvNxt && !(f & TCP_RST)) textAllowed = false;
    else {
      if (!(f & TCP_RST)) {
        c.rerecv++;
        if (c.state === 'Time_wait' && f & TCP_FIN) restartTimeWait(c, now);
        c.ackNow = true; // <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>
      }
      return;
    }
  }

  // second: RST (RFC 5961 §3.2)
  if (f & TCP_RST) {
    if (seq !== c.rcvNxt) {
      if (c.host.challengeAllowed(now)) c.ackNow = true; // challenge ACK
      return;
    }
    if (c.state === 'Syn_received' && c.passive) {
      c.setState('Closed', 'rst', now); // back to limbo's LISTEN: just forget it
      return;
    }
    if (c.state === 'Established' || c.state === 'Close_wait') st.EstabResets++;
    if (c.state === 'Closing' || c.state === 'Last_ack' || c.state === 'Time_wait') {
      c.setState('Closed', 'rst', now);
      c.reportFinal(null);
      return;
    }
    c.handler.onReset?.();
    c.fail(c.state === 'Syn_received' ? Econrefused : Econrefused, now);
    return;
  }

  // fourth: SYN in a synchronized state → challenge ACK (RFC 5961 §4.2)
  if (f & TCP_SYN) {
    if (c.state === 'Syn_received' && seq === c.irs) {
      // Retransmitted SYN: answer with our SYN-ACK again.
      c.sndNxt = c.iss;
      sendSyn(c, now);
      return;
    }
    if (c.host.challengeAllowed(now)) c.ackNow = true;
    return;
  }

  // fifth: the ACK field
  if (!(f & TCP_ACK)) return;
  if (c.state === 'Syn_received') {
    if (!seqInRange(seg.ack, seqAdd(c.sndUna, 1), seqAdd(c.sndMax, 1))) {
      sendRstFor(c, seg.ack, now);
      return;
    }
    c.sndUna = c.iss;
    c.setState('Established', 'ack', now);
    c.sndWnd = seg.window << c.sndShift;
    c.maxSndWnd = Math.max(c.maxSndWnd, c.sndWnd);
    c.sndWl1 = seq;
    c.sndWl2 = seg.ack;
    if (c.passive) {
      const h = c.host.accept(c);
      if (h === null) {
        c.abort(now);
        return;
      }
      c.setHandler(h);
    } else c.handler.onOpen?.();
    const after = c.state as TcpState;
    if (after === 'Closed') return;
    if (c.userClosed && after === 'Established') {
      c.queueFin();
      c.setState('Finwait1', 'close', now);
    }
  }
  // RFC 5961 §5.2: ACK outside [SND.UNA - MAX.SND.WND, SND.MAX] is dropped with an ACK.
  if (seqGt(seg.ack, c.sndMax)) {
    c.ackNow = true;
    return;
  }
  if (seqLt(seg.ack, seqSub(c.sndUna, c.maxSndWnd) >>> 0)) {
    if (c.host.challengeAllowed(now)) c.ackNow = true;
    return;
  }
  if (!processAck(c, seg, segLen, now)) return;
  if (c.state === 'Closed') return;

  // Timestamps: RFC 7323 §4.3 update TS.Recent.
  if (c.tsOk && seg.tsVal !== null && seqLe(seq, c.lastAckSent)) c.tsRecent = seg.tsVal;

  // seventh: segment text; eighth: FIN
  if (!textAllowed) {
    if (payload.length > 0 || f & TCP_FIN) c.ackNow = true;
    return;
  }
  if (payload.length > 0 || f & TCP_FIN) {
    // Trim what we already have (RFC 9293 §3.10.7.4 "trim").
    if (seqLt(seq, c.rcvNxt)) {
      const cut = seqSub(c.rcvNxt, seq);
      if (cut >= payload.length) {
        payload = payload.subarray(payload.length);
      } else payload = payload.subarray(cut);
      seq = c.rcvNxt;
      c.rerecv++;
    }
    processText(c, seg, seq, payload, now);
  }
}

/** Handles the ACK field in synchronized states. Returns false when the segment must be dropped. */
function processAck(c: TcpConn, seg: TcpRepr, segLen: number, now: number): boolean {
  const ack = seg.ack;
  const st = c.host.stats;
  const win = seg.window << c.sndShift;
  let newSack = 0;
  if (c.sackOk && seg.sackBlocks.length > 0) {
    const b = seg.sackBlocks;
    c.ev?.(now, { kind: 'sack', blocks: b.slice() });
    for (let i = 0; i + 1 < b.length; i += 2) newSack += c.sb.add(b[i]!, b[i + 1]!, seqMax(ack, c.sndUna), c.sndMax);
  }
  if (seqGt(ack, c.sndUna)) {
    // New data acknowledged.
    const acked = seqSub(ack, c.sndUna);
    const flightBefore = seqSub(c.sndMax, c.sndUna);
    // RTT sample (RFC 7323 §4.1 with timestamps; else Karn's rule, RFC 6298 §3)
    if (c.tsOk && seg.tsEcr !== null && seg.tsEcr !== 0) {
      const r = (c.tsNow(now) - seg.tsEcr) | 0;
      if (r >= 0) c.rtt.sample(r);
    } else if (c.rttSeq !== -1 && seqGe(ack, c.rttSeq)) {
      c.rtt.sample(now - c.rttAt);
      c.rttSeq = -1;
    }
    c.sndUna = ack;
    if (seqLt(c.sndNxt, ack)) c.sndNxt = ack;
    // Send buffer: drop the acknowledged bytes.
    const dataAcked = Math.min(Math.max(0, seqSub(ack, c.bufSeq)), c.sbuf.length);
    if (dataAcked > 0) {
      c.sbuf.consume(dataAcked);
      c.bufSeq = seqAdd(c.bufSeq, dataAcked);
    }
    c.sb.ack(ack);
    c.rtoCount = 0;
    c.rtxStart = -1;
    c.rtt.backoff = 0;
    c.dupAcks = 0;
    c.tlpOut = false;
    if (c.inRecovery) {
      if (seqGe(ack, c.recoverySeq)) {
        // Full ACK: RFC 6582 §3.2 step 3 / RFC 6675 §5 end of recovery.
        c.inRecovery = false;
        c.rtxLog.length = 0;
        st.RecoveryDone++;
        c.ev?.(now, { kind: 'recovery-leave', why: 'ack', una: ack });
        c.cc.onRecoveryEnd(seqSub(c.sndMax, c.sndUna), c.smss, now);
      } else {
        // Partial ACK (RFC 6582 §3.2 step 4).
        st.RecoveryPA++;
        if (!c.sackOk) {
          retransmitFirst(c, now);
          c.cc.cwnd = Math.max(c.smss, c.cc.cwnd - acked + (acked >= c.smss ? c.smss : 0));
        }
      }
    } else c.cc.onAck(acked, c.smss, now, c.rtt.srtt);
    // RFC 6298 §5.3: restart the timer when new data is acknowledged.
    if (c.timer.kind === 'rtx' || c.timer.kind === 'tlp') c.timer = { kind: 'idle', at: null };
    void flightBefore;
    if (c.wantWritable && c.sbuf.free >= Math.min(c.sbuf.capacity >>> 2, 256 * 1024)) {
      c.wantWritable = false;
      c.handler.onWritable?.();
      if (c.state === 'Closed') return false;
    }
    // FIN acknowledged?
    if (c.finQueued && seqGt(ack, c.finSeq)) {
      switch (c.state) {
        case 'Finwait1':
          c.setState('Finwait2', 'fin acked', now);
          break;
        case 'Closing':
          c.setState('Time_wait', 'fin acked', now);
          break;
        case 'Last_ack':
          c.setState('Closed', 'fin acked', now);
          c.reportFinal(null);
          return false;
        default:
          break;
      }
    }
  } else if (ack === c.sndUna) {
    // Duplicate ACK (RFC 5681 §2) or SACK news (RFC 6675 §2 DupAck).
    const outstanding = c.sndMax !== c.sndUna;
    const isDup =
      outstanding && segLen === 0 && (win === c.sndWnd || newSack > 0) && !(seg.flags & (TCP_SYN | TCP_FIN));
    if (isDup || newSack > 0) {
      if (isDup) c.dupAcks++;
      onDupAck(c, now);
    }
  }
  if (c.inRecovery && c.sackOk && c.rtxLog.length > 0) detectLostRtx(c);
  // Window update (RFC 9293 §3.10.7.4, SND.WL1/SND.WL2 rule).
  if (seqLt(c.sndWl1, seg.seq) || (c.sndWl1 === seg.seq && seqLe(c.sndWl2, ack))) {
    if (win > 0 && c.sndWnd === 0) c.zwpBackoff = 0;
    if (win !== c.sndWnd) c.ev?.(now, { kind: 'window', from: c.sndWnd, to: win });
    c.sndWnd = win;
    if (win > c.maxSndWnd) c.maxSndWnd = win;
    c.sndWl1 = seg.seq;
    c.sndWl2 = ack;
  }
  if (c.state === 'Time_wait' && seg.flags & TCP_FIN) restartTimeWait(c, now);
  return true;
}

/** Text and FIN (RFC 9293 §3.10.7.4 seventh and eighth). `seq` ≥ RCV.NXT after trimming. */
function processText(c: TcpConn, seg: TcpRepr, seq: number, payload: Uint8Array, now: number): void {
  const st = c.host.stats;
  const s = c.state;
  if (s !== 'Established' && s !== 'Finwait1' && s !== 'Finwait2') {
    // Close_wait, Closing, Last_ack, Time_wait: the peer already sent FIN; ignore.
    return;
  }
  // Trim to the window's right edge.
  const room = seqSub(c.rcvAdv, seq);
  let fin = (seg.flags & TCP_FIN) !== 0;
  if (payload.length > room) {
    payload = payload.subarray(0, Math.max(0, room));
    fin = false;
  }
  const finAt = seqAdd(seq, payload.length);
  if (seq !== c.rcvNxt) {
    // Out of order: queue it (copy) and ACK at once with SACK (RFC 5681 §4.2).
    st.OutOfOrder++;
    if (payload.length > 0) {
      const r = c.asm.insert(seq, payload);
      if (r === 'pktlim') st.ReseqPktlim++;
      else if (r === 'bytelim') st.ReseqBytelim++;
    }
    if (fin) c.rcvFinSeq = finAt;
    c.ackNow = true;
    return;
  }
  let delivered = 0;
  if (payload.length > 0) {
    c.rcvNxt = finAt;
    delivered += payload.length;
    deliver(c, payload);
    if (c.state === 'Closed') return;
  }
  if (!c.asm.empty) {
    // Hole filled: drain contiguous data, ACK at once.
    let d: Uint8Array | null;
    while ((d = c.asm.pop(c.rcvNxt)) !== null) {
      st.Resequenced++;
      c.rcvNxt = seqAdd(c.rcvNxt, d.length);
      delivered += d.length;
      deliver(c, d);
      if (c.state === 'Closed') return;
    }
    c.ackNow = true;
  }
  if (fin) c.rcvFinSeq = finAt;
  if (delivered > 0) {
    growWindow(c, delivered);
    c.ackPending += delivered;
    // RFC 5681 §4.2 / RFC 1122: ACK at least every second full-sized segment.
    if (c.ackPending >= 2 * c.ourMss - (c.tsOk ? 2 * TS_OPT_LEN : 0)) c.ackNow = true;
  }
  if (c.rcvFinSeq !== -1 && c.rcvNxt === c.rcvFinSeq) processFin(c, now);
}

function deliver(c: TcpConn, d: Uint8Array): void {
  if (c.userClosed) return; // Plan 9: after close, incoming data is discarded
  if (!c.autoConsume) c.unconsumed += d.length;
  c.handler.onData?.(d);
}

/** Receive-window growth: double when a whole window arrived and the user keeps up. */
function growWindow(c: TcpConn, n: number): void {
  const max = c.wsOk ? c.host.cfg.recvBuffer : Math.min(c.host.cfg.recvBuffer, 0xffff);
  if (c.rcvWnd >= max) return;
  c.rcvGrowAcc += n;
  if (c.rcvGrowAcc >= c.rcvWnd && c.unconsumed < c.rcvWnd >>> 1) {
    c.rcvGrowAcc = 0;
    c.rcvWnd = Math.min(max, c.rcvWnd * 2);
  }
}

/** RFC 9293 §3.10.7.4 eighth: the FIN bit. */
function processFin(c: TcpConn, now: number): void {
  c.rcvFinSeq = -1;
  c.rcvNxt = seqAdd(c.rcvNxt, 1);
  c.ackNow = true;
  c.peerFinished = true;
  c.asm.clear();
  switch (c.state) {
    case 'Established':
      c.setState('Close_wait', 'fin', now);
      c.handler.onEnd?.();
      break;
    case 'Finwait1':
      // Our FIN not yet acknowledged (else we would be in Finwait2): simultaneous close.
      c.setState('Closing', 'fin', now);
      c.handler.onEnd?.(); // after closeSend the user still reads: this is its EOF
      break;
    case 'Finwait2':
      c.handler.onEnd?.();
      c.setState('Time_wait', 'fin', now);
      break;
    default:
      break;
  }
}

function restartTimeWait(c: TcpConn, now: number): void {
  c.timer = { kind: 'timewait', at: now + c.host.cfg.timeWaitMs };
  c.ackNow = true;
}
