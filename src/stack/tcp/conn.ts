/**
 * One TCP connection: the control block (the TCB, RFC 9293 §3.3.1: send
 * and receive sequence spaces, options, congestion and RTT state, timers)
 * and the user calls on it (write, consumed, close, hangupxmit, abort,
 * keepalive, nodelay, congestion; the tcpctl side of Plan 9's tcp.c).
 * The rest of the machine works on this block, one idea per file, along
 * the lines 9/ip/tcp.c is organised in:
 *
 *   input.ts     segment arrival, RFC 9293 §3.10.7 (sequence check with
 *                PAWS, RST, SYN, ACK, text, FIN);
 *   output.ts    what to send now: data, SYN, ACK, RST, window field;
 *   recovery.ts  loss detection and recovery: RFC 6675 SACK recovery
 *                (pipe, NextSeg rule 1 with IsLost), NewReno (RFC 6582)
 *                without SACK, early retransmit (RFC 5827), lost
 *                retransmissions found as RACK does (RFC 8985 §6.2);
 *   timers.ts    the main timer (rtx / tlp / zwp / timewait / keepalive)
 *                and the delayed-ACK deadline.
 *
 * The fields below are the TCB: public to those files, @internal to
 * everyone else. `input(seg, now)` takes one segment and then flushes
 * (`flush(now)`: what became sendable and the ACKs that are due) or,
 * with batchInput, leaves the flush to the end of the input batch.
 * `pollAt()` is the earliest deadline, `poll(now)` runs what is due.
 * Nothing here reads a clock or allocates per segment except the
 * out-of-order copies (assembler.ts). Congestion window growth and
 * reduction come from congestion/ (NewReno or CUBIC).
 */
import { StackError } from '../error.js';
import type { TcpRepr } from '../wire/tcp.js';
import { Assembler } from './assembler.js';
import { newCongestion } from './congestion/index.js';
import type { CongestionControl, CongestionName } from './congestion/index.js';
import { RTO_MAX_MS, RttEstimator } from './rtt.js';
import { Scoreboard } from './sack.js';
import { SendBuffer } from './sendbuf.js';
import { seqAdd, seqSub } from './seq.js';
import type { TcpState, TcpTimer } from './state.js';
import type { TcpStats } from './stats.js';
import { segmentArrives } from './input.js';
import { output, sendRst, sendSyn } from './output.js';
import type { SegmentWriter } from './segment.js';
import { nextDeadline, runTimers, updateTimer } from './timers.js';
import type { TcpHandler, TcpInfo } from './types.js';
import type { TcpEventSink } from './events.js';
import type { PacketHook } from '../../link/packethook.js';
import type { Ifc } from '../ifc.js';

/** Plan 9 error texts. */
export const Econrefused = 'connection refused';
export const Etimedout = 'connection timed out';
export const Ehungup = 'i/o on hungup channel';

/** RFC 9293 §3.7.1: default send MSS when the peer sends none. */
export const DEFAULT_MSS = 536;
/** RFC 7323 §2.3: the largest window shift. */
export const MAX_WSCALE = 14;
/** The receive window a connection starts with (it grows to recvBuffer). */
const INITIAL_RCV_WND = 256 * 1024;
/**
 * Bound on Finwait2 after our close when the peer never sends its FIN
 * (Linux tcp_fin_timeout; 9front's collector uses 5 min).
 */
export const FINWAIT2_TIMEOUT_MS = 60_000;
/** Bytes of the timestamp option in every segment when negotiated. */
export const TS_OPT_LEN = 12;
const EMPTY_HANDLER: TcpHandler = Object.freeze({});

