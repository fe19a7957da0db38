/**
 * One TCP connection (the TCB, RFC 9293 §3.3.1) and its state machine.
 *
 * Input: `input(seg, now)` processes one segment in the order of RFC 9293
 * §3.10.7.4 (sequence check with PAWS, RST, SYN, ACK, text, FIN), then
 * `flush(now)` sends what became sendable and the ACKs that are due.
 * Timers: one main timer (TcpTimer: rtx / zwp / timewait / idle+keepalive)
 * and the delayed-ACK deadline; `pollAt()` is the earliest, `poll(now)`
 * runs them. Nothing here reads a clock or allocates per segment except
 * the out-of-order copies (assembler.ts).
 *
 * Loss recovery: with SACK, RFC 6675 (pipe, NextSeg rule 1 with IsLost,
 * then new data); without SACK, NewReno (RFC 6582). Early retransmit
 * (RFC 5827) when too few segments are out for DupThresh; lost
 * retransmissions are found as RACK does (RFC 8985 §6.2, by sequence:
 * data sent after a retransmission was SACKed by DupThresh) and sent
 * again without waiting for the RTO; a tail loss probe (RFC 8985 §7)
 * precedes the RTO. Congestion window growth and reduction come from
 * congestion/ (NewReno or CUBIC).
 */
import { Einuse, StackError } from '../error.js';
import type { TcpRepr } from '../wire/tcp.js';
import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN } from '../wire/tcp.js';
import { Assembler } from './assembler.js';
import { newCongestion } from './congestion/index.js';
import type { CongestionControl, CongestionName } from './congestion/index.js';
import { RTO_MAX_MS, RttEstimator } from './rtt.js';
import { Scoreboard } from './sack.js';
import { SendBuffer } from './sendbuf.js';
import { seqAdd, seqGe, seqGt, seqInRange, seqLe, seqLt, seqMax, seqSub } from './seq.js';
import type { TcpState, TcpTimer } from './state.js';
import type { TcpStats } from './stats.js';
import type { SegmentWriter } from './output.js';
import type { TcpHandler, TcpInfo } from './types.js';

/** Plan 9 error texts. */
export const Econrefused = 'connection refused';
export const Etimedout = 'connection timed out';
export const Ehungup = 'i/o on hungup channel';

/** RFC 9293 §3.7.1: default send MSS when the peer sends none. */
export const DEFAULT_MSS = 536;
/** RFC 7323 §2.3: the largest window shift. */
export const MAX_WSCALE = 14;
/** RFC 5681 §3.2 DupThresh. */
const DUPTHRESH = 3;
/** Bound on the retransmissions of one recovery watched for loss (rtxLog entries). */
const RTX_LOG_MAX = 64;
/** RFC 8985 §7.2: the PTO's allowance beyond 2·SRTT (Linux TCP_TIMEOUT_MIN, 2 ms). */
const TLP_MIN_MS = 2;
/** RFC 8985 §7.2 WCDelAckT: the peer's worst-case delayed ACK when one segment is out. */
const TLP_DELACK_MS = 200;
/** Keep-alive gives up after roughly 12 minutes, and at least 3 probes (9front). */
const KA_GIVEUP_MS = 12 * 60_000;
/** SYN-ACK / challenge ACKs etc. are rate limited by the layer. */
const INITIAL_RCV_WND = 256 * 1024;
/**
 * Bound on Finwait2 after our close when the peer never sends its FIN
 * (Linux tcp_fin_timeout; 9front's collector uses 5 min).
 */