/** What a connection needs from its layer. @internal */
export interface ConnHost {
  readonly stats: TcpStats;
  readonly writer: SegmentWriter;
  readonly cfg: ConnConfig;
  /** Sends the segment in `writer` from conn's addresses. */
  emit(conn: TcpConn, now: number): void;
  schedule(deadline: number): void;
  /** The connection reached Closed: forget it. */
  release(conn: TcpConn): void;
  /** A passive connection completed its handshake: hand it to its listener. */
  accept(conn: TcpConn): TcpHandler | null;
  /** RFC 5961 §7 rate limit. */
  challengeAllowed(now: number): boolean;
  /** With batchInput: flush this connection once the current batch of input is done. */
  deferFlush(conn: TcpConn): void;
}

/** @internal Layer settings every connection reads. */
export interface ConnConfig {
  sendBuffer: number;
  recvBuffer: number;
  timeWaitMs: number;
  synTimeoutMs: number;
  rtxTimeoutMs: number;
  delayedAckMs: number;
  minRtoMs: number;
  congestion: CongestionName;
  windowScaling: boolean;
  timestamps: boolean;
  sack: boolean;
  /** Defer the output input triggers to the end of the batch (one ACK per batch). */
  batchInput: boolean;
}

/** Negotiated parameters of a passive open (from limbo). @internal */
export interface PassiveParams {
  iss: number;
  irs: number;
  peerMss: number;
  /** Peer's window shift, -1 = no window scaling. */
  peerWscale: number;
  sackOk: boolean;
  tsOk: boolean;
  tsRecent: number;
  tsOffset: number;
  peerWindow: number;
}

export class TcpConn {
  state: TcpState = 'Closed';
  readonly localAddr: number;
  readonly localPort: number;
  readonly remoteAddr: number;
  readonly remotePort: number;
  /** @internal demux chain key */
  readonly key: number;
  /** True for connections accepted from a listener. */
  readonly passive: boolean;
  /** TTL and TOS of every segment we send (Plan 9 ctl `ttl`, `tos`; tcp.c ipoput4 with s->ttl, s->tos). */
  ttl = 255;
  tos = 0;
  /** ICMP errors do not end a connect (Plan 9 ctl `ignoreadvice`); path MTU news is still taken. */
  ignoreAdvice = false;
  /** Told of this connection's events (/net/tcp/N/events, events.ts); null while nobody reads. Set by setEvents(). */
  ev: TcpEventSink | null = null;
  /** Capture and impairment of this flow only (TcpLayer.flowHook); null while nothing is attached. */
  flow: PacketHook<Ifc | null> | null = null;
  /** cwnd and ssthresh as last told to `ev`. */
  private evCwnd = 0;
  private evSsthresh = 0;

  // The rest of the TCB: @internal, read and written by input.ts,
  // output.ts, recovery.ts and timers.ts.
  handler: TcpHandler;
  readonly host: ConnHost;
  autoConsume: boolean;
  userClosed = false;
  finalReported = false;

  // Send sequence space (RFC 9293 §3.3.1)
  iss = 0;
  sndUna = 0;
  sndNxt = 0;
  /** Highest sequence number sent + 1 (sndNxt rewinds on RTO, this does not). */
  sndMax = 0;
  sndWnd = 0;
  maxSndWnd = 0;
  sndWl1 = 0;
  sndWl2 = 0;
  sndShift = 0;
  /** Sequence number of send-buffer byte 0. */
  bufSeq = 0;
  readonly sbuf: SendBuffer;
  finQueued = false;
  finSeq = 0;
  wantWritable = false;

  // Receive sequence space
  irs = 0;
  rcvNxt = 0;
  /** Right edge we advertised (never moves left, RFC 9293 §3.8.6.2.2). */
  rcvAdv = 0;
  rcvShift = 0;
  /** Current receive window target (grows to recvBuffer). */
  rcvWnd: number;
  rcvGrowAcc = 0;
  /** Delivered to the user and not yet consumed. */
  unconsumed = 0;
  readonly asm: Assembler;
  /** Sequence number of a FIN received out of order, or -1. */
  rcvFinSeq = -1;
  peerFinished = false;

  // Options
  /** Effective send MSS (payload bytes per segment, timestamp option already subtracted). */
  smss = DEFAULT_MSS;
  /** MSS we advertise (route MTU - 40). */
  readonly ourMss: number;
  peerMss = DEFAULT_MSS;
  wsOk = false;
  sackOk = false;
  tsOk = false;
  tsRecent = 0;
  tsOffset = 0;
  lastAckSent = 0;

  // Congestion and RTT
  cc: CongestionControl;
  readonly rtt: RttEstimator;
  rttSeq = -1;
  rttAt = 0;
  dupAcks = 0;
  inRecovery = false;
  recoverySeq = 0;
  highRxt = 0;
  /** IsLost threshold of the current recovery in bytes (RFC 6675 DupThresh, lowered by RFC 5827). */
  lossThresh = 0;
  /**
   * Retransmissions of the current recovery, flat [seq, end, mark, lost]:
   * `mark` is SND.MAX when it was sent (what was sent after it lies above),
   * `lost` 1 once data above `mark` was SACKed by DupThresh (RFC 8985 §6.2
   * by sequence). At most RTX_LOG_MAX entries; beyond, the RTO remains.
   */
  readonly rtxLog: number[] = [];
  /** A tail loss probe was sent and nothing new was acknowledged since. */
  tlpOut = false;
  readonly sb = new Scoreboard();
  rtxStart = -1;
  rtoCount = 0;

  // ACK generation
  ackPending = 0;
  ackNow = false;
  ackAt: number | null = null;

  // Timers
  timer: TcpTimer = { kind: 'idle', at: null };
  openedAt = 0;
  zwpBackoff = 0;
  lastRecv = 0;
  kaInterval = 0;
  kaProbes = 0;
  noDelay = false;
  rerecv = 0;

  /** @internal use TcpLayer.connect / listen */
  constructor(
    host: ConnHost,
    localAddr: number,
    localPort: number,
    remoteAddr: number,
    remotePort: number,
    mtu: number,
    handler: TcpHandler,
    autoConsume: boolean,
    passive: boolean,
  ) {
    this.host = host;
    this.localAddr = localAddr;
    this.localPort = localPort;
    this.remoteAddr = remoteAddr;
    this.remotePort = remotePort;
    this.key = localPort * 0x10000 + remotePort;
    this.handler = handler;
    this.autoConsume = autoConsume;
    this.passive = passive;
    const cfg = host.cfg;
    this.sbuf = new SendBuffer(cfg.sendBuffer);
    this.rcvWnd = Math.min(cfg.recvBuffer, INITIAL_RCV_WND);
    this.asm = new Assembler(undefined, cfg.recvBuffer);
    // RFC 9293 §3.7.1 / RFC 879: MSS from the route MTU.
    this.ourMss = Math.max(DEFAULT_MSS, Math.min(0xffff, mtu - 40));
    this.rtt = new RttEstimator(cfg.minRtoMs, RTO_MAX_MS);
    this.cc = newCongestion(cfg.congestion, DEFAULT_MSS);
    // RFC 7323 §2.3: the smallest shift that lets the largest window fit 16 bits.
    let shift = 0;
    while (shift < MAX_WSCALE && cfg.recvBuffer >>> shift > 0xffff) shift++;
    this.rcvShift = cfg.windowScaling ? shift : 0;
  }

  // ------------------------------------------------------------------
  // User interface

  /** Bytes the send buffer can take now. */
  get writable(): number {
    return this.sbuf.free;
  }

  /** Bytes waiting in the send buffer (qout). */
  get queuedOut(): number {
    return this.sbuf.length;
  }

  /** Replaces the handler (e.g. once the /net layer set up its queues). */
  setHandler(h: TcpHandler): void {
    if (!this.userClosed) this.handler = h;
  }