export const FINWAIT2_TIMEOUT_MS = 60_000;
/** Bytes of the timestamp option in every segment when negotiated. */
const TS_OPT_LEN = 12;
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
  /** TTL and TOS of our segments (Plan 9 ctl `ttl`, `tos`). */
  ttl = 255;
  tos = 0;

  private handler: TcpHandler;
  private readonly host: ConnHost;
  private autoConsume: boolean;
  private userClosed = false;
  private finalReported = false;

  // Send sequence space (RFC 9293 §3.3.1)
  iss = 0;
  sndUna = 0;
  sndNxt = 0;
  /** Highest sequence number sent + 1 (sndNxt rewinds on RTO, this does not). */
  sndMax = 0;
  sndWnd = 0;
  private maxSndWnd = 0;
  private sndWl1 = 0;
  private sndWl2 = 0;
  private sndShift = 0;
  /** Sequence number of send-buffer byte 0. */
  private bufSeq = 0;
  private readonly sbuf: SendBuffer;
  private finQueued = false;
  private finSeq = 0;
  private wantWritable = false;

  // Receive sequence space
  irs = 0;
  rcvNxt = 0;
  /** Right edge we advertised (never moves left, RFC 9293 §3.8.6.2.2). */
  private rcvAdv = 0;
  private rcvShift = 0;
  /** Current receive window target (grows to recvBuffer). */
  private rcvWnd: number;
  private rcvGrowAcc = 0;
  /** Delivered to the user and not yet consumed. */
  private unconsumed = 0;
  private readonly asm: Assembler;
  /** Sequence number of a FIN received out of order, or -1. */
  private rcvFinSeq = -1;
  private peerFinished = false;

  // Options
  /** Effective send MSS (payload bytes per segment, timestamp option already subtracted). */
  smss = DEFAULT_MSS;
  /** MSS we advertise (route MTU - 40). */
  readonly ourMss: number;
  private peerMss = DEFAULT_MSS;
  private wsOk = false;
  private sackOk = false;
  private tsOk = false;
  private tsRecent = 0;
  private tsOffset = 0;
  private lastAckSent = 0;

  // Congestion and RTT
  private cc: CongestionControl;
  private readonly rtt: RttEstimator;
  private rttSeq = -1;
  private rttAt = 0;
  private dupAcks = 0;
  private inRecovery = false;
  private recoverySeq = 0;
  private highRxt = 0;
  /** IsLost threshold of the current recovery in bytes (RFC 6675 DupThresh, lowered by RFC 5827). */
  private lossThresh = 0;
  /**
   * Retransmissions of the current recovery, flat [seq, end, mark, lost]:
   * `mark` is SND.MAX when it was sent (what was sent after it lies above),
   * `lost` 1 once data above `mark` was SACKed by DupThresh (RFC 8985 §6.2
   * by sequence). At most RTX_LOG_MAX entries; beyond, the RTO remains.
   */
  private readonly rtxLog: number[] = [];
  /** A tail loss probe was sent and nothing new was acknowledged since. */
  private tlpOut = false;
  private readonly sb = new Scoreboard();
  private rtxStart = -1;
  private rtoCount = 0;

  // ACK generation
  private ackPending = 0;
  private ackNow = false;
  private ackAt: number | null = null;

  // Timers
  private timer: TcpTimer = { kind: 'idle', at: null };
  private openedAt = 0;
  private zwpBackoff = 0;
  private lastRecv = 0;
  private kaInterval = 0;
  private kaProbes = 0;
  private noDelay = false;
  private rerecv = 0;

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
    if (this.userClosed || this.finQueued || !this.canWrite()) throw new StackError(Ehungup);
    const n = this.sbuf.write(data);
    if (n < data.length) this.wantWritable = true;
    if (n > 0 && this.synchronized()) this.flush(now);
    return n;
  }

  private canWrite(): boolean {
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
      this.flush(now);
    }
  }

  /** Stops or restarts auto-consumption. */
  setAutoConsume(on: boolean): void {
    this.autoConsume = on;
  }

  /** Nagle off (true) or on (RFC 9293 §3.7.4). */
  setNoDelay(on: boolean, now: number): void {
    this.noDelay = on;
    if (on && this.synchronized()) this.flush(now);
  }

  /** Selects the congestion control (keeps cwnd and ssthresh). */
  setCongestion(name: CongestionName): void {
    if (name === this.cc.name) return;
    const next = newCongestion(name, this.smss);
    next.cwnd = this.cc.cwnd;
    next.ssthresh = this.cc.ssthresh;
    this.cc = next;
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
    this.updateTimer(now);
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
    switch (this.state) {
      case 'Syn_sent':
      case 'Closed':
        this.setState('Closed', 'close', now);
        return;
      case 'Syn_received':
      case 'Established':
        this.queueFin();
        this.setState('Finwait1', 'close', now);
        break;
      case 'Close_wait':
        this.queueFin();
        this.setState('Last_ack', 'close', now);
        break;
      default:
        return;
    }
    this.flush(now);
  }

  /** Abortive close (Plan 9 `hangup`): RST if synchronized, then Closed. No handler calls follow. */
  abort(now: number): void {
    if (this.state === 'Closed') return;
    this.userClosed = true;
    this.handler = EMPTY_HANDLER;
    if (this.state !== 'Syn_sent' && this.state !== 'Time_wait') this.sendRst(this.sndMax, now);
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
    this.sendSyn(now);
    this.updateTimer(now);
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
    this.updateTimer(now);
  }

  /** Our window-scale shift to offer, -1 when disabled. */
  private offerWscale(): number {
    return this.host.cfg.windowScaling ? this.rcvShift : -1;
  }

  private applyPeerOptions(mss: number, wscale: number, sack: boolean, ts: boolean): void {
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
  private setState(next: TcpState, _why: string, now: number): void {
    const prev = this.state;
    if (prev === next) return;
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
      this.timer = { kind: 'timewait', at: now + Math.max(FINWAIT2_TIMEOUT_MS, this.host.cfg.timeWaitMs) };
      this.host.schedule(this.timer.at);
    } else if (next === 'Closed') {
      this.timer = { kind: 'idle', at: null };
      this.ackAt = null;
      this.sbuf.clear();
      this.asm.clear();
      this.sb.clear();
      this.host.release(this);
    }
  }

  private synchronized(): boolean {
    const s = this.state;
    return s !== 'Closed' && s !== 'Listen' && s !== 'Syn_sent' && s !== 'Syn_received';
  }

  /** Reports the end to the user once. */
  private reportFinal(reason: string | null): void {
    if (this.finalReported) return;
    this.finalReported = true;
    const h = this.handler;
    this.handler = EMPTY_HANDLER;
    h.onClosed?.(reason);
  }

  /** Ends the connection with a user-visible error: Closed at once. */
  private fail(reason: string, now: number): void {
    this.setState('Closed', reason, now);
    this.reportFinal(reason);
  }

  private queueFin(): void {
    if (this.finQueued) return;
    this.finQueued = true;
    this.finSeq = seqAdd(this.bufSeq, this.sbuf.length);
  }

  // ------------------------------------------------------------------
  // Input (RFC 9293 §3.10.7)

  /** @internal One segment for this connection. */
  input(seg: TcpRepr, now: number): void {
    this.lastRecv = now;
    this.kaProbes = 0;
    if (this.state === 'Syn_sent') this.inputSynSent(seg, now);
    else this.inputSynchronized(seg, now);
    if (this.state !== 'Closed') {
      // Batched input: one flush (one ACK, one round of sending) per batch of
      // received frames, as GRO gives the kernel; else flush per segment.
      if (this.host.cfg.batchInput) this.host.deferFlush(this);
      else this.flush(now);
    }
  }

  /** RFC 9293 §3.10.7.3 SYN-SENT. */
  private inputSynSent(seg: TcpRepr, now: number): void {
    const f = seg.flags;
    // first: check the ACK bit
    if (f & TCP_ACK) {
      if (seqLe(seg.ack, this.iss) || seqGt(seg.ack, this.sndMax)) {
        if (!(f & TCP_RST)) this.sendRstFor(seg.ack, now);
        return;
      }
    }
    // second: the RST bit
    if (f & TCP_RST) {
      if (f & TCP_ACK) {
        this.handler.onReset?.();
        this.fail(Econrefused, now);
      }
      return;
    }
    // fourth: the SYN bit
    if (!(f & TCP_SYN)) return;
    this.irs = seg.seq;
    this.rcvNxt = seqAdd(seg.seq, 1);
    this.applyPeerOptions(seg.mss ?? DEFAULT_MSS, seg.windowScale ?? -1, seg.sackPermitted, seg.tsVal !== null);
    if (this.tsOk) this.tsRecent = seg.tsVal!;
    this.rcvAdv = this.rcvNxt;
    if (f & TCP_ACK) {
      this.sndUna = seg.ack;
      if (!this.tsOk && this.rttSeq === -1 && this.rtt.backoff === 0) this.rtt.sample(now - this.openedAt);
      else if (this.tsOk && seg.tsEcr !== null && seg.tsEcr !== 0) this.rtt.sample(this.tsNow(now) - seg.tsEcr);
      this.rtoCount = 0;
      this.rtt.backoff = 0;
      // RFC 7323 §2.2: window in SYN segments is not scaled.
      this.sndWnd = seg.window;
      this.maxSndWnd = seg.window;
      this.sndWl1 = seg.seq;
      this.sndWl2 = seg.ack;
      this.setState('Established', 'syn-ack', now);
      this.ackNow = true;
      this.handler.onOpen?.();
      if (this.userClosed && this.state === 'Established') {
        this.queueFin();
        this.setState('Finwait1', 'close', now);
      }
      // data in the SYN-ACK (rare) is processed like any other text.
      if (seg.payload.length > 0 || f & TCP_FIN) this.processText(seg, seqAdd(seg.seq, 1), seg.payload, now);
    } else {
      // Simultaneous open (RFC 9293 §3.5 figure 8): SYN-ACK from Syn_received.
      this.sndWnd = seg.window;
      this.maxSndWnd = seg.window;
      this.sndWl1 = seg.seq;
      this.sndWl2 = this.iss;
      this.setState('Syn_received', 'simultaneous open', now);
      this.sndNxt = this.iss;
      this.sendSyn(now);
    }
    this.updateTimer(now);
  }

  private inputSynchronized(seg: TcpRepr, now: number): void {
    const f = seg.flags;
    const st = this.host.stats;
    let seq = seg.seq;
    let payload = seg.payload;
    const segLen = payload.length + (f & TCP_SYN ? 1 : 0) + (f & TCP_FIN ? 1 : 0);

    // RFC 7323 §5.3 PAWS: drop old duplicates by their timestamp.
    if (this.tsOk && seg.tsVal !== null && !(f & TCP_RST) && seqLt(seg.tsVal, this.tsRecent)) {
      this.rerecv++;
      this.ackNow = true;
      return;
    }

    // first: sequence number check (RFC 9293 §3.10.7.4 table)
    const wnd = Math.max(0, seqSub(this.rcvAdv, this.rcvNxt));
    let ok: boolean;
    if (segLen === 0) ok = wnd === 0 ? seq === this.rcvNxt : seqInRange(seq, this.rcvNxt, seqAdd(this.rcvNxt, wnd));
    else if (wnd === 0) ok = false;
    else
      ok =
        seqInRange(seq, this.rcvNxt, seqAdd(this.rcvNxt, wnd)) ||
        seqInRange(seqAdd(seq, segLen - 1), this.rcvNxt, seqAdd(this.rcvNxt, wnd));
    let textAllowed = true;
    if (!ok) {
      // Zero window: still process ACKs (and RSTs) of a segment at RCV.NXT.
      if (wnd === 0 && seq === this.rcvNxt && !(f & TCP_RST)) textAllowed = false;
      else {
        if (!(f & TCP_RST)) {
          this.rerecv++;
          if (this.state === 'Time_wait' && f & TCP_FIN) this.restartTimeWait(now);
          this.ackNow = true; // <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>
        }
        return;
      }
    }

    // second: RST (RFC 5961 §3.2)
    if (f & TCP_RST) {
      if (seq !== this.rcvNxt) {
        if (this.host.challengeAllowed(now)) this.ackNow = true; // challenge ACK
        return;
      }
      if (this.state === 'Syn_received' && this.passive) {
        this.setState('Closed', 'rst', now); // back to limbo's LISTEN: just forget it
        return;
      }
      if (this.state === 'Established' || this.state === 'Close_wait') st.EstabResets++;
      if (this.state === 'Closing' || this.state === 'Last_ack' || this.state === 'Time_wait') {
        this.setState('Closed', 'rst', now);
        this.reportFinal(null);
        return;
      }
      this.handler.onReset?.();
      this.fail(this.state === 'Syn_received' ? Econrefused : Econrefused, now);
      return;
    }

    // fourth: SYN in a synchronized state → challenge ACK (RFC 5961 §4.2)
    if (f & TCP_SYN) {
      if (this.state === 'Syn_received' && seq === this.irs) {
        // Retransmitted SYN: answer with our SYN-ACK again.
        this.sndNxt = this.iss;
        this.sendSyn(now);
        return;
      }
      if (this.host.challengeAllowed(now)) this.ackNow = true;
      return;
    }

    // fifth: the ACK field
    if (!(f & TCP_ACK)) return;
    if (this.state === 'Syn_received') {
      if (!seqInRange(seg.ack, seqAdd(this.sndUna, 1), seqAdd(this.sndMax, 1))) {
        this.sendRstFor(seg.ack, now);
        return;
      }
      this.sndUna = this.iss;
      this.setState('Established', 'ack', now);
      this.sndWnd = seg.window << this.sndShift;
      this.maxSndWnd = Math.max(this.maxSndWnd, this.sndWnd);
      this.sndWl1 = seq;
      this.sndWl2 = seg.ack;
      if (this.passive) {
        const h = this.host.accept(this);
        if (h === null) {
          this.abort(now);
          return;
        }
        this.setHandler(h);
      } else this.handler.onOpen?.();
      const after = this.state as TcpState;
      if (after === 'Closed') return;
      if (this.userClosed && after === 'Established') {
        this.queueFin();
        this.setState('Finwait1', 'close', now);
      }
    }
    // RFC 5961 §5.2: ACK outside [SND.UNA - MAX.SND.WND, SND.MAX] is dropped with an ACK.
    if (seqGt(seg.ack, this.sndMax)) {
      this.ackNow = true;
      return;
    }
    if (seqLt(seg.ack, seqSub(this.sndUna, this.maxSndWnd) >>> 0)) {
      if (this.host.challengeAllowed(now)) this.ackNow = true;
      return;
    }
    if (!this.processAck(seg, segLen, now)) return;
    if (this.state === 'Closed') return;

    // Timestamps: RFC 7323 §4.3 update TS.Recent.
    if (this.tsOk && seg.tsVal !== null && seqLe(seq, this.lastAckSent)) this.tsRecent = seg.tsVal;

    // seventh: segment text; eighth: FIN
    if (!textAllowed) {
      if (payload.length > 0 || f & TCP_FIN) this.ackNow = true;
      return;
    }
    if (payload.length > 0 || f & TCP_FIN) {
      // Trim what we already have (RFC 9293 §3.10.7.4 "trim").
      if (seqLt(seq, this.rcvNxt)) {
        const cut = seqSub(this.rcvNxt, seq);
        if (cut >= payload.length) {
          payload = payload.subarray(payload.length);
        } else payload = payload.subarray(cut);
        seq = this.rcvNxt;
        this.rerecv++;
      }
      this.processText(seg, seq, payload, now);
    }
  }

  /** Handles the ACK field in synchronized states. Returns false when the segment must be dropped. */
  private processAck(seg: TcpRepr, segLen: number, now: number): boolean {
    const ack = seg.ack;
    const st = this.host.stats;
    const win = seg.window << this.sndShift;
    let newSack = 0;
    if (this.sackOk && seg.sackBlocks.length > 0) {
      const b = seg.sackBlocks;
      for (let i = 0; i + 1 < b.length; i += 2) newSack += this.sb.add(b[i]!, b[i + 1]!, seqMax(ack, this.sndUna), this.sndMax);
    }
    if (seqGt(ack, this.sndUna)) {
      // New data acknowledged.
      const acked = seqSub(ack, this.sndUna);
      const flightBefore = seqSub(this.sndMax, this.sndUna);
      // RTT sample (RFC 7323 §4.1 with timestamps; else Karn's rule, RFC 6298 §3)
      if (this.tsOk && seg.tsEcr !== null && seg.tsEcr !== 0) {
        const r = (this.tsNow(now) - seg.tsEcr) | 0;
        if (r >= 0) this.rtt.sample(r);
      } else if (this.rttSeq !== -1 && seqGe(ack, this.rttSeq)) {
        this.rtt.sample(now - this.rttAt);
        this.rttSeq = -1;
      }
      this.sndUna = ack;
      if (seqLt(this.sndNxt, ack)) this.sndNxt = ack;
      // Send buffer: drop the acknowledged bytes.
      const dataAcked = Math.min(Math.max(0, seqSub(ack, this.bufSeq)), this.sbuf.length);
      if (dataAcked > 0) {
        this.sbuf.consume(dataAcked);
        this.bufSeq = seqAdd(this.bufSeq, dataAcked);
      }
      this.sb.ack(ack);
      this.rtoCount = 0;
      this.rtxStart = -1;
      this.rtt.backoff = 0;
      this.dupAcks = 0;
      this.tlpOut = false;
      if (this.inRecovery) {
        if (seqGe(ack, this.recoverySeq)) {
          // Full ACK: RFC 6582 §3.2 step 3 / RFC 6675 §5 end of recovery.
          this.inRecovery = false;
          this.rtxLog.length = 0;
          st.RecoveryDone++;
          this.cc.onRecoveryEnd(seqSub(this.sndMax, this.sndUna), this.smss, now);
        } else {
          // Partial ACK (RFC 6582 §3.2 step 4).
          st.RecoveryPA++;
          if (!this.sackOk) {
            this.retransmitFirst(now);
            this.cc.cwnd = Math.max(this.smss, this.cc.cwnd - acked + (acked >= this.smss ? this.smss : 0));
          }
        }
      } else this.cc.onAck(acked, this.smss, now, this.rtt.srtt);
      // RFC 6298 §5.3: restart the timer when new data is acknowledged.
      if (this.timer.kind === 'rtx' || this.timer.kind === 'tlp') this.timer = { kind: 'idle', at: null };
      void flightBefore;
      if (this.wantWritable && this.sbuf.free >= Math.min(this.sbuf.capacity >>> 2, 256 * 1024)) {
        this.wantWritable = false;
        this.handler.onWritable?.();
        if (this.state === 'Closed') return false;
      }
      // FIN acknowledged?
      if (this.finQueued && seqGt(ack, this.finSeq)) {
        switch (this.state) {
          case 'Finwait1':
            this.setState('Finwait2', 'fin acked', now);
            break;
          case 'Closing':
            this.setState('Time_wait', 'fin acked', now);
            break;
          case 'Last_ack':
            this.setState('Closed', 'fin acked', now);
            this.reportFinal(null);
            return false;
          default:
            break;
        }
      }
    } else if (ack === this.sndUna) {
      // Duplicate ACK (RFC 5681 §2) or SACK news (RFC 6675 §2 DupAck).
      const outstanding = this.sndMax !== this.sndUna;
      const isDup =
        outstanding && segLen === 0 && (win === this.sndWnd || newSack > 0) && !(seg.flags & (TCP_SYN | TCP_FIN));
      if (isDup || newSack > 0) {
        if (isDup) this.dupAcks++;
        this.onDupAck(now);
      }
    }
    if (this.inRecovery && this.sackOk && this.rtxLog.length > 0) this.detectLostRtx();
    // Window update (RFC 9293 §3.10.7.4, SND.WL1/SND.WL2 rule).
    if (seqLt(this.sndWl1, seg.seq) || (this.sndWl1 === seg.seq && seqLe(this.sndWl2, ack))) {
      if (win > 0 && this.sndWnd === 0) this.zwpBackoff = 0;
      this.sndWnd = win;
      if (win > this.maxSndWnd) this.maxSndWnd = win;
      this.sndWl1 = seg.seq;
      this.sndWl2 = ack;
    }
    if (this.state === 'Time_wait' && seg.flags & TCP_FIN) this.restartTimeWait(now);
    return true;
  }

  /** Loss detection on duplicate ACKs / SACK (RFC 5681 §3.2, RFC 6675 §5, RFC 6582). */
  private onDupAck(now: number): void {
    const st = this.host.stats;
    if (this.inRecovery) {
      if (!this.sackOk) this.cc.cwnd += this.smss; // RFC 6582 §3.2 step 3 (inflation)
      return;
    }
    // RFC 5827 §3: with fewer than DupThresh + 1 segments out and no new
    // data to send (no data, or the windows forbid it), DupThresh drops to
    // the number of outstanding segments - 1.
    let dupThresh = DUPTHRESH;
    const outSegs = Math.ceil(seqSub(this.sndMax, this.sndUna) / this.smss);
    if (outSegs >= 2 && outSegs <= DUPTHRESH && !this.canSendNew()) dupThresh = outSegs - 1;
    const thresh = (dupThresh - 1) * this.smss + 1;
    const lost = this.sackOk && seqGt(this.sb.lostBoundary(this.sndUna, thresh), this.sndUna);
    if (this.dupAcks < dupThresh && !lost) return;
    // RFC 6582 §3.2 step 2: no new recovery before the previous one's point.
    // RFC 6582 §3.2 step 2: only when the cumulative ACK covers more than `recover`.
    if (!this.sackOk && !seqGt(this.sndUna, this.recoverySeq)) {
      st.RecoveryNoSeq++;
      return;
    }
    st.Recovery++;
    this.inRecovery = true;
    this.lossThresh = thresh;
    this.rtxLog.length = 0;
    this.recoverySeq = this.sndMax;
    const flight = this.sackOk ? this.pipe() : seqSub(this.sndMax, this.sndUna);
    this.cc.onLoss(Math.max(flight, seqSub(this.sndMax, this.sndUna) >>> 1), this.smss, now);
    this.highRxt = this.sndUna;
    if (this.sackOk) {
      this.cc.cwnd = this.cc.ssthresh; // RFC 6675 §5 step 4.2
    } else {
      this.cc.cwnd = this.cc.ssthresh + DUPTHRESH * this.smss; // RFC 6582 §3.2 step 2 (as RFC 5681)
    }
    this.rttSeq = -1;
    // RFC 6675 §5 step 4.3 / RFC 5681: retransmit the first lost segment now.
    this.retransmitFirst(now);
  }

  /** RFC 6675 §4 SetPipe (bytes): lost and not (or no longer) retransmitted bytes are not in the pipe. */
  private pipe(): number {
    const una = this.sndUna;
    const hi = this.sndMax;
    const lostB = this.sb.lostBoundary(una, this.lossThresh);
    const total = this.sb.holesBetween(una, hi);
    const start = seqMax(this.highRxt, una);
    let out = seqLt(start, lostB) ? this.sb.holesBetween(start, lostB) : 0;
    const log = this.rtxLog;
    for (let i = 0; i < log.length; i += 4) {
      if (log[i + 3] === 1) out += this.sb.holesBetween(seqMax(log[i]!, una), log[i + 1]!);
    }
    return total > out ? total - out : 0;
  }

  /** True when new data could go out now (RFC 5827 §3: else early retransmit applies). */
  private canSendNew(): boolean {
    const unsent = this.sbuf.length - seqSub(this.sndMax, this.bufSeq);
    if (unsent <= 0) return false;
    const seg = Math.min(unsent, this.smss);
    return (
      seqSub(seqAdd(this.sndUna, this.sndWnd), this.sndMax) >= seg &&
      this.cc.cwnd - seqSub(this.sndMax, this.sndUna) >= seg
    );
  }

  /** Remembers a retransmission sent in recovery (RFC 8985 §6.2 by sequence). */
  private logRtx(seq: number, end: number): void {
    const log = this.rtxLog;
    for (let i = 0; i < log.length; i += 4) {
      if (log[i] === seq) {
        log[i + 1] = end;
        log[i + 2] = this.sndMax;
        log[i + 3] = 0;
        return;
      }
    }
    if (log.length < 4 * RTX_LOG_MAX) log.push(seq, end, this.sndMax, 0);
  }

  /**
   * RFC 8985 §6.2 with sequence order standing in for send time: a
   * retransmission is lost when DupThresh of what was first sent after it
   * (above its `mark`) has been SACKed while it has not.
   */
  private detectLostRtx(): void {
    const log = this.rtxLog;
    const una = this.sndUna;
    const point = this.sb.pointBelow(una, this.lossThresh);
    let w = 0;
    for (let i = 0; i < log.length; i += 4) {
      const seq = log[i]!;
      const end = log[i + 1]!;
      const from = seqMax(seq, una);
      if (seqLe(end, una) || this.sb.holesBetween(from, end) === 0) continue; // delivered: forget
      log[w] = seq;
      log[w + 1] = end;
      log[w + 2] = log[i + 2]!;
      log[w + 3] = log[i + 3] === 1 || seqGe(point, log[i + 2]!) ? 1 : 0;
      w += 4;
    }
    log.length = w;
  }

  /** Retransmits one segment at SND.UNA (fast retransmit / partial ACK). */
  private retransmitFirst(now: number): void {
    const seq = this.sndUna;
    const n = this.sendRange(seq, this.smss, now);
    if (n > 0) {
      this.highRxt = seqMax(this.highRxt, seqAdd(seq, n));
      this.timer = { kind: 'rtx', at: now + this.rtt.rto };
      this.host.schedule(this.timer.at);
    }
  }

  /** Text and FIN (RFC 9293 §3.10.7.4 seventh and eighth). `seq` ≥ RCV.NXT after trimming. */
  private processText(seg: TcpRepr, seq: number, payload: Uint8Array, now: number): void {
    const st = this.host.stats;
    const s = this.state;
    if (s !== 'Established' && s !== 'Finwait1' && s !== 'Finwait2') {
      // Close_wait, Closing, Last_ack, Time_wait: the peer already sent FIN; ignore.
      return;
    }
    // Trim to the window's right edge.
    const room = seqSub(this.rcvAdv, seq);
    let fin = (seg.flags & TCP_FIN) !== 0;
    if (payload.length > room) {
      payload = payload.subarray(0, Math.max(0, room));
      fin = false;
    }
    const finAt = seqAdd(seq, payload.length);
    if (seq !== this.rcvNxt) {
      // Out of order: queue it (copy) and ACK at once with SACK (RFC 5681 §4.2).
      st.OutOfOrder++;
      if (payload.length > 0) {
        const r = this.asm.insert(seq, payload);
        if (r === 'pktlim') st.ReseqPktlim++;
        else if (r === 'bytelim') st.ReseqBytelim++;
      }
      if (fin) this.rcvFinSeq = finAt;
      this.ackNow = true;
      return;
    }
    let delivered = 0;
    if (payload.length > 0) {
      this.rcvNxt = finAt;
      delivered += payload.length;
      this.deliver(payload);
      if (this.state === 'Closed') return;
    }
    if (!this.asm.empty) {
      // Hole filled: drain contiguous data, ACK at once.
      let d: Uint8Array | null;
      while ((d = this.asm.pop(this.rcvNxt)) !== null) {
        st.Resequenced++;
        this.rcvNxt = seqAdd(this.rcvNxt, d.length);
        delivered += d.length;
        this.deliver(d);
        if (this.state === 'Closed') return;
      }
      this.ackNow = true;
    }
    if (fin) this.rcvFinSeq = finAt;
    if (delivered > 0) {
      this.growWindow(delivered);
      this.ackPending += delivered;
      // RFC 5681 §4.2 / RFC 1122: ACK at least every second full-sized segment.
      if (this.ackPending >= 2 * this.ourMss - (this.tsOk ? 2 * TS_OPT_LEN : 0)) this.ackNow = true;
    }
    if (this.rcvFinSeq !== -1 && this.rcvNxt === this.rcvFinSeq) this.processFin(now);
  }

  private deliver(d: Uint8Array): void {
    if (this.userClosed) return; // Plan 9: after close, incoming data is discarded
    if (!this.autoConsume) this.unconsumed += d.length;
    this.handler.onData?.(d);
  }

  /** Receive-window growth: double when a whole window arrived and the user keeps up. */
  private growWindow(n: number): void {
    const max = this.wsOk ? this.host.cfg.recvBuffer : Math.min(this.host.cfg.recvBuffer, 0xffff);
    if (this.rcvWnd >= max) return;
    this.rcvGrowAcc += n;
    if (this.rcvGrowAcc >= this.rcvWnd && this.unconsumed < this.rcvWnd >>> 1) {
      this.rcvGrowAcc = 0;
      this.rcvWnd = Math.min(max, this.rcvWnd * 2);
    }
  }

  /** RFC 9293 §3.10.7.4 eighth: the FIN bit. */
  private processFin(now: number): void {
    this.rcvFinSeq = -1;
    this.rcvNxt = seqAdd(this.rcvNxt, 1);
    this.ackNow = true;
    this.peerFinished = true;
    this.asm.clear();
    switch (this.state) {
      case 'Established':
        this.setState('Close_wait', 'fin', now);
        this.handler.onEnd?.();
        break;
      case 'Finwait1':
        // Our FIN not yet acknowledged (else we would be in Finwait2): simultaneous close.
        this.setState('Closing', 'fin', now);
        break;
      case 'Finwait2':
        this.setState('Time_wait', 'fin', now);
        break;
      default:
        break;
    }
  }

  private restartTimeWait(now: number): void {
    this.timer = { kind: 'timewait', at: now + this.host.cfg.timeWaitMs };
    this.ackNow = true;
  }

  /** @internal ICMP advice (plan9-net.md §4.3): fatal only in Syn_sent; PMTU in any state. */
  advise(reason: string, mtu: number, isFragNeeded: boolean, now: number): void {
    if (isFragNeeded && mtu >= 68) {
      const m = Math.max(64, Math.min(this.peerMss, mtu - 40) - (this.tsOk ? TS_OPT_LEN : 0));
      if (m < this.smss) this.smss = m;
      if (this.synchronized()) {
        this.sndNxt = this.sndUna;
        this.flush(now);
      }
      return;
    }
    if (this.state === 'Syn_sent') this.fail(reason, now);
  }

  /** @internal Time_wait recycled by a new SYN or a new connect (RFC 6191). */
  kill(now: number): void {
    this.handler = EMPTY_HANDLER;
    this.userClosed = true;
    this.setState('Closed', 'recycle', now);
  }

  // ------------------------------------------------------------------
  // Output

  private tsNow(now: number): number {
    return (Math.floor(now) + this.tsOffset) >>> 0;
  }

  /** Our receive window right now (bytes the user can still take). */
  private windowAvail(): number {
    const a = this.rcvWnd - this.unconsumed;
    return a > 0 ? a : 0;
  }

  /** Fills the common header fields: ports, ACK, window, timestamps, SACK. */
  private header(seq: number, flags: number, now: number): SegmentWriter {
    const w = this.host.writer;
    w.reset();
    w.sport = this.localPort;
    w.dport = this.remotePort;
    w.seq = seq;
    w.flags = flags;
    if (flags & TCP_ACK) {
      w.ack = this.rcvNxt;
      w.window = this.windowField();
      this.lastAckSent = this.rcvNxt;
      this.ackPending = 0;
      this.ackNow = false;
      this.ackAt = null;
      if (this.sackOk && !this.asm.empty) {
        this.asm.sackBlocks(w.sack, this.tsOk ? 3 : 4);
        w.sackEdges = w.sack.length;
      }
    } else {
      w.ack = 0;
      w.window = flags & TCP_SYN ? Math.min(0xffff, this.rcvWnd) : this.windowField();
    }
    if (this.tsOk) {
      w.ts = true;
      w.tsVal = this.tsNow(now);
      w.tsEcr = flags & TCP_ACK ? this.tsRecent : 0;
    }
    return w;
  }

  /** The window field, never moving the right edge left (RFC 9293 §3.8.6.2.2, RFC 7323 §2.4). */
  private windowField(): number {
    const avail = this.windowAvail();
    let right = seqAdd(this.rcvNxt, avail);
    if (seqLt(right, this.rcvAdv)) right = this.rcvAdv;
    else if (seqGt(right, this.rcvAdv)) {
      // Receiver SWS avoidance: move the edge only by a useful amount.
      const inc = seqSub(right, this.rcvAdv);
      if (inc < Math.min(this.rcvWnd >>> 1, this.ourMss) && seqGt(this.rcvAdv, this.rcvNxt)) right = this.rcvAdv;
    }
    let wnd = seqSub(right, this.rcvNxt);
    let field = Math.ceil(wnd / 2 ** this.rcvShift);
    if (field > 0xffff) field = 0xffff;
    wnd = field * 2 ** this.rcvShift;
    const edge = seqAdd(this.rcvNxt, wnd);
    if (seqGt(edge, this.rcvAdv)) this.rcvAdv = edge;
    return field;
  }

  private sendSyn(now: number): void {
    const cfg = this.host.cfg;
    const active = this.state === 'Syn_sent';
    const w = this.header(this.iss, active ? TCP_SYN : TCP_SYN | TCP_ACK, now);
    w.mss = this.ourMss;
    if (active) {
      w.wscale = this.offerWscale();
      w.sackOk = cfg.sack;
      w.ts = cfg.timestamps;
      w.tsVal = this.tsNow(now);
      w.tsEcr = 0;
    } else {
      w.wscale = this.wsOk ? this.rcvShift : -1;
      w.sackOk = this.sackOk;
    }
    w.prepare();
    this.host.emit(this, now);
    if (seqLt(this.sndNxt, seqAdd(this.iss, 1))) this.sndNxt = seqAdd(this.iss, 1);
    if (seqLt(this.sndMax, this.sndNxt)) this.sndMax = this.sndNxt;
  }

  /** RST for an unacceptable ACK: <SEQ=SEG.ACK><CTL=RST>. */
  private sendRstFor(ack: number, now: number): void {
    const w = this.header(ack, TCP_RST, now);
    w.window = 0;
    w.ts = false;
    w.prepare();
    this.host.stats.OutRsts++;
    this.host.emit(this, now);
  }

  private sendRst(seq: number, now: number): void {
    const w = this.header(seq, TCP_RST | TCP_ACK, now);
    w.ts = false;
    w.sackEdges = 0;
    w.prepare();
    this.host.stats.OutRsts++;
    this.host.emit(this, now);
  }

  /** A pure ACK: <SEQ=SND.MAX><ACK=RCV.NXT> (SND.MAX, not a rewound SND.NXT, so the peer accepts it). */
  private sendAck(now: number): void {
    const w = this.header(this.sndMax, TCP_ACK, now);
    w.prepare();
    this.host.emit(this, now);
  }

  /**
   * Sends up to `max` bytes at `seq` (≥ SND.UNA, < SND.MAX): a
   * retransmission. Returns the sequence space sent.
   */
  private sendRange(seq: number, max: number, now: number): number {
    const off = seqSub(seq, this.bufSeq);
    if (off < 0) {
      // SYN not acknowledged: retransmit the SYN.
      if (this.state === 'Syn_received' || this.state === 'Syn_sent') {
        const keep = this.sndNxt;
        this.sendSyn(now);
        this.sndNxt = keep;
        return 1;
      }
      return 0;
    }
    let n = Math.min(max, this.sbuf.length - off);
    if (n < 0) n = 0;
    const end = seqAdd(seq, n);
    let flags = TCP_ACK;
    const fin = this.finQueued && end === this.finSeq && seqLt(end, this.sndMax);
    if (fin) flags |= TCP_FIN;
    if (n === 0 && !fin) return 0;
    if (n > 0 && off + n === this.sbuf.length) flags |= TCP_PSH;
    const w = this.header(seq, flags, now);
    w.buf = this.sbuf;
    w.off = off;
    w.n = n;
    w.prepare();
    this.host.emit(this, now);
    const st = this.host.stats;
    st.RetransSegs++;
    st.RetransSegsSent++;
    this.rttSeq = -1; // Karn
    if (this.inRecovery && this.sackOk && n > 0) this.logRtx(seq, end);
    return n + (fin ? 1 : 0);
  }

  /** Sends what may be sent, then a pure ACK if one is due; re-arms timers. */
  flush(now: number): void {
    if (this.state === 'Closed') return;
    if (this.state === 'Syn_sent' || this.state === 'Syn_received') {
      if (this.ackNow) this.sendAck(now);
      this.updateTimer(now);
      return;
    }
    if (this.state !== 'Time_wait') this.sendData(now);
    if (this.ackNow) this.sendAck(now);
    else if (this.ackPending > 0 && this.ackAt === null) {
      this.ackAt = now + this.host.cfg.delayedAckMs;
      this.host.stats.Delayack++;
      this.host.schedule(this.ackAt);
    }
    this.updateTimer(now);
  }

  private sendData(now: number): void {
    const smss = this.smss;
    const st = this.host.stats;
    // RFC 6675 §5 step (C): NextSeg rule 1, retransmit lost holes while cwnd - pipe ≥ SMSS.
    if (this.inRecovery && this.sackOk) {
      const lostB = this.sb.lostBoundary(this.sndUna, this.lossThresh);
      let pipe = this.pipe();
      let guard = 0;
      // Lost retransmissions first (they are the oldest holes).
      const log = this.rtxLog;
      for (let i = 0; i < log.length && this.cc.cwnd - pipe >= smss; i += 4) {
        if (log[i + 3] !== 1) continue;
        const s = this.sb.skip(seqMax(log[i]!, this.sndUna));
        const end = log[i + 1]!;
        if (!seqLt(s, end)) {
          log[i + 3] = 0;
          continue;
        }
        const n = this.sendRange(s, Math.min(smss, seqSub(this.sb.nextSacked(s, end), s)), now);
        if (n <= 0) break;
        pipe += n;
      }
      while (this.cc.cwnd - pipe >= smss && guard++ < 64) {
        let s = this.sb.skip(seqMax(this.highRxt, this.sndUna));
        if (!seqLt(s, lostB)) break;
        const lim = this.sb.nextSacked(s, lostB);
        const n = this.sendRange(s, Math.min(smss, seqSub(lim, s)), now);
        if (n <= 0) break;
        s = seqAdd(s, n);
        this.highRxt = s;
        pipe += n;
      }
    }
    for (;;) {
      let seq = this.sndNxt;
      if (seqLt(seq, this.sndMax) && !this.sb.empty) {
        const skip = this.sb.skip(seq);
        if (skip !== seq) {
          this.sndNxt = skip;
          continue;
        }
      }
      const off = seqSub(seq, this.bufSeq);
      if (off < 0) break;
      const avail = this.sbuf.length - off;
      const finPending = this.finQueued && seqLe(seq, this.finSeq);
      if (avail <= 0 && !finPending) break;
      const wndRoom = seqSub(seqAdd(this.sndUna, this.sndWnd), seq);
      const inflight = this.inRecovery && this.sackOk ? this.pipe() : seqSub(this.sndNxt, this.sndUna);
      const cwndRoom = this.cc.cwnd - inflight;
      let n = Math.min(avail, smss, wndRoom, cwndRoom);
      if (n < 0) n = 0;
      if (n < avail) {
        // Limited by window, cwnd or MSS: sender SWS avoidance (RFC 9293 §3.8.6.2.1).
        if (n < smss && !(n > 0 && n >= this.maxSndWnd >>> 1)) {
          if (n < avail || !finPending) break;
        }
      } else if (n > 0 && n < smss && !this.noDelay && !finPending && this.sndMax !== this.sndUna) {
        // Nagle (RFC 9293 §3.7.4): hold a small tail while data is unacknowledged.
        if (seqGe(seq, this.sndMax)) break;
      }
      const fin = finPending && off + n >= this.sbuf.length;
      if (n === 0 && !fin) break;
      if (n === 0 && fin && cwndRoom <= 0 && this.sndMax !== this.sndUna && seqGe(seq, this.sndMax)) break;
      let flags = TCP_ACK;
      if (fin) flags |= TCP_FIN;
      if (n > 0 && off + n === this.sbuf.length) flags |= TCP_PSH;
      const w = this.header(seq, flags, now);
      if (n > 0) {
        w.buf = this.sbuf;
        w.off = off;
        w.n = n;
      }
      w.prepare();
      this.host.emit(this, now);
      const isRtx = seqLt(seq, this.sndMax);
      if (isRtx) {
        st.RetransSegs++;
        st.RetransSegsSent++;
      } else if (!this.tsOk && this.rttSeq === -1 && n > 0) {
        this.rttSeq = seqAdd(seq, n);
        this.rttAt = now;
      }
      seq = seqAdd(seq, n + (fin ? 1 : 0));
      this.sndNxt = seq;
      if (seqGt(seq, this.sndMax)) this.sndMax = seq;
      if (fin) break;
    }
  }

  // ------------------------------------------------------------------
  // Timers

  /** Re-derives the main timer after input/output (RFC 6298 §5.1–5.3). */
  private updateTimer(now: number): void {
    const s = this.state;
    if (s === 'Closed' || s === 'Time_wait' || s === 'Finwait2') return;
    const outstanding = this.sndMax !== this.sndUna;
    if (outstanding) {
      if (this.timer.kind !== 'rtx' && this.timer.kind !== 'tlp') {
        let at = now + this.rtt.rto;
        if (s === 'Syn_sent') at = Math.min(at, this.openedAt + this.host.cfg.synTimeoutMs);
        const pto = this.probeTimeout();
        if (pto >= 0 && now + pto < at) {
          this.timer = { kind: 'tlp', at: now + pto };
          this.host.schedule(now + pto);
          return;
        }
        this.timer = { kind: 'rtx', at };
        this.host.schedule(at);
      }
      return;
    }
    const pending = this.sbuf.length > 0 || (this.finQueued && seqLe(this.sndNxt, this.finSeq));
    if (pending && this.synchronized()) {
      if (this.timer.kind !== 'zwp') {
        const at = now + Math.min(RTO_MAX_MS, this.rtt.rto * 2 ** this.zwpBackoff);
        this.timer = { kind: 'zwp', at };
        this.host.schedule(at);
      }
      return;
    }
    if (this.kaInterval > 0 && (s === 'Established' || s === 'Close_wait')) {
      const at = this.lastRecv + this.kaInterval;
      const next = at > now ? at : now + this.kaInterval;
      if (this.timer.kind !== 'idle' || this.timer.at !== next) {
        this.timer = { kind: 'idle', at: next };
        this.host.schedule(next);
      }
      return;
    }
    this.timer = { kind: 'idle', at: null };
  }

  /** @internal Earliest deadline, or null. */
  pollAt(): number | null {
    const t = this.timer.at;
    const a = this.ackAt;
    if (t === null) return a;
    if (a === null) return t;
    return a < t ? a : t;
  }

  /** @internal Runs what is due at `now`. */
  poll(now: number): void {
    if (this.ackAt !== null && this.ackAt <= now) {
      this.ackAt = null;
      if (this.ackPending > 0) this.sendAck(now);
    }
    const t = this.timer;
    if (t.at === null || t.at > now) return;
    switch (t.kind) {
      case 'timewait':
        this.setState('Closed', 'timewait', now);
        return;
      case 'rtx':
        this.onRto(now);
        break;
      case 'tlp':
        this.onProbeTimeout(now);
        break;
      case 'zwp':
        this.onPersist(now);
        break;
      case 'idle':
        this.onKeepalive(now);
        break;
    }
  }

  /**
   * RFC 8985 §7.2: the probe timeout, or -1 when no probe may be armed
   * (no SACK, no RTT sample, in recovery or after an RTO, a probe already
   * out, or not established).
   */
  private probeTimeout(): number {
    if (!this.sackOk || this.tlpOut || this.inRecovery || this.rtoCount > 0 || !this.rtt.hasSample) return -1;
    const s = this.state;
    if (s !== 'Established' && s !== 'Close_wait' && s !== 'Finwait1' && s !== 'Closing' && s !== 'Last_ack') return -1;
    const flight = seqSub(this.sndMax, this.sndUna);
    // One segment out: the peer may hold its ACK for a delayed-ACK time.
    return 2 * this.rtt.srtt + (flight <= this.smss ? TLP_DELACK_MS : TLP_MIN_MS);
  }

  /**
   * RFC 8985 §7.3: the probe: new data if the peer's window allows (cwnd
   * notwithstanding), else the last segment sent again; then the RTO.
   */
  private onProbeTimeout(now: number): void {
    this.timer = { kind: 'idle', at: null };
    this.tlpOut = true;
    const unsent = this.sbuf.length - seqSub(this.sndMax, this.bufSeq);
    const wndRoom = seqSub(seqAdd(this.sndUna, this.sndWnd), this.sndMax);
    let sent = false;
    if (unsent > 0 && wndRoom >= Math.min(unsent, this.smss) && seqGe(this.sndNxt, this.sndMax)) {
      const cwnd = this.cc.cwnd;
      this.cc.cwnd = seqSub(this.sndMax, this.sndUna) + this.smss;
      const before = this.sndMax;
      this.sendData(now);
      this.cc.cwnd = cwnd;
      sent = this.sndMax !== before;
    }
    if (!sent) {
      const flight = seqSub(this.sndMax, this.sndUna);
      const fin = this.finQueued && seqGt(this.sndMax, this.finSeq) ? 1 : 0;
      const len = Math.min(this.smss, flight - fin);
      if (len > 0 || fin) this.sendRange(seqSub(this.sndMax, len + fin) >>> 0, len, now);
    }
    this.timer = { kind: 'rtx', at: now + this.rtt.rto };
    this.host.schedule(this.timer.at);
  }

  /** Retransmission timeout (RFC 6298 §5.4–5.7; RFC 5681 §3.1). */
  private onRto(now: number): void {
    const st = this.host.stats;
    this.timer = { kind: 'idle', at: null };
    const cfg = this.host.cfg;
    if (this.state === 'Syn_sent' || (this.state === 'Syn_received' && !this.passive)) {
      if (now - this.openedAt >= cfg.synTimeoutMs) {
        this.fail(Etimedout, now);
        return;
      }
      this.rtt.backOff();
      st.RetransTimeouts++;
      this.sndNxt = this.iss;
      this.sendSyn(now);
      this.updateTimer(now);
      return;
    }
    if (this.state === 'Syn_received') {
      if (now - this.openedAt >= cfg.synTimeoutMs) {
        this.setState('Closed', 'syn-ack timeout', now);
        return;
      }
    }
    if (this.rtxStart < 0) this.rtxStart = now;
    else if (now - this.rtxStart >= cfg.rtxTimeoutMs) {
      this.sendRst(this.sndMax, now);
      this.fail(Etimedout, now);
      return;
    }
    st.RetransTimeouts++;
    this.rtoCount++;
    if (this.inRecovery) {
      st.RecoveryRTO++;
      this.inRecovery = false;
    }
    this.rtxLog.length = 0;
    this.tlpOut = false;
    // RFC 5681 §3.1 (4): ssthresh = max(FlightSize/2, 2·SMSS); cwnd = 1 SMSS.
    this.cc.onRto(seqSub(this.sndMax, this.sndUna), this.smss, now);
    this.recoverySeq = this.sndMax; // RFC 6582 §3.2 step 1 after a timeout
    this.rtt.backOff(); // RFC 6298 §5.5
    this.rttSeq = -1; // Karn
    this.dupAcks = 0;
    // Forget SACK information on a second timeout in a row (the peer may have reneged).
    if (this.rtoCount > 1) this.sb.clear();
    // Go back: resend from SND.UNA (SACKed ranges are skipped).
    this.sndNxt = this.sndUna;
    if (this.state === 'Syn_received') {
      this.sendSyn(now);
    } else {
      const n = this.sendRange(this.sndUna, this.smss, now);
      if (n > 0) this.sndNxt = seqAdd(this.sndUna, n);
    }
    this.timer = { kind: 'rtx', at: now + this.rtt.rto };
    this.host.schedule(this.timer.at);
  }

  /** Zero-window probe (RFC 9293 §3.8.6.1): a segment the peer must answer. */
  private onPersist(now: number): void {
    this.timer = { kind: 'idle', at: null };
    if (this.rtxStart < 0) this.rtxStart = now;
    if (now - this.lastRecv >= this.host.cfg.rtxTimeoutMs) {
      this.fail(Etimedout, now);
      return;
    }
    if (this.zwpBackoff < 16) this.zwpBackoff++;
    // Probe with SEQ = SND.UNA - 1 and no data (as Linux): always unacceptable,
    // so the peer replies with its current window.
    const w = this.header(seqSub(this.sndUna, 1) >>> 0, TCP_ACK, now);
    w.prepare();
    this.host.emit(this, now);
    // If the window opened meanwhile, send data.
    this.flush(now);
    if (this.timer.kind === 'idle' && this.state !== 'Closed') this.updateTimer(now);
  }

  /** Keep-alive (RFC 9293 §3.8.4, RFC 1122 §4.2.3.6). */
  private onKeepalive(now: number): void {
    this.timer = { kind: 'idle', at: null };
    if (this.kaInterval <= 0) return;
    if (now - this.lastRecv >= this.kaInterval) {
      const maxProbes = Math.max(3, Math.ceil(KA_GIVEUP_MS / this.kaInterval));
      if (this.kaProbes >= maxProbes) {
        this.sendRst(this.sndMax, now);
        this.fail(Etimedout, now);
        return;
      }
      this.kaProbes++;
      const w = this.header(seqSub(this.sndUna, 1) >>> 0, TCP_ACK, now);
      w.prepare();
      this.host.emit(this, now);
      const at = now + this.kaInterval;
      this.timer = { kind: 'idle', at };
      this.host.schedule(at);
      return;
    }
    this.updateTimer(now);
  }

  /** @internal for duplicate-connect checks */
  static inUseError(): StackError {
    return new StackError(Einuse);
  }

  /** @internal debugging */
  toString(): string {
    return `tcp ${this.localPort}->${this.remotePort} ${this.state} una=${this.sndUna} nxt=${this.sndNxt} max=${this.sndMax} wnd=${this.sndWnd} cwnd=${this.cc.cwnd} rcvNxt=${this.rcvNxt}`;
  }
}