  /**
   * Queues bytes for sending; returns how many were taken (0 when the send
   * buffer is full: wait for onWritable). Throws StackError
   * `i/o on hungup channel` once the connection is closed or closing.
   */
  write(data: Uint8Array, now: number): number {
    if (this.sendClosed) throw new StackError(Ehungup);
    const n = this.sbuf.write(data);
    if (n < data.length) this.wantWritable = true;
    if (n > 0 && this.synchronized()) output(this, now);
    return n;
  }

  canWrite(): boolean {
    const s = this.state;
    return s === 'Syn_sent' || s === 'Syn_received' || s === 'Established' || s === 'Close_wait';
  }

  /**
   * The user consumed `n` delivered bytes (when not auto-consuming): the
   * receive window reopens; a window update is sent when it grew enough.
   */
  consumed(n: number, now: number): void {
    if (n <= 0) return;
    const before = this.windowAvail();
    this.unconsumed = Math.max(0, this.unconsumed - n);
    if (!this.synchronized() || this.state === 'Time_wait' || this.peerFinished) return;
    const adv = seqSub(this.rcvAdv, this.rcvNxt);
    const avail = this.windowAvail();
    // Receiver SWS avoidance (RFC 9293 §3.8.6.2.2): update when the window
    // can advance by min(half the buffer, 2 MSS) or reopens from zero.
    if (avail - adv >= Math.min(this.rcvWnd >>> 1, 2 * this.ourMss) || (before < this.ourMss && avail >= this.ourMss)) {
      if (adv < this.ourMss) this.host.stats.Wopenack++;
      this.ackNow = true;
      output(this, now);
    }
  }

  /** Stops or restarts auto-consumption. */
  setAutoConsume(on: boolean): void {
    this.autoConsume = on;
  }

  /** Nagle off (true) or on (RFC 9293 §3.7.4). */
  setNoDelay(on: boolean, now: number): void {
    this.noDelay = on;
    if (on && this.synchronized()) output(this, now);
  }

  /** Selects the congestion control (keeps cwnd and ssthresh). */
  setCongestion(name: CongestionName): void {
    if (name === this.cc.name) return;
    const next = newCongestion(name, this.smss);
    next.cwnd = this.cc.cwnd;
    next.ssthresh = this.cc.ssthresh;
    this.cc = next;
  }

  /** Attaches (or with null removes) the events sink; cwnd and ssthresh are reported as they change from now. */
  setEvents(sink: TcpEventSink | null): void {
    this.ev = sink;
    this.evCwnd = this.cc.cwnd;
    this.evSsthresh = this.cc.ssthresh;
  }

  /** Tells `ev` of a cwnd or ssthresh that changed since it was last told (after input and timers). */
  noteCongestion(now: number): void {
    const cw = this.cc.cwnd;
    const ss = this.cc.ssthresh;
    if (this.ev === null || (cw === this.evCwnd && ss === this.evSsthresh)) return;
    this.evCwnd = cw;
    this.evSsthresh = ss;
    this.ev(now, { kind: 'cwnd', cwnd: cw, ssthresh: ss });
  }

  get congestion(): CongestionName {
    return this.cc.name;
  }

  /**
   * Keep-alive probes every `ms` of silence (0 = off); the connection dies
   * with `connection timed out` after ~12 min (≥ 3 probes) unanswered.
   * Throws StackError unless Established (9front's text, sic).
   */
  setKeepalive(ms: number, now: number): void {
    if (ms > 0 && this.state !== 'Established') throw new StackError('connection must be in Establised state');
    this.kaInterval = ms > 0 ? Math.max(50, ms) : 0;
    this.kaProbes = 0;
    this.lastRecv = now;
    updateTimer(this, now);
  }

  /**
   * Graceful close (Plan 9 `close`): FIN after the queued data; no
   * half-close: incoming data is discarded from now on. No handler calls
   * follow.
   */
  close(now: number): void {
    if (this.userClosed) return;
    this.userClosed = true;
    this.handler = EMPTY_HANDLER;
    this.unconsumed = 0;
    const s = this.state;
    if (s === 'Syn_sent' || s === 'Closed') this.setState('Closed', 'close', now);
    // Half-closed before (closeSend): no longer held by its user, so bounded now.
    else if (s === 'Finwait2') this.armFinwait2(now);
    else this.sendFin('close', now);
  }

  /**
   * Half close (Plan 9 `hangupxmit`, tcp.c tcpxmitclose): FIN after the
   * queued data, and receiving goes on: data keeps coming to the handler
   * until the peer's FIN (onEnd). Writes fail from now on. Finwait1 and
   * Finwait2 (or Last_ack after the peer's FIN) follow; Finwait2 is not
   * timed out while the user holds the connection. Before the handshake
   * it is a close, as in Plan 9.
   */
  closeSend(now: number): void {
    if (this.userClosed || this.finQueued) return;
    if (this.state === 'Syn_sent' || this.state === 'Closed') this.close(now);
    else this.sendFin('hangupxmit', now);
  }

  /**
   * RFC 9293 §3.10.4 CLOSE once synchronized: our FIN after the queued
   * data, Finwait1 (from Syn_received or Established) or Last_ack (from
   * Close_wait); nothing in the other states.
   */
  private sendFin(why: string, now: number): void {
    const s = this.state;
    if (s === 'Syn_received' || s === 'Established') {
      this.queueFin();
      this.setState('Finwait1', why, now);
    } else if (s === 'Close_wait') {
      this.queueFin();
      this.setState('Last_ack', why, now);
    } else return;
    output(this, now);
  }

  /** True once the sending side is closed (close, closeSend, abort, or the end of the connection). */
  get sendClosed(): boolean {
    return this.userClosed || this.finQueued || !this.canWrite();
  }

  /** Abortive close (Plan 9 `hangup`): RST if synchronized, then Closed. No handler calls follow. */
  abort(now: number): void {
    if (this.state === 'Closed') return;
    this.userClosed = true;
    this.handler = EMPTY_HANDLER;
    if (this.state !== 'Syn_sent' && this.state !== 'Time_wait') sendRst(this, this.sndMax, now);
    this.setState('Closed', 'abort', now);
  }

  /** Status for /net/tcp/N/status. */
  info(): TcpInfo {
    return {
      state: this.state,
      qin: this.unconsumed,
      qout: this.sbuf.length,
      rqSegs: this.asm.count,
      rqBytes: this.asm.bytes,
      srtt: Math.round(this.rtt.srtt),
      mdev: Math.round(this.rtt.rttvar),
      sst: Math.min(this.cc.ssthresh, 0x7fffffff),
      cwin: this.cc.cwnd,
      swin: this.sndWnd,
      sscale: this.sndShift,
      rwin: seqSub(this.rcvAdv, this.rcvNxt),
      rscale: this.rcvShift,
      qscale: this.rcvShift,
      timerStart: this.rtt.rto,
      timerCount: this.rtt.backoff,
      rerecv: this.rerecv,
      katimerStart: this.kaInterval,
      katimerCount: this.kaProbes,
      congestion: this.cc.name,
      noDelay: this.noDelay,
      mss: this.smss,
    };
  }

  /** Current RTO (ms). */
  get rto(): number {
    return this.rtt.rto;
  }

  get cwnd(): number {
    return this.cc.cwnd;
  }

  get ssthresh(): number {
    return this.cc.ssthresh;
  }

  /** Window scale shifts in use: ours (receive) and the peer's (send). */
  get scales(): { rcv: number; snd: number } {
    return { rcv: this.rcvShift, snd: this.sndShift };
  }

  get features(): { ws: boolean; sack: boolean; ts: boolean } {
    return { ws: this.wsOk, sack: this.sackOk, ts: this.tsOk };
  }

  // ------------------------------------------------------------------
  // Opening

  /** @internal Active open (RFC 9293 §3.10.1): send SYN. */
  openActive(iss: number, tsOffset: number, now: number): void {
    this.iss = iss;
    this.sndUna = iss;
    this.sndNxt = iss;
    this.sndMax = iss;
    this.bufSeq = seqAdd(iss, 1);
    this.recoverySeq = iss;
    this.tsOffset = tsOffset;
    this.openedAt = now;
    this.setState('Syn_sent', 'connect', now);
    this.host.stats.ActiveOpens++;
    sendSyn(this, now);
    updateTimer(this, now);
  }

  /** @internal Passive open from limbo: Syn_received with the SYN-ACK already sent. */
  openPassive(p: PassiveParams, now: number): void {
    this.iss = p.iss;
    this.sndUna = p.iss;
    this.sndNxt = seqAdd(p.iss, 1);
    this.sndMax = this.sndNxt;
    this.bufSeq = this.sndNxt;
    this.recoverySeq = p.iss;
    this.irs = p.irs;
    this.rcvNxt = seqAdd(p.irs, 1);
    this.lastAckSent = this.rcvNxt;
    this.openedAt = now;
    this.applyPeerOptions(p.peerMss, p.peerWscale, p.sackOk, p.tsOk);
    this.tsRecent = p.tsRecent;
    this.tsOffset = p.tsOffset;
    // RFC 7323 §2.2: the window in a SYN is never scaled.
    this.sndWnd = p.peerWindow;
    this.maxSndWnd = p.peerWindow;
    this.sndWl1 = p.irs;
    this.sndWl2 = p.iss;
    this.rcvAdv = seqAdd(this.rcvNxt, Math.min(this.rcvWnd, 0xffff));
    this.setState('Syn_received', 'syn', now);
    this.lastRecv = now;
    updateTimer(this, now);
  }

  /** Our window-scale shift to offer, -1 when disabled. */
  offerWscale(): number {
    return this.host.cfg.windowScaling ? this.rcvShift : -1;
  }

  applyPeerOptions(mss: number, wscale: number, sack: boolean, ts: boolean): void {
    const cfg = this.host.cfg;
    this.peerMss = mss;
    // RFC 7323 §2.2: scaling only if both sides sent the option.
    this.wsOk = cfg.windowScaling && wscale >= 0;
    this.sndShift = this.wsOk ? Math.min(wscale, MAX_WSCALE) : 0;
    if (!this.wsOk) this.rcvShift = 0;
    this.sackOk = cfg.sack && sack;
    this.tsOk = cfg.timestamps && ts;
    // RFC 9293 §3.7.1: segment size = min(peer MSS, our MTU) - options.
    this.smss = Math.max(64, Math.min(mss, this.ourMss) - (this.tsOk ? TS_OPT_LEN : 0));
    this.cc = newCongestion(this.cc.name, this.smss);
    if (!this.wsOk && this.rcvWnd > 0xffff) this.rcvWnd = 0xffff;
  }

  // ------------------------------------------------------------------
  // States

  /** The one place state changes (style.md §4.5; 9front tcpsetstate). */
  setState(next: TcpState, why: string, now: number): void {
    const prev = this.state;
    if (prev === next) return;
    this.ev?.(now, { kind: 'state', from: prev, to: next, why });
    const st = this.host.stats;
    const wasEstab = prev === 'Established' || prev === 'Close_wait';
    const isEstab = next === 'Established' || next === 'Close_wait';
    if (wasEstab && !isEstab) st.CurrEstab--;
    if (!wasEstab && isEstab) st.CurrEstab++;
    this.state = next;
    if (next === 'Time_wait') {
      this.timer = { kind: 'timewait', at: now + this.host.cfg.timeWaitMs };
      this.ackAt = null;
      this.host.schedule(this.timer.at);
      this.reportFinal(null);
    } else if (next === 'Finwait2') {
      if (this.userClosed) this.armFinwait2(now);
      else this.timer = { kind: 'idle', at: null }; // half-closed: the peer may send for as long as it likes
    } else if (next === 'Closed') {
      this.timer = { kind: 'idle', at: null };
      this.ackAt = null;
      this.sbuf.clear();
      this.asm.clear();
      this.sb.clear();
      this.host.release(this);
    }
  }

  synchronized(): boolean {
    const s = this.state;
    return s !== 'Closed' && s !== 'Listen' && s !== 'Syn_sent' && s !== 'Syn_received';
  }

  /** Reports the end to the user once. */
  reportFinal(reason: string | null): void {
    if (this.finalReported) return;
    this.finalReported = true;
    const h = this.handler;
    this.handler = EMPTY_HANDLER;
    h.onClosed?.(reason);
  }

  /** Bounds Finwait2 for a connection its user closed. */
  armFinwait2(now: number): void {
    this.timer = { kind: 'timewait', at: now + Math.max(FINWAIT2_TIMEOUT_MS, this.host.cfg.timeWaitMs) };
    this.host.schedule(this.timer.at);
  }

  /** Ends the connection with a user-visible error: Closed at once. */
  fail(reason: string, now: number): void {
    this.setState('Closed', reason, now);
    this.reportFinal(reason);
  }

  queueFin(): void {
    if (this.finQueued) return;
    this.finQueued = true;
    this.finSeq = seqAdd(this.bufSeq, this.sbuf.length);
  }

  /**
   * @internal ICMP advice (9front tcp.c tcpadvise): the
   * reason ends a connect in Syn_sent (unless ignoreAdvice) and is ignored
   * in other states; fragmentation needed lowers the MSS in any state.
   */
  advise(reason: string, mtu: number, isFragNeeded: boolean, now: number): void {
    if (isFragNeeded && mtu >= 68) {
      const m = Math.max(64, Math.min(this.peerMss, mtu - 40) - (this.tsOk ? TS_OPT_LEN : 0));
      if (m < this.smss) this.smss = m;
      if (this.synchronized()) {
        this.sndNxt = this.sndUna;
        output(this, now);
      }
      return;
    }
    if (this.state === 'Syn_sent' && !this.ignoreAdvice) this.fail(reason, now);
  }

  /** @internal Time_wait recycled by a new SYN or a new connect (RFC 6191). */
  kill(now: number): void {
    this.handler = EMPTY_HANDLER;
    this.userClosed = true;
    this.setState('Closed', 'recycle', now);
  }

  /** Timestamp clock value for `now` (RFC 7323 §4: ms plus our random offset). */
  tsNow(now: number): number {
    return (Math.floor(now) + this.tsOffset) >>> 0;
  }

  /** Our receive window right now (bytes the user can still take). */
  windowAvail(): number {
    const a = this.rcvWnd - this.unconsumed;
    return a > 0 ? a : 0;
  }

  // ------------------------------------------------------------------
  // What the layer drives (input.ts, output.ts, timers.ts)

  /** @internal One segment for this connection, then the flush (now or at the end of the batch). */
  input(seg: TcpRepr, now: number): void {
    segmentArrives(this, seg, now);
    if (this.ev !== null) this.noteCongestion(now);
  }

  /** Sends what may be sent, then a pure ACK if one is due; re-arms timers. */
  flush(now: number): void {
    output(this, now);
  }

  /** @internal Earliest deadline, or null. */
  pollAt(): number | null {
    return nextDeadline(this);
  }

  /** @internal Runs what is due at `now`. */
  poll(now: number): void {
    runTimers(this, now);
    if (this.ev !== null) this.noteCongestion(now);
  }

  /** @internal debugging */
  toString(): string {
    return `tcp ${this.localPort}->${this.remotePort} ${this.state} una=${this.sndUna} nxt=${this.sndNxt} max=${this.sndMax} wnd=${this.sndWnd} cwnd=${this.cc.cwnd} rcvNxt=${this.rcvNxt}`;
  }
}
